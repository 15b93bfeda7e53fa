import ArgumentParser
import Datasets
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

/// The lines of a text file: they end at "\n", "\r\n" (Windows) or "\r". Swift's String keeps
/// "\r\n" as one Character, so a split on "\n" alone leaves a Windows file one line.
func textLines(_ text: String) -> [Substring] {
    // Over the UTF-8 bytes (both ends are ASCII): a Character scan of a 50 MB file takes seconds.
    var lines: [Substring] = [], start = text.startIndex, i = text.utf8.startIndex
    while let end = text.utf8[i...].firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
        lines.append(text[start..<end])
        let next = text.utf8.index(after: end)
        i = text.utf8[end] == 0x0D && next < text.utf8.endIndex && text.utf8[next] == 0x0A ? text.utf8.index(after: next) : next
        start = i
    }
    if start < text.endIndex || lines.isEmpty { lines.append(text[start...]) }  // no empty line after the last line end
    return lines
}

/// One caption per line of a UTF-8 text file. A caption with nothing to embed (a blank line) is
/// an error naming its line when it is embedded (`embedCaptions`).
func readCaptionLines(_ path: String, flag: String) throws -> [String] {
    try requireFile(path, flag: flag)
    guard let (data, truncated) = InputFile.read(path, limit: 256 << 20) else {
        throw StackGANError(.unusableInput, path, "cannot be read, or not a regular file")
    }
    guard !truncated else { throw StackGANError(.unusableInput, path, "more than 256 MiB; at most 256 MiB of captions per file") }
    guard let text = String(data: data, encoding: .utf8) else {
        throw StackGANError(.unusableInput, path, "not UTF-8 text; expected one caption per line")
    }
    let lines = textLines(text).map(String.init)
    guard lines != [""] else { throw StackGANError(.unusableInput, path, "no captions; expected one caption per line") }
    guard lines.count <= maxCaptionLines else { throw StackGANError(.unusableInput, path, "\(lines.count) lines; at most \(maxCaptionLines) captions per file") }
    return lines
}

/// Embeds `captions` [N, width] and says once on stderr how many were cut to the encoder's length.
/// A caption with nothing to embed (`WordPieceTokenizer.hasWords`) is an error at `place(index)`
/// (a file's line, a flag): every such caption would draw the same images.
func embedCaptions(_ captions: [String], with encoder: SentenceEncoder, source: String,
                   place: (Int) -> String) throws -> [Float] {
    if let empty = captions.firstIndex(where: { !encoder.tokenizer.hasWords($0) }) {
        throw StackGANError(.unusableInput, place(empty),
                            "empty caption: nothing in it but spaces, control or format characters (NUL, zero-width space, BOM, soft hyphen) or combining marks")
    }
    let (embeddings, truncated) = try encoder.encode(captions)
    if let first = truncated.first {
        let where_ = truncated.count == 1 ? "caption \(first + 1)" : "\(truncated.count) captions (first: \(first + 1))"
        FileHandle.standardError.write(Data("stackgan: note: \(source): \(where_) longer than \(SentenceEncoder.maxSequenceLength) tokens, truncated as sentence-transformers does\n".utf8))
    }
    return embeddings
}
