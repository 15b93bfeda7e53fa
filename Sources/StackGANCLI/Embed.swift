import ArgumentParser
import Datasets
import Foundation
import StackGAN

/// `stackgan embed`: a text file of captions -> float32 .npy (N, 384) with the native encoder,
/// the same numbers scripts/embed_captions.py writes with sentence-transformers.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed captions (one per line) into a .npy of float32 (N, 384) for `generate --embeddings`.",
        discussion: "Uses all-MiniLM-L6-v2 (the encoder data/shapes.h5 was made with) in this engine. Lines end at LF or CRLF; a caption with nothing to embed (a blank line, only zero-width or control characters) is an error; captions over 256 tokens are truncated and counted on stderr. The output is written to a temporary file and renamed (a device or FIFO such as /dev/stdout is written directly; an --out that is an input is refused).")

    @Argument(help: "A UTF-8 text file, one caption per line.") var captions: String
    @Option(help: "The output .npy.") var out: String
    @OptionGroup var encoder: EncoderOptions

    func run() throws {
        let lines = try readCaptionLines(captions, flag: "embed")
        let model = try encoder.load()
        let output = try namedOutput(out, flag: "--out", inputs: [captions] + model.files)
        let vectors = try embedCaptions(lines, with: model, source: captions) { "\(captions): line \($0 + 1)" }
        try Npy.write(vectors, shape: [lines.count, model.width], to: output)
        print("wrote \(out): \(lines.count) x \(model.width) float32 (encoder \(model.folder))")
    }
}
