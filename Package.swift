// swift-tools-version:5.9
// The tree reads as the pipeline: C libraries -> Kernels (oneDNN) -> Autograd (tensor, tape, ops)
// -> NN (layers, optimizers, checkpoints) -> StackGAN (models, training) -> stackgan (CLI).
// Datasets (HDF5, PNG, JPEG) stands beside the engine and meets it in StackGAN; both draw from
// Random. docs/architecture.md has the diagram.
import Foundation
import PackageDescription

let package = Package(
    name: "StackGAN",
    products: [
        .executable(name: "stackgan", targets: ["stackgan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C libraries, each imported by exactly one Swift module.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi"),

        .target(name: "Kernels", dependencies: ["CDNNL"]),
        // The one seeded generator, below both the engine and the data layer, which draw from it.
        .target(name: "Random"),
        .target(name: "Autograd", dependencies: ["Kernels", "Random"]),
        .target(name: "NN", dependencies: ["Autograd"]),
        .target(name: "Datasets", dependencies: ["CHDF5", "CPNG", "CTurboJPEG", "Random"]),
        // The only importer of CMPI: data-parallel training over MPI.
        .target(name: "Distributed", dependencies: ["CMPI"]),
        .target(name: "StackGAN", dependencies: ["NN", "Kernels", "Datasets", "Distributed", "Yams"]),
        // Captions -> embeddings (all-MiniLM-L6-v2) on the engine's kernels, inference only.
        .target(name: "TextEncoder", dependencies: ["NN", "Autograd", "Kernels"]),
        // `stackgan serve`: the page and the JSON API; the only importer of Hummingbird (swift-nio).
        .target(name: "Serve", dependencies: ["StackGAN", "TextEncoder", "Datasets", .product(name: "Hummingbird", package: "hummingbird")]),
        // The commands live in a library so tests can run them in-process.
        .target(name: "StackGANCLI", dependencies: [
            "StackGAN", "Autograd", "NN", "Kernels", "Datasets", "Distributed", "TextEncoder", "Serve", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "stackgan", dependencies: ["StackGANCLI"]),

        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StackGANCLITests", dependencies: ["StackGANCLI", "Serve"]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StackGANTests", dependencies: ["StackGAN"], resources: [.copy("Fixtures")]),
    ]
)

// scripts/fuzz.sh builds a libFuzzer harness over the file readers (Fuzz/); ordinary builds never see it.
if ProcessInfo.processInfo.environment["STACKGAN_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "stackgan-fuzz", dependencies: ["StackGAN", "StackGANCLI", "Autograd", "Datasets", "NN", "TextEncoder"], path: "Fuzz",
                                             swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
