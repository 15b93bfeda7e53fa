import ArgumentParser
import Distributed
import Foundation
import StackGAN

/// `mpirun -np N stackgan bench allreduce`: the gradient averaging's transport measured alone.
struct AllreduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allreduce",
        abstract: "Under mpirun: times MPI_Allreduce (sum, in place) of a Float buffer and prints its bandwidth.")

    @Option(help: "Buffer size in MiB (1...4096).") var mib = 64
    @Option(help: "Timed repetitions after one warm-up (the best is reported).") var repeats = 5

    func run() throws {
        guard (1...4096).contains(mib), (1...1000).contains(repeats) else {
            throw StackGANError.usage("--mib \(mib), --repeats \(repeats): expected 1...4096 and 1...1000")
        }
        let group = try ProcessGroup.current()
        guard group.size > 1 else {
            print("allreduce: one rank, nothing to reduce; start it under mpirun -np N (N >= 2)")
            return
        }
        var buffer = [Float](repeating: 0, count: mib << 18)
        try group.allreduce(&buffer, .sum)
        var best = Double.infinity
        for _ in 0..<repeats {
            try group.barrier()
            let started = Date()
            try group.allreduce(&buffer, .sum)
            best = min(best, Date().timeIntervalSince(started))
        }
        if group.isRoot {
            let bytes = Double(buffer.count * MemoryLayout<Float>.size), n = Double(group.size)
            // Bus bandwidth: what each rank sends in a ring allreduce, 2 (n-1)/n of the buffer.
            print(String(format: "allreduce %d MiB on %d ranks: %.1f ms  algorithm %.2f GB/s  bus %.2f GB/s", mib, group.size,
                         best * 1e3, bytes / best / 1e9, 2 * (n - 1) / n * bytes / best / 1e9))
        }
        try group.finalize()
    }
}
