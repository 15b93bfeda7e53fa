import Autograd

/// Symmetric InfoNCE (CLIP, XMC-GAN) of N image vectors [N, d] against their N captions' vectors
/// [N, d]: cosine similarities over `temperature`, cross-entropy towards the diagonal along rows
/// (image -> its caption) and along columns (caption -> its image), averaged. Shape [], on the tape.
public func symmetricInfoNCE(image: Tensor, text: Tensor, temperature: Float) throws -> Tensor {
    let i = try image.l2NormalizedRows(), t = try text.l2NormalizedRows()
    let diagonal = Array(0..<image.shape[0])
    let imageToText = try i.linear(weight: t, bias: nil).scaled(by: 1 / temperature).softmaxCrossEntropy(targets: diagonal)
    let textToImage = try t.linear(weight: i, bias: nil).scaled(by: 1 / temperature).softmaxCrossEntropy(targets: diagonal)
    return try imageToText.adding(textToImage).scaled(by: 0.5)
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
