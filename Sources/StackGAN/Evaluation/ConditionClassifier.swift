import Autograd
import Datasets
import Foundation
import NN

// Shape letters: N images, C channels, K classes, F feature width, L load size.

/// Settings for training a `ConditionClassifier`; part of its cache key, so changing one retrains.
public struct ClassifierTrainingOptions: Codable, Equatable {
    /// The split the classifier learns from (evaluation reports its accuracy on the eval split).
    public var split = "train"
    /// 20 epochs reach about 96% on the real shapes test images (92% at 15) in ~12 s on 2 cores.
    public var epochs = 20
    public var batchSize = 32
    public var learningRate: Float = 2e-3
    /// Channels of the first conv (then 2x, 4x, 4x).
    public var width = 16
    /// F, the penultimate width the FID is computed in. Kept below the eval split's size (200 on
    /// shapes) so the real covariance is estimated from more rows than it has dimensions.
    public var featureWidth = 64
    public var seed: UInt64 = 0
    /// Random 64 px crops of the 76 px image and flips, as the generator's training data had:
    /// generated objects sit anywhere a random crop can put them, a centre-crop-only classifier
    /// would be judging the generator partly on framing. Evaluation always uses the centre crop.
    public var augment = true
    /// Use only the first `limit` examples (tests); nil = all.
    public var limit: Int?

    public init() {}
}

/// What one training of the classifier did.
public struct ClassifierTrainingSummary: Codable, Equatable {
    public var examples: Int
    public var steps: Int
    public var seconds: Double
    /// Mean cross-entropy of the last epoch.
    public var finalLoss: Float
}

/// The small CNN whose predictions and penultimate features stand in for Inception in our
/// quality gate: it is trained on the dataset's real images, so it measures exactly the
/// attributes the captions describe (here colour and shape).
///
/// images [N, 3, 64, 64] in [-1, 1]
/// -> `conv1` 4x4/2 LReLU(0.2) [N, w, 32, 32] -> `conv2` 4x4/2 BN LReLU [N, 2w, 16, 16]
/// -> `conv3` 3x3/1 BN LReLU [N, 4w, 16, 16] -> `conv4` 4x4/2 BN LReLU [N, 4w, 8, 8]
/// -> max over the 8x8 grid [N, 4w] -> `hidden` Linear ReLU: features [N, F] -> `output` Linear:
/// logits [N, K]. The global pooling makes the prediction independent of where the object sits
/// (captions name nine positions, and 1200 images are too few to learn each one separately).
/// Classes are names (`classNames`, index = logit), because a dataset's class indices are per split.
public final class ConditionClassifier: Layer {
    public static let imageSize = 64
    public static let formatTag = "stackgan-condition-classifier-3"

    public let classNames: [String]
    public let width: Int
    public let featureWidth: Int
    public let convs: [Conv2d]
    public let norms: [BatchNorm]
    public let hidden: Linear
    public let output: Linear

    public init(classNames: [String], width: Int = 16, featureWidth: Int = 64, using generator: inout RandomGenerator) {
        self.classNames = classNames
        self.width = width
        self.featureWidth = featureWidth
        let channels = [3, width, 2 * width, 4 * width, 4 * width]
        convs = (0..<4).map { i in
            i == 2 ? Conv2d(inputs: channels[i], outputs: channels[i + 1], kernel: 3, stride: 1, padding: 1, using: &generator)
                : Conv2d(inputs: channels[i], outputs: channels[i + 1], kernel: 4, stride: 2, padding: 1, bias: i == 0, using: &generator)
        }
        norms = (1..<4).map { BatchNorm(channels: channels[$0 + 1], using: &generator) }
        hidden = Linear(inputs: 4 * width, outputs: featureWidth, using: &generator)
        output = Linear(inputs: featureWidth, outputs: max(classNames.count, 1), using: &generator)
        // He initialisation instead of the GANs' N(0, 0.02): with fan-ins up to 1024 the published
        // scale shrinks the signal layer by layer and the classifier learns several times slower.
        for weight in convs.map(\.weight) + [hidden.weight, output.weight] {
            let fanIn = weight.shape.dropFirst().reduce(1, *)
            let values = generator.normals(weight.count, standardDeviation: Float((2 / Double(fanIn)).squareRoot()))
            values.withUnsafeBufferPointer { try? weight.assign($0) }
        }
    }

    public var classCount: Int { classNames.count }

    /// images [N, 3, 64, 64] -> (features [N, F], logits [N, K]).
    public func callAsFunction(_ images: Tensor, training: Bool) throws -> (features: Tensor, logits: Tensor) {
        guard images.rank == 4, images.shape[1] == 3, images.shape[2] == Self.imageSize, images.shape[3] == Self.imageSize else {
            throw EvaluationError("classifier: expected images [N, 3, 64, 64], got \(images.shape)")
        }
        var h = try convs[0](images).leakyRelu(slope: 0.2)
        for (conv, norm) in zip(convs.dropFirst(), norms) { h = try norm(conv(h), training: training).leakyRelu(slope: 0.2) }
        let features = try hidden(globalMax(h)).relu()
        return (features, try output(features))
    }

    /// [N, C, H, W] -> [N, C], the maximum over H x W. The engine has no pooling op, but
    /// max = sum(h * onehot(argmax)) with the one-hot mask held constant, and the gradient of that
    /// (g at the argmax, 0 elsewhere) is max pooling's. Max rather than mean: a small shape covers a
    /// few of the 64 cells, and averaging drowns it in background (about 3x slower to learn).
    private func globalMax(_ h: Tensor) throws -> Tensor {
        let (n, c, plane) = (h.shape[0], h.shape[1], h.shape[2] * h.shape[3])
        var mask = [Float](repeating: 0, count: h.count)
        for p in 0..<(n * c) {
            var best = p * plane
            for i in (p * plane)..<((p + 1) * plane) where h.pointer[i] > h.pointer[best] { best = i }
            mask[best] = 1
        }
        let masked = try h.multiplying(Tensor(shape: h.shape, scalars: mask))
        return try masked.reshaped([n * c, plane]).linear(weight: Tensor(repeating: 1, shape: [1, plane]), bias: nil).reshaped([n, c])
    }

    public var namedTensors: [NamedTensor] {
        convs.enumerated().flatMap { $1.namedTensors(prefix: "conv\($0 + 1)") }
            + norms.enumerated().flatMap { $1.namedTensors(prefix: "norm\($0 + 2)") }
            + hidden.namedTensors(prefix: "hidden") + output.namedTensors(prefix: "output")
    }

    // MARK: Inference

    /// Predicted class index and features for images [N, 3, 64, 64], in eval mode, `batchSize` at
    /// a time. Returns labels [N] and features [N * F] row-major.
    public func predict(_ images: Tensor, batchSize: Int = 100) throws -> (labels: [Int], features: [Float]) {
        let n = images.shape.first ?? 0
        var labels: [Int] = [], features: [Float] = []
        labels.reserveCapacity(n); features.reserveCapacity(n * featureWidth)
        try withoutGradients {
            var start = 0
            while start < n {
                let chunk = start == 0 && n <= batchSize ? images : try images.slicedBatch(start..<min(n, start + batchSize))
                let (f, logits) = try self(chunk, training: false)
                features += f.scalars
                let k = logits.shape[1]
                for r in 0..<logits.shape[0] {
                    var best = 0
                    for c in 1..<max(k, 1) where logits.pointer[r * k + c] > logits.pointer[r * k + best] { best = c }
                    labels.append(best)
                }
                start += batchSize
            }
        }
        return (labels, features)
    }

    /// This classifier's label of every example of `dataset` (matched by class name), nil where the
    /// example has no class or one the classifier never saw.
    public func labels(of dataset: TextImageDataset) -> [Int?] {
        let lookup = Dictionary(classNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return dataset.classIndices.map { dataset.classNames.indices.contains($0) ? lookup[dataset.classNames[$0]] : nil }
    }

    // MARK: Training

    /// Trains a fresh classifier on the real images and class labels of `dataset` (one split):
    /// Adam on the softmax cross-entropy. Images are decoded once and kept at load size 76.
    public static func train(on dataset: TextImageDataset, options: ClassifierTrainingOptions = ClassifierTrainingOptions(),
                             log: (String) -> Void = { _ in }) throws -> (ConditionClassifier, ClassifierTrainingSummary) {
        let start = Date()
        guard !dataset.classNames.isEmpty else {
            throw EvaluationError("\(dataset.file): split '\(dataset.split)' has no class labels; condition accuracy and the classifier need them")
        }
        guard options.epochs >= 1, options.batchSize >= 2, options.width >= 1, options.featureWidth >= 2 else {
            throw EvaluationError("classifier: epochs >= 1, batch size >= 2, width >= 1 and feature width >= 2 are needed")
        }
        let count = min(dataset.count, options.limit ?? dataset.count)
        let examples = (0..<count).filter { dataset.classIndices[$0] >= 0 }
        guard examples.count >= options.batchSize else {
            throw EvaluationError("classifier: \(examples.count) labelled examples in '\(dataset.split)' for batch size \(options.batchSize)")
        }
        let size = imageSize, load = Preprocess.defaultLoadSize(forCrop: size)
        let bank = try RealImages.decode(dataset, indices: examples, loadSize: load, cropSize: options.augment ? load : size)
        let stored = options.augment ? load : size
        log(String(format: "classifier: %d real images decoded in %.1fs", examples.count, Date().timeIntervalSince(start)))
        var rng = RandomGenerator(seed: options.seed)
        let model = ConditionClassifier(classNames: dataset.classNames, width: options.width, featureWidth: options.featureWidth, using: &rng)
        let optimizer = Adam(parameters: model.parameters, learningRate: options.learningRate, betas: (0.9, 0.999))
        let k = model.classCount, b = options.batchSize
        var steps = 0, lastLoss: Float = 0
        for epoch in 0..<options.epochs {
            var order = Array(examples.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var total: Double = 0, batches = 0
            // Whole batches only: a last batch of one would break train-mode batch norm.
            for first in stride(from: 0, to: order.count - b + 1, by: b) {
                let slots = Array(order[first..<(first + b)])
                var pixels = [Float](repeating: 0, count: b * 3 * size * size)
                var targets = [Int](repeating: 0, count: b)
                for (row, slot) in slots.enumerated() {
                    let slack = stored - size
                    let (x0, y0) = slack > 0 ? (Int(rng.next() % UInt64(slack + 1)), Int(rng.next() % UInt64(slack + 1))) : (0, 0)
                    let flip = options.augment && rng.next() >> 63 == 1
                    bank.crop(slot, x0: x0, y0: y0, size: size, flip: flip, into: &pixels, at: row)
                    targets[row] = dataset.classIndices[examples[slot]]
                }
                let images = try Tensor(shape: [b, 3, size, size], scalars: pixels)
                let (_, logits) = try model(images, training: true)
                let (loss, coefficients) = softmaxCrossEntropy(logits: logits.scalars, targets: targets, classes: k)
                // The engine has no log-softmax op. sum(logits * c) with c = (softmax - onehot) / B
                // held constant has exactly the gradient of the mean cross-entropy.
                let surrogate = try logits.multiplying(Tensor(shape: [b, k], scalars: coefficients)).sum()
                model.zeroGrad()
                try surrogate.backward()
                try optimizer.update()
                total += loss; batches += 1; steps += 1
            }
            lastLoss = Float(total / Double(max(batches, 1)))
            log(String(format: "classifier epoch %d/%d  loss %.4f  %.1fs", epoch + 1, options.epochs, lastLoss, Date().timeIntervalSince(start)))
        }
        return (model, ClassifierTrainingSummary(examples: examples.count, steps: steps, seconds: Date().timeIntervalSince(start),
                                                 finalLoss: lastLoss))
    }

    /// Accuracy on the centre crops of `dataset`'s real images (the ceiling of condition accuracy).
    /// Examples whose class the classifier does not know are left out and counted.
    public func realAccuracy(on dataset: TextImageDataset) throws -> (accuracy: Double, counted: Int, unknown: Int) {
        let labels = labels(of: dataset)
        let known = labels.indices.filter { labels[$0] != nil }
        guard !known.isEmpty else { return (0, 0, labels.count) }
        let bank = try RealImages.decode(dataset, indices: known, loadSize: Preprocess.defaultLoadSize(forCrop: Self.imageSize),
                                         cropSize: Self.imageSize)
        let predicted = try predict(bank.tensor()).labels
        let correct = zip(known, predicted).filter { labels[$0.0] == $0.1 }.count
        return (Double(correct) / Double(known.count), known.count, labels.count - known.count)
    }

    // MARK: Files

    /// Writes the weights with the class names and widths as metadata (atomically, as checkpoints).
    public func save(to url: URL, extraMetadata: [String: String] = [:]) throws {
        let names = String(decoding: try JSONEncoder().encode(classNames), as: UTF8.self)
        var metadata = extraMetadata
        metadata["format"] = Self.formatTag
        metadata["classes"] = names
        metadata["width"] = String(width)
        metadata["feature_width"] = String(featureWidth)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensors.write(namedTensors, metadata: metadata, to: url)
    }

    /// Reads a file written by `save`.
    public static func load(from url: URL) throws -> ConditionClassifier {
        let (_, metadata) = try SafeTensors.read(url)
        guard metadata["format"] == formatTag, let names = metadata["classes"],
              let classes = try? JSONDecoder().decode([String].self, from: Data(names.utf8)),
              let width = metadata["width"].flatMap(Int.init), let features = metadata["feature_width"].flatMap(Int.init) else {
            throw CheckpointError(path: url.path, message: "not a condition classifier (no `\(formatTag)` metadata)")
        }
        var rng = RandomGenerator(seed: 0)
        let model = ConditionClassifier(classNames: classes, width: width, featureWidth: features, using: &rng)
        _ = try SafeTensors.load(url, into: model.namedTensors)
        return model
    }

    /// The cache file for a dataset: keyed by the file's absolute path, size and modification time
    /// and by the training options, so an edited dataset or changed options trains a new one.
    public static func cacheURL(datasetPath: String, options: ClassifierTrainingOptions, directory: URL) throws -> URL {
        let path = URL(fileURLWithPath: datasetPath).standardizedFileURL.path
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let optionsJSON = String(decoding: try JSONEncoder.sorted.encode(options), as: UTF8.self)
        let key = "\(formatTag)|\(path)|\(size)|\(mtime)|\(optionsJSON)"
        // FNV-1a: stable across runs and platforms, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return directory.appendingPathComponent("\(stem)-\(String(hash, radix: 16)).safetensors")
    }

    /// The classifier for a dataset: read from the cache when present, else trained on
    /// `options.split` and written there. Returns whether it was trained now and, if so, the summary.
    public static func cached(datasetPath: String, options: ClassifierTrainingOptions = ClassifierTrainingOptions(),
                              directory: URL = URL(fileURLWithPath: "runs/.classifiers"),
                              datasetOptions: DatasetOptions = DatasetOptions(),
                              log: (String) -> Void = { _ in }) throws -> (classifier: ConditionClassifier, url: URL, training: ClassifierTrainingSummary?) {
        let url = try cacheURL(datasetPath: datasetPath, options: options, directory: directory)
        if FileManager.default.fileExists(atPath: url.path) {
            return (try load(from: url), url, nil)
        }
        log("training the condition classifier on \(datasetPath) [\(options.split)] (cached at \(url.path))")
        let data = try TextImageDataset.open(path: datasetPath, split: options.split, options: datasetOptions)
        let (model, summary) = try train(on: data, options: options, log: log)
        try model.save(to: url, extraMetadata: ["dataset": datasetPath, "split": options.split,
                                                "training": String(decoding: try JSONEncoder.sorted.encode(summary), as: UTF8.self)])
        return (model, url, summary)
    }
}

extension JSONEncoder {
    /// Sorted keys, so encoded options hash the same every time.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

/// Mean cross-entropy of logits [B, K] against class indices [B], and its gradient [B, K]
/// (softmax - onehot) / B. In Double, with the max subtracted, so large logits cannot overflow.
func softmaxCrossEntropy(logits: [Float], targets: [Int], classes k: Int) -> (loss: Double, gradient: [Float]) {
    let b = targets.count
    var loss = 0.0
    var gradient = [Float](repeating: 0, count: b * k)
    for r in 0..<b {
        let row = logits[(r * k)..<((r + 1) * k)].map(Double.init)
        let top = row.max() ?? 0
        let exps = row.map { Foundation.exp($0 - top) }
        let total = exps.reduce(0, +)
        loss -= Foundation.log(exps[targets[r]] / total)
        for c in 0..<k { gradient[r * k + c] = Float((exps[c] / total - (c == targets[r] ? 1 : 0)) / Double(b)) }
    }
    return (loss / Double(max(b, 1)), gradient)
}

/// Real images of some examples decoded once into planar floats in [-1, 1]: [n, 3, S, S] with S
/// the crop size (the whole load-size image when the caller crops later).
struct RealImages {
    let pixels: [Float]
    let count: Int
    let size: Int

    /// Resize to `loadSize`, centre-crop `cropSize` (the dataset's eval mode).
    static func decode(_ dataset: TextImageDataset, indices: [Int], loadSize: Int, cropSize: Int) throws -> RealImages {
        let plane = 3 * cropSize * cropSize
        var pixels = [Float](repeating: 0, count: indices.count * plane)
        var rng = Xoshiro256(seed: 0)  // eval mode draws nothing; the API wants a generator
        for (slot, index) in indices.enumerated() {
            let image = try dataset.image(at: index)
            pixels.withUnsafeMutableBufferPointer { all in
                Preprocess.apply(image, loadSize: loadSize, cropSize: cropSize, mode: .eval, rng: &rng,
                                 into: UnsafeMutableBufferPointer(rebasing: all[(slot * plane)..<((slot + 1) * plane)]))
            }
        }
        return RealImages(pixels: pixels, count: indices.count, size: cropSize)
    }

    func tensor() throws -> Tensor { try Tensor(shape: [count, 3, size, size], scalars: pixels) }

    /// Copies the `size` crop at (x0, y0) of image `index`, mirrored if `flip`, into row `row` of a
    /// [*, 3, size, size] buffer.
    func crop(_ index: Int, x0: Int, y0: Int, size crop: Int, flip: Bool, into out: inout [Float], at row: Int) {
        let source = index * 3 * size * size, target = row * 3 * crop * crop
        for c in 0..<3 { for y in 0..<crop {
            let s = source + (c * size + y0 + y) * size + x0, t = target + (c * crop + y) * crop
            for x in 0..<crop { out[t + x] = pixels[s + (flip ? crop - 1 - x : x)] }
        } }
    }
}

/// images [N, 3, S, S] -> [N, 3, S/f, S/f] by averaging f x f blocks, f = S / `size` (Stage-II's
/// 256 px images for the 64 px classifier; 4x4 box averaging is what an antialiased resize to a
/// quarter does). A 64 px input is returned as it is.
public func downsampled(_ images: Tensor, to size: Int) throws -> Tensor {
    guard images.rank == 4, images.shape[2] == images.shape[3], size > 0, images.shape[2] % size == 0 else {
        throw EvaluationError("downsample: images \(images.shape) are not square multiples of \(size) px")
    }
    let s = images.shape[2], f = s / size
    if f == 1 { return images }
    let planes = images.shape[0] * images.shape[1]
    var out = [Float](repeating: 0, count: planes * size * size)
    let scale = 1 / Float(f * f), p = images.pointer
    for plane in 0..<planes { for y in 0..<size { for x in 0..<size {
        var total: Float = 0
        for dy in 0..<f { for dx in 0..<f { total += p[(plane * s + y * f + dy) * s + x * f + dx] } }
        out[(plane * size + y) * size + x] = total * scale
    } } }
    return try Tensor(shape: [images.shape[0], images.shape[1], size, size], scalars: out)
}
