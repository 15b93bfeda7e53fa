// Writing the per-example layout that `TextImageDataset` reads. The writing half of the HDF5
// wrappers (HDF5.swift holds the reading half); both hold `hdf5Lock` around every call.
import CHDF5
import Foundation

/// One example to write: encoded image bytes (PNG/JPEG, stored as they are), K captions with
/// their embeddings (K, E) row-major, an optional class and a name.
public struct TextImageExample {
    public var name: String
    public var className: String?
    public var captions: [String]
    public var embeddings: [Float]
    public var image: [UInt8]
    public init(name: String, className: String?, captions: [String], embeddings: [Float], image: [UInt8]) {
        self.name = name; self.className = className; self.captions = captions; self.embeddings = embeddings; self.image = image
    }
}

/// Writes an HDF5 file in the per-example layout (`/<split>/<NNNNN>/{img, embeddings, txt,
/// class, name}`; `img` a 1-D uint8 array of the encoded bytes, `embeddings` float32 (K, E),
/// `txt` K UTF-8 strings, `class` and `name` strings), one example at a time, into a temporary
/// file that `finish()` puts in place by `OutputFile`'s rules: an interrupted write leaves no half file.
public final class PerExampleWriter {
    public let path: String
    private let output: OutputFile
    let temporary: String
    private var file: hid_t = -1
    private var splits: [String: (group: hid_t, count: Int)] = [:]
    private let captionsPerImage: Int, width: Int

    public init(output: OutputFile, captionsPerImage: Int, embeddingWidth: Int) throws {
        path = output.path
        self.output = output
        self.captionsPerImage = captionsPerImage
        width = embeddingWidth
        temporary = try output.temporary()
        // The temporary file is this process's own, just made: truncating it follows no link.
        file = withHDF5 { H5Fcreate(temporary, chdf5_f_acc_trunc(), chdf5_p_default(), chdf5_p_default()) }
        guard file >= 0 else {
            throw DatasetError(.writeFailed, file: path, path: "", "cannot create \(temporary) (is the folder writable?)")
        }
    }

    deinit {
        withHDF5 {
            for (_, split) in splits { _ = H5Gclose(split.group) }
            if file >= 0 { _ = H5Fclose(file) }
        }
        // Not finished: the temporary file is not the dataset.
        if FileManager.default.fileExists(atPath: temporary) { try? FileManager.default.removeItem(atPath: temporary) }
    }

    private func fail(_ where_: String, _ what: String) -> DatasetError {
        DatasetError(.writeFailed, file: path, path: where_, "HDF5 could not \(what)")
    }

    /// Appends `example` to `split` (created on first use) as group NNNNN.
    public func append(_ example: TextImageExample, split: String) throws {
        guard example.captions.count == captionsPerImage, example.embeddings.count == captionsPerImage * width else {
            throw DatasetError(.invalidValue, file: path, path: example.name,
                               "\(example.captions.count) captions and \(example.embeddings.count) embedding values; expected \(captionsPerImage) and \(captionsPerImage * width)")
        }
        try withHDF5 {
            if splits[split] == nil {
                let g = H5Gcreate2(file, split, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
                guard g >= 0 else { throw fail("/" + split, "create the split group") }
                splits[split] = (g, 0)
            }
            guard let (splitGroup, count) = splits[split] else { return }
            let name = String(format: "%05d", count)
            let groupPath = "/\(split)/\(name)"
            let group = H5Gcreate2(splitGroup, name, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard group >= 0 else { throw fail(groupPath, "create the example group") }
            defer { _ = H5Gclose(group) }
            try example.image.withUnsafeBytes {
                try write(group, "img", type: chdf5_native_uchar(), dims: [example.image.count], $0.baseAddress, at: groupPath)
            }
            try example.embeddings.withUnsafeBytes {
                try write(group, "embeddings", type: chdf5_native_float(), dims: [captionsPerImage, width], $0.baseAddress, at: groupPath)
            }
            try writeStrings(group, "txt", example.captions, dims: [captionsPerImage], at: groupPath)
            if let className = example.className { try writeStrings(group, "class", [className], dims: [], at: groupPath) }
            try writeStrings(group, "name", [example.name], dims: [], at: groupPath)
            splits[split] = (splitGroup, count + 1)
        }
    }

    /// Closes the file and puts it in place.
    public func finish() throws {
        try withHDF5 {
            for (_, split) in splits { _ = H5Gclose(split.group) }
            splits = [:]
            let status = H5Fclose(file)
            file = -1
            guard status >= 0 else { throw fail("", "close (flush) the file") }
        }
        try output.commit(temporary)
    }

    /// A dataset `name` of `dims` (scalar when empty) holding `data` of the native `type`.
    private func write(_ group: hid_t, _ name: String, type: hid_t, dims: [Int], _ data: UnsafeRawPointer?, at groupPath: String) throws {
        let extent = dims.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), extent, nil)
        guard space >= 0 else { throw fail("\(groupPath)/\(name)", "create a dataspace of \(dims)") }
        defer { _ = H5Sclose(space) }
        let set = H5Dcreate2(group, name, type, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard set >= 0 else { throw fail("\(groupPath)/\(name)", "create the dataset") }
        defer { _ = H5Dclose(set) }
        // An empty array has nothing to write (and no buffer).
        if let data, H5Dwrite(set, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), data) < 0 {
            throw fail("\(groupPath)/\(name)", "write the data")
        }
    }

    /// Variable-length UTF-8 strings (what h5py writes for Python str).
    private func writeStrings(_ group: hid_t, _ name: String, _ strings: [String], dims: [Int], at groupPath: String) throws {
        let type = H5Tcopy(chdf5_c_s1())
        guard type >= 0, H5Tset_size(type, chdf5_t_variable()) >= 0, H5Tset_cset(type, H5T_CSET_UTF8) >= 0 else {
            throw fail("\(groupPath)/\(name)", "build a UTF-8 string type")
        }
        defer { _ = H5Tclose(type) }
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        try pointers.withUnsafeMutableBytes { try write(group, name, type: type, dims: dims, $0.baseAddress, at: groupPath) }
    }
}
