@testable import Autograd
import XCTest

/// A frozen layer (weights with requiresGrad false, as the discriminator in the generator step)
/// skips its weight gradient but must still pass the exact input gradient through.
final class FrozenWeightTests: XCTestCase {
    private func inputGradient(_ op: (Tensor, Tensor) throws -> Tensor, input: [Int], weight: [Int],
                               frozen: Bool) throws -> (dx: [Float], dw: Tensor?) {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal(input, requiresGrad: true, using: &rng)
        let w = Tensor.randomNormal(weight, requiresGrad: !frozen, using: &rng)
        try op(x, w).sum().backward()
        return (try XCTUnwrap(x.grad).scalars, w.grad)
    }

    func testFrozenConvLinearAndTransposedConvStillPassInputGradients() throws {
        let cases: [(String, (Tensor, Tensor) throws -> Tensor, [Int], [Int])] = [
            ("conv2d", { try $0.conv2d(weight: $1, stride: 2, padding: 1) }, [2, 3, 7, 7], [4, 3, 4, 4]),
            ("convTranspose2d", { try $0.convTranspose2d(weight: $1, stride: 2, padding: 1) }, [2, 3, 5, 5], [3, 4, 4, 4]),
            ("linear", { try $0.linear(weight: $1, bias: nil) }, [3, 5], [4, 5]),
        ]
        for (name, op, input, weight) in cases {
            let trained = try inputGradient(op, input: input, weight: weight, frozen: false)
            let frozen = try inputGradient(op, input: input, weight: weight, frozen: true)
            XCTAssertEqual(frozen.dx, trained.dx, name)
            XCTAssertNotNil(trained.dw, name)
            XCTAssertNil(frozen.dw, "\(name): a frozen weight gets no gradient")
        }
    }
}
