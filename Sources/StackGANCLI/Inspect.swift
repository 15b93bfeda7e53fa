import ArgumentParser
import Datasets
import Foundation
import StackGAN

/// `stackgan inspect`: forwards to `DatasetInspector.report`, so the CLI and the library say the same.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe an HDF5 dataset: layout, splits, counts, embedding width, captions; optionally a PNG grid.",
        discussion: "Example: stackgan inspect data/shapes.h5 --grid shapes.png --samples 16")

    @Argument(help: "An HDF5 dataset file.") var file: String
    @Option(help: "Also write a PNG grid of the first split's images to this path.") var grid: String?
    @Option(help: "Images in the grid.") var samples = 16

    func run() throws {
        try requireFile(file, flag: "inspect")
        guard samples >= 1 else { throw StackGANError.usage("--samples must be at least 1, got \(samples)") }
        let output = try grid.map { try namedOutput($0, flag: "--grid", inputs: [file]) }
        print(try DatasetInspector.report(path: file, grid: output, samples: samples))
    }
}
