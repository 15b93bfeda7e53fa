import ArgumentParser
import Datasets
import Foundation
import StackGAN

/// `stackgan make-dataset`: a folder of images and captions -> an HDF5 file in the per-example
/// layout `train --data` reads, with caption embeddings from the native encoder.
struct MakeDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-dataset",
        abstract: "Build a training HDF5 file from a folder of images (PNG/JPEG) and captions.",
        discussion: """
        Captions come from a .txt beside each image (same name, one caption per line, LF or CRLF; blank lines, and captions of zero-width or control characters only, ignored) or from \
        --captions F.tsv (lines `file<TAB>caption`, file relative to FOLDER; several lines per image add captions). \
        Images in sub-folders take the sub-folder as their class. Every image gets --captions-per-image captions \
        (default: the most any image has, at most 10; an image with fewer repeats its own). Images that do not decode \
        and images without captions are skipped with a warning and counted. Written to a temporary file and renamed (a device or FIFO is written directly; an --out that is an input is refused).
        Example: stackgan make-dataset my_images --out data/mine.h5 && stackgan train --config configs/shapes_stage1.yml --data data/mine.h5
        """)

    @Argument(help: "The folder of images (searched recursively).") var folder: String
    @Option(help: "The output HDF5 file.") var out: String
    @Option(help: "A TSV of `file<TAB>caption` lines instead of .txt files beside the images.") var captions: String?
    @Option(help: "Share of the images for the test split (0 for none).") var testFraction = 0.1
    @Option(help: "Seed of the train/test split.") var seed: UInt64 = 0
    @Option(help: "Captions stored per image (default: the most any image has, at most 10).") var captionsPerImage: Int?
    @OptionGroup var encoder: EncoderOptions

    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]
    /// Bounds on what a folder may ask of memory: images, bytes per image, captions per image.
    static let maxImages = 1_000_000, maxImageBytes = 64 << 20, maxCaptionsPerImage = 100

    func run() throws {
        guard (0..<1).contains(testFraction) else { throw StackGANError.usage("--test-fraction \(testFraction) must be in [0, 1)") }
        if let k = captionsPerImage, !(1...Self.maxCaptionsPerImage).contains(k) {
            throw StackGANError.usage("--captions-per-image \(k) must be between 1 and \(Self.maxCaptionsPerImage)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else { throw StackGANError.usage("\(folder): no such folder") }
        guard isFolder.boolValue else { throw StackGANError.usage("\(folder): is a file, expected a folder of images") }
        let (images, texts) = try listFiles()
        guard !images.isEmpty else {
            throw StackGANError(.unusableInput, folder, "no images (.png, .jpg, .jpeg) in the folder or its sub-folders")
        }
        var captionsOf = try captions.map { try readTSV($0, images: Set(images)) } ?? readTextFiles(images: images, texts: texts)
        // Captions with nothing to embed (zero-width or control characters only) count as blank lines.
        let model = try encoder.load()
        captionsOf = captionsOf.mapValues { $0.filter(model.tokenizer.hasWords) }

        var skipped = 0
        let captioned = images.filter { image in
            if captionsOf[image, default: []].isEmpty {
                warn("\(image): no captions (\(captions == nil ? "no " + stem(image) + ".txt beside it, or only blank lines" : "not in " + (captions ?? ""))); skipped")
                skipped += 1
                return false
            }
            return true
        }
        guard !captioned.isEmpty else { throw StackGANError(.unusableInput, folder, "none of the \(images.count) images has a caption") }
        let k = captionsPerImage ?? min(captioned.map { captionsOf[$0, default: []].count }.max() ?? 1, 10)
        guard captioned.count * k <= maxCaptionLines else {
            throw StackGANError(.unusableInput, folder, "\(captioned.count) images x \(k) captions; at most \(maxCaptionLines) captions in one file (lower --captions-per-image)")
        }
        for image in captioned {
            let own = captionsOf[image, default: []]
            captionsOf[image] = (0..<k).map { own[$0 % own.count] }
        }

        // Seeded split: shuffle the sorted list, the first share goes to test.
        var order = Array(captioned.indices)
        var generator = RandomGenerator(seed: seed)
        order.shuffle(using: &generator)
        var testCount = Int((testFraction * Double(captioned.count)).rounded())
        if testFraction > 0 && captioned.count >= 2 { testCount = min(max(testCount, 1), captioned.count - 1) }
        let testSet = Set(order.prefix(testCount))

        // Before the expensive part; an --out among the images, caption files or encoder files is refused.
        let inputs = (images + texts).map { URL(fileURLWithPath: folder).appendingPathComponent($0).path } + [captions].compactMap { $0 } + model.files
        let output = try namedOutput(out, flag: "--out", inputs: inputs)
        let allCaptions = captioned.flatMap { captionsOf[$0, default: []] }
        let embeddings = try embedCaptions(allCaptions, with: model, source: captions ?? folder) { "\(captioned[$0 / k]): caption \($0 % k + 1)" }
        let classes = images.contains { $0.contains("/") }
        let topName = URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent

        let writer = try PerExampleWriter(output: output, captionsPerImage: k, embeddingWidth: model.width)
        var written = ["train": 0, "test": 0], classNames = Set<String>(), badImages = 0
        let stride = k * model.width
        for (i, image) in captioned.enumerated() {
            let path = URL(fileURLWithPath: folder).appendingPathComponent(image).path
            let bytes: [UInt8]
            do {
                // The cap applies to what is read (a link's target too), not to a size the folder reports.
                guard let (data, truncated) = InputFile.read(path, limit: Self.maxImageBytes) else {
                    throw StackGANError(.unusableInput, path, "cannot be read, or not a regular file")
                }
                guard !truncated else { throw StackGANError(.unusableInput, path, "more than \(Self.maxImageBytes >> 20) MiB; at most that per image") }
                bytes = [UInt8](data)
                _ = try ImageCodec.decode(bytes, file: path)
            } catch {
                warn("\(image): \(error); skipped")
                badImages += 1
                continue
            }
            let parent = (image as NSString).deletingLastPathComponent
            let className = classes ? (parent.isEmpty ? topName : parent) : nil
            if let className { classNames.insert(className) }
            let split = testSet.contains(i) ? "test" : "train"
            try writer.append(TextImageExample(name: image, className: className, captions: captionsOf[image, default: []],
                                               embeddings: Array(embeddings[(i * stride)..<((i + 1) * stride)]), image: bytes), split: split)
            written[split, default: 0] += 1
        }
        guard written["train", default: 0] > 0 else {
            throw StackGANError(.unusableInput, folder, "no usable training images (\(badImages) did not decode, \(skipped) had no captions)")
        }
        try writer.finish()
        print("wrote \(out): train \(written["train", default: 0]), test \(written["test", default: 0]) examples, \(k) captions per image "
              + "(\(model.width)-d embeddings), \(classes ? "\(classNames.count) classes from sub-folders" : "no classes")"
              + "; skipped \(badImages) undecodable images and \(skipped) without captions")
    }

    private func warn(_ message: String) { FileHandle.standardError.write(Data("stackgan: warning: \(message)\n".utf8)) }

    private func stem(_ path: String) -> String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// Image and .txt paths relative to `folder`, sorted; hidden files and folders left out.
    private func listFiles() throws -> (images: [String], texts: [String]) {
        guard (try? FileManager.default.contentsOfDirectory(atPath: folder)) != nil else {
            throw StackGANError(.unusableInput, folder, "cannot read the folder (permissions?)")
        }
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw StackGANError(.unusableInput, folder, "cannot read the folder")
        }
        var images: [String] = [], texts: [String] = []
        while let relative = walker.nextObject() as? String {
            if (relative as NSString).lastPathComponent.hasPrefix(".") { walker.skipDescendants(); continue }
            let ext = (relative as NSString).pathExtension.lowercased()
            if Self.imageExtensions.contains(ext) { images.append(relative) } else if ext == "txt" { texts.append(relative) }
            guard images.count <= Self.maxImages else { throw StackGANError(.unusableInput, folder, "more than \(Self.maxImages) images") }
        }
        return (images.sorted(), texts.sorted())
    }

    /// Captions from `<image stem>.txt` beside each image; a .txt with no image of its name is an error.
    private func readTextFiles(images: [String], texts: [String]) throws -> [String: [String]] {
        var imageOf: [String: String] = [:]
        for image in images { imageOf[(image as NSString).deletingPathExtension] = image }
        var result: [String: [String]] = [:]
        for text in texts {
            guard let image = imageOf[(text as NSString).deletingPathExtension] else {
                throw StackGANError(.unusableInput, URL(fileURLWithPath: folder).appendingPathComponent(text).path,
                                    "captions without an image: no \(stem(text)).png/.jpg beside it")
            }
            let path = URL(fileURLWithPath: folder).appendingPathComponent(text).path
            result[image] = try captionLines(path)
        }
        return result
    }

    /// The non-blank lines of a caption file, at most `maxCaptionsPerImage`.
    private func captionLines(_ path: String) throws -> [String] {
        guard let (data, truncated) = InputFile.read(path, limit: 1 << 20), !truncated else {
            throw StackGANError(.unusableInput, path, "cannot be read, not a regular file, or over 1 MiB of captions")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw StackGANError(.unusableInput, path, "not UTF-8 text") }
        let lines = textLines(text).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return Array(lines.prefix(Self.maxCaptionsPerImage))
    }

    /// `file<TAB>caption` lines; a line naming no image of the folder is an error naming the line.
    func readTSV(_ path: String, images: Set<String>) throws -> [String: [String]] {
        try requireFile(path, flag: "--captions")
        guard let (data, truncated) = InputFile.read(path, limit: 256 << 20), !truncated else {
            throw StackGANError(.unusableInput, path, "cannot be read, not a regular file, or over 256 MiB")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw StackGANError(.unusableInput, path, "not UTF-8 text") }
        var result: [String: [String]] = [:]
        for (n, line) in textLines(text).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let parts = line.split(separator: "\t", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw StackGANError(.unusableInput, "\(path): line \(n + 1)", "expected `file<TAB>caption`")
            }
            let file = parts[0].hasPrefix("./") ? String(parts[0].dropFirst(2)) : parts[0]
            guard images.contains(file) else {
                throw StackGANError(.unusableInput, "\(path): line \(n + 1)", "captions without an image: \(file) is not a .png/.jpg in \(folder)")
            }
            if result[file, default: []].count < Self.maxCaptionsPerImage { result[file, default: []].append(parts[1]) }
        }
        return result
    }
}
