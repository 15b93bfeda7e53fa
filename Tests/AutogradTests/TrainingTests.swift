import XCTest
@testable import Autograd

/// End to end: a small conv net trained with the Autograd ops follows PyTorch's loss curve.
final class TrainingTests: XCTestCase {
    /// Every loss of the curve, the final linear weights and the final running mean within this
    /// relative error of PyTorch's. Both sides run in Float32 from the same weights and data but sum in
    /// different orders (oneDNN vs PyTorch's kernels, Double vs Float accumulation in the reductions),
    /// so they part by ~1e-7..1e-6 per step; SGD on this batch is contracting (the loss falls smoothly
    /// from 0.84 to 0.02), and the gap measured stays below 2e-5 for the losses (1.6e-5 at worst) and
    /// 4e-5 for the final weights and statistics: 1e-3 leaves 25x for other CPUs' kernel paths. This
    /// is the end-to-end check that the ops compose (batch statistics and their update, reshape, the
    /// halves of the BCE, SGD); the op tests hold each gradient far tighter. For scale: making
    /// only leakyRelu's negative-side gradient 10% wrong fails it (final weights off 2x the tolerance).
    let tolerance = 1e-3

    // Fixtures/training.json: scripts/make_torch_fixtures.py (conv 3->8 4x4 s2 p1, BN2d, LeakyReLU 0.2,
    // conv 8->16 4x4 s2 p1, BN2d, ReLU, linear 256->1, BCE with logits against 4 ones then 4 zeros;
    // batch 8 of 3x16x16; plain SGD, lr 0.05, 30 steps)
    func testSmallConvNetFollowsPyTorchLossCurve() throws {
        let c = try Fixture("training").named("convNetSGD")
        let names = ["conv1.weight", "bn1.scale", "bn1.shift", "conv2.weight", "bn2.scale", "bn2.shift", "fc.weight", "fc.bias"]
        let parameters = try names.map { try c.tensor($0, requiresGrad: true) }
        let p = Dictionary(uniqueKeysWithValues: zip(names, parameters))
        let x = try c.tensor("x")
        XCTAssertEqual(x.shape, [8, 3, 16, 16])
        XCTAssertEqual(try c.entry("labels").values, [1, 1, 1, 1, 0, 0, 0, 0], "the loss below assumes this order")
        let (learningRate, steps, slope) = (Float(try c.param("learningRate")), Int(try c.param("steps")), Float(try c.param("slope")))
        let (mean1, variance1) = (Tensor(repeating: 0, shape: [8]), Tensor(repeating: 1, shape: [8]))
        let (mean2, variance2) = (Tensor(repeating: 0, shape: [16]), Tensor(repeating: 1, shape: [16]))

        var losses: [Double] = []
        for _ in 0..<steps {
            var h = try x.conv2d(weight: p["conv1.weight"]!, stride: 2, padding: 1)
                .batchNorm(scale: p["bn1.scale"]!, shift: p["bn1.shift"]!, runningMean: mean1, runningVariance: variance1, training: true)
                .leakyRelu(slope: slope)
            h = try h.conv2d(weight: p["conv2.weight"]!, stride: 2, padding: 1)
                .batchNorm(scale: p["bn2.scale"]!, shift: p["bn2.shift"]!, runningMean: mean2, runningVariance: variance2, training: true)
                .relu()
            let logits = try h.reshaped([8, -1]).linear(weight: p["fc.weight"]!, bias: p["fc.bias"]!)
            // Mean BCE over the batch = the mean of the two halves' means (equal halves).
            let real = try logits.slicedBatch(0..<4).binaryCrossEntropyWithLogits(target: 1)
            let fake = try logits.slicedBatch(4..<8).binaryCrossEntropyWithLogits(target: 0)
            let loss = try real.adding(fake).scaled(by: 0.5)
            losses.append(Double(loss.item))
            for t in parameters { t.zeroGrad() }
            try loss.backward()
            for t in parameters {  // plain SGD, as torch: w -= lr * grad
                let grad = try XCTUnwrap(t.grad)
                for i in 0..<t.count { t.pointer[i] -= learningRate * grad.pointer[i] }
            }
        }
        let expected = try c.entry("losses").values
        XCTAssertEqual(losses.count, expected.count)
        for (step, (actual, reference)) in zip(losses, expected).enumerated() {
            XCTAssertLessThanOrEqual(abs(actual - reference), tolerance * abs(reference),
                                     "step \(step): loss \(actual), PyTorch \(reference)")
        }
        assertClose(p["fc.weight"], try c.entry("fc.weight.final"), tolerance: tolerance, "final fc.weight")
        assertClose(mean2, try c.entry("bn2.runningMean.final"), tolerance: tolerance, "final bn2 running mean")
    }
}
