import CDNNL

/// The number of threads `parallelFor` spreads work over: OpenMP's (OMP_NUM_THREADS, else cores).
public var parallelThreads: Int { Int(omp_get_max_threads()) }

/// Runs `body(i)` for every `i` in `0..<count`, spread over OpenMP's threads: the same team that
/// runs oneDNN's primitives. With a second pool (libdispatch) beside it, each pool's threads had to
/// sleep between calls so as not to starve the other's, and every convolution and elementwise loop
/// paid a futex wake-up (~480 context switches a step at the main job's widths). One pool can
/// spin briefly instead.
/// Called inside another `parallelFor`, it runs on the calling thread.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else { if count == 1 { body(0) }; return }
    withoutActuallyEscaping(body) { body in
        var context = (count, body)
        withUnsafeMutablePointer(to: &context) { pointer in
            GOMP_parallel({ raw in
                let (count, body) = raw!.assumingMemoryBound(to: (Int, (Int) -> Void).self).pointee
                var i = Int(omp_get_thread_num())
                let step = Int(omp_get_num_threads())
                while i < count { body(i); i += step }
            }, pointer, UInt32(min(count, parallelThreads)), 0)
        }
    }
}
