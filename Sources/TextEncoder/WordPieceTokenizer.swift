// BERT's tokenizer as Hugging Face's BertTokenizerFast runs it (the `tokenizers` library's
// BertNormalizer, BertPreTokenizer, WordPiece and BertProcessing), which is what
// sentence-transformers uses for all-MiniLM-L6-v2. Each step follows that library's order and
// character classes, so that the ids are identical (tested on scripts/make_text_encoder_fixtures.py).

/// Text -> token ids: `[CLS] wordpieces... [SEP]`, at most `maxLength` ids in all.
public struct WordPieceTokenizer: Sendable {
    public let lowercase: Bool
    public let maxLength: Int
    let vocabulary: [String: Int32]
    let unknown: Int32, classification: Int32, separator: Int32
    let specialTokens: [(String, Int32)]
    /// Longer words become one `[UNK]` (the tokenizers library's `max_input_chars_per_word`).
    let maxCharactersPerWord = 100

    /// `vocabulary` is vocab.txt: one token per line, the id is the line number.
    /// Throws `TextEncoderError` naming `file` when a special token is missing.
    public init(vocabularyText: String, file: String, lowercase: Bool = true, maxLength: Int = 256) throws {
        var vocabulary: [String: Int32] = [:]
        var id: Int32 = 0
        // Lines split on "\n" only: a token may itself be a Unicode space or a lone "\r"-free symbol.
        for line in vocabularyText.split(separator: "\n", omittingEmptySubsequences: false) {
            var token = Substring(line)
            if token.hasSuffix("\r") { token = token.dropLast() }
            if vocabulary[String(token)] == nil { vocabulary[String(token)] = id }
            id += 1
        }
        // A final newline leaves one empty line that is not a token.
        if vocabularyText.hasSuffix("\n"), vocabulary[""] == id - 1 { vocabulary[""] = nil }
        func special(_ token: String) throws -> Int32 {
            guard let id = vocabulary[token] else {
                throw TextEncoderError(.badFile, file: file, "has no \(token) token; expected BERT's vocab.txt (one token per line)")
            }
            return id
        }
        guard maxLength >= 2 else { throw TextEncoderError(.badFile, file: file, "max length \(maxLength); expected at least 2 ([CLS] and [SEP])") }
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.maxLength = maxLength
        unknown = try special("[UNK]")
        classification = try special("[CLS]")
        separator = try special("[SEP]")
        specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in vocabulary[token].map { (token, $0) } }
    }

    /// Number of lines (ids) the vocabulary file defines; must equal the embedding table's rows.
    public var count: Int { (vocabulary.values.max().map { Int($0) } ?? -1) + 1 }

    /// The ids of `text`, and whether it was cut to `maxLength`.
    public func encode(_ text: String) -> (ids: [Int32], truncated: Bool) {
        var pieces: [Int32] = []
        for segment in segments(text) {
            switch segment {
            case .special(let id): pieces.append(id)
            case .text(let part): for word in words(part) { pieces += wordPieces(word) }
            }
            if pieces.count > maxLength - 2 { break }
        }
        let truncated = pieces.count > maxLength - 2
        return ([classification] + pieces.prefix(maxLength - 2) + [separator], truncated)
    }

    enum Segment { case text(Substring), special(Int32) }

    /// The text split around literal special tokens ("[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"
    /// as typed, before any normalisation), which the tokenizers library maps to their own ids.
    func segments(_ text: String) -> [Segment] {
        guard text.contains("[") else { return [.text(text[...])] }
        var result: [Segment] = []
        var rest = text[...]
        while true {
            let matches = specialTokens.compactMap { token, id in rest.range(of: token).map { ($0, id) } }
            guard let (range, id) = matches.min(by: { $0.0.lowerBound < $1.0.lowerBound }) else { break }
            if range.lowerBound > rest.startIndex { result.append(.text(rest[..<range.lowerBound])) }
            result.append(.special(id))
            rest = rest[range.upperBound...]
        }
        if !rest.isEmpty { result.append(.text(rest)) }
        return result
    }

    // MARK: Normalisation and pre-tokenisation

    /// The normalised text split into words: whitespace separates, punctuation and CJK
    /// ideographs stand alone.
    func words<S: StringProtocol>(_ text: S) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        func flush() { if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) } }
        for scalar in normalized(text) {
            if scalar.properties.isWhitespace {
                flush()
            } else if Self.isPunctuation(scalar) || Self.isCJK(scalar) {
                flush()
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        flush()
        return words
    }

    /// BertNormalizer: drop NUL, U+FFFD and control/format/unassigned characters (tab, newline
    /// and carriage return count as whitespace), then strip accents (NFD, drop nonspacing marks)
    /// and lower-case, each when `lowercase` (the model's do_lower_case; strip_accents follows it).
    func normalized<S: StringProtocol>(_ text: S) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count)
        var ascii = true
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if scalar.value >= 0x80 { ascii = false }
            out.append(scalar)
        }
        guard lowercase else { return out }
        if ascii {
            return out.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }
        }
        let decomposed = String(String.UnicodeScalarView(out)).decomposedStringWithCanonicalMapping.unicodeScalars
        // Per character, as Rust's char::to_lowercase: no context-dependent rules (final sigma).
        return decomposed.filter { $0.properties.generalCategory != .nonspacingMark }
            .flatMap { $0.properties.lowercaseMapping.unicodeScalars }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r": return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned: return true
            default: return false
            }
        }
    }

    /// ASCII punctuation and symbols (33-47, 58-64, 91-96, 123-126) and Unicode P* characters.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT splits into single characters.
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    // MARK: WordPiece

    /// Greedy longest match from the left, continuations prefixed `##`; a word with a position
    /// no piece matches, or longer than 100 characters, is one `[UNK]`.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
        guard word.count <= maxCharactersPerWord else { return [unknown] }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}
