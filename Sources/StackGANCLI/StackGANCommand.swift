import ArgumentParser
import Foundation
import StackGAN

struct StackGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stackgan",
        abstract: "Text-to-image GANs (GAN-CLS, StackGAN) on a Swift + oneDNN engine.",
        subcommands: [Train.self, Generate.self, Inspect.self, Evaluate.self, Ablate.self, Report.self, Bench.self, Embed.self, MakeDataset.self,
                      ServeCommand.self]
    )
}

extension StackGANError {
    /// A usage problem found after parsing (a bad flag value, a missing input): exit code 2 like a bad flag.
    static func usage(_ message: String) -> StackGANError { StackGANError(.usage, "", message) }
    /// A command could not write its output (exit 1).
    static func output(_ message: String) -> StackGANError { StackGANError(.output, "", message) }
}

/// Exit codes: 0 success, 2 the command line is wrong (bad flags, configs, a named file that does
/// not exist), 1 a file exists but cannot be used, an output cannot be written, training stopped.
/// Errors are one line on stderr; ArgumentParser's own help text is kept.
public enum CommandLineTool {
    /// Parses and runs one command line (without the program name); returns the exit code.
    public static func run(_ arguments: [String]) -> Int32 {
        let (code, error) = execute(arguments)
        // `execute` gives one line already; the write adds the newline.
        if let error { FileHandle.standardError.write(Data("stackgan: error: \(error)\n".utf8)) }
        return code
    }

    /// `run` without the stderr write: the exit code and the one-line error (nil on success), so
    /// tests can check what a user would read.
    public static func execute(_ arguments: [String]) -> (code: Int32, error: String?) {
        let (code, error) = executeUnformatted(arguments)
        return (code, error.map(oneLine))
    }

    /// An error message as one line of bounded length: newlines (a YAML parser's, a file name's)
    /// become spaces, and a message longer than 1000 characters (one quoting a huge value) keeps
    /// its start and its end, where the kind and the file are.
    static func oneLine(_ message: String) -> String {
        let line = message.map { $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true ? " " : String($0) }.joined()
        guard line.count > 1000 else { return line }
        return "\(line.prefix(700)) ... (\(line.count - 1000) characters left out) ... \(line.suffix(300))"
    }

    /// Parses `arguments` with the real parser (and each command's `validate`) without running
    /// them: the README-commands test checks every documented command line this way.
    public static func parse(_ arguments: [String]) throws {
        _ = try StackGANCommand.parseAsRoot(arguments)
    }

    private static func executeUnformatted(_ arguments: [String]) -> (code: Int32, error: String?) {
        do {
            var command = try StackGANCommand.parseAsRoot(arguments)
            try command.run()
            return (0, nil)
        } catch let error as StackGANError {
            return (exitCode(error.kind), error.description)
        } catch {
            let code = StackGANCommand.exitCode(for: error)
            if code == .success {
                print(StackGANCommand.fullMessage(for: error))
                return (0, nil)
            } else if code == .validationFailure {
                return (2, StackGANCommand.message(for: error) + " (see --help)")
            } else {
                return (1, "\(error)")  // DatasetError, CheckpointError, ShapeError: a file or value that cannot be used
            }
        }
    }

    /// The one map from an error's kind to the exit code.
    static func exitCode(_ kind: StackGANError.Kind) -> Int32 {
        switch kind {
        case .usage: return 2
        case .unusableInput, .output, .training: return 1
        }
    }
}
