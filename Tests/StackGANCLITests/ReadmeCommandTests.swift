import Foundation
import StackGAN
import StackGANCLI
import XCTest

/// Every `stackgan ...` command line of the README's code blocks, parsed by the real argument
/// parser (with each command's `validate`), and where it names a config of configs/: that config
/// loaded with its `--set`s and checked, and for `ablate` its plan of variants built, which is
/// where an ablation that cannot run fails. Optional parts written `[--flag X]` are left out.
final class ReadmeCommandTests: XCTestCase {
    private static let root = CommandHarness.root

    /// The command lines after `stackgan` in the README's code blocks, continuation lines joined.
    static func documentedCommands() throws -> [(line: String, arguments: [String])] {
        let text = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        var commands: [(String, [String])] = []
        var inFence = false, pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if raw.hasPrefix("```") { inFence.toggle(); continue }
            guard inFence || raw.hasPrefix("    ") else { pending = ""; continue }
            let line = pending + raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\\") { pending = String(line.dropLast()) + " "; continue }
            pending = ""
            let words = try shellWords(line)
            // `stackgan` as a command word: not `stackgan:` (an error message) or part of a path.
            guard let start = words.firstIndex(of: "stackgan") else { continue }
            var arguments: [String] = []
            var optional = 0
            for word in words[(start + 1)...] {
                if ["|", "&&", ";"].contains(word) { break }
                if word.hasPrefix("[") { optional += 1 }
                if optional == 0 { arguments.append(word) }
                if word.hasSuffix("]") { optional = max(0, optional - 1) }
            }
            commands.append((line, arguments))
        }
        return commands
    }

    /// Splits a shell line into words: single and double quotes, comments; no expansions.
    static func shellWords(_ line: String) throws -> [String] {
        var words: [String] = [], word = "", quote: Character?, inWord = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == "#" && !inWord {
                break  // a comment, as the shell reads it
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(word) }
                (word, inWord) = ("", false)
            } else {
                word.append(c)
                inWord = true
            }
        }
        if quote != nil { throw ReadmeLineError(line: line) }
        if inWord { words.append(word) }
        return words
    }

    /// The values of `flag` in `arguments`, in order.
    private func values(_ flag: String, in arguments: [String]) -> [String] {
        zip(arguments, arguments.dropFirst()).filter { $0.0 == flag }.map(\.1)
    }

    func testEveryReadmeCommandParsesAndItsConfigChecks() throws {
        let commands = try Self.documentedCommands()
        let names = Set(commands.compactMap(\.arguments.first))
        // The README documents every command: a change to the extraction that finds nothing fails.
        for command in ["train", "generate", "ablate", "evaluate", "inspect", "bench", "embed", "make-dataset", "serve", "report"] {
            XCTAssertTrue(names.contains(command), "no README line runs `stackgan \(command)`")
        }
        for (line, arguments) in commands {
            if arguments.contains("--help") {
                XCTAssertEqual(CommandHarness.run(arguments).code, 0, line)
                continue
            }
            XCTAssertNoThrow(try CommandLineTool.parse(arguments), line)
            guard let config = values("--config", in: arguments).first,
                  FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(config).path) else { continue }
            var overrides = values("--set", in: arguments)
            overrides.append("data.path=\(CommandHarness.dataset)")
            if let seed = values("--seed", in: arguments).first { overrides.append("train.seed=\(seed)") }
            if let steps = values("--steps", in: arguments).first { overrides.append("train.max_steps=\(steps)") }
            do {
                let experiment = try ExperimentConfig.load(file: Self.root.appendingPathComponent(config).path, overrides: overrides)
                if arguments.first == "ablate" {
                    let heads = try AblationPlan.parseHeads(values("--heads", in: arguments).first ?? "single,split")
                    let techniques = try values("--techniques", in: arguments).first.map(Technique.parseSets)
                    let seeds = Int(values("--seeds", in: arguments).first ?? "3") ?? 3
                    _ = try AblationPlan(config: experiment, heads: heads, techniques: techniques, seeds: (0..<seeds).map(UInt64.init))
                } else {
                    _ = try Architecture(experiment)
                }
            } catch {
                XCTFail("\(line): \(error)")
            }
        }
    }

    /// The extraction itself, on lines of the README's kinds.
    func testTheExtractionTakesTheCommandAndLeavesOutOptionsAndComments() throws {
        XCTAssertEqual(try Self.shellWords(#"a "b c" 'd e' f"#), ["a", "b c", "d e", "f"])
        XCTAssertThrowsError(try Self.shellWords(#"a "b"#))
        let lines = try Self.documentedCommands()
        let ablate = try XCTUnwrap(lines.first { $0.arguments.first == "ablate" && $0.arguments.contains("--techniques") })
        XCTAssertTrue(ablate.arguments.contains("--seeds"), "a continued line is joined: \(ablate.arguments)")
        let evaluate = try XCTUnwrap(lines.first { $0.arguments.first == "evaluate" })
        XCTAssertFalse(evaluate.arguments.contains { $0.hasPrefix("[") || $0.hasSuffix("]") }, "\(evaluate.arguments)")
        XCTAssertEqual(try Self.shellWords("stackgan inspect F.h5   # it's a comment"), ["stackgan", "inspect", "F.h5"])
    }
}

/// A README line whose quotes do not close.
struct ReadmeLineError: Error { let line: String }
