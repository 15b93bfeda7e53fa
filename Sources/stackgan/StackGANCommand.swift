import ArgumentParser

@main
struct StackGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stackgan",
        abstract: "Text-to-image GANs (GAN-CLS, StackGAN) on a Swift + oneDNN engine.",
        subcommands: [Bench.self]
    )
}
