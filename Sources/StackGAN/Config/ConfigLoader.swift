import Foundation
import Yams

/// Reads YAML configs onto a Codable type whose defaults fill every key the file leaves out. A
/// problem (unreadable file, unknown key, bad value) is a `.usage` StackGANError naming the file and key.
///
/// The defaults are encoded to a YAML tree; the file's tree must only use keys that tree has
/// (a misspelt key is an error, not a silently ignored setting); `key.path=value` overrides
/// replace single values; the merged tree is then decoded. So one mechanism gives defaults,
/// unknown-key errors and `--set`.
public enum ConfigLoader {

    public static func load<T: Codable>(_ type: T.Type, defaults: T, file: String?, overrides: [String] = []) throws -> T {
        guard let file else { return try load(type, defaults: defaults, text: nil, source: "config", overrides: overrides) }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw StackGANError(.usage, file, "cannot read the config file")
        }
        return try load(type, defaults: defaults, text: text, source: file, overrides: overrides)
    }

    /// The same from YAML text; `source` names it in errors (a file, or a checkpoint's metadata).
    public static func load<T: Codable>(_ type: T.Type, defaults: T, text: String?, source: String,
                                        overrides: [String] = []) throws -> T {
        var tree = try defaultsTree(defaults)
        if let text {
            try checkBounds(text, source: source)
            let user: Node?
            do { user = try Yams.compose(yaml: text) } catch {
                throw StackGANError(.usage, source, "not valid YAML: \(oneLine("\(error)"))")
            }
            if let user {
                try checkNodeCount(user, source: source)
                guard user.mapping != nil else { throw StackGANError(.usage, source, "expected a mapping of settings at the top level") }
                tree = try merge(tree, user, path: "", source: source)
            }
        }
        for override in overrides {
            tree = try apply(override, to: tree)
        }
        do {
            return try YAMLDecoder().decode(T.self, from: try Yams.serialize(node: tree))
        } catch let error as DecodingError {
            throw StackGANError(.usage, source, describe(error))
        }
    }

    /// The YAML text of a config (what `train` saves beside its checkpoints).
    public static func yaml<T: Encodable>(_ value: T) throws -> String { try YAMLEncoder().encode(value) }

    /// Every leaf of a config as (dotted key, YAML value), in the YAML's key order: `model.gf_dim`,
    /// `train.max_steps`, ... (a list is one value), so that two configs can be compared key by key.
    public static func settings<T: Encodable>(_ value: T) throws -> [(key: String, value: String)] {
        guard let root = try Yams.compose(yaml: yaml(value)) else { return [] }
        var out: [(key: String, value: String)] = []
        func visit(_ node: Node, _ path: String) throws {
            if let mapping = node.mapping {
                for (key, child) in mapping { try visit(child, path.isEmpty ? key.string ?? "?" : "\(path).\(key.string ?? "?")") }
            } else {
                out.append((path, try Yams.serialize(node: node).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
        try visit(root, "")
        return out
    }

    private static func defaultsTree<T: Encodable>(_ defaults: T) throws -> Node {
        guard let node = try Yams.compose(yaml: YAMLEncoder().encode(defaults)) else {
            throw StackGANError(.usage, "defaults", "encoded to nothing")
        }
        return node
    }

    /// `base` with the values of `user` put in, checking every user key exists in `base`.
    private static func merge(_ base: Node, _ user: Node, path: String, source: String) throws -> Node {
        guard let baseMapping = base.mapping else { return user }
        guard let userMapping = user.mapping else {
            throw StackGANError(.usage, source, "`\(path)` must be a mapping of settings")
        }
        var merged = baseMapping
        for (key, value) in userMapping {
            guard let name = key.string else { throw StackGANError(.usage, source, "a key under `\(path)` is not a string") }
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            guard let existing = baseMapping[name] else {
                let keyPath = abbreviated(keyPath)
                let known = baseMapping.keys.compactMap(\.string).sorted().joined(separator: ", ")
                throw StackGANError(.usage, source, "unknown key `\(keyPath)` (known keys here: \(known))")
            }
            merged[name] = try merge(existing, value, path: keyPath, source: source)
        }
        return .mapping(merged)
    }

    /// Applies one `a.b.c=value` override; the value is read as YAML (numbers, booleans, strings).
    private static func apply(_ override: String, to tree: Node) throws -> Node {
        guard let eq = override.firstIndex(of: "=") else {
            throw StackGANError(.usage, "--set", "`\(abbreviated(override))` is not key=value")
        }
        let keys = override[..<eq].split(separator: ".").map(String.init)
        let valueText = String(override[override.index(after: eq)...])
        guard !keys.isEmpty else { throw StackGANError(.usage, "--set", "`\(abbreviated(override))` has an empty key") }
        try checkBounds(valueText, source: "--set")
        let value = (try? Yams.compose(yaml: valueText)) ?? nil ?? Node(valueText)
        try checkNodeCount(value, source: "--set")
        func replace(_ node: Node, _ rest: ArraySlice<String>, _ done: String) throws -> Node {
            guard let key = rest.first else { return value }
            let path = done.isEmpty ? key : "\(done).\(key)"
            guard var mapping = node.mapping, let child = mapping[key] else {
                throw StackGANError(.usage, "--set", "unknown key `\(abbreviated(path))`")
            }
            if rest.count == 1, child.mapping != nil {
                throw StackGANError(.usage, "--set", "`\(path)` is a section; set one of its keys")
            }
            mapping[key] = try replace(child, rest.dropFirst(), path)
            return .mapping(mapping)
        }
        return try replace(tree, keys[...], "")
    }

    /// Largest config text read (configs are a few KB).
    static let maxBytes = 1 << 20
    /// Deepest nesting read. Yams composes recursively, so thousands of levels overflow the stack;
    /// configs nest three levels.
    static let maxDepth = 64
    /// Most YAML nodes in one config or `--set` value, aliases counted where they are used: a few
    /// aliases of aliases would otherwise expand to billions of nodes.
    static let maxNodes = 100_000

    /// Refuses, before parsing, text too long or nested too deeply for the parser. The depth is
    /// over-estimated from the text: open flow brackets plus the block indentation and the
    /// sequence and key indicators (`- `, `? `) that start a line, outside quotes and comments.
    static func checkBounds(_ text: String, source: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw StackGANError(.usage, source, "is \(text.utf8.count) bytes; a config is at most \(maxBytes) bytes")
        }
        var flow = 0, deepest = 0, block = 0
        var quote: UInt8? = nil, escaped = false, comment = false, lineStart = true
        var previous: UInt8 = 0x20
        let bytes = Array(text.utf8)
        for (i, byte) in bytes.enumerated() where deepest <= maxDepth {
            let next = i + 1 < bytes.count ? bytes[i + 1] : 0x20
            defer { previous = byte }
            if byte == 0x0A || byte == 0x0D {
                (comment, lineStart, block) = (false, quote == nil, 0)
                continue
            }
            if comment { continue }
            if let q = quote {
                // In double quotes a backslash escapes the next character; '' in single quotes
                // closes and reopens, which counts the same.
                if escaped { escaped = false } else if q == UInt8(ascii: "\"") && byte == UInt8(ascii: "\\") { escaped = true } else if byte == q { quote = nil }
                continue
            }
            let blank = { (b: UInt8) in b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
            if lineStart {
                // Indentation, and the `- ` / `? ` indicators that start a line, each may open a level.
                if byte == 0x20 || byte == 0x09 || ((byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?")) && blank(next)) {
                    block += 1
                    deepest = max(deepest, flow + block)
                    continue
                }
                lineStart = false
            }
            switch byte {
            case UInt8(ascii: "#") where blank(previous) || i == 0: comment = true
            // A quote starts a quoted scalar only where a node starts; inside a plain scalar (it's)
            // it is a character. Missing a quoted scalar here only over-counts brackets.
            case UInt8(ascii: "'"), UInt8(ascii: "\"") where blank(previous) || i == 0 || [UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ",")].contains(previous):
                quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; deepest = max(deepest, flow + block)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
            default: break
            }
        }
        guard deepest <= maxDepth else {
            throw StackGANError(.usage, source, "is nested more than \(maxDepth) levels deep (counting indentation); a config nests 3")
        }
    }

    /// Refuses a composed tree of more than `maxNodes` nodes (the walk stops at the bound; its
    /// depth is bounded by `checkBounds`).
    static func checkNodeCount(_ node: Node, source: String) throws {
        var count = 0
        func visit(_ node: Node) -> Bool {
            count += 1
            guard count <= maxNodes else { return false }
            if let mapping = node.mapping { return mapping.allSatisfy { visit($0.key) && visit($0.value) } }
            if let sequence = node.sequence { return sequence.allSatisfy(visit) }
            return true
        }
        guard visit(node) else {
            throw StackGANError(.usage, source, "has more than \(maxNodes) YAML nodes (aliases counted where used); a config has about 60")
        }
    }

    /// `text` on one line (a YAML error's own text spans lines).
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// `text` cut to its first `limit` characters with the count of those left out: an error
    /// about a 10 MB value shows its start, not all of it.
    static func abbreviated(_ text: String, limit: Int = 120) -> String {
        text.count <= limit ? text : "\(text.prefix(limit))... (\(text.count - limit) more characters)"
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let c): return "`\(path(c))` should be \(type): \(abbreviated(oneLine(c.debugDescription)))"
        case .valueNotFound(let type, let c): return "`\(path(c))` is missing a \(type) value"
        case .keyNotFound(let key, let c): return "missing key `\(path(c)).\(key.stringValue)`"
        case .dataCorrupted(let c): return "`\(path(c))`: \(abbreviated(oneLine(c.debugDescription)))"
        @unknown default: return "\(error)"
        }
    }
}
