// Training images decoded and resized once, for datasets small enough to keep in memory.

/// Every image of a dataset at the load size, (count) x (load, load, 3) Floats in 0...255.
///
/// Decoding a 304 px PNG and resizing it to 76 px costs about as much as a small model's step
/// spends on the image: on the main job's widths the loader took a core's worth of time from
/// the two it shares with training. The cache holds exactly the values `Preprocess.apply`
/// would compute each step, so batches are unchanged; only the crop and flip are per step.
final class ImageCache: Sendable {
    let loadSize: Int
    let images: [[Float]]

    /// Bytes the cache of `count` images at `loadSize` takes.
    static func bytes(count: Int, loadSize: Int) -> Int {
        let (perImage, o1) = (loadSize * loadSize).multipliedReportingOverflow(by: 3 * MemoryLayout<Float>.size)
        let (all, o2) = perImage.multipliedReportingOverflow(by: count)
        return o1 || o2 ? Int.max : all
    }

    /// Decodes all images; nil when they would take more than `budget` bytes.
    init?(dataset: TextImageDataset, loadSize: Int, budget: Int) throws {
        guard budget > 0, Self.bytes(count: dataset.count, loadSize: loadSize) <= budget else { return nil }
        self.loadSize = loadSize
        images = try (0..<dataset.count).map { Preprocess.loadSized(try dataset.image(at: $0), loadSize: loadSize) }
    }
}
