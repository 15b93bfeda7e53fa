// Datasets module.
