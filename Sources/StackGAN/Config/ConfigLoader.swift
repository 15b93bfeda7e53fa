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
            let user: Node?
            do { user = try Yams.compose(yaml: text) } catch {
                throw StackGANError(.usage, source, "not valid YAML: \(error)")
            }
            if let user {
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
            throw StackGANError(.usage, "--set", "`\(override)` is not key=value")
        }
        let keys = override[..<eq].split(separator: ".").map(String.init)
        let valueText = String(override[override.index(after: eq)...])
        guard !keys.isEmpty else { throw StackGANError(.usage, "--set", "`\(override)` has an empty key") }
        let value = (try? Yams.compose(yaml: valueText)) ?? nil ?? Node(valueText)
        func replace(_ node: Node, _ rest: ArraySlice<String>, _ done: String) throws -> Node {
            guard let key = rest.first else { return value }
            let path = done.isEmpty ? key : "\(done).\(key)"
            guard var mapping = node.mapping, let child = mapping[key] else {
                throw StackGANError(.usage, "--set", "unknown key `\(path)`")
            }
            if rest.count == 1, child.mapping != nil {
                throw StackGANError(.usage, "--set", "`\(path)` is a section; set one of its keys")
            }
            mapping[key] = try replace(child, rest.dropFirst(), path)
            return .mapping(mapping)
        }
        return try replace(tree, keys[...], "")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let c): return "`\(path(c))` should be \(type): \(c.debugDescription)"
        case .valueNotFound(let type, let c): return "`\(path(c))` is missing a \(type) value"
        case .keyNotFound(let key, let c): return "missing key `\(path(c)).\(key.stringValue)`"
        case .dataCorrupted(let c): return "`\(path(c))`: \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
