import Autograd
import Foundation
@testable import NN
import XCTest

final class NNTests: XCTestCase {
    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    }

    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nntests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Trajectories from scripts/make_nn_fixtures.py (torch.optim.Adam / SGD on fixed gradients).
    func testOptimizersFollowPyTorch() throws {
        struct Fixture: Decodable { let start: [Float]; let grads: [[Float]]; let trajectories: [String: [[Float]]] }
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixture("optimizers.json")))
        let makers: [String: (NamedTensor) -> Optimizer] = [
            "adam": { Adam(parameters: [$0], learningRate: 2e-4, betas: (0.5, 0.999)) },
            "adam_lr1e-2": { Adam(parameters: [$0], learningRate: 1e-2, betas: (0.9, 0.99), epsilon: 1e-6) },
            "sgd": { SGD(parameters: [$0], learningRate: 0.1) },
            "sgd_momentum": { SGD(parameters: [$0], learningRate: 0.1, momentum: 0.9) },
        ]
        XCTAssertEqual(Set(makers.keys), Set(f.trajectories.keys))
        for (name, make) in makers {
            let p = try Tensor(shape: [f.start.count], scalars: f.start, requiresGrad: true)
            let optimizer = make(NamedTensor("p", p))
            for (step, grad) in f.grads.enumerated() {
                p.grad = try Tensor(shape: [grad.count], scalars: grad)
                try optimizer.update()
                let expected = try XCTUnwrap(f.trajectories[name]?[step])
                for (a, b) in zip(p.scalars, expected) {
                    XCTAssertEqual(a, b, accuracy: 1e-6 + 1e-5 * abs(b), "\(name) step \(step + 1)")
                }
            }
            XCTAssertEqual(optimizer.step, f.grads.count)
        }
    }

    /// The fixture's 7 values take Adam's scalar loop; 37 take two 16-wide SIMD blocks and a tail.
    /// Each value updated alone (scalar) must equal the same value updated in the big tensor.
    func testAdamSIMDLoopEqualsScalarLoop() throws {
        var rng = RandomGenerator(seed: 5)
        let start = Tensor.randomNormal([37], using: &rng).scalars
        let grads = (0..<3).map { _ in Tensor.randomNormal([37], using: &rng).scalars }
        let whole = try Tensor(shape: [37], scalars: start, requiresGrad: true)
        let adam = Adam(parameters: [NamedTensor("p", whole)], learningRate: 1e-2)
        for g in grads {
            whole.grad = try Tensor(shape: [37], scalars: g)
            try adam.update()
        }
        for i in 0..<37 {
            let one = try Tensor(shape: [1], scalars: [start[i]], requiresGrad: true)
            let single = Adam(parameters: [NamedTensor("p", one)], learningRate: 1e-2)
            for g in grads {
                one.grad = try Tensor(shape: [1], scalars: [g[i]])
                try single.update()
            }
            XCTAssertEqual(whole.scalars[i], one.scalars[0], "element \(i)")
        }
        XCTAssertNotEqual(whole.scalars, start)
    }

    func testInitialisersFollowThePublishedScheme() {
        var rng = RandomGenerator(seed: 1)
        let conv = Conv2d(inputs: 64, outputs: 64, kernel: 3, using: &rng)
        let bn = BatchNorm(channels: 4096, using: &rng)
        func stats(_ t: Tensor) -> (Double, Double) {
            let v = t.scalars.map(Double.init), m = v.reduce(0, +) / Double(v.count)
            return (m, (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot())
        }
        let (wm, ws) = stats(conv.weight), (gm, gs) = stats(bn.weight)
        XCTAssertEqual(wm, 0, accuracy: 0.002); XCTAssertEqual(ws, 0.02, accuracy: 0.001)
        XCTAssertEqual(gm, 1, accuracy: 0.002); XCTAssertEqual(gs, 0.02, accuracy: 0.001)
        XCTAssertEqual(bn.bias.scalars, [Float](repeating: 0, count: 4096))
        XCTAssertEqual(bn.namedTensors.map(\.name), ["weight", "bias", "running_mean", "running_var"])
        XCTAssertEqual(bn.parameters.count, 2)
    }

    func testSeedsReproduce() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let x = a.normals(10), y = b.normals(10), z = c.normals(10)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(x, z)
        // Saving and restoring the state continues the same stream.
        let saved = try! JSONEncoder().encode(a)
        var restored = try! JSONDecoder().decode(RandomGenerator.self, from: saved)
        XCTAssertEqual(a.normals(5), restored.normals(5))
    }

    /// python_written.safetensors was written by safetensors.torch.save_file in make_nn_fixtures.py.
    func testReadsAFileWrittenByPythonSafetensors() throws {
        var rng = RandomGenerator(seed: 0)
        let fc = Linear(inputs: 3, outputs: 2, using: &rng)
        let metadata = try SafeTensors.load(try fixture("python_written.safetensors"), into: fc.namedTensors(prefix: "fc"))
        XCTAssertEqual(fc.weight.scalars, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(fc.bias?.scalars, [0.5, -1.5])
        XCTAssertEqual(metadata["stage"], "1")
    }

    func testCheckpointRoundTripAndMismatchReport() throws {
        let folder = try temporaryFolder()
        var rng = RandomGenerator(seed: 3)
        let a = Conv2d(inputs: 3, outputs: 4, kernel: 3, using: &rng), bn = BatchNorm(channels: 4, using: &rng)
        let tensors = a.namedTensors(prefix: "conv") + bn.namedTensors(prefix: "bn")
        let url = folder.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, metadata: ["step": "7"], to: url)

        var other = RandomGenerator(seed: 99)
        let a2 = Conv2d(inputs: 3, outputs: 4, kernel: 3, using: &other), bn2 = BatchNorm(channels: 4, using: &other)
        XCTAssertNotEqual(a2.weight.scalars, a.weight.scalars)
        let metadata = try SafeTensors.load(url, into: a2.namedTensors(prefix: "conv") + bn2.namedTensors(prefix: "bn"))
        XCTAssertEqual(a2.weight.scalars, a.weight.scalars)
        XCTAssertEqual(bn2.runningVariance.scalars, bn.runningVariance.scalars)
        XCTAssertEqual(metadata["step"], "7")

        // A model of another width: every mismatch is named, nothing is overwritten.
        let wide = Conv2d(inputs: 3, outputs: 8, kernel: 3, using: &other)
        let before = wide.weight.scalars
        XCTAssertThrowsError(try SafeTensors.load(url, into: wide.namedTensors(prefix: "conv"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("model.safetensors"), text)
            XCTAssertTrue(text.contains("conv.weight has shape [4, 3, 3, 3], model expects [8, 3, 3, 3]"), text)
            XCTAssertTrue(text.contains("unexpected tensor bn.weight"), text)
        }
        XCTAssertEqual(wide.weight.scalars, before)
    }

    /// A file holding several models is assigned per prefix: tensors under another prefix belong
    /// to the other models, but one under this prefix that the model has no place for means the
    /// file holds another model, and is refused (issue 28; before, any extra was let through).
    func testExtrasAreJudgedWithinThePrefix() throws {
        var rng = RandomGenerator(seed: 5)
        let fc = Linear(inputs: 2, outputs: 2, using: &rng)
        var stored: [String: SafeTensors.Entry] = [:]
        for t in fc.namedTensors(prefix: "a") + fc.namedTensors(prefix: "b") {
            stored[t.name] = SafeTensors.Entry(shape: t.tensor.shape, values: t.tensor.scalars)
        }
        XCTAssertNoThrow(try SafeTensors.assign(stored, prefix: "a", into: fc.namedTensors, path: "m.safetensors"))
        stored["a.extra"] = SafeTensors.Entry(shape: [1], values: [0])
        XCTAssertThrowsError(try SafeTensors.assign(stored, prefix: "a", into: fc.namedTensors, path: "m.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("unexpected tensor a.extra"), "\(error)")
        }
        XCTAssertNoThrow(try SafeTensors.assign(stored, prefix: "b", into: fc.namedTensors, path: "m.safetensors"))
        XCTAssertThrowsError(try SafeTensors.assign(stored, into: fc.namedTensors(prefix: "b"), path: "m.safetensors"),
                             "without a prefix every tensor must have a place")
    }

    func testTruncatedAndForeignFilesAreReported() throws {
        let folder = try temporaryFolder()
        let url = folder.appendingPathComponent("c.safetensors")
        var rng = RandomGenerator(seed: 0)
        let fc = Linear(inputs: 8, outputs: 8, using: &rng)
        try SafeTensors.write(fc.namedTensors, to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 10).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        try Data("not a checkpoint at all".utf8).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) { XCTAssertTrue("\($0)".contains("c.safetensors"), "\($0)") }
        XCTAssertThrowsError(try SafeTensors.read(folder.appendingPathComponent("missing.safetensors"))) {
            XCTAssertTrue("\($0)".contains("not found"), "\($0)")
        }
    }

    func testRewritingKeepsNoTemporaryFiles() throws {
        let folder = try temporaryFolder()
        let url = folder.appendingPathComponent("m.safetensors")
        var rng = RandomGenerator(seed: 0)
        let fc = Linear(inputs: 2, outputs: 2, using: &rng)
        try SafeTensors.write(fc.namedTensors, to: url)
        try SafeTensors.write(fc.namedTensors, to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["m.safetensors"])
    }

    /// A write killed mid-way leaves `.<name>.<pid>.tmp`; the next write removes it once that process
    /// is gone, but not the file of a process still running (it may be writing now).
    func testWriteRemovesTemporariesOfExitedProcessesOnly() throws {
        let folder = try temporaryFolder()
        let url = folder.appendingPathComponent("m.safetensors")
        let exited = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        exited.waitUntilExit()
        let dead = ".m.safetensors.\(exited.processIdentifier).tmp"
        let live = ".m.safetensors.\(getppid()).tmp"
        let other = ".n.safetensors.\(exited.processIdentifier).tmp"
        for name in [dead, live, other] { try Data("partial".utf8).write(to: folder.appendingPathComponent(name)) }
        var rng = RandomGenerator(seed: 0)
        try SafeTensors.write(Linear(inputs: 2, outputs: 2, using: &rng).namedTensors, to: url)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)), ["m.safetensors", live, other])
    }

    /// Hostile headers (issue 13): sizes and offsets that overflow Int arithmetic, point past the
    /// file or backwards, and NaN or infinite weights all end in a CheckpointError naming the
    /// tensor; none traps.
    func testHostileHeadersAndNonFiniteWeightsAreErrors() throws {
        let url = try temporaryFolder().appendingPathComponent("h.safetensors")
        func file(_ header: String, data: [Float] = [1, 2]) -> Data {
            var json = Data(header.utf8)
            while json.count % 8 != 0 { json.append(0x20) }
            var bytes = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(json)
            data.withUnsafeBytes { bytes.append(contentsOf: $0) }
            return bytes
        }
        let cases: [(header: String, data: [Float], expected: String)] = [
            (#"{"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}}"#, [1, 2], "more elements"),
            (#"{"t": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 8]}}"#, [1, 2], "do not fit"),
            (#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [9223372036854775800, 9223372036854775807]}}"#, [1, 2], "do not fit"),
            (#"{"t": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}"#, [1, 2], "do not fit"),
            (#"{"t": {"dtype": "F32", "shape": [-2, -1], "data_offsets": [0, 8]}}"#, [1, 2], "negative"),
            (#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}"#, [1, 2], "do not fit"),
            (#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, [1, .nan], "element 1 is nan"),
            (#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, [-.infinity, 1], "element 0 is -inf"),
            (#"{"t": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}"#, [1, 2], "malformed"),
            (String(repeating: "[", count: 100_000), [1, 2], "not a JSON object"),
        ]
        for (header, data, expected) in cases {
            try file(header, data: data).write(to: url)
            XCTAssertThrowsError(try SafeTensors.read(url), header) { error in
                XCTAssertTrue(error is CheckpointError && "\(error)".contains(expected), "\(header.prefix(80)): \(error)")
            }
        }
        try file(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#).write(to: url)
        XCTAssertEqual(try SafeTensors.read(url).tensors["t"]?.values, [1, 2], "the well-formed twin reads")
    }
}
