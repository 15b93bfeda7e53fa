import Autograd
import Datasets
import Foundation

/// The progress grid a run draws at intervals: the first `train.sample_count` examples of the
/// eval split (the train split if it has none), each with `train.samples_per_caption` fixed
/// noises, one row per caption; the same for every step and after a resume, so the grids show
/// the generator change and nothing else.
struct SampleGrid {
    /// One per row: the caption, or the example's name when it has none.
    let captions: [String]
    /// [rows x columns, E] and [rows x columns, z_dim].
    let embeddings: Tensor
    let noise: Tensor
    let columns: Int
    /// Seed of the CA eps each grid draws (the same every time).
    let seed: UInt64

    init(config: ExperimentConfig, dataset: TextImageDataset, options: DatasetOptions) throws {
        let t = config.train
        let evalSet = (try? TextImageDataset.open(path: config.data.path, split: config.data.evalSplit, options: options)) ?? dataset
        let rows = min(t.sampleCount, evalSet.count)
        var values: [Float] = []
        var captions: [String] = []
        for i in 0..<rows {
            captions.append(evalSet.captions[i].first ?? evalSet.names[i])
            for _ in 0..<t.samplesPerCaption { values += evalSet.embedding(i, caption: 0) }
        }
        self.captions = captions
        embeddings = try Tensor(shape: [rows * t.samplesPerCaption, evalSet.embeddingWidth], scalars: values)
        var noiseRNG = RandomGenerator(seed: t.seed &+ 1)
        noise = Tensor.randomNormal([rows * t.samplesPerCaption, config.model.noiseDimension], using: &noiseRNG)
        columns = t.samplesPerCaption
        seed = t.seed &+ 2
    }

    /// samples/captions.txt: "row k: caption".
    var captionLines: String { captions.enumerated().map { "row \($0.offset): \($0.element)" }.joined(separator: "\n") }

    /// The grid `generator` draws, in eval mode.
    func draw(_ generator: any TextToImageGenerator) throws -> RGBImage {
        var rng = RandomGenerator(seed: seed)
        let images = try withoutGradients {
            try generator(embedding: embeddings, noise: noise, training: false, using: &rng).image
        }
        return ImageGrid.tile(nchw: images.scalars, count: images.shape[0], size: images.shape[2], columns: columns)
    }
}
