import XCTest
@testable import Autograd

/// The tape itself: accumulation, freeing the graph, the no-gradient scope, deep graphs, and the
/// shape errors that ops throw.
final class TapeTests: XCTestCase {
    private func vector(_ values: [Float], requiresGrad: Bool = true) throws -> Tensor {
        try Tensor(shape: [values.count], scalars: values, requiresGrad: requiresGrad)
    }

    /// y = x*x + x uses x three times: dy/dx = 2x + 1 is the sum of every path.
    func testGradientsAccumulateOverEveryUse() throws {
        let x = try vector([1.5, -2, 0.25])
        try x.multiplying(x).adding(x).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [4, -3, 1.5])
    }

    /// `backward(ready:)` hands each leaf over once, with its whole gradient already in `grad`, as
    /// soon as no node left in the pass reads it: w, read only by the last op, comes first; x,
    /// which the first op reads too, comes last. The gradients equal a plain pass's.
    func testBackwardReportsEachLeafOnceItsGradientIsComplete() throws {
        func loss(_ x: Tensor, _ v: Tensor, _ w: Tensor) throws -> Tensor {
            try x.tanh().multiplying(v).adding(x).multiplying(w).sum()  // sum(w (v tanh(x) + x))
        }
        let (x, v, w) = (try vector([0.5, -1]), try vector([2, 3]), try vector([-1, 4]))
        var seen: [(name: String, grad: [Float]?)] = []
        try loss(x, v, w).backward { leaf in
            seen.append((leaf === x ? "x" : leaf === v ? "v" : leaf === w ? "w" : "?", leaf.grad?.scalars))
        }
        XCTAssertEqual(seen.map(\.name), ["w", "v", "x"])
        let (x2, v2, w2) = (try vector([0.5, -1]), try vector([2, 3]), try vector([-1, 4]))
        try loss(x2, v2, w2).backward()
        for (name, leaf) in [("x", x2), ("v", v2), ("w", w2)] {
            XCTAssertEqual(seen.first { $0.name == name }?.grad, leaf.grad?.scalars, "\(name)'s gradient when handed over")
        }
        // A leaf that is the loss itself is handed over too.
        var count = 0
        let scalar = try vector([2])
        try scalar.backward { _ in count += 1 }
        XCTAssertEqual(count, 1)
        XCTAssertEqual(scalar.grad?.scalars, [1])
    }

    /// A second backward pass adds to the leaf's gradient until zeroGrad() clears it.
    func testLeafGradientsAccumulateAcrossBackwardPasses() throws {
        let x = try vector([1, 2, 3])
        try x.scaled(by: 3).sum().backward()
        try x.scaled(by: 3).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [6, 6, 6])
        x.zeroGrad()
        XCTAssertNil(x.grad)
        try x.scaled(by: 2).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [2, 2, 2])
    }

    /// Inputs that need no gradient get none; results of ops on them record nothing.
    func testConstantsGetNoGradient() throws {
        let x = try vector([1, 2]), c = try vector([3, 4], requiresGrad: false)
        let constantOnly = c.tanh()
        XCTAssertFalse(constantOnly.requiresGrad)
        XCTAssertNil(constantOnly.node)
        try x.multiplying(c).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [3, 4])
        XCTAssertNil(c.grad)
    }

    /// After backward, nothing holds the intermediates: they are freed.
    func testGraphIsFreedAfterBackward() throws {
        let x = try vector([0.5, -1, 2])
        weak var intermediate: Tensor?
        let loss: Tensor
        do {
            let h = x.tanh()
            intermediate = h
            loss = try h.multiplying(h).sum()
        }
        XCTAssertNotNil(intermediate, "the graph keeps intermediates alive until backward")
        try loss.backward()
        XCTAssertNil(intermediate, "backward frees the graph")
        XCTAssertNil(loss.node)
        XCTAssertNotNil(x.grad)
    }

    /// A node holds its inputs' nodes, not the input tensors: a value no backward needs is freed
    /// while the graph lives (ReLU's backward reads its output, so its input goes at once).
    func testValuesNoBackwardNeedsAreFreedEarly() throws {
        let x = try vector([0.5, -1, 2])
        weak var beforeRelu: Tensor?
        let y: Tensor
        do {
            let h = try x.multiplying(x).adding(-1)
            beforeRelu = h
            y = h.relu()
        }
        XCTAssertNil(beforeRelu, "ReLU's input is not kept for backward")
        try y.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [0, 0, 4])  // d/dx relu(x^2 - 1) = 2x where x^2 > 1
    }

    /// A second backward through a freed graph is an error, not a silent zero gradient.
    func testSecondBackwardThroughAFreedGraphThrows() throws {
        let x = try vector([1, 2])
        let h = x.tanh()
        try h.sum().backward()
        XCTAssertThrowsError(try h.scaled(by: 2).sum().backward()) { error in
            XCTAssertTrue(error is GraphFreedError, "\(error)")
        }
    }

    /// Inside withoutGradients no op records a graph, and the mode is restored afterwards, also when
    /// the body throws.
    func testWithoutGradientsRecordsNothing() throws {
        let x = try vector([1, 2, 3])
        let y = try withoutGradients { try x.multiplying(x).tanh().sum() }
        XCTAssertNil(y.node)
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(GradientMode.isEnabled)
        XCTAssertThrowsError(try withoutGradients { try x.adding(try vector([1])) })
        XCTAssertTrue(GradientMode.isEnabled)
        let z = x.tanh()
        XCTAssertNotNil(z.node)
        XCTAssertTrue(z.requiresGrad)
    }

    /// A chain of 20,000 ops backpropagates (the tape is iterative, not recursive) and frees itself.
    func testDeepChainBackpropagatesWithoutStackOverflow() throws {
        let x = try vector([1, -2])
        var y = x
        for _ in 0..<20_000 { y = y.adding(0.5) }
        XCTAssertEqual(y.scalars, [10_001, 9_998])
        try y.scaled(by: 2).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [2, 2])
    }

    /// Dropping a deep graph that was never differentiated frees it without overflowing the stack.
    func testDeepChainIsFreedWithoutBackward() throws {
        let x = try vector([1, -2])
        weak var first: Node?
        do {
            var y = x.adding(1)
            first = y.node
            for _ in 0..<20_000 { y = y.adding(0.5) }
            XCTAssertNotNil(first)
        }
        XCTAssertNil(first)
    }

    /// Dropping one loss must not tear down a subgraph that another live loss still uses.
    func testDroppingOneLossKeepsASharedSubgraph() throws {
        let x = try vector([0.5, -1])
        var shared: Tensor? = x.scaled(by: 3)
        var unused: Tensor? = try shared!.adding(1).tanh().sum()
        let used = try shared!.multiplying(shared!).sum()
        shared = nil
        XCTAssertNotNil(unused?.node)
        unused = nil
        try used.backward()
        XCTAssertEqual(x.grad?.scalars, [9, -18])  // d/dx (3x)^2 = 18x
    }

    func testBackwardSeedMustMatchShape() throws {
        let y = try vector([1, 2]).tanh()
        assertShapeError("backward", try y.backward(seed: Tensor(repeating: 1, shape: [3])))
    }

    // MARK: Shape errors name the op that received the bad shapes.

    private func assertShapeError<T>(_ op: String, _ body: @autoclosure () throws -> T,
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? ShapeError else { return XCTFail("\(error) is not a ShapeError", file: file, line: line) }
            XCTAssertEqual(error.op, op, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(op + ": "), error.description, file: file, line: line)
        }
    }

    func testConv2dWrongChannelsThrows() throws {
        let x = Tensor(repeating: 1, shape: [2, 3, 8, 8]), w = Tensor(repeating: 1, shape: [4, 5, 3, 3])
        assertShapeError("conv2d", try x.conv2d(weight: w, padding: 1))
        assertShapeError("conv2d", try x.conv2d(weight: Tensor(repeating: 1, shape: [4, 3, 3, 3]), bias: Tensor(repeating: 0, shape: [5])))
        assertShapeError("conv2d", try x.conv2d(weight: Tensor(repeating: 1, shape: [4, 3, 9, 9])))
        assertShapeError("convTranspose2d", try x.convTranspose2d(weight: w))
    }

    func testLinearMismatchThrows() throws {
        let x = Tensor(repeating: 1, shape: [2, 7])
        assertShapeError("linear", try x.linear(weight: Tensor(repeating: 1, shape: [5, 6]), bias: nil))
        assertShapeError("linear", try x.linear(weight: Tensor(repeating: 1, shape: [5, 7]), bias: Tensor(repeating: 1, shape: [4])))
    }

    func testElementwiseMismatchThrows() throws {
        let a = Tensor(repeating: 1, shape: [2, 3]), b = Tensor(repeating: 1, shape: [3, 2])
        assertShapeError("add", try a.adding(b))
        assertShapeError("subtract", try a.subtracting(b))
        assertShapeError("multiply", try a.multiplying(b))
        assertShapeError("klDivergence", try Tensor.klDivergence(mu: a, logVariance: b))
    }

    func testConcatMismatchThrows() throws {
        let a = Tensor(repeating: 1, shape: [2, 3, 4, 4])
        assertShapeError("concat", try Tensor.concatChannels([a, Tensor(repeating: 1, shape: [2, 3, 4, 5])]))
        assertShapeError("concat", try Tensor.concatChannels([a, Tensor(repeating: 1, shape: [3, 3, 4, 4])]))
        assertShapeError("concat", try Tensor.concatChannels([]))
    }

    func testReshapeBadCountThrows() throws {
        let x = Tensor(repeating: 1, shape: [2, 3, 4])
        assertShapeError("reshape", try x.reshaped([5, 5]))
        assertShapeError("reshape", try x.reshaped([5, -1]))
        XCTAssertEqual(try x.reshaped([4, -1]).shape, [4, 6])
    }

    func testOtherShapeErrors() throws {
        let x = Tensor(repeating: 1, shape: [2, 3])
        let c3 = Tensor(repeating: 1, shape: [3]), c4 = Tensor(repeating: 1, shape: [4])
        assertShapeError("batchNorm", try x.batchNorm(scale: c4, shift: c3, runningMean: c3, runningVariance: c3, training: true))
        assertShapeError("batchNorm", try Tensor(repeating: 1, shape: [1, 3]).batchNorm(
            scale: c3, shift: c3, runningMean: c3, runningVariance: c3, training: true))
        assertShapeError("upsampleNearest2x", try x.upsampleNearest2x())
        assertShapeError("tile", try Tensor(repeating: 1, shape: [2, 3, 1]).tiled(height: 2, width: 2))
        assertShapeError("slice", try x.slicedBatch(1..<3))
    }
}
