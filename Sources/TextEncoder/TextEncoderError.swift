/// A sentence encoder that cannot be found or used. The message names the file (and the tensor
/// or line) at fault and, when files are missing, the command that fetches them.
public struct TextEncoderError: Error, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The encoder folder or one of its files is absent: fetch it.
        case missing
        /// A file is there but unreadable, malformed or of the wrong shape/dtype.
        case badFile
        /// The files disagree with each other (vocab.txt vs the embedding table, config vs tensors).
        case mismatch
    }

    public let kind: Kind
    public let file: String
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind; self.file = file; self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
