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
        // Lines split on the scalar "\n" only (a token may itself be a Unicode space; a CRLF file's
        // "\r\n" is one Character, so splitting the String on "\n" would not split it).
        for line in vocabularyText.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            var token = String(String.UnicodeScalarView(line))
            if token.unicodeScalars.last == "\r" { token.unicodeScalars.removeLast() }
            if vocabulary[token] == nil { vocabulary[token] = id }
            id += 1
        }
        // A final newline leaves one empty line that is not a token.
        if vocabularyText.unicodeScalars.last == "\n", vocabulary[""] == id - 1 { vocabulary[""] = nil }
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

    /// The ids of `text`, and whether it was cut to `maxLength`. Stops reading `text` once more
    /// pieces than fit are found, so a huge caption costs what its first tokens cost: a 50 MB line
    /// took 4.5 GB when the whole of it was normalised and split first.
    public func encode(_ text: String) -> (ids: [Int32], truncated: Bool) {
        let limit = maxLength - 2
        var pieces: [Int32] = []
        forEachSegment(text) { segment in
            switch segment {
            case .special(let id): pieces.append(id)
            case .text(let part): forEachWord(part) { pieces += wordPieces($0); return pieces.count <= limit }
            }
            return pieces.count <= limit
        }
        let truncated = pieces.count > limit
        return ([classification] + pieces.prefix(limit) + [separator], truncated)
    }

    /// Whether `text` holds anything to embed: a word or a special token. A caption of spaces,
    /// NULs, zero-width spaces, BOMs, soft hyphens, other control or format characters, or (when
    /// lower-casing, which strips accents) combining marks alone is empty once normalised.
    public func hasWords(_ text: String) -> Bool { encode(text).ids.count > 2 }

    enum Segment { case text(Substring), special(Int32) }

    /// Calls `body` with the text split around literal special tokens ("[CLS]", "[SEP]", "[UNK]",
    /// "[PAD]", "[MASK]" as typed, before any normalisation), which the tokenizers library maps to
    /// their own ids, until `body` returns false.
    func forEachSegment(_ text: String, _ body: (Segment) -> Bool) {
        var rest = text[...], searched = text.startIndex
        // "[" is ASCII: found in the UTF-8 bytes, as fast as memchr, however long the text.
        while let open = rest.utf8[searched...].firstIndex(of: UInt8(ascii: "[")) {
            guard let (token, id) = specialTokens.first(where: { rest[open...].hasPrefix($0.0) }) else {
                searched = rest.index(after: open)
                continue
            }
            if open > rest.startIndex, !body(.text(rest[..<open])) { return }
            guard body(.special(id)) else { return }
            rest = rest[rest.index(open, offsetBy: token.count)...]
            searched = rest.startIndex
        }
        if !rest.isEmpty { _ = body(.text(rest)) }
    }

    // MARK: Normalisation and pre-tokenisation

    /// Calls `body` with each word of the normalised text, in order, until it returns false:
    /// whitespace separates, punctuation and CJK ideographs stand alone. The text is normalised a
    /// chunk at a time, each ending before an ASCII character (a starter NFD never reorders
    /// across), so memory stays bounded however long the text is. A word past
    /// `maxCharactersPerWord` is kept at one character more, which is enough to make it `[UNK]`.
    /// Returns false when `body` stopped it.
    @discardableResult
    func forEachWord<S: StringProtocol>(_ text: S, _ body: ([Unicode.Scalar]) -> Bool) -> Bool {
        var current: [Unicode.Scalar] = [], chunk: [Unicode.Scalar] = []
        func flush() -> Bool {
            defer { current.removeAll(keepingCapacity: true) }
            return current.isEmpty || body(current)
        }
        func process() -> Bool {
            defer { chunk.removeAll(keepingCapacity: true) }
            for scalar in normalized(chunk) {
                if scalar.properties.isWhitespace {
                    guard flush() else { return false }
                } else if Self.isPunctuation(scalar) || Self.isCJK(scalar) {
                    guard flush(), body([scalar]) else { return false }
                } else if current.count <= maxCharactersPerWord {
                    current.append(scalar)
                }
            }
            return true
        }
        for scalar in text.unicodeScalars {
            // A chunk without ASCII ends at 64K characters, before a character of combining class 0.
            if chunk.count >= 4096, scalar.isASCII || (chunk.count >= 1 << 16 && scalar.properties.canonicalCombiningClass == .notReordered) {
                guard process() else { return false }
            }
            chunk.append(scalar)
        }
        return process() && flush()
    }

    /// BertNormalizer: drop NUL, U+FFFD and control/format/unassigned characters (tab, newline
    /// and carriage return count as whitespace), then strip accents (NFD, drop nonspacing marks)
    /// and lower-case, each when `lowercase` (the model's do_lower_case; strip_accents follows it).
    func normalized(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var ascii = true
        for scalar in scalars {
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
