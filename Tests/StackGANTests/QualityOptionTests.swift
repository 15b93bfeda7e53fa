import Autograd
import Foundation
import NN
@testable import StackGAN
import XCTest

/// The quality options of issue 12 (projection head, spectral norm, DiffAugment, contrastive and
/// mode-seeking terms, the residual Stage-II) on hand-computable values; their ops are checked
/// against PyTorch in AutogradTests/QualityOpTests.
final class QualityOptionTests: XCTestCase {
    private var experiment: ExperimentConfig {
        var c = ExperimentConfig()
        (c.model.embeddingDimension, c.model.noiseDimension, c.model.conditionDimension) = (6, 4, 3)
        (c.model.generatorWidth, c.model.discriminatorWidth) = (4, 2)
        c.model.stage1Head = .projection
        return c
    }

    func testProjectionHeadIsPsiOfPooledFeaturesPlusInnerProduct() throws {
        var rng = RandomGenerator(seed: 1)
        let head = ProjectionHead(featureChannels: 2, conditionWidth: 3, using: &rng)
        try head.psi.weight.assign([0.5, -1].withUnsafeBufferPointer { $0 })
        try XCTUnwrap(head.psi.bias).assign([0.25].withUnsafeBufferPointer { $0 })
        try head.embed.weight.assign([1, 0, 0, 0, 2, 0].withUnsafeBufferPointer { $0 })  // embed(c) = (c0, 2 c1)
        // Features [1, 2, 2, 2]: channel sums phi = (1+2+3+4, -1+0+0+1) = (10, 0).
        let features = try Tensor(shape: [1, 2, 2, 2], scalars: [1, 2, 3, 4, -1, 0, 0, 1])
        let code = try Tensor(shape: [1, 3], scalars: [0.5, 7, 9])
        let logit = try head(features: features, condition: code, training: false).match
        // psi = 0.5 * 10 - 1 * 0 + 0.25 = 5.25; <phi, embed> = 10 * 0.5 + 0 * 14 = 5.
        XCTAssertEqual(logit.scalars, [10.25])
        // Its contrastive scores are cosines over the temperature: phi = (10, 0), embed = (0.5, 14).
        let scores = try XCTUnwrap(try head.pairScores(features: features, condition: code, temperature: 0.5, training: false))
        let cosine = Float(10 * 0.5) / (10 * (0.25 + 196 as Float).squareRoot())
        XCTAssertEqual(scores.imageToText.scalars[0], cosine / 0.5, accuracy: 1e-6)
        XCTAssertEqual(scores.textToImage.scalars[0], cosine / 0.5, accuracy: 1e-6)
    }

    /// The single and split heads' pair logits are their match logits of every (image, caption)
    /// pair, with and without spectral norm, and the contrastive term trains through them.
    func testMatchHeadPairLogitsAreTheMatchLogitsOfEveryPair() throws {
        for spectralNorm in [false, true] {
            var rng = RandomGenerator(seed: 4)
            let head = SplitHead(featureChannels: 8, conditionWidth: 3, spectralNorm: spectralNorm, using: &rng)
            let (n, features, code) = (3, Tensor.randomNormal([3, 8, 4, 4], using: &rng), Tensor.randomNormal([3, 3], using: &rng))
            let scores = try XCTUnwrap(try withoutGradients {
                try head.pairScores(features: features, condition: code, temperature: 0.1, training: false)
            })
            XCTAssertEqual(scores.imageToText.shape, [n, n])
            for i in 0..<n { for j in 0..<n {
                let one = try withoutGradients {
                    try head(features: features.slicedBatch(i..<(i + 1)), condition: code.slicedBatch(j..<(j + 1)), training: false).match
                }
                XCTAssertEqual(scores.imageToText.scalars[i * n + j], one.scalars[0], accuracy: 1e-5, "image \(i), caption \(j)")
                XCTAssertEqual(scores.textToImage.scalars[j * n + i], one.scalars[0], accuracy: 1e-5, "caption \(j), image \(i)")
            } }
            let loss = try symmetricInfoNCE(try XCTUnwrap(try head.pairScores(features: features, condition: code, temperature: 0.1,
                                                                              training: true)))
            try loss.backward()
            XCTAssertTrue(try XCTUnwrap(head.match.conv.weight.grad).scalars.contains { $0 != 0 }, "the conv trains")
            XCTAssertNil(head.realness.weight.grad, "the realness logit plays no part")
        }
    }

    func testProjectionDiscriminatorsOfBothFamiliesAndStages() throws {
        var rng = RandomGenerator(seed: 0)
        for (family, stage) in [(ModelFamily.stackgan, 1), (.stackgan, 2), (.ganCLS, 1)] {
            var c = experiment
            (c.family, c.stage) = (family, stage)
            c.model.stage2Head = .projection
            c.train.stage1Checkpoint = "unused"
            let d = try Architecture(c).makeDiscriminator(using: &rng)
            XCTAssertEqual(d.head, .projection)
            XCTAssertTrue(d.namedTensors.contains { $0.name.hasSuffix("get_projection_logits.psi.weight") })
            let size = stage == 2 ? 256 : 64
            let logits = try d(image: Tensor.randomNormal([2, 3, size, size], using: &rng),
                               condition: Tensor.randomNormal([2, family == .ganCLS ? 6 : 3], using: &rng), training: true)
            XCTAssertEqual(logits.match.shape, [2])
            XCTAssertNil(logits.real)
        }
    }

    func testSpectralNormDiscriminatorHasNoBatchNormAndSavesU() throws {
        var c = experiment
        c.model.spectralNorm = true
        var rng = RandomGenerator(seed: 0)
        let d = try Architecture(c).makeDiscriminator(using: &rng)
        let names = d.namedTensors.map(\.name)
        XCTAssertFalse(names.contains { $0.contains("running_mean") }, "no batch norm: \(names)")
        let us = d.namedTensors.filter { $0.name.hasSuffix("weight_u") }
        XCTAssertEqual(us.count, d.namedTensors.filter { $0.name.hasSuffix(".weight") }.count, "every weight has its u")
        XCTAssertTrue(us.allSatisfy { !$0.isParameter }, "u is a buffer: saved, not trained")
        // A training forward advances u; an eval forward does not.
        let image = Tensor.randomNormal([2, 3, 64, 64], using: &rng), condition = Tensor.randomNormal([2, 3], using: &rng)
        let before = us[0].tensor.scalars
        _ = try withoutGradients { try d(image: image, condition: condition, training: false) }
        XCTAssertEqual(us[0].tensor.scalars, before)
        _ = try d(image: image, condition: condition, training: true)
        XCTAssertNotEqual(us[0].tensor.scalars, before)
        // Every spectrally normalised weight has largest singular value ~1 after a few iterations:
        // the first conv's normalised weight maps its u's partner to a unit vector.
        let conv = try XCTUnwrap((d as? StackGANDiscriminator)?.encoder.convs[0])
        for _ in 0..<50 { _ = try conv.weight.spectralNormalized(u: try XCTUnwrap(conv.spectralU), powerIteration: true) }
        let w = try conv.weight.spectralNormalized(u: try XCTUnwrap(conv.spectralU), powerIteration: false)
        let m = w.shape[1] * w.shape[2] * w.shape[3]
        var best: Float = 0
        var v = [Float](repeating: 1 / Float(m).squareRoot(), count: m)
        for _ in 0..<200 {  // plain power iteration on W^T W
            let wv = (0..<w.shape[0]).map { r in (0..<m).reduce(Float(0)) { $0 + w.scalars[r * m + $1] * v[$1] } }
            var next = (0..<m).map { c in (0..<w.shape[0]).reduce(Float(0)) { $0 + w.scalars[$1 * m + c] * wv[$1] } }
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            next = next.map { $0 / norm }
            best = norm.squareRoot()
            v = next
        }
        XCTAssertEqual(best, 1, accuracy: 1e-3)
    }

    func testOneTrainingStepWithEveryOptionAndEveryHead() throws {
        for head in DiscriminatorHead.allCases {
            var c = experiment
            c.model.stage1Head = head
            c.model.spectralNorm = true
            c.loss.loss = .hinge
            (c.loss.contrastiveWeight, c.loss.modeSeekingWeight) = (1, 1)
            c.train.augment = AugmentTransform.allCases
            let architecture = try Architecture(c)
            var rng = RandomGenerator(seed: 6)
            let (g, d) = (architecture.makeGenerator(using: &rng), architecture.makeDiscriminator(using: &rng))
            let step = GANStep(generator: g, discriminator: d, architecture: architecture, config: c)
            let before = d.parameters.map { $0.tensor.scalars }
            let values = try step(real: Tensor.randomNormal([4, 3, 64, 64], using: &rng), wrong: nil,
                                  embeddings: Tensor.randomNormal([4, 6], using: &rng), using: &rng)
            for key in ["d_contrastive", "g_contrastive", "g_mode_seeking", "d_real_match", "g_match"] {
                XCTAssertTrue(try XCTUnwrap(values[key], "\(head): \(key)").isFinite, "\(head): \(key)")
            }
            XCTAssertGreaterThan(try XCTUnwrap(values["d_contrastive"]), 0, head.rawValue)
            XCTAssertNotEqual(d.parameters.map { $0.tensor.scalars }, before, "\(head): the discriminator trained")
        }
    }

    func testContrastiveWorksWithEveryStackGANHeadAndNotGANCLS() throws {
        var c = experiment
        c.loss.contrastiveWeight = 1
        for head in DiscriminatorHead.allCases {
            c.model.stage1Head = head
            XCTAssertNoThrow(try Architecture(c), head.rawValue)
        }
        c.family = .ganCLS
        c.model.stage1Head = .single
        XCTAssertThrowsError(try Architecture(c)) { XCTAssertTrue("\($0)".contains("loss.contrastive_weight"), "\($0)") }
        c.family = .stackgan
        c.model.stage1Head = .projection
        c.loss.modeSeekingWeight = -1
        XCTAssertThrowsError(try Architecture(c)) { XCTAssertTrue("\($0)".contains("loss.mode_seeking_weight"), "\($0)") }
    }

    func testDiffAugmentKeepsShapeAndIsSeeded() throws {
        var rng = RandomGenerator(seed: 3)
        let images = Tensor.randomNormal([4, 3, 16, 16], using: &rng)
        let augment = DiffAugment(transforms: AugmentTransform.allCases)
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        let x = try augment(images, using: &a), y = try augment(images, using: &b)
        XCTAssertEqual(x.shape, images.shape)
        XCTAssertEqual(x.scalars, y.scalars, "the same draws give the same images")
        XCTAssertNotEqual(x.scalars, images.scalars)
        // Cutout zeroes a square of half the side, clipped at the border: at least 4x4 of 16x16.
        let cut = try DiffAugment(transforms: [.cutout])(Tensor(repeating: 1, shape: [1, 1, 16, 16]), using: &a)
        let zeros = cut.scalars.filter { $0 == 0 }.count
        XCTAssertGreaterThanOrEqual(zeros, 16)
        XCTAssertLessThanOrEqual(zeros, 64)
    }

    func testModeSeekingIsLargeWhenTheNoiseIsIgnored() throws {
        var rng = RandomGenerator(seed: 4)
        let za = Tensor.randomNormal([2, 4], using: &rng), zb = Tensor.randomNormal([2, 4], using: &rng)
        let a = Tensor.randomNormal([2, 3, 4, 4], using: &rng)
        let same = try modeSeeking(a, a, noise: za, zb).item
        XCTAssertEqual(same, 1e5, accuracy: 1, "identical images: 1 / 1e-5")
        let b = a.scaled(by: -1)
        let imageDistance = 2 * a.scalars.map(abs).reduce(0, +) / Float(a.count)
        let noiseDistance = zip(za.scalars, zb.scalars).map { abs($0 - $1) }.reduce(0, +) / Float(za.count)
        XCTAssertEqual(try modeSeeking(a, b, noise: za, zb).item, 1 / (imageDistance / noiseDistance + 1e-5), accuracy: 1e-4)
    }

    func testResidualStageTwoStartsAsItsUpsampledInput() throws {
        var c = experiment.model
        c.stage2Residual = true
        var rng = RandomGenerator(seed: 5)
        let g = Stage2Generator(config: c, stageOne: Stage1Generator(config: c, using: &rng), using: &rng)
        for tensor in try XCTUnwrap(g.img).namedTensors { try tensor.tensor.assign([Float](repeating: 0, count: tensor.tensor.count).withUnsafeBufferPointer { $0 }) }
        let out = try withoutGradients {
            try g(embedding: Tensor.randomNormal([2, 6], using: &rng), noise: Tensor.randomNormal([2, 4], using: &rng), training: false,
                  using: &rng)
        }
        let small = try XCTUnwrap(out.stageOneImage), big = out.image
        XCTAssertEqual(big.shape, [2, 3, 256, 256])
        var worst: Float = 0
        let (smallValues, bigValues) = (small.scalars, big.scalars)  // each `scalars` is a copy
        for n in 0..<2 { for ch in 0..<3 { for y in 0..<256 { for x in 0..<256 {
            let s = smallValues[((n * 3 + ch) * 64 + y / 4) * 64 + x / 4]
            let b = bigValues[((n * 3 + ch) * 256 + y) * 256 + x]
            worst = max(worst, abs(s - b))
        } } } }
        XCTAssertLessThan(worst, 1e-6, "a zero correction gives the nearest-upsampled Stage-I image")
    }

    /// The mix Stage-II draws only colours of its input's w x w window, and one step with real
    /// 64 px inputs trains its choice of neighbour (`loss.mix_choice_weight`) and reconstruction.
    func testMixStageTwoDrawsItsInputsColoursAndTrainsItsChoice() throws {
        var c = experiment
        c.stage = 2
        (c.model.stage2MixWindow, c.model.stage2Skips, c.model.stage2Head) = (3, true, .projection)
        (c.loss.reconstructionWeight, c.loss.mixChoiceWeight) = (1, 1)
        (c.train.batchSize, c.train.realInputFraction, c.train.stage1Checkpoint) = (2, 0.5, "stage1.safetensors")
        try c.check()
        let architecture = try Architecture(c)
        var rng = RandomGenerator(seed: 8)
        let (g, d) = (architecture.makeGenerator(using: &rng), architecture.makeDiscriminator(using: &rng))
        let stageTwo = try XCTUnwrap(g as? Stage2Generator)
        XCTAssertNil(stageTwo.img)
        let out = try withoutGradients {
            try g(embedding: Tensor.randomNormal([1, 6], using: &rng), noise: Tensor.randomNormal([1, 4], using: &rng), training: false, using: &rng)
        }
        let small = try XCTUnwrap(out.stageOneImage).scalars, big = out.image.scalars
        XCTAssertEqual(out.image.shape, [1, 3, 256, 256])
        var outside = 0
        for ch in 0..<3 { for y in 0..<256 { for x in 0..<256 {
            let window = (-1...1).flatMap { dy in (-1...1).map { dx in
                small[(ch * 64 + min(max(y / 4 + dy, 0), 63)) * 64 + min(max(x / 4 + dx, 0), 63)]
            } }
            let value = big[(ch * 256 + y) * 256 + x]
            if value < window.min()! - 1e-5 || value > window.max()! + 1e-5 { outside += 1 }
        } } }
        XCTAssertEqual(outside, 0, "every 256 px value is a convex mix of the 3x3 Stage-I pixels around it")
        // `stage2_mix_temperature` sharpens the mix when sampling: the eval image is the mix of
        // the logits over T (centre bias too); training keeps T = 1.
        let sharpened = try Stage2Generator(config: { var m = c.model; m.stage2MixTemperature = 0.25; return m }(), stageOne: stageTwo.stageOne, using: &rng)
        for (a, b) in zip(sharpened.namedTensors, stageTwo.namedTensors) { try a.tensor.assign(b.tensor.scalars.withUnsafeBufferPointer { $0 }) }
        var again = RandomGenerator(seed: 9)  // the same caption and noise for each variant below
        let eval = try withoutGradients { try sharpened(embedding: Tensor.randomNormal([1, 6], using: &again), noise: Tensor.randomNormal([1, 4], using: &again), training: false, using: &again) }
        let logits = try XCTUnwrap(eval.mixLogits), low = try XCTUnwrap(eval.stageOneImage)
        let expected = try low.neighbourMix(logits: logits.scaled(by: 4), window: 3, centreBias: Stage2Generator.mixCentreBias * 4)
        XCTAssertEqual(eval.image.scalars, expected.scalars)
        XCTAssertNotEqual(eval.image.scalars, try low.neighbourMix(logits: logits, window: 3, centreBias: Stage2Generator.mixCentreBias).scalars)

        let step = GANStep(generator: g, discriminator: d, architecture: architecture, config: c)
        let before = stageTwo.parameters.map { $0.tensor.scalars }
        let values = try step(real: Tensor.randomNormal([2, 3, 256, 256], using: &rng).tanh(), wrong: nil,
                              embeddings: Tensor.randomNormal([2, 6], using: &rng), using: &rng)
        XCTAssertGreaterThan(try XCTUnwrap(values["g_mix_choice"]), 0)
        XCTAssertGreaterThan(try XCTUnwrap(values["g_reconstruction"]), 0)
        XCTAssertNotEqual(stageTwo.parameters.map { $0.tensor.scalars }, before, "Stage-II trained")
        // `stage2_mix_smoothing` (two passes): the mix takes the bilateral-filtered Stage-I image's colours.
        let smoothing = try Stage2Generator(config: { var m = c.model; (m.stage2MixSmoothing, m.stage2MixSmoothingPasses) = (0.2, 2); return m }(),
                                            stageOne: stageTwo.stageOne, using: &rng)
        for (a, b) in zip(smoothing.namedTensors, stageTwo.namedTensors) { try a.tensor.assign(b.tensor.scalars.withUnsafeBufferPointer { $0 }) }
        again = RandomGenerator(seed: 9)
        let smoothed = try withoutGradients { try smoothing(embedding: Tensor.randomNormal([1, 6], using: &again), noise: Tensor.randomNormal([1, 4], using: &again), training: true, using: &again) }
        let palette = try XCTUnwrap(smoothed.mixPalette), stageOne = try XCTUnwrap(smoothed.stageOneImage)
        XCTAssertEqual(palette.scalars, try bilateralSmoothed(stageOne, rangeSigma: 0.2, passes: 2).scalars)
        XCTAssertEqual(smoothed.image.scalars, try palette.neighbourMix(logits: XCTUnwrap(smoothed.mixLogits), window: 3, centreBias: Stage2Generator.mixCentreBias).scalars)
        XCTAssertNotEqual(palette.scalars, stageOne.scalars)
        c.model.stage2MixSmoothing = 3
        XCTAssertThrowsError(try c.check()) { XCTAssertTrue("\($0)".contains("model.stage2_mix_smoothing"), "\($0)") }
        c.model.stage2MixSmoothing = 0
        c.model.stage2MixSmoothingPasses = 9
        XCTAssertThrowsError(try c.check()) { XCTAssertTrue("\($0)".contains("model.stage2_mix_smoothing_passes"), "\($0)") }
        c.model.stage2MixSmoothingPasses = 1
        c.model.stage2MixTemperature = 0
        XCTAssertThrowsError(try c.check()) { XCTAssertTrue("\($0)".contains("model.stage2_mix_temperature"), "\($0)") }
        c.model.stage2MixTemperature = 1
        c.model.stage2MixWindow = 0
        XCTAssertThrowsError(try c.check()) { XCTAssertTrue("\($0)".contains("loss.mix_choice_weight"), "\($0)") }
    }

    /// The correction is added in pixel space: d image / d correction is 1 everywhere, also where
    /// Stage-I is saturated (through a tanh it was 0.002 there, and Stage-II never moved).
    func testResidualStageTwoPassesTheGradientWhereStageOneIsSaturated() throws {
        let stageOne = try Tensor(shape: [1, 1, 2, 2], scalars: [1, -1, 0.999, 0.2])
        let correction = try Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map { Float($0) / 100 }, requiresGrad: true)
        let image = try Stage2Generator.corrected(stageOne, by: correction, upsampling: .nearest)
        XCTAssertEqual(image.scalars[0], 1, accuracy: 1e-6)
        XCTAssertEqual(image.scalars[15], 0.2 + 0.15, accuracy: 1e-6)
        try image.sum().backward()
        XCTAssertEqual(try XCTUnwrap(correction.grad).scalars, [Float](repeating: 1, count: 16))
    }

    func testStageConsistencyIsTheMeanDistanceOfBlockMeansToTheStageOneImage() throws {
        var rng = RandomGenerator(seed: 7)
        let image = Tensor.randomNormal([2, 3, 8, 8], using: &rng), small = Tensor.randomNormal([2, 3, 2, 2], using: &rng)
        var expected: Float = 0
        for n in 0..<2 { for ch in 0..<3 { for by in 0..<2 { for bx in 0..<2 {
            var block: Float = 0
            for y in 0..<4 { for x in 0..<4 { block += image.scalars[((n * 3 + ch) * 8 + by * 4 + y) * 8 + bx * 4 + x] } }
            expected += abs(block / 16 - small.scalars[((n * 3 + ch) * 2 + by) * 2 + bx])
        } } } }
        XCTAssertEqual(try stageConsistency(image, stageOne: small).item, expected / 24, accuracy: 1e-5)
        XCTAssertThrowsError(try stageConsistency(image, stageOne: Tensor.randomNormal([2, 3, 3, 3], using: &rng)))
        var c = experiment
        c.loss.stageOneConsistencyWeight = 1
        XCTAssertThrowsError(try Architecture(c)) { XCTAssertTrue("\($0)".contains("loss.stage1_consistency_weight"), "\($0)") }
    }

    func testConditionalAffineScalesAndShiftsEachExampleAndChannel() throws {
        var rng = RandomGenerator(seed: 8)
        let affine = ConditionalAffine(conditionWidth: 2, channels: 2, using: &rng)
        try affine.gamma.weight.assign([1, 0, 0, 0].withUnsafeBufferPointer { $0 })  // gamma(c) = (c0, 0)
        try affine.beta.weight.assign([0, 0, 0, 1].withUnsafeBufferPointer { $0 })   // beta(c) = (0, c1)
        let code = try Tensor(shape: [2, 2], scalars: [1, 5, -0.5, 3])
        let h = try Tensor(shape: [2, 2, 1, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        let m = try affine(code)
        let out = try h.modulated(scale: m.scale, shift: m.shift)
        // Example 0: channel 0 times 2, channel 1 plus 5; example 1: channel 0 times 0.5, channel 1 plus 3.
        XCTAssertEqual(out.scalars, [2, 4, 8, 9, 2.5, 3, 10, 11])
    }

    func testEveryBlockConditioningAddsModulatorsAndKeepsThePublishedInit() throws {
        var c = experiment.model
        var rng = RandomGenerator(seed: 9)
        let plain = Stage1Generator(config: c, using: &rng)
        c.generatorConditioning = .everyBlock
        rng = RandomGenerator(seed: 9)
        let conditioned = Stage1Generator(config: c, using: &rng)
        let extra = conditioned.namedTensors.map(\.name).filter { !plain.namedTensors.map(\.name).contains($0) }
        XCTAssertEqual(extra, (1...4).flatMap { k in ["gamma.weight", "gamma.bias", "beta.weight", "beta.bias"].map { "condition\(k).\($0)" } })
        for (a, b) in zip(plain.namedTensors, conditioned.namedTensors) { XCTAssertEqual(a.tensor.scalars, b.tensor.scalars, a.name) }
        // Zero modulators give the plain generator's image; the caption then changes the image through them.
        for t in conditioned.conditioners.flatMap(\.namedTensors) {
            try t.tensor.assign([Float](repeating: 0, count: t.tensor.count).withUnsafeBufferPointer { $0 })
        }
        let embedding = Tensor.randomNormal([2, 6], using: &rng), noise = Tensor.randomNormal([2, 4], using: &rng)
        let eps = Tensor.randomNormal([2, 3], using: &rng)
        let a = try plain(embedding: embedding, noise: noise, conditioningNoise: eps, training: false).image
        let b = try conditioned(embedding: embedding, noise: noise, conditioningNoise: eps, training: false).image
        XCTAssertEqual(a.scalars, b.scalars)
        try conditioned.conditioners[0].beta.weight.assign([Float](repeating: 0.5, count: conditioned.conditioners[0].beta.weight.count).withUnsafeBufferPointer { $0 })
        let moved = try conditioned(embedding: embedding, noise: noise, conditioningNoise: eps, training: false).image
        XCTAssertNotEqual(moved.scalars, a.scalars)
        var g = experiment
        (g.family, g.model.generatorConditioning) = (.ganCLS, .everyBlock)
        XCTAssertThrowsError(try Architecture(g)) { XCTAssertTrue("\($0)".contains("model.generator_conditioning"), "\($0)") }
    }
}
