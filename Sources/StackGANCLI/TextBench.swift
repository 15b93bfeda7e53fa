import ArgumentParser
import Datasets
import Dispatch
import Foundation
import StackGAN

/// `stackgan bench text`: the sentence encoder's captions per second (tokenising included),
/// the figure scripts/bench_text_vs_pytorch.sh compares with sentence-transformers.
struct TextBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "text",
        abstract: "Times the sentence encoder on captions from a text file or a dataset; prints captions/s.")

    @Option(help: "A text file, one caption per line.") var captions: String?
    @Option(help: "Or a dataset whose captions to use (all captions of --split, up to --count).") var dataset: String?
    @Option(help: "The dataset split.") var split = "train"
    @Option(help: "Captions taken from --dataset.") var count = 2000
    @Option(help: "Write the captions used to this file (for the PyTorch side).") var write: String?
    @Option(help: "Timed repetitions (the best is reported).") var repeats = 3
    @OptionGroup var encoder: EncoderOptions

    func run() throws {
        guard (captions == nil) != (dataset == nil) else { throw StackGANError.usage("bench text needs --captions FILE or --dataset FILE.h5") }
        guard (1...1_000_000).contains(count), (1...100).contains(repeats) else { throw StackGANError.usage("--count 1...1000000 and --repeats 1...100") }
        let model = try encoder.load()
        var texts: [String]
        if let captions {
            texts = try readCaptionLines(captions, flag: "--captions")
        } else {
            let data = try TextImageDataset.open(path: dataset ?? "", split: split)
            texts = Array(data.captions.joined().filter(model.tokenizer.hasWords).prefix(count))
        }
        if let write {
            try namedOutput(write, flag: "--write", inputs: [captions, dataset].compactMap { $0 } + model.files)
                .write(Data((texts.joined(separator: "\n") + "\n").utf8))
        }
        _ = try model.encode(Array(texts.prefix(64)))  // first-touch of the weights and buffers
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try model.encode(texts)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let tokens = texts.reduce(0) { $0 + model.tokenize($1).ids.count }
        print(String(format: "swift text encoder: %d captions (%.1f tokens each) in %.3f s: %.0f captions/s (threads: %@)",
                     texts.count, Double(tokens) / Double(texts.count), best, Double(texts.count) / best,
                     ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? "all cores"))
    }
}
