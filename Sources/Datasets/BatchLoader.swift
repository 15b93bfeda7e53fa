// Batches for GAN-CLS / StackGAN training: real images, mismatched ("wrong") images,
// caption embeddings, with seeded order, exact resumption and background prefetch.
import Foundation
import Random

/// How a mismatched (wrong) image is chosen for each example.
public enum WrongPairStrategy: String, Codable, Sendable {
    /// Wrong image for example i is the real image of example i+1 in the batch (cyclic),
    /// as StackGAN-Pytorch shifts captions by one.
    case shift
    /// A real image drawn from a different class (class values compared, not identity),
    /// as the TF StackGAN and GAN-CLS do; without usable classes, a different example.
    case differentClass
    /// Of `similarCaptionCandidates` images drawn as `differentClass` draws one, the one whose
    /// captions (their mean embedding) are closest in cosine to the example's caption: a hard
    /// negative, e.g. the same colour and place but another shape, which the discriminator can
    /// only refuse by reading every word of the caption.
    case similarCaption
}

/// Loader settings. Codable so that a YAML config can hold them.
public struct LoaderOptions: Codable, Equatable, Sendable {
    public var batchSize: Int
    /// Output side S: 64 for Stage-I, 256 for Stage-II.
    public var imageSize: Int
    /// Side the image is resized to before cropping; nil means `imageSize * 19 / 16` (76, 304).
    public var loadSize: Int?
    /// 1: one random caption of the K per step (StackGAN-Pytorch); k > 1: mean of k distinct
    /// random captions (TF StackGAN, GAN-CLS use 4); clipped to K.
    public var captionsPerStep: Int
    public var wrongPairs: WrongPairStrategy
    public var seed: UInt64
    /// Shuffle the order each epoch (train) or keep file order (typical for eval).
    public var shuffle: Bool
    /// Drop the final incomplete batch (batch norm dislikes tiny batches).
    public var dropLast: Bool
    /// Batches decoded ahead of the consumer.
    public var prefetch: Int
    /// Threads decoding batches in the background (0: decode on the caller's thread).
    public var workers: Int
    /// Random horizontal flips in `.train` (off for captions that name left and right).
    public var flip: Bool
    /// Bytes allowed for keeping every image decoded at the load size (`ImageCache`); 0 decodes
    /// each image every time it is drawn.
    public var cacheBytes: Int

    public init(batchSize: Int = 64, imageSize: Int = 64, loadSize: Int? = nil, captionsPerStep: Int = 1,
                wrongPairs: WrongPairStrategy = .shift, seed: UInt64 = 0, shuffle: Bool = true,
                dropLast: Bool = true, prefetch: Int = 3, workers: Int = 1, flip: Bool = true, cacheBytes: Int = 0) {
        self.batchSize = batchSize; self.imageSize = imageSize; self.loadSize = loadSize
        self.captionsPerStep = captionsPerStep; self.wrongPairs = wrongPairs; self.seed = seed
        self.shuffle = shuffle; self.dropLast = dropLast; self.prefetch = prefetch; self.workers = workers
        self.flip = flip; self.cacheBytes = cacheBytes
    }

    public var effectiveLoadSize: Int { loadSize ?? Preprocess.defaultLoadSize(forCrop: imageSize) }

    /// Missing keys take the defaults above, so a config names only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LoaderOptions()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        loadSize = try c.decodeIfPresent(Int.self, forKey: .loadSize)
        captionsPerStep = try c.decodeIfPresent(Int.self, forKey: .captionsPerStep) ?? d.captionsPerStep
        wrongPairs = try c.decodeIfPresent(WrongPairStrategy.self, forKey: .wrongPairs) ?? d.wrongPairs
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        shuffle = try c.decodeIfPresent(Bool.self, forKey: .shuffle) ?? d.shuffle
        dropLast = try c.decodeIfPresent(Bool.self, forKey: .dropLast) ?? d.dropLast
        prefetch = try c.decodeIfPresent(Int.self, forKey: .prefetch) ?? d.prefetch
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? d.workers
        flip = try c.decodeIfPresent(Bool.self, forKey: .flip) ?? d.flip
        cacheBytes = try c.decodeIfPresent(Int.self, forKey: .cacheBytes) ?? d.cacheBytes
    }
}

/// Position of the next batch: saved in checkpoints so training resumes with exactly the
/// batches it would have seen.
public struct LoaderState: Codable, Equatable, Sendable {
    public var epoch: Int
    public var batch: Int
    public init(epoch: Int = 0, batch: Int = 0) { self.epoch = epoch; self.batch = batch }
}

/// One training batch. N = `size`, S = `imageSize`, E = `embeddingWidth`.
public struct Batch {
    /// Real images, (N, 3, S, S) row-major, values in [-1, 1].
    public var images: [Float]
    /// Mismatched real images for `wrong_pairs: differentClass`, (N, 3, S, S): wrongImages[i] does
    /// not belong to caption i. nil for `shift`, whose wrong image i is `images` row i + 1 (mod N),
    /// which the discriminator takes as its real features rolled by one (`wrongIndices` says which).
    public var wrongImages: [Float]?
    /// Caption embeddings, (N, E): one sampled caption or the mean of several.
    public var embeddings: [Float]
    /// Class index per example (into `TextImageDataset.classNames`), -1 without classes.
    public var classLabels: [Int]
    public var wrongClassLabels: [Int]
    /// Example indices within the split, (N,).
    public var indices: [Int]
    public var wrongIndices: [Int]
    /// Caption text of the first sampled caption per example ("" when the file has none).
    public var captions: [String]
    public var size: Int
    public var imageSize: Int
    public var embeddingWidth: Int
    /// Where this batch sits: epoch and batch number within it.
    public var epoch: Int
    public var batchIndex: Int
}

/// Produces batches from a `TextImageDataset`.
///
/// Everything random in batch b of epoch e (which examples, crops, flips, captions,
/// wrong images) comes from generators seeded by (seed, e) and (seed, e, b), so a batch
/// is a pure function of those numbers: the same on every machine, with any number of
/// workers, and after a restore.
public final class BatchLoader {
    public let dataset: TextImageDataset
    public let options: LoaderOptions
    public let mode: DataMode
    /// Position of the batch the next `next()` returns.
    public private(set) var state: LoaderState
    private var pipeline: Pipeline?
    private let maker: BatchMaker

    public init(dataset: TextImageDataset, options: LoaderOptions, mode: DataMode, state: LoaderState = LoaderState()) throws {
        let file = dataset.file
        func bad(_ why: String) -> DatasetError { DatasetError(.invalidValue, file: file, path: "loader options", why) }
        guard options.batchSize > 0 else { throw bad("batchSize \(options.batchSize); expected > 0") }
        guard options.imageSize > 0, options.effectiveLoadSize >= options.imageSize else {
            throw bad("imageSize \(options.imageSize), loadSize \(options.effectiveLoadSize); expected 0 < imageSize <= loadSize")
        }
        guard options.captionsPerStep > 0 else { throw bad("captionsPerStep \(options.captionsPerStep); expected >= 1") }
        guard options.workers >= 0, options.prefetch >= 1 else { throw bad("workers \(options.workers), prefetch \(options.prefetch); expected workers >= 0, prefetch >= 1") }
        self.dataset = dataset
        self.options = options
        self.mode = mode
        self.state = LoaderState()
        let perEpoch = options.dropLast ? dataset.count / options.batchSize : (dataset.count + options.batchSize - 1) / options.batchSize
        let cache = try ImageCache(dataset: dataset, loadSize: options.effectiveLoadSize, budget: options.cacheBytes)
        maker = BatchMaker(dataset: dataset, options: options, mode: mode, batchesPerEpoch: perEpoch, cache: cache)
        guard batchesPerEpoch > 0 else {
            throw DatasetError(.emptySplit, file: file, path: dataset.split,
                               "\(dataset.count) examples give no batch of \(options.batchSize) with dropLast; expected at least \(options.batchSize) examples")
        }
        self.state = normalised(state)
    }

    deinit { pipeline?.stop() }

    public var batchesPerEpoch: Int { maker.batchesPerEpoch }

    private func normalised(_ s: LoaderState) -> LoaderState {
        LoaderState(epoch: s.epoch + s.batch / batchesPerEpoch, batch: s.batch % batchesPerEpoch)
    }

    /// Moves to `state`; batches already prefetched are discarded.
    public func restore(_ newState: LoaderState) {
        pipeline?.stop()
        pipeline = nil
        state = normalised(newState)
    }

    /// Example order of `epoch`, (count,).
    public func order(epoch: Int) -> [Int] { maker.order(epoch: epoch) }

    /// The next batch in sequence, crossing epochs without end. Throws the error of a
    /// batch that could not be built (for example an undecodable image).
    public func next() throws -> Batch {
        let position = state
        let batch: Batch
        if options.workers == 0 {
            batch = try makeBatch(epoch: position.epoch, batch: position.batch)
        } else {
            if pipeline == nil { pipeline = Pipeline(loader: self, start: position) }
            guard let p = pipeline else { throw DatasetError(.readFailed, file: dataset.file, path: "", "loader pipeline missing") }
            do {
                batch = try p.take()
            } catch {
                // Restart from the failed position next time, so state and sequence agree.
                restore(position)
                throw error
            }
        }
        state = normalised(LoaderState(epoch: position.epoch, batch: position.batch + 1))
        return batch
    }

    /// Builds batch `batch` of `epoch` directly (no prefetch, no state change).
    public func makeBatch(epoch: Int, batch: Int) throws -> Batch { try maker.makeBatch(epoch: epoch, batch: batch) }

    /// Background workers filling a bounded, ordered queue of batches. Each worker claims
    /// the next batch number, builds it, and files it under that number; the consumer takes
    /// numbers in order, so the sequence is the same for any worker count.
    private final class Pipeline {
        private let condition = NSCondition()
        private var ready: [Int: Result<Batch, Error>] = [:]
        private var nextClaim = 0
        private var nextTake = 0
        private var stopped = false
        private let capacity: Int
        private let start: LoaderState
        private let perEpoch: Int

        init(loader: BatchLoader, start: LoaderState) {
            self.capacity = max(loader.options.prefetch, loader.options.workers)
            self.start = start
            self.perEpoch = loader.batchesPerEpoch
            // Workers hold the batch maker, not the loader, so the loader's deinit can stop them.
            let maker = loader.maker
            let build: (Int, Int) throws -> Batch = { try maker.makeBatch(epoch: $0, batch: $1) }
            for _ in 0..<max(1, loader.options.workers) {
                let thread = Thread { [self] in self.work(build) }
                thread.name = "stackgan.data"
                thread.start()
            }
        }

        private func position(_ sequence: Int) -> (epoch: Int, batch: Int) {
            let absolute = start.batch + sequence
            return (start.epoch + absolute / perEpoch, absolute % perEpoch)
        }

        private func work(_ build: (Int, Int) throws -> Batch) {
            while true {
                condition.lock()
                while !stopped && nextClaim - nextTake >= capacity { condition.wait() }
                if stopped { condition.unlock(); return }
                let sequence = nextClaim
                nextClaim += 1
                condition.unlock()
                let (epoch, batch) = position(sequence)
                let result = Result { try build(epoch, batch) }
                condition.lock()
                ready[sequence] = result
                condition.broadcast()
                condition.unlock()
            }
        }

        func take() throws -> Batch {
            condition.lock()
            while ready[nextTake] == nil { condition.wait() }
            let result = ready.removeValue(forKey: nextTake)
            nextTake += 1
            condition.broadcast()
            condition.unlock()
            guard let r = result else { throw DatasetError(.readFailed, file: "", path: "", "prefetch queue lost a batch") }
            return try r.get()
        }

        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// The pure part of the loader: batch (epoch, b) from the dataset and options alone.
/// A struct of immutable parts, so worker threads can share it.
struct BatchMaker {
    let dataset: TextImageDataset
    let options: LoaderOptions
    let mode: DataMode
    let batchesPerEpoch: Int
    let cache: ImageCache?

    /// Example order of `epoch`, (count,).
    func order(epoch: Int) -> [Int] {
        var order = Array(0..<dataset.count)
        if options.shuffle {
            var rng = RandomGenerator(seed: options.seed, UInt64(truncatingIfNeeded: epoch), 0x5EED)
            rng.shuffle(&order)
        }
        return order
    }

    /// Builds batch `batch` of `epoch` directly (no prefetch, no state change).
    func makeBatch(epoch: Int, batch: Int) throws -> Batch {
        guard batch >= 0 && batch < batchesPerEpoch else {
            throw DatasetError(.invalidValue, file: dataset.file, path: dataset.split, "batch \(batch); expected 0..<\(batchesPerEpoch)")
        }
        let order = order(epoch: epoch)
        let n = options.batchSize
        let indices = Array(order[(batch * n)..<min(order.count, (batch + 1) * n)])
        return try assemble(indices: indices, epoch: epoch, batch: batch)
    }

    func assemble(indices: [Int], epoch: Int, batch: Int) throws -> Batch {
        var rng = RandomGenerator(seed: options.seed, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: batch))
        let n = indices.count, s = options.imageSize, e = dataset.embeddingWidth, k = dataset.captionsPerImage
        let plane = 3 * s * s
        var images = [Float](repeating: 0, count: n * plane)
        var embeddings = [Float](repeating: 0, count: n * e)
        var captions: [String] = []
        let take = min(options.captionsPerStep, k)
        for (slot, index) in indices.enumerated() {
            // Partial Fisher-Yates: `take` distinct captions of the K.
            var choices = Array(0..<k)
            for j in 0..<take { choices.swapAt(j, j + rng.below(k - j)) }
            for c in choices.prefix(take) {
                let v = dataset.embedding(index, caption: c)
                for j in 0..<e { embeddings[slot * e + j] += v[v.startIndex + j] / Float(take) }
            }
            let texts = dataset.captions[index]
            captions.append(texts.indices.contains(choices[0]) ? texts[choices[0]] : (texts.first ?? ""))
            try decode(index, into: &images, slot: slot, rng: &rng)
        }
        let wrongIndices: [Int]
        var wrongImages: [Float]?
        switch options.wrongPairs {
        case .shift:
            wrongIndices = (0..<n).map { indices[($0 + 1) % n] }
        case .differentClass, .similarCaption:
            wrongIndices = indices.enumerated().map { slot, index in
                guard options.wrongPairs == .similarCaption else { return drawDifferent(from: index, rng: &rng) }
                let candidates = (0..<Self.similarCaptionCandidates).map { _ in drawDifferent(from: index, rng: &rng) }
                let caption = embeddings[(slot * e)..<((slot + 1) * e)]
                let scores = candidates.map { cosine(caption, meanCaption($0)) }
                return zip(candidates, scores).max { $0.1 < $1.1 }?.0 ?? index
            }
            var decoded = [Float](repeating: 0, count: n * plane)
            for (slot, index) in wrongIndices.enumerated() { try decode(index, into: &decoded, slot: slot, rng: &rng) }
            wrongImages = decoded
        }
        return Batch(images: images, wrongImages: wrongImages, embeddings: embeddings,
                     classLabels: indices.map { dataset.classIndices[$0] },
                     wrongClassLabels: wrongIndices.map { dataset.classIndices[$0] },
                     indices: indices, wrongIndices: wrongIndices, captions: captions,
                     size: n, imageSize: s, embeddingWidth: e, epoch: epoch, batchIndex: batch)
    }

    func decode(_ index: Int, into buffer: inout [Float], slot: Int, rng: inout RandomGenerator) throws {
        let plane = 3 * options.imageSize * options.imageSize
        let image = cache == nil ? try dataset.image(at: index) : nil
        buffer.withUnsafeMutableBufferPointer { all in
            let out = UnsafeMutableBufferPointer(rebasing: all[(slot * plane)..<((slot + 1) * plane)])
            if let cache {
                Preprocess.apply(loaded: cache.images[index], loadSize: cache.loadSize, cropSize: options.imageSize, mode: mode,
                                 flip: options.flip, rng: &rng, into: out)
            } else if let image {
                Preprocess.apply(image, loadSize: options.effectiveLoadSize, cropSize: options.imageSize, mode: mode, flip: options.flip,
                                 rng: &rng, into: out)
            }
        }
    }

    /// Images a `similarCaption` wrong pair is chosen from.
    static let similarCaptionCandidates = 8

    /// The mean of example `index`'s caption embeddings, (E,).
    func meanCaption(_ index: Int) -> [Float] {
        let k = dataset.captionsPerImage
        var mean = [Float](repeating: 0, count: dataset.embeddingWidth)
        for c in 0..<k {
            for (j, v) in dataset.embedding(index, caption: c).enumerated() { mean[j] += v / Float(k) }
        }
        return mean
    }

    /// A random example of another class than `index`'s; any other example when the
    /// dataset has no classes or only one. Rejection sampling first (classes are usually
    /// many and balanced), then a scan so that rare cases still terminate.
    func drawDifferent(from index: Int, rng: inout RandomGenerator) -> Int {
        let count = dataset.count
        guard count > 1 else { return index }
        let labels = dataset.classIndices
        let own = labels[index]
        let useClasses = own >= 0 && dataset.classNames.count > 1
        func acceptable(_ j: Int) -> Bool { useClasses ? labels[j] != own : j != index }
        for _ in 0..<32 {
            let j = rng.below(count)
            if acceptable(j) { return j }
        }
        let start = rng.below(count)
        for step in 0..<count where acceptable((start + step) % count) { return (start + step) % count }
        return (index + 1) % count
    }

}

extension Batch {
    /// Rows index*n..<(index+1)*n, n = size / count: rank `index`'s slice of a global batch on
    /// `count` data-parallel ranks (size divisible by count). With `wrong_pairs: shift` the wrong
    /// image of a slice's last row is the slice's first row (the roll happens on the rank).
    public func shard(index: Int, count: Int) -> Batch {
        guard count > 1 else { return self }
        let n = size / count, rows = (index * n)..<((index + 1) * n)
        let plane = 3 * imageSize * imageSize
        func slice<T>(_ values: [T], _ width: Int) -> [T] { Array(values[(rows.lowerBound * width)..<(rows.upperBound * width)]) }
        var out = self
        out.images = slice(images, plane)
        out.wrongImages = wrongImages.map { slice($0, plane) }
        out.embeddings = slice(embeddings, embeddingWidth)
        out.classLabels = slice(classLabels, 1)
        out.indices = slice(indices, 1)
        func rolled(_ values: [Int]) -> [Int] { values.indices.map { values[($0 + 1) % n] } }
        let shifted = wrongImages == nil
        out.wrongClassLabels = shifted ? rolled(out.classLabels) : slice(wrongClassLabels, 1)
        out.wrongIndices = shifted ? rolled(out.indices) : slice(wrongIndices, 1)
        out.captions = slice(captions, 1)
        out.size = n
        return out
    }
}

/// Cosine similarity of two equally long vectors; 0 when either is zero.
func cosine<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
    var (dot, aa, bb): (Float, Float, Float) = (0, 0, 0)
    for (x, y) in zip(a, b) { dot += x * y; aa += x * x; bb += y * y }
    return aa > 0 && bb > 0 ? dot / (aa * bb).squareRoot() : 0
}
