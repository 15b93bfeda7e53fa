import ArgumentParser
import Datasets
import Foundation
import NN
import StackGAN

/// `stackgan evaluate`: the quality gate for one checkpoint (condition accuracy, feature FID,
/// discriminator separation) as a table and optionally JSON.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a checkpoint: condition accuracy, feature-space FID and D real/wrong/fake separation.",
        discussion: """
        A small CNN classifier trained on the dataset's real images (cached under --classifier-cache, keyed by the \
        dataset file's path, size and modification time; about 10-20 s on 2 cores the first time) labels the \
        generated images; its penultimate features give the FID. Stage-II images are averaged down to 64 px for it.
        Example: stackgan evaluate --checkpoint runs/shapes_stage1/checkpoint.safetensors --dataset data/shapes.h5 --out report.json
        """)

    @Option(help: "A checkpoint written by `stackgan train`.") var checkpoint: String
    @Option(help: "The HDF5 dataset (default: the checkpoint config's data.path).") var dataset: String?
    @Option(help: "The split to evaluate on (default: the checkpoint config's data.eval_split).") var split: String?
    @Option(help: "A classifier file to use instead of the cached one.") var classifier: String?
    @Option(help: "Where trained classifiers are cached.") var classifierCache = "runs/.classifiers"
    @Option(help: "Generated images per caption.") var samplesPerCaption = 1
    @Option(help: "Seed for the noise z and the CA noise.") var seed: UInt64 = 0
    @Option(help: "Evaluate only the first N examples of the split.") var limit: Int?
    @Option(help: "Write the report as JSON here.") var out: String?

    func run() throws {
        guard samplesPerCaption >= 1 else { throw StackGANError.usage("--samples-per-caption must be at least 1, got \(samplesPerCaption)") }
        if let limit, limit < 2 { throw StackGANError.usage("--limit must be at least 2 (a covariance needs two rows), got \(limit)") }
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw StackGANError.usage("checkpoint \(checkpoint) not found") }
        let config = try Checkpoint(path: checkpoint).config
        let datasetPath = dataset ?? config.data.path
        guard FileManager.default.fileExists(atPath: datasetPath) else {
            throw StackGANError.usage("dataset \(datasetPath) not found\(dataset == nil ? " (the checkpoint's data.path; pass --dataset)" : "")")
        }
        let evaluator = try loadEvaluator(classifier: classifier, datasetPath: datasetPath, cache: classifierCache)
        let options = EvaluationOptions(split: split, samplesPerCaption: samplesPerCaption, seed: seed, limit: limit)
        let report = try evaluator.evaluate(checkpoint: checkpoint, datasetPath: datasetPath, options: options, log: printLine)
        print(report.table)
        if let out {
            let url = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try report.json().write(to: url, options: .atomic)
            print("report: \(out)")
        }
    }
}

func printLine(_ line: String) {
    print(line)
    fflush(stdout)
}

/// The evaluator for a dataset: `--classifier` when given, else the cached (or newly trained) one.
func loadEvaluator(classifier: String?, datasetPath: String, cache: String) throws -> Evaluator {
    if let classifier {
        guard FileManager.default.fileExists(atPath: classifier) else { throw StackGANError.usage("classifier \(classifier) not found") }
        return Evaluator(classifier: try ConditionClassifier.load(from: URL(fileURLWithPath: classifier)),
                         classifierPath: classifier)
    }
    let (model, url, training) = try ConditionClassifier.cached(datasetPath: datasetPath, directory: URL(fileURLWithPath: cache),
                                                                log: printLine)
    if let training {
        printLine(String(format: "classifier trained on %d images in %.1f s (%d steps): %@", training.examples, training.seconds,
                         training.steps, url.path))
    }
    return Evaluator(classifier: model, classifierPath: url.path)
}
