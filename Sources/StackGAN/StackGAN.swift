// StackGAN module.
