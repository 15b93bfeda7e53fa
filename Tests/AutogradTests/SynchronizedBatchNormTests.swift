import Autograd
import XCTest

/// `train.sync_batchnorm`'s op path (per-channel sums summed across replicas, Double loops) against
/// ordinary training batch norm (oneDNN) on one replica, where the sum across replicas is the
/// identity: forward, all three gradients and the running statistics agree. The mpirun tests
/// (DataParallelTrainTests) check the sums across two real ranks.
final class SynchronizedBatchNormTests: XCTestCase {
    func testOneReplicaEqualsOrdinaryBatchNorm() throws {
        var rng = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([4, 3, 5, 5], mean: 0.3, standardDeviation: 1.7, requiresGrad: true, using: &rng)
        let scale = Tensor.randomNormal([3], mean: 1, standardDeviation: 0.3, requiresGrad: true, using: &rng)
        let shift = Tensor.randomNormal([3], standardDeviation: 0.3, requiresGrad: true, using: &rng)
        let weights = Tensor.randomNormal([4, 3, 5, 5], using: &rng)

        func run(synchronized: Bool) throws -> (y: [Float], grads: [[Float]], mean: [Float], variance: [Float], calls: Int) {
            var calls = 0
            BatchNormSynchronization.sumAcrossReplicas = synchronized ? { _ in calls += 1 } : nil
            defer { BatchNormSynchronization.sumAcrossReplicas = nil }
            let (mean, variance) = (Tensor(repeating: 0.5, shape: [3]), Tensor(repeating: 2, shape: [3]))
            for t in [x, scale, shift] { t.grad = nil }
            let y = try x.batchNorm(scale: scale, shift: shift, runningMean: mean, runningVariance: variance, training: true)
            try y.multiplying(weights).sum().backward()
            let grads = try [x, scale, shift].map { try XCTUnwrap($0.grad).scalars }
            return (y.scalars, grads, mean.scalars, variance.scalars, calls)
        }
        let plain = try run(synchronized: false), synced = try run(synchronized: true)
        XCTAssertEqual(synced.calls, 2, "one sum in the forward pass, one in the backward pass")
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            XCTAssertEqual(a.count, b.count, what)
            for (i, (u, v)) in zip(a, b).enumerated() where abs(u - v) > 1e-5 * max(1, abs(u)) {
                XCTFail("\(what)[\(i)]: \(u) vs \(v)"); return
            }
        }
        close(plain.y, synced.y, "y")
        for (name, (a, b)) in zip(["dx", "dscale", "dshift"], zip(plain.grads, synced.grads)) { close(a, b, name) }
        close(plain.mean, synced.mean, "running mean")
        close(plain.variance, synced.variance, "running variance")
    }
}
