/// An error of the application layer: what kind of problem, where (a file, a config key, a flag,
/// a step) and what. The command line maps the kind to its exit code in one place
/// (`CommandLineTool.exitCode`); the engine's and the data layer's own errors (ShapeError,
/// CheckpointError, DatasetError) say what failed below this layer.
public struct StackGANError: Error, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The command line or a config is wrong: a bad flag value, a missing named file, a
        /// malformed config, an unknown key, a value out of range or combinations that do not fit.
        case usage
        /// A file exists but cannot be used: not a checkpoint of the kind needed, a model that does
        /// not fit, a dataset too small for a metric.
        case unusableInput
        /// An output cannot be written.
        case output
        /// Training stopped: a non-finite loss, a run folder that already holds a run.
        case training
    }

    public let kind: Kind
    /// The file, config key, flag or step at fault.
    public let place: String
    public let message: String

    public init(_ kind: Kind, _ place: String, _ message: String) {
        self.kind = kind
        self.place = place
        self.message = message
    }

    public var description: String { place.isEmpty ? message : "\(place): \(message)" }
}

/// The evaluation files' spelling: a metric's precondition the input does not meet (a split without
/// class labels, fewer than two examples for a covariance) is an unusable input, placed in the message.
public typealias EvaluationError = StackGANError

extension StackGANError {
    public init(_ message: String) { self.init(.unusableInput, "", message) }
}
