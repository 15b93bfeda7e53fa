// Thin owners for HDF5 handles. Only this file calls the HDF5 C API; everything
// above it sees `H5File`, `H5Group`, `H5Dataset` and thrown `DatasetError`s.
import CHDF5
import Foundation

/// Debian's libhdf5 is the serial (not thread-safe) build, and the prefetch threads
/// read image rows while the main thread may open files: every HDF5 call holds this lock.
let hdf5Lock = NSRecursiveLock()

private let hdf5Initialised: Bool = {
    _ = H5open()
    chdf5_silence_errors()
    return true
}()

@inline(__always) func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    _ = hdf5Initialised
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    return try body()
}

/// Owner of a transient HDF5 id (datatype, dataspace, property list).
private final class H5Temp {
    let id: hid_t
    private let close: (hid_t) -> herr_t
    init(_ id: hid_t, _ close: @escaping (hid_t) -> herr_t) { self.id = id; self.close = close }
    deinit { withHDF5 { _ = close(id) } }
}

/// An open HDF5 file (read-only). Closing happens in `deinit`; groups and datasets
/// opened from it keep their own ids, which HDF5 keeps valid after the file id closes.
final class H5File {
    let id: hid_t
    let path: String

    /// Opens `path` after `H5Probe` has walked it in a child process; `names` are the member
    /// names the readers will look up in its groups (a lookup takes other paths through a damaged
    /// group than a listing).
    init(path: String, probing names: [String]) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw DatasetError(.fileNotFound, file: path, path: "", "file not found; expected an HDF5 file (.h5/.hdf5)")
        }
        id = try withHDF5 {
            let signature = H5Fis_hdf5(path)
            guard signature > 0 else {
                throw DatasetError(.notHDF5, file: path, path: "", "not an HDF5 file (no HDF5 signature); expected an HDF5 file written by h5py or the HDF5 library")
            }
            try H5Probe.check(path, names: names)
            let id = H5Fopen(path, chdf5_f_acc_rdonly(), chdf5_p_default())
            guard id >= 0 else {
                throw DatasetError(.notHDF5, file: path, path: "", "HDF5 signature present but the file cannot be opened (truncated or corrupt?); expected a complete HDF5 file")
            }
            return id
        }
    }

    deinit { withHDF5 { _ = H5Fclose(id) } }

    func root() throws -> H5Group {
        guard let g = H5Group.open(in: id, name: "/", file: path, path: "/") else {
            throw DatasetError(.readFailed, file: path, path: "/", "cannot open the root group")
        }
        return g
    }
}

/// libhdf5 1.10 trusts some of a file's group structures: a damaged symbol-table B-tree, local
/// heap or link message makes it free() a pointer it never allocated, inside `H5Literate` or a
/// lookup, and the process dies (SIGSEGV/SIGABRT). No check of ours before the call can cover all
/// of them, so before this process opens an untrusted file, a forked child walks it as the
/// readers will (`chdf5_probe_file`: every group listed and looked up, every object header and
/// dataset's metadata read, variable-length data in chunked or compact storage read) and the
/// child's death becomes a one-line error. libhdf5 does the same on the same file given the same
/// memory; where it reads memory it never initialised (a group's link table, `chdf5_literate`)
/// that memory is zeros in both processes, so a file the child walked safely is safe here (as far
/// as fuzzing tells). Every open walks the file again: a file rewritten in place between two opens
/// can keep its inode, size and (coarse) times, so no cheap key says it is the same file.
enum H5Probe {
    /// The most elements of a variable-length dataset read through libhdf5 (`checkedCount`).
    static let maxVariableLengthElements = 1 << 22
    /// How long a walk may take: long enough for a file with a million groups.
    static let timeLimit: TimeInterval = 120
    /// The memory a walk may take: data/shapes.h5 takes 43 MB; 4M variable-length strings, the
    /// most read, about 300 MB. More than half of it is refused.
    static let memoryBudget = 1 << 30

    static func check(_ path: String, names: [String]) throws {
        var place: UnsafeMutablePointer<CChar>?
        let fail = { (why: String) -> DatasetError in
            let object = place.map { String(cString: $0) } ?? ""
            return DatasetError(.readFailed, file: path, path: object.isEmpty ? "/" : object, why)
        }
        // Everything the child uses is made before fork(): after it, the child runs C only.
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let pointers = cNames.map { UnsafePointer($0) }
        // Where the child is in the file, shared with it: the object an error names.
        let whereSize = 4096
        guard let shared = mmap(nil, whereSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), shared != MAP_FAILED else {
            throw fail("cannot map memory to check the file: \(String(cString: strerror(errno)))")
        }
        defer { munmap(shared, whereSize) }
        place = shared.bindMemory(to: CChar.self, capacity: whereSize)
        place?.initialize(to: 0)
        let child = pointers.withUnsafeBufferPointer { list in
            path.withCString { cPath in
                let pid = fork()
                if pid == 0 { chdf5_probe_child(cPath, list.baseAddress, Int32(list.count), maxVariableLengthElements, place, whereSize, memoryBudget) }
                return pid
            }
        }
        guard child > 0 else { throw fail("cannot start a process to check the file: \(String(cString: strerror(errno)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeLimit)
        var pause: UInt32 = 200
        while true {
            let waited = waitpid(child, &status, WNOHANG)
            if waited == child { break }
            guard waited == 0 || errno == EINTR else { throw fail("lost the process checking the file: \(String(cString: strerror(errno)))") }
            guard Date() < deadline else {
                kill(child, SIGKILL)
                _ = waitpid(child, &status, 0)
                throw fail("reading the file's structure did not end in \(Int(timeLimit)) s: the file is damaged (a loop libhdf5 does not detect?)")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        let signal = status & 0x7F
        guard signal == 0 else {
            throw fail("libhdf5 crashed (signal \(signal), \(String(cString: strsignal(signal)))) reading this object's structure (its group's symbol table, local heap or link messages, or its own header or variable-length data): the file is damaged")
        }
        guard (status >> 8) & 0xFF == 0 else {
            throw fail("reading the file's structure takes more than \(memoryBudget >> 21) MB of memory: the file is damaged (a size no real file has, or a local heap's free list that loops)")
        }
    }
}

/// The names `H5Group.childNames` collects, passed to its C callback as `op_data`.
private final class LinkNames { var names: [String] = [] }

/// What an HDF5 link points at.
enum H5Node {
    case group(H5Group)
    case dataset(H5Dataset)
}

/// An open HDF5 group.
final class H5Group {
    let id: hid_t
    let file: String
    /// Absolute path inside the file, used in error messages.
    let path: String

    private init(id: hid_t, file: String, path: String) { self.id = id; self.file = file; self.path = path }
    deinit { withHDF5 { _ = H5Gclose(id) } }

    static func open(in loc: hid_t, name: String, file: String, path: String) -> H5Group? {
        withHDF5 {
            let id = H5Gopen2(loc, name, chdf5_p_default())
            return id >= 0 ? H5Group(id: id, file: file, path: path) : nil
        }
    }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// Names of the links in this group, in HDF5's name order (byte order). One `H5Literate` pass:
    /// asking for each name by index re-sorts the link table on every call, which made opening a
    /// split quadratic in its number of examples.
    func childNames() throws -> [String] {
        try withHDF5 {
            let names = LinkNames()
            var next: hsize_t = 0
            let status = withExtendedLifetime(names) {
                chdf5_literate(id, H5_INDEX_NAME, H5_ITER_INC, &next, { _, name, _, box in
                    // A C callback cannot capture: the names arrive through `op_data`.
                    guard let name, let box else { return -1 }
                    Unmanaged<LinkNames>.fromOpaque(box).takeUnretainedValue().names.append(String(cString: name))
                    return 0
                }, Unmanaged.passUnretained(names).toOpaque())
            }
            guard status >= 0 else {
                throw DatasetError(.readFailed, file: file, path: path, "cannot list the group's members (failed at member \(next))")
            }
            return names.names
        }
    }

    /// Opens a direct member; nil when there is no such link (not an error: callers
    /// probe for optional members and alternative names).
    func member(_ name: String) throws -> H5Node? {
        try withHDF5 {
            guard H5Lexists(id, name, chdf5_p_default()) > 0 else { return nil }
            // An external link names another file anywhere on disk (a FIFO there hung the command):
            // only the file the user gave is read.
            guard [H5L_TYPE_HARD, H5L_TYPE_SOFT].contains(chdf5_link_type(id, name)) else {
                throw DatasetError(.readFailed, file: file, path: childPath(name), "is an external or user-defined link; only links inside the file are followed")
            }
            let objectID = H5Oopen(id, name, chdf5_p_default())
            guard objectID >= 0 else {
                throw DatasetError(.readFailed, file: file, path: childPath(name), "link exists but the object cannot be opened (dangling link or corrupt file)")
            }
            switch H5Iget_type(objectID) {
            case H5I_GROUP: return .group(H5Group(id: objectID, file: file, path: childPath(name)))
            case H5I_DATASET: return .dataset(H5Dataset(id: objectID, file: file, path: childPath(name)))
            default:
                _ = H5Oclose(objectID)
                return nil
            }
        }
    }

    func group(_ name: String) throws -> H5Group? {
        if case .group(let g)? = try member(name) { return g }
        return nil
    }

    func dataset(_ name: String) throws -> H5Dataset? {
        if case .dataset(let d)? = try member(name) { return d }
        return nil
    }
}

/// An open HDF5 dataset with typed readers. Each reader checks the stored type class
/// and throws `wrongType` with the expectation spelled out, rather than letting HDF5
/// convert silently (for example integers to floats).
final class H5Dataset {
    enum TypeClass: String { case integer, float, string, opaque, vlen, other }

    let id: hid_t
    let file: String
    let path: String
    /// Dimensions; `[]` for a scalar.
    let shape: [Int]
    let typeClass: TypeClass
    /// Bytes per element in the file type (for variable-length types, the handle size).
    let typeSize: Int
    let isVariableString: Bool

    fileprivate init(id: hid_t, file: String, path: String) {
        self.id = id
        self.file = file
        self.path = path
        // Failures here leave an empty shape / `.other` class, which every reader rejects
        // with a typed error, so the initialiser itself need not throw.
        let space = H5Temp(H5Dget_space(id), H5Sclose)
        let rank = Int(H5Sget_simple_extent_ndims(space.id))
        var dims = [hsize_t](repeating: 0, count: max(rank, 0))
        if rank > 0 { _ = H5Sget_simple_extent_dims(space.id, &dims, nil) }
        shape = dims.map { Int(clamping: $0) }
        let type = H5Temp(H5Dget_type(id), H5Tclose)
        switch H5Tget_class(type.id) {
        case H5T_INTEGER: typeClass = .integer
        case H5T_FLOAT: typeClass = .float
        case H5T_STRING: typeClass = .string
        case H5T_OPAQUE: typeClass = .opaque
        case H5T_VLEN: typeClass = .vlen
        default: typeClass = .other
        }
        typeSize = Int(H5Tget_size(type.id))
        isVariableString = typeClass == .string && H5Tis_variable_str(type.id) > 0
    }

    deinit { withHDF5 { _ = H5Dclose(id) } }

    /// Number of elements, or nil when the stored shape overflows (a corrupt header).
    var count: Int {
        shape.reduce(1) { total, d in
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            return overflow ? Int.max : p
        }
    }

    /// Element count, refusing sizes no real dataset has, so that a corrupt header
    /// gives an error instead of an impossible allocation.
    func checkedCount() throws -> Int {
        let n = count
        guard n <= 1 << 34 else { throw error(.invalidValue, "shape \(shape) is too large to read; the file is probably corrupt") }
        // A damaged dataspace can claim billions of elements of a small dataset: the storage the
        // file really has bounds what is allocated (compressed chunks up to 1024x, unwritten
        // storage reads as fill values up to 64 MB). Variable-length data is checked where it is
        // read; libhdf5 reads (and `H5Probe` walks) at most `maxVariableLengthElements` of it.
        guard typeClass != .vlen, !isVariableString else {
            guard n <= H5Probe.maxVariableLengthElements else {
                throw error(.invalidValue, "\(n) variable-length elements; at most \(H5Probe.maxVariableLengthElements) are read")
            }
            return n
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: max(typeSize, 1))
        let storage = Int(clamping: withHDF5 { H5Dget_storage_size(id) })
        let plist = H5Temp(withHDF5 { H5Dget_create_plist(id) }, H5Pclose)
        let limit: Int
        switch withHDF5({ H5Pget_layout(plist.id) }) {
        case H5D_CONTIGUOUS where storage > 0: limit = storage
        // libhdf5 1.10 copies a compact dataset's whole extent out of the buffer in its header
        // without checking that the buffer holds it: a shorter buffer crashed it (fuzzing found
        // one; libhdf5 2.0 refuses such a header).
        case H5D_COMPACT: limit = storage
        case H5D_CHUNKED: limit = max(storage > Int.max / 1024 ? Int.max : storage * 1024, 1 << 26)
        default: limit = max(storage, 1 << 26)
        }
        guard !overflow, bytes <= limit else {
            throw error(.invalidValue, "shape \(shape) of \(typeSize)-byte elements needs \(bytes) bytes; the file stores \(storage) for it (corrupt file)")
        }
        return n
    }
    var typeDescription: String {
        switch typeClass {
        case .integer, .float: return "\(typeClass.rawValue)\(typeSize * 8)"
        case .string: return isVariableString ? "variable-length string" : "fixed-length string (\(typeSize) bytes)"
        default: return typeClass.rawValue
        }
    }

    func error(_ kind: DatasetError.Kind, _ message: String) -> DatasetError {
        DatasetError(kind, file: file, path: path, message)
    }

    /// `buffer` is nil only for an empty array (zero elements): nothing to read.
    private func read(_ memType: hid_t, _ buffer: UnsafeMutableRawPointer?, what: String) throws {
        guard let buffer = buffer else { return }
        guard H5Dread(id, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), buffer) >= 0 else {
            throw error(.readFailed, "HDF5 could not read the data as \(what) (truncated or corrupt file?)")
        }
    }

    /// All elements as Float32, from float32 or float64 (or float16) storage, row-major.
    func readFloats() throws -> [Float] {
        guard typeClass == .float else {
            throw error(.wrongType, "expected float32 or float64 values, found \(typeDescription)")
        }
        return try withHDF5 {
            var out = [Float](repeating: 0, count: try checkedCount())
            try out.withUnsafeMutableBytes { try read(chdf5_native_float(), $0.baseAddress, what: "float32") }
            return out
        }
    }

    /// All elements as Int, from any integer storage.
    func readInts() throws -> [Int] {
        guard typeClass == .integer else {
            throw error(.wrongType, "expected integer values, found \(typeDescription)")
        }
        return try withHDF5 {
            var out = [Int64](repeating: 0, count: try checkedCount())
            try out.withUnsafeMutableBytes { try read(chdf5_native_llong(), $0.baseAddress, what: "int64") }
            return out.map { Int($0) }
        }
    }

    /// All elements as strings (fixed or variable length; trailing NULs/spaces removed).
    func readStrings() throws -> [String] {
        guard typeClass == .string else {
            throw error(.wrongType, "expected strings, found \(typeDescription)")
        }
        return try withHDF5 {
            let n = try checkedCount()
            let fileType = H5Temp(H5Dget_type(id), H5Tclose)
            if isVariableString {
                if let elements = try validatedVariableLengthElements(count: n) {
                    // Up to a NUL, as libhdf5's C strings read (a writer may have stored one).
                    return elements.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                }
                let memType = H5Temp(H5Tcopy(chdf5_c_s1()), H5Tclose)
                // Same character set as the file: HDF5 refuses ASCII<->UTF-8 conversion.
                guard H5Tset_size(memType.id, chdf5_t_variable()) >= 0,
                      H5Tset_cset(memType.id, H5Tget_cset(fileType.id)) >= 0 else {
                    throw error(.readFailed, "cannot build a variable-length string type")
                }
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                try pointers.withUnsafeMutableBytes { try read(memType.id, $0.baseAddress, what: "variable-length strings") }
                let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                let space = H5Temp(H5Dget_space(id), H5Sclose)
                _ = pointers.withUnsafeMutableBytes { H5Dvlen_reclaim(memType.id, space.id, chdf5_p_default(), $0.baseAddress) }
                return strings
            }
            var bytes = [UInt8](repeating: 0, count: n * typeSize)
            try bytes.withUnsafeMutableBytes { try read(fileType.id, $0.baseAddress, what: "fixed-length strings") }
            return (0..<n).map { i in
                var slice = bytes[(i * typeSize)..<((i + 1) * typeSize)]
                if let nul = slice.firstIndex(of: 0) { slice = slice[..<nul] }
                while let last = slice.last, last == 0x20 { slice = slice.dropLast() }
                return String(decoding: slice, as: UTF8.self)
            }
        }
    }

    /// One blob of bytes: an opaque scalar (h5py's `np.void(bytes)`), a 1-D uint8 array,
    /// or a variable-length uint8 scalar / single element.
    func readBlob() throws -> [UInt8] {
        try withHDF5 {
            switch typeClass {
            case .opaque:
                guard count == 1 else {
                    throw error(.wrongRank, "expected one opaque value (np.void of the encoded image), found shape \(shape)")
                }
                let fileType = H5Temp(H5Dget_type(id), H5Tclose)
                var bytes = [UInt8](repeating: 0, count: typeSize)
                try bytes.withUnsafeMutableBytes { try read(fileType.id, $0.baseAddress, what: "opaque bytes") }
                return bytes
            case .integer:
                guard typeSize == 1, shape.count == 1 else {
                    throw error(.wrongType, "expected a 1-D uint8 array of encoded image bytes, found \(typeDescription) with shape \(shape)")
                }
                return try readUInt8All()
            case .vlen:
                guard count == 1 else {
                    throw error(.wrongRank, "expected one variable-length uint8 value, found shape \(shape)")
                }
                let fileType = H5Temp(H5Dget_type(id), H5Tclose)
                let base = H5Temp(H5Tget_super(fileType.id), H5Tclose)
                guard H5Tget_class(base.id) == H5T_INTEGER, H5Tget_size(base.id) == 1 else {
                    throw error(.wrongType, "expected a variable-length uint8 value, found variable-length elements of another type")
                }
                if let elements = try validatedVariableLengthElements(count: 1) { return elements[0] }
                let memType = H5Temp(H5Tvlen_create(chdf5_native_uchar()), H5Tclose)
                var handle = hvl_t()
                try withUnsafeMutableBytes(of: &handle) { try read(memType.id, $0.baseAddress, what: "variable-length uint8") }
                let bytes = handle.p.map { Array(UnsafeRawBufferPointer(start: $0, count: handle.len)) } ?? []
                let space = H5Temp(H5Dget_space(id), H5Sclose)
                _ = withUnsafeMutableBytes(of: &handle) { H5Dvlen_reclaim(memType.id, space.id, chdf5_p_default(), $0.baseAddress) }
                return bytes
            default:
                throw error(.wrongType, "expected encoded image bytes (opaque, uint8 array or vlen uint8), found \(typeDescription)")
            }
        }
    }

    /// The elements of a contiguous variable-length dataset of bytes (strings, uint8), read from
    /// the file without libhdf5: each 16-byte element on disk is (length, global heap collection
    /// address, object index), and the bytes are that object of the collection. libhdf5 1.10
    /// (Debian 12) copies a heap object's *stored* size into a buffer sized by the element's
    /// length (`H5HG_read`), so a damaged heap segfaults it, and a heap id that names no object
    /// reads as an empty string. Here every length, address and index is checked against the
    /// collection and the file first. nil: not contiguous (compact or chunked storage), which is
    /// left to libhdf5.
    private func validatedVariableLengthElements(count n: Int) throws -> [[UInt8]]? {
        let plist = H5Temp(H5Dget_create_plist(id), H5Pclose)
        guard plist.id >= 0, H5Pget_layout(plist.id) == H5D_CONTIGUOUS else { return nil }
        let offset = H5Dget_offset(id)
        guard offset != haddr_t.max else { return nil }  // never written: fill values, no heap
        let address = UInt64(offset)
        let fileID = H5Temp(H5Iget_file_id(id), H5Fclose)
        let fcpl = H5Temp(H5Fget_create_plist(fileID.id), H5Pclose)
        var addressSize = 0, lengthSize = 0
        var userBlock: hsize_t = 0, fileSize: hsize_t = 0
        guard fileID.id >= 0, fcpl.id >= 0, H5Pget_sizes(fcpl.id, &addressSize, &lengthSize) >= 0,
              H5Pget_userblock(fcpl.id, &userBlock) >= 0, H5Fget_filesize(fileID.id, &fileSize) >= 0,
              (1...8).contains(addressSize), (1...8).contains(lengthSize) else {
            throw error(.readFailed, "cannot read the file's address sizes")
        }
        let elementSize = 4 + addressSize + 4
        let (total, overflow) = n.multipliedReportingOverflow(by: elementSize)
        guard !overflow, H5Dget_storage_size(id) == hsize_t(total), address <= fileSize, hsize_t(total) <= fileSize - address else {
            throw error(.readFailed, "variable-length data of \(n) elements does not fit its storage (corrupt file)")
        }
        let reader = try RawFile(path: file, size: fileSize, fail: { self.error(.readFailed, $0) })
        let descriptors = try reader.read(at: address, count: total)
        func little(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        var collections: [UInt64: [UInt64: ArraySlice<UInt8>]] = [:]
        return try (0..<n).map { i in
            let d = descriptors[(i * elementSize)..<((i + 1) * elementSize)]
            let length = little(d.prefix(4))
            guard length > 0 else { return [] }
            let heap = little(d.dropFirst(4).prefix(addressSize)), index = little(d.suffix(4))
            if collections[heap] == nil {
                collections[heap] = try heapObjects(reader, at: heap, base: userBlock, lengthSize: lengthSize, element: i)
            }
            guard let object = collections[heap]?[index] else {
                throw error(.readFailed, "element \(i): its global heap id (collection \(heap), object \(index)) names no object (corrupt file)")
            }
            guard UInt64(object.count) == length else {
                throw error(.readFailed, "element \(i): the global heap object holds \(object.count) bytes, the element says \(length) (corrupt file)")
            }
            return Array(object)
        }
    }

    /// The objects of the global heap collection at `address` by index, each checked to lie inside
    /// the collection, the collection inside the file.
    private func heapObjects(_ reader: RawFile, at address: UInt64, base: UInt64, lengthSize: Int, element: Int) throws -> [UInt64: ArraySlice<UInt8>] {
        let bad = { (why: String) in self.error(.readFailed, "element \(element): global heap collection at \(address) \(why) (corrupt file)") }
        let (start, overflow) = address.addingReportingOverflow(base)
        guard !overflow, start <= reader.size, reader.size - start >= 16 else { throw bad("lies outside the file") }
        let header = try reader.read(at: start, count: 16)
        guard Array(header.prefix(4)) == Array("GCOL".utf8), header[4] == 1 else { throw bad("has no GCOL signature") }
        let size = header[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard size >= 16, size <= reader.size - start else { throw bad("claims \(size) bytes, more than the file holds") }
        let bytes = try reader.read(at: start, count: Int(size))
        let objectHeader = 8 + lengthSize
        var objects: [UInt64: ArraySlice<UInt8>] = [:]
        var p = 16
        while bytes.count - p >= objectHeader {
            let index = UInt64(bytes[p]) | UInt64(bytes[p + 1]) << 8
            if index == 0 { break }  // the free space: the rest of the collection
            let length = bytes[(p + 8)..<(p + objectHeader)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let dataStart = p + objectHeader
            guard length <= UInt64(bytes.count - dataStart) else { throw bad("has object \(index) of \(length) bytes past its end") }
            guard objects[index] == nil else { throw bad("has object \(index) twice") }
            objects[index] = bytes[dataStart..<(dataStart + Int(length))]
            let padded = (Int(length) + 7) / 8 * 8
            guard padded <= bytes.count - dataStart else { break }
            p = dataStart + padded
        }
        return objects
    }

    private func readUInt8All() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: try checkedCount())
        try out.withUnsafeMutableBytes { try read(chdf5_native_uchar(), $0.baseAddress, what: "uint8") }
        return out
    }

    /// Rows `start..<start+rows` along the first axis of a uint8 array, row-major.
    /// Reading by rows keeps large flat image arrays on disk instead of in memory.
    func readUInt8Rows(start: Int, rows: Int) throws -> [UInt8] {
        guard typeClass == .integer, typeSize == 1 else {
            throw error(.wrongType, "expected uint8 pixels, found \(typeDescription)")
        }
        guard !shape.isEmpty, start >= 0, rows >= 0, start <= shape[0] - rows else {
            throw error(.invalidValue, "row range \(start)..<\(start + rows) outside shape \(shape)")
        }
        _ = try checkedCount()  // the whole array fits its storage, so no product below overflows
        return try withHDF5 {
            let fileSpace = H5Temp(H5Dget_space(id), H5Sclose)
            var offset = [hsize_t](repeating: 0, count: shape.count)
            offset[0] = hsize_t(start)
            var extent = shape.map { hsize_t($0) }
            extent[0] = hsize_t(rows)
            guard H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, offset, nil, extent, nil) >= 0 else {
                throw error(.readFailed, "cannot select rows \(start)..<\(start + rows)")
            }
            let memSpace = H5Temp(H5Screate_simple(Int32(extent.count), extent, nil), H5Sclose)
            var out = [UInt8](repeating: 0, count: extent.reduce(1) { $0 * Int($1) })
            let status = out.withUnsafeMutableBytes {
                H5Dread(id, chdf5_native_uchar(), memSpace.id, fileSpace.id, chdf5_p_default(), $0.baseAddress)
            }
            guard status >= 0 else {
                throw error(.readFailed, "HDF5 could not read rows \(start)..<\(start + rows) (truncated or corrupt file?)")
            }
            return out
        }
    }
}

/// Plain positioned reads of a file whose size is known, for data checked before libhdf5 sees it.
private final class RawFile {
    let size: UInt64
    private let descriptor: Int32
    private let fail: (String) -> DatasetError

    init(path: String, size: UInt64, fail: @escaping (String) -> DatasetError) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        (self.size, self.fail) = (size, fail)
        guard descriptor >= 0 else { throw fail("cannot open the file to read variable-length data: \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// `count` bytes at `offset`, which the caller has checked against `size`.
    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { pread(descriptor, $0 + done, count - done, off_t(offset) + off_t(done)) } ?? 0
            }
            guard n > 0 else { throw fail("the file ends inside variable-length data at byte \(offset + UInt64(done))") }
            done += n
        }
        return out
    }
}
