import ArgumentParser
import Foundation
import StackGAN

struct StackGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stackgan",
        abstract: "Text-to-image GANs (GAN-CLS, StackGAN) on a Swift + oneDNN engine.",
        subcommands: [Train.self, Generate.self, Inspect.self, Evaluate.self, Ablate.self, Bench.self]
    )
}

/// A usage problem found after parsing (a bad config, a missing input): exit code 2 like a bad flag.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Exit codes: 0 success, 2 usage errors (bad flags, configs, inputs), 1 runtime errors. Errors are
/// one line on stderr; ArgumentParser's own help text is kept.
public enum CommandLineTool {
    /// Parses and runs one command line (without the program name); returns the exit code.
    public static func run(_ arguments: [String]) -> Int32 {
        let (code, error) = execute(arguments)
        if let error { FileHandle.standardError.write(Data("stackgan: error: \(error)\n".utf8)) }
        return code
    }

    /// `run` without the stderr write: the exit code and the one-line error (nil on success), so
    /// tests can check what a user would read.
    public static func execute(_ arguments: [String]) -> (code: Int32, error: String?) {
        do {
            var command = try StackGANCommand.parseAsRoot(arguments)
            try command.run()
            return (0, nil)
        } catch let error as UsageError {
            return (2, error.description)
        } catch let error as ConfigError {
            return (2, error.description)
        } catch {
            let code = StackGANCommand.exitCode(for: error)
            if code == .success {
                print(StackGANCommand.fullMessage(for: error))
                return (0, nil)
            } else if code == .validationFailure {
                return (2, StackGANCommand.message(for: error) + " (see --help)")
            } else {
                return (1, "\(error)")
            }
        }
    }
}
