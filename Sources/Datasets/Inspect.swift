// `stackgan inspect FILE.h5` and `stackgan bench data` live here; the CLI only forwards.
import Foundation

public enum DatasetInspector {
    /// A text report on a dataset file: layout, splits with counts, embedding width,
    /// captions per image, classes, image size, and a few captions. When `grid` is
    /// given, also writes a PNG grid of up to `samples` images of the first split
    /// (each resized to `thumbnail` px).
    public static func report(path: String, grid: OutputFile? = nil, options: DatasetOptions = DatasetOptions(),
                              samples: Int = 16, thumbnail: Int = 64) throws -> String {
        let (layout, splits) = try TextImageDataset.describe(path: path, paths: options.paths)
        var lines = ["file: \(path)", "layout: \(layout.rawValue)"]
        var first: TextImageDataset?
        for split in splits {
            let data = try TextImageDataset.open(path: path, split: split, options: options)
            if first == nil { first = data }
            var line = "split \(split): \(data.count) examples, \(data.captionsPerImage) captions per image, embedding width \(data.embeddingWidth), \(data.classNames.count) classes"
            if !data.skipped.isEmpty { line += ", \(data.skipped.count) skipped (undecodable images: \(data.skipped.prefix(5).joined(separator: ", ")))" }
            lines.append(line)
        }
        guard let data = first else { return lines.joined(separator: "\n") }
        let image = try data.image(at: 0)
        lines.append("image size: \(image.width)x\(image.height) (first example of \(data.split))")
        if !data.classNames.isEmpty {
            lines.append("classes: " + data.classNames.prefix(10).joined(separator: ", ") + (data.classNames.count > 10 ? ", ..." : ""))
        }
        lines.append("sample captions (\(data.split)):")
        for i in 0..<min(5, data.count) {
            let caption = data.captions[i].first ?? "(no caption text)"
            let label = data.classIndices[i] >= 0 ? " [\(data.classNames[data.classIndices[i]])]" : ""
            lines.append("  \(data.names[i])\(label): \(caption)")
        }
        if let grid {
            let n = min(samples, data.count)
            let thumbs = try (0..<n).map { Preprocess.resize(try data.image(at: $0), width: thumbnail, height: thumbnail) }
            let columns = Int(Double(n).squareRoot().rounded(.up))
            try ImageCodec.writePNG(ImageGrid.tile(thumbs, columns: max(columns, 1)), to: grid)
            lines.append("grid: \(grid.path) (\(n) images of \(data.split))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Decode + augment throughput of the loader, for `stackgan bench data`. Not a test:
/// the numbers depend on the machine.
public enum DataBenchmark {
    public struct Result: CustomStringConvertible {
        public var imageSize: Int
        public var workers: Int
        public var imagesPerSecond: Double
        public var description: String {
            "\(imageSize) px, \(workers) worker\(workers == 1 ? "" : "s"): \(String(format: "%.0f", imagesPerSecond)) images/s"
        }
    }

    /// Times `batches` batches of `batchSize` (after one warm-up batch) for 64 and 256 px
    /// output with each worker count; wrong pairs use `shift`, so each real image is decoded
    /// once. Prints each line through `log` and returns the results.
    @discardableResult
    public static func run(path: String, split: String = "train", batches: Int = 10, batchSize: Int = 32,
                           imageSizes: [Int] = [64, 256], workerCounts: [Int] = [1, 2],
                           log: (String) -> Void = { print($0) }) throws -> [Result] {
        let data = try TextImageDataset.open(path: path, split: split)
        log("data benchmark: \(path) [\(split)], \(data.count) examples, batch \(batchSize), \(batches) batches")
        var results: [Result] = []
        for size in imageSizes {
            for workers in workerCounts {
                let options = LoaderOptions(batchSize: min(batchSize, data.count), imageSize: size, seed: 1,
                                            prefetch: max(3, workers), workers: workers)
                let loader = try BatchLoader(dataset: data, options: options, mode: .train)
                _ = try loader.next()
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<batches { _ = try loader.next() }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let result = Result(imageSize: size, workers: workers,
                                    imagesPerSecond: Double(batches * options.batchSize) / max(seconds, 1e-9))
                log(result.description)
                results.append(result)
            }
        }
        return results
    }
}
