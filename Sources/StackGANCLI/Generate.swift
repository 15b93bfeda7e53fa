import ArgumentParser
import Datasets
import Foundation
import Kernels
import StackGAN

/// `stackgan generate`: images from a checkpoint for captions given as a `.npy` of embeddings or
/// picked from a dataset, as one PNG per image plus a grid (one row per caption) and captions.txt.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from a checkpoint for caption embeddings (.npy) or dataset captions.",
        discussion: """
        Writes to --out (created if needed; other files there are kept, same-named ones replaced atomically): \
        captionNNN_sampleKK.png per image, grid.png (one row per caption, one column per sample) and captions.txt. \
        Column k uses the same z and CA noise for every caption. --interpolate writes one row of --steps images \
        instead: between the first two selected captions (column 0's noise), or from column 0's noise to column 1's \
        for the first caption; the ends are the plain samples.
        Example: stackgan generate --checkpoint runs/shapes_stage1/checkpoint.safetensors --dataset data/shapes.h5 --indices 0,5,7 --out out/
        """)

    enum Interpolation: String, ExpressibleByArgument, CaseIterable { case captions, noise }

    /// Pixels generated per call (16384 images of 64 px, 1024 of 256 px: about 800 MB of floats).
    static let maxPixels = 1 << 26

    @Option(help: "A checkpoint written by `stackgan train`.") var checkpoint: String
    @Option(name: .customLong("stage1"), help: "The Stage-I checkpoint, for a Stage-II checkpoint without STAGE1_G.* tensors.")
    var stageOneCheckpoint: String?
    @Option(help: "Caption embeddings: .npy float32/float64 of shape (N, E) or (E,).") var embeddings: String?
    @Option(help: "An HDF5 dataset to take caption embeddings and texts from.") var dataset: String?
    @Option(help: "A caption to draw, embedded by the sentence encoder (repeatable).") var caption: [String] = []
    @Option(help: "A text file of captions to draw, one per line.") var captions: String?
    @OptionGroup var encoder: EncoderOptions
    @Option(help: "The dataset split.") var split = "test"
    @Option(help: "Comma-separated rows/examples to use, e.g. 0,5,7 (default: all .npy rows, the first 8 dataset examples).")
    var indices: String?
    @Option(help: "Noise z: .npy of shape (K, z) or (z,); column k uses row k (default: drawn from --seed).") var noise: String?
    @Option(help: "Images per caption (default: the --noise rows, else 4).") var samplesPerCaption: Int?
    @Option(help: "Seed for the noise z and the CA noise.") var seed: UInt64 = 0
    @Option(help: "Write one interpolation row: captions or noise.") var interpolate: Interpolation?
    @Option(help: "Images in an interpolation row, 2...64 (default 8; only with --interpolate).") var steps: Int?
    @Option(help: "The output folder.") var out: String
    @Option(help: "Convolution arithmetic: fp32, or bf16 on a CPU with AVX512-BF16 or AMX.") var precision: Precision = .fp32

    /// One caption to draw: where it came from, for file names and captions.txt.
    struct Caption {
        let index: Int
        let label: String
        let embedding: [Float]
    }

    func run() throws {
        let sources = [embeddings.map { _ in "--embeddings" }, dataset.map { _ in "--dataset" },
                       caption.isEmpty ? nil : "--caption", captions.map { _ in "--captions" }].compactMap { $0 }
        guard sources.count == 1 else {
            throw StackGANError.usage(sources.isEmpty ? "generate needs --caption TEXT, --captions FILE.txt, --embeddings FILE.npy or --dataset FILE.h5"
                                                      : "\(sources.joined(separator: " and ")) both given; pass one caption source")
        }
        if let k = samplesPerCaption, !(1...64).contains(k) { throw StackGANError.usage("--samples-per-caption must be in 1...64, got \(k)") }
        if interpolate != nil {
            guard (2...64).contains(steps ?? 8) else { throw StackGANError.usage("--steps must be in 2...64 for --interpolate, got \(steps ?? 8)") }
            guard samplesPerCaption == nil else { throw StackGANError.usage("--samples-per-caption does not apply to --interpolate (one row of --steps images)") }
        } else if steps != nil {
            throw StackGANError.usage("--steps applies only to --interpolate (the images in its row)")
        }
        try requireFile(checkpoint, flag: "--checkpoint")
        if let stageOneCheckpoint { try requireFile(stageOneCheckpoint, flag: "--stage1") }
        if let embeddings { try requireFile(embeddings, flag: "--embeddings") }
        if let dataset { try requireFile(dataset, flag: "--dataset") }
        if let captions { try requireFile(captions, flag: "--captions") }
        if let noise { try requireFile(noise, flag: "--noise") }
        let selection = try indices.map(parseIndices)
        try precision.activate(setting: "--precision")

        let sampler = try Sampler(checkpoint: checkpoint, stageOneCheckpoint: stageOneCheckpoint)
        let captions = try loadCaptions(sampler: sampler, selection: selection)
        let noiseRows = try noise.map { try readRows($0, width: sampler.noiseWidth, what: "noise z") } ?? []
        let (jobs, fileNames, columns, rowLabels) = try plan(sampler: sampler, captions: captions, noiseRows: noiseRows)
        // All images are held in memory (as floats) until the grid is written: bounded up front.
        let limit = Self.maxPixels / (sampler.imageSize * sampler.imageSize)
        guard jobs.count <= limit else {
            throw StackGANError.usage("\(jobs.count) images of \(sampler.imageSize) px requested; at most \(limit) per call (select fewer captions with --indices or fewer --samples-per-caption)")
        }

        // Before the expensive part, so an unwritable --out, or one whose files are inputs, costs nothing.
        let folder = URL(fileURLWithPath: out)
        try makeFolder(out, what: "output folder")
        let inputs = [checkpoint, stageOneCheckpoint, embeddings, dataset, self.captions, noise].compactMap { $0 }
        let files = try (fileNames + ["grid.png", "captions.txt"]).map {
            try OutputFile(folder.appendingPathComponent($0).path, inputs: inputs)
        }

        let images = try sampler.draw(jobs)
        for (image, file) in zip(images, files) { try ImageCodec.writePNG(image, to: file) }
        let size = sampler.imageSize
        let (grid, captionsFile) = (files[jobs.count], files[jobs.count + 1])
        try ImageCodec.writePNG(ImageGrid.tile(images, columns: columns), to: grid)
        let text = rowLabels.enumerated().map { "row \($0.offset): \($0.element)" }.joined(separator: "\n") + "\n"
        try captionsFile.write(Data(text.utf8))
        print("wrote \(jobs.count) images of \(size)x\(size) to \(out) (grid \(grid.path), rows in \(captionsFile.path))")
        if let source = sampler.stageOneSource, source != checkpoint { print("Stage-I weights from \(source)") }
    }

    /// The selected captions, with their embeddings checked against the model's width.
    private func loadCaptions(sampler: Sampler, selection: [Int]?) throws -> [Caption] {
        if !caption.isEmpty || captions != nil {
            let texts = try captions.map { try readCaptionLines($0, flag: "--captions") } ?? caption
            let model = try encoder.load()
            guard sampler.embeddingWidth == model.width else {
                throw StackGANError(.unusableInput, checkpoint,
                                    "embedding_dim \(sampler.embeddingWidth), but the sentence encoder (\(model.folder)) gives \(model.width)-d embeddings: text captions need a checkpoint trained on that encoder's embeddings (give this one --embeddings)")
            }
            let vectors = try embedCaptions(texts, with: model, source: captions ?? "--caption") { i in captions.map { "\($0): line \(i + 1)" } ?? "--caption number \(i + 1)" }
            let chosen = try check(selection ?? Array(texts.indices), count: texts.count,
                                   source: captions.map { "\($0) has \(texts.count) captions" } ?? "\(texts.count) --caption given")
            return chosen.map { Caption(index: $0, label: "caption \($0): \(texts[$0])",
                                        embedding: Array(vectors[($0 * model.width)..<(($0 + 1) * model.width)])) }
        }
        if let embeddings {
            let array = try Npy.readEmbeddings(path: embeddings, expectedWidth: sampler.embeddingWidth)
            let (n, e) = (array.shape[0], array.shape[1])
            let chosen = try check(selection ?? Array(0..<n), count: n, source: "\(embeddings) has \(n) rows")
            return chosen.map { Caption(index: $0, label: "caption \($0) (row \($0) of \(embeddings))",
                                        embedding: Array(array.values[($0 * e)..<(($0 + 1) * e)])) }
        }
        guard let dataset else { throw StackGANError.usage("generate needs --embeddings FILE.npy or --dataset FILE.h5") }
        let options = sampler.config.data.datasetOptions(embeddingWidth: sampler.embeddingWidth)
        let data = try TextImageDataset.open(path: dataset, split: split, options: options)
        let chosen = try check(selection ?? Array(0..<min(8, data.count)),
                               count: data.count, source: "the \(split) split of \(dataset) has \(data.count) examples")
        return chosen.map { i in
            let text = data.captions[i].first.map { ": \($0)" } ?? ""
            return Caption(index: i, label: "caption \(i) (\(split) example '\(data.names[i])')\(text)",
                           embedding: Array(data.embedding(i, caption: 0)))
        }
    }

    /// The images to make with their file names, the grid's column count and one label per grid row.
    private func plan(sampler: Sampler, captions: [Caption], noiseRows: [[Float]]) throws -> ([ImageJob], [String], Int, [String]) {
        guard let first = captions.first else { throw StackGANError.usage("no captions selected") }
        switch interpolate {
        case .captions:
            guard captions.count >= 2 else {
                throw StackGANError.usage("--interpolate captions needs two captions; \(captions.count) selected (use --indices A,B)")
            }
            let second = captions[1], steps = self.steps ?? 8
            let jobs = sampler.captionWalk(from: first.embedding, to: second.embedding, steps: steps, seed: seed, noise: noiseRows.first)
            let names = jobs.map { String(format: "interp_captions_%03d_%03d_step%02d.png", first.index, second.index, $0.column) }
            return (jobs, names, steps, ["\(first.label) -> \(second.label), \(steps) steps, one noise"])
        case .noise:
            guard noise == nil || noiseRows.count >= 2 else {
                throw StackGANError.usage("--interpolate noise needs two noise rows; \(noise ?? "") has \(noiseRows.count)")
            }
            let steps = self.steps ?? 8
            let jobs = sampler.noiseWalk(caption: first.embedding, steps: steps, seed: seed, noise: noiseRows.isEmpty ? nil : noiseRows)
            let names = jobs.map { String(format: "interp_noise_caption%03d_step%02d.png", first.index, $0.column) }
            return (jobs, names, steps, ["\(first.label), noise row 0 -> row 1, \(steps) steps"])
        case nil:
            let k = samplesPerCaption ?? (noiseRows.isEmpty ? 4 : noiseRows.count)
            guard k <= 64 else {
                throw StackGANError.usage("\(noise ?? "--noise") has \(k) rows, one sample per caption each; at most 64 (pass --samples-per-caption K to use the first K)")
            }
            if let noise, noiseRows.count < k {
                throw StackGANError.usage("--samples-per-caption \(k) needs \(k) noise rows; \(noise) has \(noiseRows.count)")
            }
            let jobs = sampler.sampleJobs(captions: captions.map(\.embedding), samples: k, seed: seed, noise: noiseRows.isEmpty ? nil : noiseRows)
            let names = jobs.map { String(format: "caption%03d_sample%02d.png", captions[$0.caption].index, $0.column) }
            return (jobs, names, k, captions.map(\.label))
        }
    }

    private func parseIndices(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { part in
            guard let i = Int(part) else { throw StackGANError.usage("--indices \(text): '\(part)' is not an integer (expected e.g. 0,5,7)") }
            return i
        }
    }

    private func check(_ selection: [Int], count: Int, source: String) throws -> [Int] {
        if let bad = selection.first(where: { !(0..<count).contains($0) }) {
            throw StackGANError.usage("--indices \(bad) is out of range: \(source) (0..<\(count))")
        }
        guard !selection.isEmpty else { throw StackGANError.usage("no captions selected: \(source)") }
        return selection
    }

    /// Rows of a (K, width) or (width,) float .npy, finite.
    private func readRows(_ path: String, width: Int, what: String) throws -> [[Float]] {
        var array = try Npy.read(path: path)
        if array.shape.count == 1 { array.shape = [1] + array.shape }
        guard array.shape.count == 2, array.shape[0] > 0 else {
            throw DatasetError(.wrongRank, file: path, path: "shape", "shape \(array.shape); expected (K, \(width)) or (\(width),) \(what)")
        }
        guard array.shape[1] == width else {
            throw DatasetError(.widthMismatch, file: path, path: "shape", "\(what) width \(array.shape[1]); the checkpoint's z_dim is \(width)")
        }
        if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
            throw DatasetError(.invalidValue, file: path, path: "row \(bad / width)", "value \(array.values[bad]); expected finite \(what)")
        }
        return (0..<array.shape[0]).map { Array(array.values[($0 * width)..<(($0 + 1) * width)]) }
    }
}

extension Precision: ExpressibleByArgument {}
