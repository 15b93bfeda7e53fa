import ArgumentParser
import Foundation
import StackGAN
import TextEncoder

/// `--encoder DIR`, shared by the commands that turn text into embeddings.
struct EncoderOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The sentence encoder folder (model.safetensors, vocab.txt, config.json).",
                               discussion: "Default: $\(SentenceEncoder.environmentVariable), else \(SentenceEncoder.defaultFolder) (fetched by \(SentenceEncoder.fetchCommand))."))
    var encoder: String?

    /// Finds and loads the encoder. A missing folder or file is a usage error (exit 2) naming the
    /// fetch command; a damaged or inconsistent one is an unusable input (exit 1) naming the file.
    func load() throws -> SentenceEncoder {
        do {
            return try SentenceEncoder(folder: try SentenceEncoder.locate(encoder))
        } catch let error as TextEncoderError {
            throw StackGANError(error.kind == .missing ? .usage : .unusableInput, error.file, error.message)
        }
    }
}

/// The most captions one text file may hold (each costs a 384-float embedding).
let maxCaptionLines = 1_000_000

/// One caption per line of a UTF-8 text file; a blank line is an error naming it.
func readCaptionLines(_ path: String, flag: String) throws -> [String] {
    try requireFile(path, flag: flag)
    guard let data = FileManager.default.contents(atPath: path) else {
        throw StackGANError(.unusableInput, path, "cannot be read")
    }
    guard data.count <= 256 << 20 else { throw StackGANError(.unusableInput, path, "\(data.count) bytes; at most 256 MiB of captions per file") }
    guard let text = String(data: data, encoding: .utf8) else {
        throw StackGANError(.unusableInput, path, "not UTF-8 text; expected one caption per line")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
    if text.hasSuffix("\n") { lines.removeLast() }
    guard !lines.isEmpty else { throw StackGANError(.unusableInput, path, "no captions; expected one caption per line") }
    guard lines.count <= maxCaptionLines else { throw StackGANError(.unusableInput, path, "\(lines.count) lines; at most \(maxCaptionLines) captions per file") }
    if let blank = lines.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
        throw StackGANError(.unusableInput, "\(path): line \(blank + 1)", "empty caption; expected one caption per line (remove blank lines)")
    }
    return lines
}

/// Embeds `captions` [N, width] and says once on stderr how many were cut to the encoder's length.
func embedCaptions(_ captions: [String], with encoder: SentenceEncoder, source: String) throws -> [Float] {
    let (embeddings, truncated) = try encoder.encode(captions)
    if let first = truncated.first {
        let where_ = truncated.count == 1 ? "caption \(first + 1)" : "\(truncated.count) captions (first: \(first + 1))"
        FileHandle.standardError.write(Data("stackgan: note: \(source): \(where_) longer than \(SentenceEncoder.maxSequenceLength) tokens, truncated as sentence-transformers does\n".utf8))
    }
    return embeddings
}
