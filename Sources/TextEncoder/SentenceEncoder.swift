import Foundation
import NN

/// sentence-transformers' all-MiniLM-L6-v2 in this engine: captions -> unit-length embeddings
/// [N, width] (width 384), by WordPiece ids, the BERT encoder, mean pooling over each caption's
/// tokens and L2 normalisation. Read from a folder holding model.safetensors, vocab.txt and
/// optionally config.json and tokenizer_config.json (what scripts/fetch_text_encoder.sh unpacks).
public final class SentenceEncoder {
    /// The command that puts the encoder where `locate` looks by default.
    public static let fetchCommand = "bash scripts/fetch_text_encoder.sh"
    /// Names the encoder folder when `--encoder` is not given.
    public static let environmentVariable = "STACKGAN_ENCODER"
    /// Where the fetch script unpacks, relative to the working folder or the repository.
    public static let defaultFolder = "models/all-MiniLM-L6-v2"
    /// sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included.
    public static let maxSequenceLength = 256

    public let folder: String
    public let tokenizer: WordPieceTokenizer
    let model: BertModel
    /// The embedding width (the hidden size).
    public var width: Int { model.config.hiddenSize }

    /// The encoder folder: `explicit` (a `--encoder` flag) if given, else `$STACKGAN_ENCODER`, else
    /// `models/all-MiniLM-L6-v2` under the working folder or the repository the executable was
    /// built in. A missing folder is an error that names the fetch command.
    public static func locate(_ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let folder = explicit ?? environment[environmentVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                let source = explicit != nil ? "--encoder" : "$\(environmentVariable)"
                throw TextEncoderError(.missing, file: folder, "no such folder (from \(source)); fetch the encoder with `\(fetchCommand) \(folder)`")
            }
            return folder
        }
        // .build/<triple>/release/stackgan -> the repository three folders up.
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let repository = executable.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [URL(fileURLWithPath: defaultFolder).path, repository.appendingPathComponent(defaultFolder).path]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/model.safetensors") {
            return candidate
        }
        throw TextEncoderError(.missing, file: defaultFolder,
                               "no sentence encoder found (looked in \(candidates.joined(separator: " and "))); fetch it with `\(fetchCommand)` from the repository, or pass --encoder DIR or set \(environmentVariable)")
    }

    /// The files the encoder reads, so that a command's output never replaces one of them.
    public var files: [String] {
        ["model.safetensors", "vocab.txt", "config.json"].map { URL(fileURLWithPath: folder).appendingPathComponent($0).path }
    }

    /// Loads and checks the folder's files: every tensor's name, shape and dtype against the
    /// config, and the vocabulary's size against the embedding table.
    public init(folder: String) throws {
        self.folder = folder
        let base = URL(fileURLWithPath: folder)
        func path(_ name: String) -> String { base.appendingPathComponent(name).path }
        for name in ["model.safetensors", "vocab.txt"] where !FileManager.default.fileExists(atPath: path(name)) {
            throw TextEncoderError(.missing, file: path(name), "missing from the encoder folder; fetch it with `\(Self.fetchCommand) \(folder)`")
        }

        var config = BertConfig()
        if let data = FileManager.default.contents(atPath: path("config.json")) {
            do { config = try JSONDecoder().decode(BertConfig.self, from: data) } catch {
                throw TextEncoderError(.badFile, file: path("config.json"), "not a BERT config: \(error)")
            }
        }
        if let problem = config.problem { throw TextEncoderError(.badFile, file: path("config.json"), problem) }
        var lowercase = true
        if let data = FileManager.default.contents(atPath: path("tokenizer_config.json")),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let flag = object["do_lower_case"] as? Bool {
            lowercase = flag
        }

        guard let vocabularyData = FileManager.default.contents(atPath: path("vocab.txt")) else {
            throw TextEncoderError(.badFile, file: path("vocab.txt"), "cannot be read")
        }
        let maxLength = min(Self.maxSequenceLength, config.maxPositionEmbeddings)
        tokenizer = try WordPieceTokenizer(vocabularyText: String(decoding: vocabularyData, as: UTF8.self), file: path("vocab.txt"),
                                           lowercase: lowercase, maxLength: maxLength)
        guard tokenizer.count == config.vocabSize else {
            throw TextEncoderError(.mismatch, file: path("vocab.txt"),
                                   "\(tokenizer.count) tokens, but the model's embedding table has \(config.vocabSize) rows: vocab.txt does not belong to model.safetensors")
        }

        let shapes = config.tensorShapes
        let stored: [String: SafeTensors.Entry]
        do {
            stored = try SafeTensors.read(URL(fileURLWithPath: path("model.safetensors")), only: Set(shapes.map(\.0))).tensors
        } catch let error as CheckpointError {
            throw TextEncoderError(.badFile, file: path("model.safetensors"), error.message)
        }
        for (name, shape) in shapes {
            guard let entry = stored[name] else {
                throw TextEncoderError(.badFile, file: path("model.safetensors"), "tensor \(name) is missing; expected \(shape) float32 (a BERT model as Hugging Face names it)")
            }
            guard entry.shape == shape else {
                let vocabularyNote = name == "embeddings.word_embeddings.weight" ? " (vocab.txt has \(tokenizer.count) tokens)" : ""
                throw TextEncoderError(.mismatch, file: path("model.safetensors"),
                                       "tensor \(name) has shape \(entry.shape); config.json implies \(shape)\(vocabularyNote)")
            }
            if let bad = entry.values.firstIndex(where: { !$0.isFinite }) {
                throw TextEncoderError(.badFile, file: path("model.safetensors"), "tensor \(name) holds \(entry.values[bad]) at element \(bad); expected finite weights")
            }
        }
        model = try BertModel(config: config, tensors: stored)
    }

    /// One caption's ids and whether it was truncated to `maxSequenceLength` tokens.
    public func tokenize(_ text: String) -> (ids: [Int32], truncated: Bool) { tokenizer.encode(text) }

    /// Embeddings [texts.count, width], row-major, each of unit length. Captions longer than
    /// 256 tokens are cut as sentence-transformers cuts them; `truncated` lists their indices.
    public func encode(_ texts: [String]) throws -> (embeddings: [Float], truncated: [Int]) {
        let tokenized = texts.map(tokenizer.encode)
        let truncated = tokenized.indices.filter { tokenized[$0].truncated }
        return (try encode(ids: tokenized.map(\.ids)), truncated)
    }

    /// Embeddings [ids.count, width] of already tokenized captions, in batches of similar
    /// lengths (sorted, so each batch is as even as the input allows) of at most 16384 tokens:
    /// few large batches, as few thread wake-ups as the matrix products allow.
    public func encode(ids: [[Int32]]) throws -> [Float] {
        let h = width
        let vocabulary = model.config.vocabSize, positions = min(model.config.maxPositionEmbeddings, Self.maxSequenceLength)
        if let bad = ids.firstIndex(where: { $0.isEmpty || $0.count > positions || $0.contains { !(0..<Int32(vocabulary)).contains($0) } }) {
            throw TextEncoderError(.mismatch, file: folder, "token ids of sequence \(bad): \(ids[bad].count) ids; this model takes 1...\(positions) ids in 0..<\(vocabulary)")
        }
        var out = [Float](repeating: 0, count: ids.count * h)
        let order = ids.indices.sorted { ids[$0].count < ids[$1].count }
        var start = 0
        while start < order.count {
            var end = start, tokens = 0
            while end < order.count, end - start < 1024, tokens + ids[order[end]].count <= 16384 || end == start {
                tokens += ids[order[end]].count; end += 1
            }
            let batch = order[start..<end].map { ids[$0] }
            let hidden = try model.forward(batch)
            var row = 0
            for (k, sequence) in batch.enumerated() {
                // Mean over the caption's tokens ([CLS] and [SEP] included), then unit length.
                var mean = [Float](repeating: 0, count: h)
                for t in 0..<sequence.count { for c in 0..<h { mean[c] += hidden[(row + t) * h + c] } }
                row += sequence.count
                let count = Float(max(sequence.count, 1))
                for c in 0..<h { mean[c] /= count }
                let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                let target = order[start + k] * h
                for c in 0..<h { out[target + c] = mean[c] / norm }
            }
            start = end
        }
        return out
    }
}
