import ArgumentParser
import Foundation
import StackGAN

struct StackGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stackgan",
        abstract: "Text-to-image GANs (GAN-CLS, StackGAN) on a Swift + oneDNN engine.",
        subcommands: [Train.self, Bench.self]
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
        do {
            var command = try StackGANCommand.parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as UsageError {
            return fail(error.description, code: 2)
        } catch let error as ConfigError {
            return fail(error.description, code: 2)
        } catch {
            let code = StackGANCommand.exitCode(for: error)
            if code == .success {
                print(StackGANCommand.fullMessage(for: error))
                return 0
            } else if code == .validationFailure {
                return fail(StackGANCommand.message(for: error) + " (see --help)", code: 2)
            } else {
                return fail("\(error)", code: 1)
            }
        }
    }

    static func fail(_ message: String, code: Int32) -> Int32 {
        FileHandle.standardError.write(Data("stackgan: error: \(message)\n".utf8))
        return code
    }
}
