import Foundation
import NN
import XCTest
@testable import Autograd
@testable import TextEncoder

/// The encoder against sentence-transformers (fixtures from scripts/make_text_encoder_fixtures.py:
/// 99 captions — the shapes captions, truncation, punctuation, accents, digits, emoji, CJK and
/// other scripts, empty and whitespace-only, control characters — their token ids and float32
/// embeddings), and its checks of the encoder folder on small fabricated models.
final class TextEncoderTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let weights = repository.appendingPathComponent(SentenceEncoder.defaultFolder).path

    /// The real encoder, loaded once. Absent weights fail (CI fetches them), never skip.
    nonisolated(unsafe) static var cached: Result<SentenceEncoder, Error>?
    static func encoder() throws -> SentenceEncoder {
        if cached == nil {
            guard FileManager.default.fileExists(atPath: weights + "/model.safetensors") else {
                throw TextEncoderError(.missing, file: weights, "the encoder is not fetched: run `\(SentenceEncoder.fetchCommand)` (scripts/install_deps.sh does)")
            }
            cached = Result { try SentenceEncoder(folder: weights) }
        }
        return try cached!.get()
    }

    struct Fixture: Decodable { let captions: [String]; let ids: [[Int32]] }

    static func fixture() throws -> (Fixture, [Float]) {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let json = try Data(contentsOf: folder.appendingPathComponent("minilm_captions.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: json)
        // .npy v1: 10-byte preamble, a header ending in '\n', then little-endian float32 values.
        let npy = try Data(contentsOf: folder.appendingPathComponent("minilm_embeddings.npy"))
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        XCTAssert(String(decoding: npy[10..<(10 + headerLength)], as: UTF8.self).contains("'<f4'"))
        let values = npy[(10 + headerLength)...].withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        XCTAssertEqual(values.count, fixture.captions.count * 384)
        return (fixture, values)
    }

    func testTokenIdsMatchSentenceTransformers() throws {
        let encoder = try Self.encoder()
        let (fixture, _) = try Self.fixture()
        XCTAssertGreaterThan(fixture.captions.count, 90)
        var mismatches: [String] = []
        for (caption, expected) in zip(fixture.captions, fixture.ids) {
            let ids = encoder.tokenize(caption).ids
            if ids != expected { mismatches.append("\(caption.debugDescription.prefix(80)): \(ids.prefix(20)) vs \(expected.prefix(20))") }
        }
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) captions tokenised differently:\n" + mismatches.joined(separator: "\n"))
        // The fixture does exercise truncation and [UNK].
        XCTAssertEqual(fixture.ids.map(\.count).max(), SentenceEncoder.maxSequenceLength)
        XCTAssert(fixture.ids.contains { $0.contains(100) })
    }

    func testEmbeddingsMatchSentenceTransformers() throws {
        let encoder = try Self.encoder()
        let (fixture, expected) = try Self.fixture()
        let (embeddings, truncated) = try encoder.encode(fixture.captions)
        XCTAssertEqual(embeddings.count, expected.count)
        var worst: Float = 0, worstRow = 0
        for (i, (a, b)) in zip(embeddings, expected).enumerated() where abs(a - b) > worst { worst = abs(a - b); worstRow = i / 384 }
        XCTAssertLessThanOrEqual(worst, 1e-5, "max abs difference \(worst) at caption \(worstRow): \(fixture.captions[worstRow].prefix(60).debugDescription)")
        XCTAssertEqual(truncated, fixture.ids.indices.filter { fixture.ids[$0].count == SentenceEncoder.maxSequenceLength })
        XCTAssertFalse(truncated.isEmpty)
    }

    /// A caption's embedding does not depend on the others in its batch (packing, sorting).
    func testEmbeddingIndependentOfBatch() throws {
        let encoder = try Self.encoder()
        let captions = ["a big red star on a black background", "a tiny blue square", String(repeating: "a green circle ", count: 30)]
        let together = try encoder.encode(captions).embeddings
        for (i, caption) in captions.enumerated() {
            let alone = try encoder.encode([caption]).embeddings
            let maxDifference = zip(alone, together[(i * 384)..<((i + 1) * 384)]).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(maxDifference, 1e-6, caption)
        }
    }

    func testErfApproximation() {
        var worst: Double = 0
        for k in -6000...6000 {
            let x = Float(k) / 1000
            worst = max(worst, abs(Double(BertModel.erf(x)) - Foundation.erf(Double(x))))
        }
        XCTAssertLessThan(worst, 5e-7)
    }

    // MARK: Tokenizer rules on a small vocabulary

    static let smallVocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "!", "cafe", "a", "##b", "\u{7EA2}"]

    func testGreedyWordPieceAndSplitting() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyText: Self.smallVocabulary.joined(separator: "\n") + "\n", file: "vocab.txt", maxLength: 8)
        XCTAssertEqual(tokenizer.count, Self.smallVocabulary.count)
        func ids(_ text: String) -> [Int32] { tokenizer.encode(text).ids }
        XCTAssertEqual(ids("unaffable!"), [2, 4, 5, 6, 8, 3])          // longest match first, ## continuations, punctuation alone
        XCTAssertEqual(ids("UNAFF"), [2, 4, 5, 3])                     // lower-cased
        XCTAssertEqual(ids("Café"), [2, 9, 3])                         // accent stripped
        XCTAssertEqual(ids("unx cafe"), [2, 1, 9, 3])                   // no piece for "x": the whole word is [UNK]
        XCTAssertEqual(ids("a\u{7EA2}b"), [2, 10, 12, 1, 3])           // CJK ideograph splits the word; "b" alone has no piece
        XCTAssertEqual(ids(String(repeating: "a", count: 101)), [2, 1, 3])  // over 100 characters
        XCTAssertEqual(ids("\t\u{200B} \u{0}"), [2, 3])                // whitespace and format/control characters only
        XCTAssertEqual(ids("a[SEP]a [unk]"), [2, 10, 3, 10, 1, 1, 1, 3])  // a special token typed literally (exact case) is that token
        let long = tokenizer.encode(String(repeating: "a ", count: 20))
        XCTAssertEqual(long.ids.count, 8)
        XCTAssertTrue(long.truncated)
        XCTAssertFalse(tokenizer.encode("a a").truncated)
    }

    /// A huge caption is read only as far as its first tokens (issue 28: a 50 MB line took
    /// 4.5 GB); words and accents across the chunks it is normalised in come out as in one piece.
    func testHugeCaptionsStopAtTheLengthLimitAndEmptyOnesHaveNoWords() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyText: Self.smallVocabulary.joined(separator: "\r\n") + "\r\n", file: "vocab.txt", maxLength: 8)
        XCTAssertEqual(tokenizer.count, Self.smallVocabulary.count, "a CRLF vocabulary has one token per line")
        let huge = tokenizer.encode(String(repeating: "a ", count: 10_000_000))
        XCTAssertEqual(huge.ids, [2, 10, 10, 10, 10, 10, 10, 3])
        XCTAssertTrue(huge.truncated)
        XCTAssertEqual(tokenizer.encode(String(repeating: "\u{E9}", count: 100_000) + " cafe\u{301}").ids, [2, 1, 9, 3], "one [UNK] word, then cafe")
        XCTAssertEqual(tokenizer.encode(String(repeating: "b", count: 5000) + "!a").ids, [2, 1, 8, 10, 3])
        for nothing in ["", "\u{200B}", "\u{FEFF}", "\u{00AD}", "\u{0301}", "\u{0}", "\u{7}", " \t\u{200B}\u{2028}"] {
            XCTAssertFalse(tokenizer.hasWords(nothing), nothing.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
        XCTAssertTrue(tokenizer.hasWords("\u{200B}x"))
        XCTAssertTrue(tokenizer.hasWords("[SEP]"))
    }

    func testVocabularyWithoutSpecialTokens() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyText: "a\nb\n", file: "/x/vocab.txt")) { error in
            XCTAssert("\(error)".contains("/x/vocab.txt") && "\(error)".contains("[UNK]"), "\(error)")
        }
    }

    // MARK: The encoder folder's checks, on a fabricated tiny BERT

    /// A folder with a 1-layer BERT of width 4 (2 heads) over `smallVocabulary`.
    func makeTinyEncoder(vocabulary: [String] = smallVocabulary, wrongShape: String? = nil, drop: String? = nil) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-encoder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        var config = BertConfig()
        (config.hiddenSize, config.numHiddenLayers, config.numAttentionHeads, config.intermediateSize) = (4, 1, 2, 8)
        (config.maxPositionEmbeddings, config.vocabSize) = (16, Self.smallVocabulary.count)
        let json = """
        {"hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
         "max_position_embeddings": 16, "vocab_size": \(Self.smallVocabulary.count), "hidden_act": "gelu"}
        """
        try json.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        var generator = RandomGenerator(seed: 3)
        let tensors = config.tensorShapes.filter { $0.0 != drop }.map { name, shape in
            NamedTensor(name, Tensor.randomNormal(name == wrongShape ? shape + [1] : shape, using: &generator))
        }
        try SafeTensors.write(tensors, to: folder.appendingPathComponent("model.safetensors"))
        return folder.path
    }

    func testTinyEncoderGivesUnitVectors() throws {
        let encoder = try SentenceEncoder(folder: try makeTinyEncoder())
        XCTAssertEqual(encoder.width, 4)
        let (embeddings, _) = try encoder.encode(["unaffable", "cafe a", ""])
        for row in 0..<3 {
            let norm = embeddings[(row * 4)..<((row + 1) * 4)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertNotEqual(Array(embeddings[0..<4]), Array(embeddings[4..<8]))
        // Ids from elsewhere are checked against the tables, not trusted.
        for bad: [[Int32]] in [[[2, 13]], [[]], [[2, -1]], [Array(repeating: 2, count: 17)]] {
            XCTAssertThrowsError(try encoder.encode(ids: bad)) { XCTAssert("\($0)".contains("token ids"), "\($0)") }
        }
    }

    func testEncoderFolderErrorsNameTheFile() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let wrongShape = message { _ = try SentenceEncoder(folder: try makeTinyEncoder(wrongShape: "encoder.layer.0.intermediate.dense.weight")) }
        XCTAssert(wrongShape.contains("model.safetensors") && wrongShape.contains("encoder.layer.0.intermediate.dense.weight"), wrongShape)
        let missing = message { _ = try SentenceEncoder(folder: try makeTinyEncoder(drop: "embeddings.LayerNorm.bias")) }
        XCTAssert(missing.contains("embeddings.LayerNorm.bias") && missing.contains("missing"), missing)
        let shortVocabulary = message { _ = try SentenceEncoder(folder: try makeTinyEncoder(vocabulary: Array(Self.smallVocabulary.dropLast()))) }
        XCTAssert(shortVocabulary.contains("vocab.txt") && shortVocabulary.contains("does not belong"), shortVocabulary)
        let folder = try makeTinyEncoder()
        try FileManager.default.removeItem(atPath: folder + "/vocab.txt")
        let noVocabulary = message { _ = try SentenceEncoder(folder: folder) }
        XCTAssert(noVocabulary.contains("vocab.txt") && noVocabulary.contains(SentenceEncoder.fetchCommand), noVocabulary)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/model.safetensors"))
        try (Self.smallVocabulary.joined(separator: "\n")).write(toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
        let damaged = message { _ = try SentenceEncoder(folder: folder) }
        XCTAssert(damaged.contains("model.safetensors") && damaged.contains("too short"), damaged)
    }

    func testLocateNamesTheFetchCommand() {
        XCTAssertThrowsError(try SentenceEncoder.locate("/nonexistent/encoder")) { error in
            XCTAssert("\(error)".contains(SentenceEncoder.fetchCommand) && "\(error)".contains("--encoder"), "\(error)")
        }
        XCTAssertThrowsError(try SentenceEncoder.locate(nil, environment: [SentenceEncoder.environmentVariable: "/nonexistent/env"])) { error in
            XCTAssert("\(error)".contains("STACKGAN_ENCODER"), "\(error)")
        }
        XCTAssertEqual(try SentenceEncoder.locate(nil, environment: [SentenceEncoder.environmentVariable: NSTemporaryDirectory()]), NSTemporaryDirectory())
    }
}
