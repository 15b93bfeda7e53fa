import Foundation

/// The one serial queue every use of the model goes through, with a bound on the requests it holds.
///
/// The engine's models and the sentence encoder are not safe to call from two threads at once, so
/// all work runs on one `DispatchQueue`, off Swift's cooperative threads (2 on a 2-core machine)
/// and off swift-nio's event loops, which keep answering health checks and `429`s meanwhile.
/// A request that would make more than `maxWaiting` wait behind the running one is refused at once
/// instead of queued, so a burst cannot grow memory or latency without bound.
public final class GenerationQueue: @unchecked Sendable {
    /// Requests that may wait behind the running one.
    public let maxWaiting: Int
    private let queue = DispatchQueue(label: "stackgan.serve.generation")
    private let lock = NSLock()
    private var admitted = 0  // running + waiting, guarded by `lock`

    public init(maxWaiting: Int) {
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Requests admitted and not finished (the running one included).
    public var pending: Int { lock.withLock { admitted } }

    /// Runs `work` on the queue and returns its result, or nil at once when the queue is full.
    public func submit<T>(_ work: @escaping () throws -> T) async throws -> T? {
        let accepted: Bool = lock.withLock {
            guard admitted <= maxWaiting else { return false }
            admitted += 1
            return true
        }
        guard accepted else { return nil }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let result = Result { try work() }
                self.lock.withLock { self.admitted -= 1 }
                continuation.resume(with: result)
            }
        }
    }
}
