import Autograd

/// Symmetric InfoNCE (CLIP, XMC-GAN) of N images against their N captions: cross-entropy
/// towards the diagonal along the rows of `imageToText` (image -> its caption) and of
/// `textToImage` (caption -> its image), averaged. Shape [], on the tape.
public func symmetricInfoNCE(_ scores: PairScores) throws -> Tensor {
    let diagonal = Array(0..<scores.imageToText.shape[0])
    return try scores.imageToText.softmaxCrossEntropy(targets: diagonal)
        .adding(scores.textToImage.softmaxCrossEntropy(targets: diagonal)).scaled(by: 0.5)
}

/// The same on cosine scores of image vectors [N, d] and their captions' vectors [N, d].
public func symmetricInfoNCE(image: Tensor, text: Tensor, temperature: Float) throws -> Tensor {
    try symmetricInfoNCE(.cosine(image: image, text: text, temperature: temperature))
}

/// MSGAN's mode-seeking term (Mao et al. 2019) for two batches of images [N, 3, S, S] made from
/// the same captions with noises za, zb [N, z]: 1 / (mean|a - b| / mean|za - zb| + 1e-5), large
/// when the generator ignores its noise. Shape [], on the tape.
public func modeSeeking(_ a: Tensor, _ b: Tensor, noise za: Tensor, _ zb: Tensor) throws -> Tensor {
    let noiseDistance = try withoutGradients { try za.subtracting(zb).absolute().mean().item }
    return try a.subtracting(b).absolute().mean().scaled(by: 1 / max(noiseDistance, 1e-8)).adding(1e-5).reciprocal()
}

extension LossTerms {
    /// These terms plus weight * `term`, logged under `name` (unweighted).
    func adding(_ name: String, _ term: Tensor, weight: Float) throws -> LossTerms {
        LossTerms(total: try total.adding(term.scaled(by: weight)), components: components + [(name, term.item)])
    }
}

/// Stage-II's tie to its input: mean |avgpool(image) - stageOne| with image [N, 3, S, S] and
/// stageOne [N, 3, s, s], S a multiple of s. The adversarial loss alone lets Stage-II repaint
/// what Stage-I drew (measured: colour accuracy 93.7% -> 72.9% in 300 steps); this keeps each
/// s-pixel block's mean colour and leaves the detail inside the block to the discriminator.
public func stageConsistency(_ image: Tensor, stageOne: Tensor) throws -> Tensor {
    let factor = image.shape[2] / max(stageOne.shape[2], 1)
    guard factor >= 1, image.shape[2] == factor * stageOne.shape[2], image.shape[1] == stageOne.shape[1] else {
        throw StackGANError(.usage, "loss.stage1_consistency_weight", "needs a Stage-II image that is a multiple of its Stage-I input, got \(image.shape) and \(stageOne.shape)")
    }
    // Average pooling as a fixed convolution: channel c's kernel is 1/factor^2 on channel c only.
    let c = image.shape[1], taps = factor * factor
    var weights = [Float](repeating: 0, count: c * c * taps)
    for channel in 0..<c { for t in 0..<taps { weights[(channel * c + channel) * taps + t] = 1 / Float(taps) } }
    let kernel = try Tensor(shape: [c, c, factor, factor], scalars: weights)
    let pooled = try image.conv2d(weight: kernel, stride: factor)
    return try pooled.subtracting(stageOne).absolute().mean()
}
