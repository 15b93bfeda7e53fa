/// The one error type of the Datasets module.
///
/// Every failure names the file, the object path inside it (HDF5 path, `.npy` header
/// field, or example name) and what was expected, so that a user can fix the data
/// without reading this code.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// Broad category, for callers that want to branch on the failure.
    public enum Kind: String, Sendable {
        case fileNotFound, notHDF5, readFailed, missingObject, wrongRank, wrongType
        case invalidValue, widthMismatch, emptySplit, undecodableImage, badNpy, writeFailed
        case unknownLayout
    }

    public let kind: Kind
    /// File the problem is in (as given by the caller).
    public let file: String
    /// Path inside the file: an HDF5 object path, a `.npy` header field, or an example name.
    public let path: String
    /// What was expected and what was found.
    public let message: String

    public init(_ kind: Kind, file: String, path: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        "\(file): \(path.isEmpty ? "/" : path): \(message) [\(kind.rawValue)]"
    }
}
