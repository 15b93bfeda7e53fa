import Autograd
import Datasets
import Foundation
import NN

// Shape letters: N images, K classes of a head, F feature width.

/// One output of a `ConditionClassifier`: a linear map from the features to the logits of one
/// label set. `classNames[k]` is the label of logit k; labels are names because a dataset's
/// indices are per split.
public struct ClassifierHead {
    /// "class" for the condition head, else the attribute's name in the dataset (`color`, `shape`...).
    public let name: String
    public let classNames: [String]
    public let layer: Linear

    /// The head's label index of each of `values` (nil where missing or unknown to the head).
    public func labels(of values: [String?]) -> [Int?] {
        let lookup = Dictionary(classNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return values.map { $0.flatMap { lookup[$0] } }
    }
}

/// The small CNN whose predictions and penultimate features stand in for Inception in our
/// quality gate: it is trained on the dataset's real images, so it measures exactly the
/// attributes the captions describe.
///
/// `ConvTrunk` [N, 4w, 8, 8] -> max over the 8x8 grid [N, 4w] -> `hidden` Linear ReLU: features
/// [N, F] -> one Linear per head: `output` for the condition class [N, K], `attribute.<name>` for
/// each attribute label the dataset has (colour, shape, size, background on shapes.h5).
/// The global pooling makes the prediction independent of where the object sits (captions name
/// nine positions, and 1200 images are too few to learn each one separately); for the same reason
/// there is no position head.
public final class ConditionClassifier: Layer {
    public static let imageSize = ConvTrunk.imageSize
    public static let formatTag = "stackgan-condition-classifier-4"

    public let trunk: ConvTrunk
    public let featureWidth: Int
    public let hidden: Linear
    /// The condition head first, then the attribute heads in name order.
    public let heads: [ClassifierHead]

    /// `attributes` maps attribute names to their label names.
    public init(classNames: [String], attributes: [String: [String]] = [:], width: Int = 16, featureWidth: Int = 64,
                using generator: inout RandomGenerator) {
        trunk = ConvTrunk(width: width, using: &generator)
        self.featureWidth = featureWidth
        hidden = Linear(inputs: trunk.outputChannels, outputs: featureWidth, using: &generator)
        var heads = [ClassifierHead(name: "class", classNames: classNames,
                                    layer: Linear(inputs: featureWidth, outputs: max(classNames.count, 1), using: &generator))]
        for (name, values) in attributes.sorted(by: { $0.key < $1.key }) {
            heads.append(ClassifierHead(name: name, classNames: values,
                                        layer: Linear(inputs: featureWidth, outputs: max(values.count, 1), using: &generator)))
        }
        self.heads = heads
        heInitialize([hidden.weight] + heads.map(\.layer.weight), using: &generator)
    }

    public var width: Int { trunk.width }
    public var classNames: [String] { heads[0].classNames }
    public var classCount: Int { classNames.count }
    /// The attribute heads (all but the condition head).
    public var attributeHeads: ArraySlice<ClassifierHead> { heads.dropFirst() }

    /// images [N, 3, 64, 64] -> (features [N, F], logits of each head [N, K_h], in `heads` order).
    public func callAsFunction(_ images: Tensor, training: Bool) throws -> (features: Tensor, logits: [Tensor]) {
        let features = try hidden(trunk(images, training: training).globalMaxPooled()).relu()
        return (features, try heads.map { try $0.layer(features) })
    }

    public var namedTensors: [NamedTensor] {
        trunk.namedTensors + hidden.namedTensors(prefix: "hidden")
            + heads.flatMap { $0.layer.namedTensors(prefix: $0.name == "class" ? "output" : "attribute.\($0.name)") }
    }

    // MARK: Inference

    /// What the classifier says about some images: the label index of every head and the features.
    public struct Prediction {
        /// labels[h][i]: head h's label of image i (h = 0 is the condition class).
        public var labels: [[Int]]
        /// [N * F] row-major.
        public var features: [Float]
    }

    /// Predicts images [N, 3, 64, 64] in eval mode, `batchSize` at a time.
    public func predict(_ images: Tensor, batchSize: Int = 100) throws -> Prediction {
        let n = images.shape.first ?? 0
        var result = Prediction(labels: Array(repeating: [], count: heads.count), features: [])
        result.features.reserveCapacity(n * featureWidth)
        try withoutGradients {
            for start in stride(from: 0, to: n, by: batchSize) {
                let chunk = start == 0 && n <= batchSize ? images : try images.slicedBatch(start..<min(n, start + batchSize))
                let (f, logits) = try self(chunk, training: false)
                result.features += f.scalars
                for (h, l) in logits.enumerated() { result.labels[h] += argmaxRows(l) }
            }
        }
        return result
    }

    /// This classifier's condition label of every example of `dataset`, nil where the example has
    /// no class or one the classifier never saw.
    public func labels(of dataset: TextImageDataset) -> [Int?] {
        heads[0].labels(of: dataset.classIndices.map { dataset.classNames.indices.contains($0) ? dataset.classNames[$0] : nil })
    }

    /// Each head's labels of `dataset`'s examples (head 0 = `labels(of:)`; an attribute the
    /// dataset lacks is all nil).
    public func headLabels(of dataset: TextImageDataset) -> [[Int?]] {
        [labels(of: dataset)] + attributeHeads.map { head in
            head.labels(of: dataset.attributes[head.name] ?? Array(repeating: nil, count: dataset.count))
        }
    }

    // MARK: Files

    /// Writes the weights with the label names and widths as metadata (atomically, as checkpoints).
    public func save(to url: URL, extraMetadata: [String: String] = [:]) throws {
        var metadata = extraMetadata
        metadata["format"] = Self.formatTag
        metadata["classes"] = String(decoding: try JSONEncoder().encode(classNames), as: UTF8.self)
        let attributes = Dictionary(uniqueKeysWithValues: attributeHeads.map { ($0.name, $0.classNames) })
        metadata["attributes"] = String(decoding: try JSONEncoder.sorted.encode(attributes), as: UTF8.self)
        metadata["width"] = String(width)
        metadata["feature_width"] = String(featureWidth)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensors.write(namedTensors, metadata: metadata, to: url)
    }

    /// Reads a file written by `save`, checked before the model is built (`EvaluationModelFile`);
    /// with `dataset`, one trained on another dataset is refused.
    public static func load(from url: URL, dataset: String? = nil) throws -> ConditionClassifier {
        let file = try EvaluationModelFile(url: url, formatTag: formatTag, what: "a condition classifier")
        let metadata = file.metadata
        guard let classes = metadata["classes"].flatMap({ try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }),
              let attributes = try? JSONDecoder().decode([String: [String]].self, from: Data((metadata["attributes"] ?? "{}").utf8)) else {
            throw CheckpointError(path: url.path, message: "metadata `classes` or `attributes` is not a list of label names")
        }
        // Each width is read off the largest tensor that has it, so the model is no larger than the file.
        let width = try file.width("width", maximum: 256, tensor: "conv4.weight", axis: 0, divisor: 4)
        _ = try file.width("width", maximum: 256, tensor: "hidden.weight", axis: 1, divisor: 4)
        let features = try file.width("feature_width", maximum: 4096, tensor: "hidden.weight", axis: 0)
        for (name, labels) in [("output", classes)] + attributes.map({ ("attribute.\($0.key)", $0.value) }) {
            guard file.tensors["\(name).weight"]?.shape == [max(labels.count, 1), features] else {
                throw CheckpointError(path: url.path, message: "\(labels.count) labels in the metadata for \(name), but tensor \(name).weight has shape \(file.tensors["\(name).weight"]?.shape.description ?? "missing")")
            }
        }
        try file.requireTrained(on: dataset)
        var rng = RandomGenerator(seed: 0)
        let model = ConditionClassifier(classNames: classes, attributes: attributes, width: width, featureWidth: features, using: &rng)
        try file.assign(into: model.namedTensors)
        return model
    }
}

/// The index of the largest value of each row of logits [N, K].
func argmaxRows(_ logits: Tensor) -> [Int] {
    let k = logits.shape[1]
    return (0..<logits.shape[0]).map { r in
        var best = 0
        for c in 1..<max(k, 1) where logits.pointer[r * k + c] > logits.pointer[r * k + best] { best = c }
        return best
    }
}
