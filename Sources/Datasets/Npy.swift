// NumPy .npy files (format versions 1-3): float32/float64, little-endian, C order.
import Foundation

/// A float array read from `.npy`, values row-major (C order) in `shape`.
public struct NpyArray: Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
}

public enum Npy {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// The largest .npy read (the element bound of `parse` is 2^34 floats).
    static let maxBytes = 1 << 36

    public static func read(path: String) throws -> NpyArray {
        guard let (data, truncated) = InputFile.read(path, limit: maxBytes) else {
            throw DatasetError(.fileNotFound, file: path, path: "", "not found, unreadable or not a regular file; expected a .npy file")
        }
        guard !truncated else { throw DatasetError(.badNpy, file: path, path: "", "larger than \(maxBytes >> 30) GiB") }
        return try parse([UInt8](data), file: path)
    }

    /// Caption embeddings for `generate`: (N, E) or (E,) (read as N = 1), finite, and
    /// of `expectedWidth` when given. Returns shape [N, E].
    public static func readEmbeddings(path: String, expectedWidth: Int? = nil) throws -> NpyArray {
        var array = try read(path: path)
        guard array.shape.count == 1 || array.shape.count == 2, array.shape.allSatisfy({ $0 > 0 }) else {
            throw DatasetError(.wrongRank, file: path, path: "shape", "shape \(array.shape); expected (N, E) or (E,)")
        }
        if array.shape.count == 1 { array.shape = [1, array.shape[0]] }
        if let e = expectedWidth, array.shape[1] != e {
            throw DatasetError(.widthMismatch, file: path, path: "shape", "embedding width \(array.shape[1]); expected \(e)")
        }
        if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
            throw DatasetError(.invalidValue, file: path, path: "row \(bad / array.shape[1])", "value \(array.values[bad]); expected finite embeddings")
        }
        return array
    }

    public static func parse(_ bytes: [UInt8], file: String = "") throws -> NpyArray {
        func bad(_ field: String, _ why: String) -> DatasetError { DatasetError(.badNpy, file: file, path: field, why) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw bad("magic", "not a .npy file; expected the \\x93NUMPY signature")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("header", "file ends inside the header length") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }; headerStart = 12
        default:
            throw bad("version", "format version \(major); expected 1, 2 or 3")
        }
        guard bytes.count >= headerStart + headerLength else { throw bad("header", "file ends inside the header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)

        guard let descr = value(of: "descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")) else {
            throw bad("descr", "header has no 'descr'; expected e.g. '<f4'")
        }
        let width: Int
        switch descr {
        case "<f4": width = 4
        case "<f8": width = 8
        default: throw bad("descr", "dtype '\(descr)'; expected little-endian float32 '<f4' or float64 '<f8'")
        }
        guard let fortran = value(of: "fortran_order", in: header)?.trimmingCharacters(in: .whitespaces) else {
            throw bad("fortran_order", "header has no 'fortran_order'")
        }
        guard fortran == "False" else { throw bad("fortran_order", "Fortran-ordered array; expected C order (np.ascontiguousarray)") }
        guard let shapeText = value(of: "shape", in: header) else { throw bad("shape", "header has no 'shape'") }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else { throw bad("shape", "shape \(shapeText) is not a tuple of non-negative integers") }
            shape.append(d)
        }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 34 else { throw bad("shape", "shape \(shapeText) is too large") }
            count = p
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * width else {
            throw bad("data", "\(bytes.count - dataStart) data bytes; expected \(count * width) for shape \(shape) of \(descr)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let o = dataStart + i * width
                values[i] = width == 4
                    ? Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                    : Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))))
            }
        }
        return NpyArray(shape: shape, values: values)
    }

    /// Text after `'key':` up to the next top-level comma (a shape tuple keeps its commas).
    private static func value(of key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        var depth = 0
        var out = ""
        for ch in header[keyRange.upperBound...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if (ch == "," && depth == 0) || ch == "}" { break }
            out.append(ch)
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// float32 `.npy` bytes (version 1.0) for `values` in `shape`.
    public static func encode(_ values: [Float], shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so that the data starts on a 64-byte boundary, ending in a newline.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// Writes float32 `.npy` by `OutputFile`'s rules (atomically to a regular file).
    public static func write(_ values: [Float], shape: [Int], to output: OutputFile) throws {
        guard shape.reduce(1, *) == values.count else {
            throw DatasetError(.invalidValue, file: output.path, path: "shape", "shape \(shape) does not hold \(values.count) values")
        }
        try output.write(encode(values, shape: shape))
    }

    /// The same to a file the caller names itself (a regular file or nothing there).
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        try write(values, shape: shape, to: OutputFile(path))
    }
}
