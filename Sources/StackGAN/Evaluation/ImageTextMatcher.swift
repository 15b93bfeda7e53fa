import Autograd
import Datasets
import Foundation
import NN

// Shape letters: N images, w the trunk width, H hidden width, E caption-embedding width.

/// The image-text matching model behind R-precision (the role DAMSM plays in AttnGAN): an image
/// encoder and a linear map of the caption embeddings (already a sentence encoder's output) into
/// one joint space of width J, trained contrastively so that an image's cosine similarity is
/// highest with its own captions.
///
/// image: `ConvTrunk` [N, 4w, 8, 8] -> `conv5` 4x4/2 BN LReLU [N, 4w, 4, 4] -> flatten [N, 64w]
/// -> `hidden` Linear ReLU [N, H] -> `projection` Linear [N, J] -> L2-normalised (outside the graph).
/// caption: [M, E] -> `text` Linear [M, J] -> L2-normalised. The text map lets the model weigh
/// the words that tell images apart (colour, shape) above the template's phrasing.
/// Unlike the classifier there is no global pooling: captions name where the object is, and the
/// flattened 4x4 grid keeps that.
public final class ImageTextMatcher: Layer {
    public static let imageSize = ConvTrunk.imageSize
    public static let formatTag = "stackgan-image-text-matcher-2"

    public let trunk: ConvTrunk
    public let down: Conv2d
    public let norm: BatchNorm
    public let hidden: Linear
    public let projection: Linear
    public let text: Linear
    /// E, the caption embeddings' width.
    public let embeddingWidth: Int

    public init(embeddingWidth: Int, width: Int = 16, hiddenWidth: Int = 256, jointWidth: Int = 256, using generator: inout RandomGenerator) {
        self.embeddingWidth = embeddingWidth
        trunk = ConvTrunk(width: width, using: &generator)
        let c = trunk.outputChannels
        down = Conv2d(inputs: c, outputs: c, kernel: 4, stride: 2, padding: 1, using: &generator)
        norm = BatchNorm(channels: c, using: &generator)
        hidden = Linear(inputs: 16 * c, outputs: hiddenWidth, using: &generator)
        projection = Linear(inputs: hiddenWidth, outputs: jointWidth, using: &generator)
        text = Linear(inputs: embeddingWidth, outputs: jointWidth, using: &generator)
        heInitialize([down.weight, hidden.weight, projection.weight, text.weight], using: &generator)
    }

    public var width: Int { trunk.width }
    public var hiddenWidth: Int { hidden.weight.shape[0] }
    /// J, the joint space's width.
    public var jointWidth: Int { text.weight.shape[0] }

    /// images [N, 3, 64, 64] -> unnormalised embeddings [N, J].
    public func callAsFunction(_ images: Tensor, training: Bool) throws -> Tensor {
        let h = try norm(down(trunk(images, training: training)), training: training).leakyRelu(slope: 0.2)
        return try projection(hidden(h.reshaped([h.shape[0], h.count / h.shape[0]])).relu())
    }

    public var namedTensors: [NamedTensor] {
        trunk.namedTensors + down.namedTensors(prefix: "conv5") + norm.namedTensors(prefix: "norm5")
            + hidden.namedTensors(prefix: "hidden") + projection.namedTensors(prefix: "projection") + text.namedTensors(prefix: "text")
    }

    /// L2-normalised joint embeddings [M * J] of caption embeddings [M * E].
    public func embed(captions: [Float]) throws -> [Float] {
        let m = captions.count / max(embeddingWidth, 1)
        let out = try withoutGradients { try text(Tensor(shape: [m, embeddingWidth], scalars: captions)) }
        return l2Normalized(rows: out.scalars, width: jointWidth)
    }

    /// L2-normalised joint embeddings [N * J] of images [N, 3, 64, 64], in eval mode, `batchSize` at a time.
    public func embed(_ images: Tensor, batchSize: Int = 100) throws -> [Float] {
        let n = images.shape.first ?? 0
        var result: [Float] = []
        result.reserveCapacity(n * jointWidth)
        try withoutGradients {
            for start in stride(from: 0, to: n, by: batchSize) {
                let chunk = start == 0 && n <= batchSize ? images : try images.slicedBatch(start..<min(n, start + batchSize))
                result += try self(chunk, training: false).scalars
            }
        }
        return l2Normalized(rows: result, width: jointWidth)
    }

    // MARK: Files

    public func save(to url: URL, extraMetadata: [String: String] = [:]) throws {
        var metadata = extraMetadata
        metadata["format"] = Self.formatTag
        metadata["width"] = String(width)
        metadata["hidden_width"] = String(hiddenWidth)
        metadata["embedding_width"] = String(embeddingWidth)
        metadata["joint_width"] = String(jointWidth)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensors.write(namedTensors, metadata: metadata, to: url)
    }

    /// Reads a file written by `save`, checked before the model is built (`EvaluationModelFile`);
    /// with `dataset`, one trained on another dataset is refused.
    public static func load(from url: URL, dataset: String? = nil) throws -> ImageTextMatcher {
        let file = try EvaluationModelFile(url: url, formatTag: formatTag, what: "an image-text matcher")
        // Each width is read off the largest tensors that have it, so the model is no larger than the file.
        let width = try file.width("width", maximum: 256, tensor: "conv4.weight", axis: 0, divisor: 4)
        _ = try file.width("width", maximum: 256, tensor: "hidden.weight", axis: 1, divisor: 64)  // flattened [4w, 4, 4]
        let hidden = try file.width("hidden_width", maximum: 4096, tensor: "hidden.weight", axis: 0)
        _ = try file.width("hidden_width", maximum: 4096, tensor: "projection.weight", axis: 1)
        let joint = try file.width("joint_width", maximum: 4096, tensor: "projection.weight", axis: 0)
        _ = try file.width("joint_width", maximum: 4096, tensor: "text.weight", axis: 0)
        let e = try file.width("embedding_width", maximum: 4096, tensor: "text.weight", axis: 1)
        try file.requireTrained(on: dataset)
        var rng = RandomGenerator(seed: 0)
        let model = ImageTextMatcher(embeddingWidth: e, width: width, hiddenWidth: hidden, jointWidth: joint, using: &rng)
        try file.assign(into: model.namedTensors)
        return model
    }
}

/// Rows [N * width] scaled to unit length (a zero row stays zero).
func l2Normalized(rows values: [Float], width: Int) -> [Float] {
    var out = values
    for start in stride(from: 0, to: out.count, by: max(width, 1)) {
        var total: Double = 0
        for j in start..<(start + width) { total += Double(out[j]) * Double(out[j]) }
        let scale = total > 0 ? Float(1 / total.squareRoot()) : 0
        for j in start..<(start + width) { out[j] *= scale }
    }
    return out
}
