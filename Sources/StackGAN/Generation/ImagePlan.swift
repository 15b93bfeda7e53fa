import Datasets

/// One image to draw and every number it depends on: the caption's embedding [E], noise z
/// [z_dim] and CA eps [`Sampler.conditioningNoiseWidth`]. `caption` indexes the caller's captions;
/// `column` is the sample (or the step of a walk) in that caption's row.
public struct ImageJob {
    public let caption: Int
    public let column: Int
    public let embedding: [Float]
    public let noise: [Float]
    public let conditioningNoise: [Float]
}

/// The images `generate` and `serve` draw, planned in one place so that both draw the same image
/// for the same checkpoint, caption, seed and column: column k of every caption uses z row k and
/// CA eps row k of `columnNoise(seed)`, and a walk holds fixed what it does not move.
extension Sampler {
    /// Each caption (an embedding [E]) in `samples` columns. `noise`: z rows to use instead of
    /// drawing them from `seed` (at least `samples`).
    public func sampleJobs(captions: [[Float]], samples: Int, seed: UInt64, noise: [[Float]]? = nil) -> [ImageJob] {
        let drawn = columnNoise(count: samples, seed: seed)
        let z = noise.map { Array($0.prefix(samples)) } ?? drawn.noise
        return captions.enumerated().flatMap { c, embedding in
            (0..<samples).map { k in
                ImageJob(caption: c, column: k, embedding: embedding, noise: z[k], conditioningNoise: drawn.conditioningNoise[k])
            }
        }
    }

    /// `steps` images walking from caption 0's embedding to caption 1's with one z (`noise`, else
    /// column 0's) and column 0's CA eps: only the caption moves, and the ends are the captions'
    /// sample 0.
    public func captionWalk(from start: [Float], to end: [Float], steps: Int, seed: UInt64, noise: [Float]? = nil) -> [ImageJob] {
        let drawn = columnNoise(count: 1, seed: seed)
        let z = noise ?? drawn.noise[0]
        return Self.interpolate(from: start, to: end, steps: steps).enumerated().map { k, point in
            ImageJob(caption: 0, column: k, embedding: point, noise: z, conditioningNoise: drawn.conditioningNoise[0])
        }
    }

    /// `steps` images of one caption walking from column 0's z and CA eps to column 1's (`noise`:
    /// the two z rows instead), so the ends are the caption's first two samples.
    public func noiseWalk(caption: [Float], steps: Int, seed: UInt64, noise: [[Float]]? = nil) -> [ImageJob] {
        let drawn = columnNoise(count: 2, seed: seed)
        let z = noise.map { Array($0.prefix(2)) } ?? drawn.noise
        let zs = Self.interpolate(from: z[0], to: z[1], steps: steps)
        let es = Self.interpolate(from: drawn.conditioningNoise[0], to: drawn.conditioningNoise[1], steps: steps)
        return (0..<steps).map { k in ImageJob(caption: 0, column: k, embedding: caption, noise: zs[k], conditioningNoise: es[k]) }
    }

    /// The images of `jobs`, in order, in eval mode.
    public func draw(_ jobs: [ImageJob]) throws -> [RGBImage] {
        let pixels = try images(embeddings: jobs.flatMap(\.embedding), noise: jobs.flatMap(\.noise),
                                conditioningNoise: jobs.flatMap(\.conditioningNoise))
        let plane = 3 * imageSize * imageSize
        return pixels.withUnsafeBufferPointer { all in
            (0..<jobs.count).map { i in
                RGBImage(chw: UnsafeBufferPointer(rebasing: all[(i * plane)..<((i + 1) * plane)]), height: imageSize, width: imageSize)
            }
        }
    }
}
