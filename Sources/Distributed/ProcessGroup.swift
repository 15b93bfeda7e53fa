import CMPI
import Foundation

/// A failed MPI call: which call, its return code and MPI's own words for it.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String

    public var description: String { "\(call) failed (MPI error \(code)): \(message)" }
}

/// A reduction of `ProcessGroup.allreduce`.
public enum ReduceOperation: Sendable {
    case sum, min, max

    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_sum()
        case .min: return cmpi_min()
        case .max: return cmpi_max()
        }
    }
}

/// The element types MPI moves for us.
public protocol MPIScalar { static var datatype: MPI_Datatype { get } }
extension Float: MPIScalar { public static var datatype: MPI_Datatype { cmpi_float() } }
extension Double: MPIScalar { public static var datatype: MPI_Datatype { cmpi_double() } }
extension Int: MPIScalar { public static var datatype: MPI_Datatype { cmpi_int64() } }  // 64-bit platforms only
extension UInt8: MPIScalar { public static var datatype: MPI_Datatype { cmpi_byte() } }

/// The processes of one job (MPI_COMM_WORLD). A process that a launcher started (mpirun, srun)
/// joins MPI's world; any other process is a group of one that never touches MPI, so a plain
/// `stackgan train` runs exactly as without this module. Buffers are contiguous scalars; every
/// collective is called by every rank in the same order, or the job hangs (MPI's contract).
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// False for the group of one without a launcher: collectives return at once.
    public let usesMPI: Bool
    private var finalized = false

    private init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// A group of one without MPI (tests, and every process no launcher started).
    public static let single = ProcessGroup(rank: 0, size: 1, usesMPI: false)

    /// Environment variables that Open MPI's mpirun, PMIx (srun --mpi=pmix) and PMI launchers set.
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]

    /// True when a launcher started this process, so the world has to come from MPI.
    public static var launchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return launcherVariables.contains { environment[$0] != nil }
    }

    private static let world: Result<ProcessGroup, any Error> = Result {
        guard launchedByMPI else { return single }
        try check("MPI_Init", MPI_Init(nil, nil))
        try check("MPI_Comm_set_errhandler", cmpi_errors_return(cmpi_comm_world()))
        var rank: Int32 = 0, size: Int32 = 0
        try check("MPI_Comm_rank", MPI_Comm_rank(cmpi_comm_world(), &rank))
        try check("MPI_Comm_size", MPI_Comm_size(cmpi_comm_world(), &size))
        return ProcessGroup(rank: Int(rank), size: Int(size), usesMPI: true)
    }

    /// This process's job, initialising MPI on first use when a launcher started the process.
    public static func current() throws -> ProcessGroup { try world.get() }

    public var isRoot: Bool { rank == 0 }

    /// Copies root's `buffer` into every rank's `buffer` (same count on every rank).
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        guard usesMPI, size > 1 else { return }
        for chunk in Self.chunks(buffer.count) {
            try Self.check("MPI_Bcast", MPI_Bcast(buffer.baseAddress.map { UnsafeMutableRawPointer($0 + chunk.lowerBound) },
                                                  Int32(chunk.count), T.datatype, Int32(root), cmpi_comm_world()))
        }
    }

    public func broadcast<T: MPIScalar>(_ values: inout [T], root: Int = 0) throws {
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Reduces `buffer` element-wise over all ranks, in place; every rank gets the result.
    public func allreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReduceOperation) throws {
        guard usesMPI, size > 1 else { return }
        for chunk in Self.chunks(buffer.count) {
            try Self.check("MPI_Allreduce", MPI_Allreduce(cmpi_in_place(), buffer.baseAddress.map { UnsafeMutableRawPointer($0 + chunk.lowerBound) },
                                                          Int32(chunk.count), T.datatype, operation.handle, cmpi_comm_world()))
        }
    }

    public func allreduce<T: MPIScalar>(_ values: inout [T], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// Reductions `startAllreduce` began and `wait` ends (MPI requests, one per Int32-sized piece).
    public final class PendingReduction {
        fileprivate var requests: [MPI_Request?]
        fileprivate init(_ requests: [MPI_Request?]) { self.requests = requests }
    }

    /// Starts reducing `buffer` element-wise over all ranks, in place (MPI_Iallreduce), and returns
    /// at once: every rank starts the same reductions in the same order, keeps `buffer` alive and
    /// untouched, and calls `wait` before reading it.
    public func startAllreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReduceOperation) throws -> PendingReduction {
        guard usesMPI, size > 1 else { return PendingReduction([]) }
        var requests: [MPI_Request?] = []
        for chunk in Self.chunks(buffer.count) {
            var request: MPI_Request?
            try Self.check("MPI_Iallreduce", MPI_Iallreduce(cmpi_in_place(), buffer.baseAddress.map { UnsafeMutableRawPointer($0 + chunk.lowerBound) },
                                                            Int32(chunk.count), T.datatype, operation.handle, cmpi_comm_world(), &request))
            requests.append(request)
        }
        return PendingReduction(requests)
    }

    /// Moves started reductions on: Open MPI advances a non-blocking collective only inside MPI
    /// calls, so a rank busy computing calls this now and then (MPI_Test).
    public func progress(_ pending: PendingReduction) throws {
        for i in pending.requests.indices where pending.requests[i] != nil {
            var done: Int32 = 0
            try Self.check("MPI_Test", MPI_Test(&pending.requests[i], &done, cmpi_status_ignore()))
        }
    }

    /// Returns when the reductions of `pending` are complete on this rank (MPI_Wait).
    public func wait(_ pending: PendingReduction) throws {
        for i in pending.requests.indices where pending.requests[i] != nil {
            try Self.check("MPI_Wait", MPI_Wait(&pending.requests[i], cmpi_status_ignore()))
        }
        pending.requests = []
    }

    public func barrier() throws {
        guard usesMPI, size > 1 else { return }
        try Self.check("MPI_Barrier", MPI_Barrier(cmpi_comm_world()))
    }

    /// Ends MPI for this process (once; later calls do nothing). Every rank calls it before a
    /// successful exit; a rank that exits without it makes the launcher end the whole job.
    public func finalize() throws {
        guard usesMPI, !finalized else { return }
        finalized = true
        try Self.check("MPI_Finalize", MPI_Finalize())
    }

    /// MPI counts are Int32: longer buffers go in pieces.
    private static func chunks(_ count: Int) -> [Range<Int>] {
        let piece = Int(Int32.max / 2)
        return stride(from: 0, to: count, by: piece).map { $0..<Swift.min(count, $0 + piece) }
    }

    private static func check(_ call: String, _ code: Int32) throws {
        guard code != cmpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        let message = MPI_Error_string(code, &text, &length) == cmpi_success()
            ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown error"
        throw MPIError(call: call, code: code, message: message)
    }
}
