import ArgumentParser
import Datasets
import Foundation
import NN
import StackGAN

/// `stackgan evaluate`: the quality gate for one checkpoint (condition accuracy, feature FID,
/// discriminator separation) as a table and optionally JSON.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a checkpoint: condition and attribute accuracy, R-precision, feature-space FID and D real/wrong/fake separation.",
        discussion: """
        A small CNN classifier trained on the dataset's real images labels the generated images (class and, where \
        the file has /attributes, each attribute); its penultimate features give the FID. An image-text matcher \
        trained contrastively on the real images and their caption embeddings gives R-precision (own caption ranked \
        first among 100). Both are cached under --classifier-cache, keyed by the dataset's content and their \
        settings (about 15 s and 30 s on 2 cores the first time). Stage-II images are averaged down to 64 px for them. \
        For a checkpoint.safetensors in a run folder, the report is also written there as evaluation.json and the \
        folder's report.html is refreshed.
        Example: stackgan evaluate --checkpoint runs/shapes_stage1/checkpoint.safetensors --dataset data/shapes.h5 --out report.json
        """)

    @Option(help: "A checkpoint written by `stackgan train`.") var checkpoint: String
    @Option(help: "The HDF5 dataset (default: the checkpoint config's data.path).") var dataset: String?
    @Option(help: "The split to evaluate on (default: the checkpoint config's data.eval_split).") var split: String?
    @Option(help: "A classifier file to use instead of the cached one.") var classifier: String?
    @Option(help: "An image-text matcher file to use instead of the cached one.") var matcher: String?
    @Option(help: "Where trained classifiers and matchers are cached.") var classifierCache = "runs/.classifiers"
    @Option(help: "Generated images per caption.") var samplesPerCaption = 1
    @Option(help: "Seed for the noise z and the CA noise.") var seed: UInt64 = 0
    @Option(help: "Evaluate only the first N examples of the split.") var limit: Int?
    @Option(help: "Write the report as JSON here.") var out: String?

    func run() throws {
        guard (1...64).contains(samplesPerCaption) else { throw StackGANError.usage("--samples-per-caption must be in 1...64, got \(samplesPerCaption)") }
        if let limit, limit < 2 { throw StackGANError.usage("--limit must be at least 2 (a covariance needs two rows), got \(limit)") }
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw StackGANError.usage("checkpoint \(checkpoint) not found") }
        let config = try Checkpoint(path: checkpoint).config
        let datasetPath = dataset ?? config.data.path
        guard FileManager.default.fileExists(atPath: datasetPath) else {
            throw StackGANError.usage("dataset \(datasetPath) not found\(dataset == nil ? " (the checkpoint's data.path; pass --dataset)" : "")")
        }
        // Before the expensive part: an unwritable report costs nothing (the cache is checked
        // before a classifier or matcher is trained into it).
        let output = try out.map { try namedOutput($0, flag: "--out", inputs: [checkpoint, datasetPath] + [classifier, matcher].compactMap { $0 }) }
        let evaluator = try loadEvaluator(classifier: classifier, matcher: matcher, datasetPath: datasetPath, cache: classifierCache)
        let options = EvaluationOptions(split: split, samplesPerCaption: samplesPerCaption, seed: seed, limit: limit)
        let report = try evaluator.evaluate(checkpoint: checkpoint, datasetPath: datasetPath, options: options, log: printLine)
        print(report.table)
        if let output {
            do { try output.write(report.json()) } catch {
                throw StackGANError.output("\(output.path): cannot write the report: \(error)")
            }
            print("report: \(output.path)")
        }
        // A checkpoint in a run folder: the evaluation goes beside it and into the run's report.
        if let run = RunFolder.holding(checkpoint: checkpoint) {
            do {
                try run.write(report.json(), to: .evaluation)
                refreshReport(run.url)
            } catch {
                FileHandle.standardError.write(Data("stackgan: warning: \(run.url(.evaluation).path) not written: \(CommandLineTool.oneLine("\(error)"))\n".utf8))
            }
        }
    }
}

func printLine(_ line: String) {
    print(line)
    fflush(stdout)
}

/// The evaluator for a dataset: `--classifier` and `--matcher` when given, else the cached (or
/// newly trained) ones.
func loadEvaluator(classifier: String?, matcher: String?, datasetPath: String, cache: String) throws -> Evaluator {
    let directory = URL(fileURLWithPath: cache)
    let (classifierModel, classifierPath) = try loadOrTrain(classifier, what: "classifier", load: { try ConditionClassifier.load(from: $0, dataset: datasetPath) }) {
        let (model, url, training) = try ConditionClassifier.cached(datasetPath: datasetPath, directory: directory, log: printLine)
        return (model, url, training.map { ($0.examples, $0.seconds, $0.steps) })
    }
    let (matcherModel, matcherPath) = try loadOrTrain(matcher, what: "matcher", load: { try ImageTextMatcher.load(from: $0, dataset: datasetPath) }) {
        let (model, url, training) = try ImageTextMatcher.cached(datasetPath: datasetPath, directory: directory, log: printLine)
        return (model, url, training.map { ($0.examples, $0.seconds, $0.steps) })
    }
    return Evaluator(classifier: classifierModel, classifierPath: classifierPath, matcher: matcherModel, matcherPath: matcherPath)
}

/// The model in `file` when given, else the one `cached` returns (reporting a training it did).
private func loadOrTrain<Model>(_ file: String?, what: String, load: (URL) throws -> Model,
                                cached: () throws -> (Model, URL, (examples: Int, seconds: Double, steps: Int)?)) throws -> (Model, String) {
    if let file {
        guard FileManager.default.fileExists(atPath: file) else { throw StackGANError.usage("\(what) \(file) not found") }
        return (try load(URL(fileURLWithPath: file)), file)
    }
    let (model, url, training) = try cached()
    if let training {
        printLine(String(format: "%@ trained on %d images in %.1f s (%d steps): %@", what, training.examples, training.seconds,
                         training.steps, url.path))
    }
    return (model, url.path)
}
