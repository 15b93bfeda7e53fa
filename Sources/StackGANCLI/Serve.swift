import ArgumentParser
import Foundation
import Serve
import StackGAN

/// `stackgan serve`: a page and a JSON API on which a caption becomes images, on one loaded model.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a page and a JSON API that draw images for typed captions.",
        discussion: """
        Loads the checkpoint and the sentence encoder once, then answers GET / (the page), GET /api/health, \
        POST /api/generate {"captions": [...], "samples": k, "seed": s} and POST /api/interpolate {"captions": [a, b], "steps": n, "seed": s} \
        with base64 PNGs in JSON. One request draws at a time; more than --max-waiting waiting get 429. \
        Listens on 127.0.0.1 unless --host says otherwise, and answers only requests addressed to that address, \
        localhost or an IP address at its port, from its own page or a script (POSTs must be application/json), \
        so that other web pages open in a browser cannot use it. Ctrl-C stops it.
        Example: stackgan serve --checkpoint runs/shapes_stage1/checkpoint.safetensors --port 8080
        """)

    @Option(help: "A checkpoint written by `stackgan train`.") var checkpoint: String
    @Option(name: .customLong("stage1"), help: "The Stage-I checkpoint, for a Stage-II checkpoint without STAGE1_G.* tensors.")
    var stageOneCheckpoint: String?
    @Option(help: "The address to listen on (127.0.0.1: this machine only).") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(help: "Requests that may wait behind the one being drawn before others get 429 (0...256).") var maxWaiting = 8
    @OptionGroup var encoder: EncoderOptions

    func run() throws {
        guard (0...65535).contains(port) else { throw StackGANError.usage("--port must be in 0...65535, got \(port)") }
        guard (0...256).contains(maxWaiting) else { throw StackGANError.usage("--max-waiting must be in 0...256, got \(maxWaiting)") }
        guard !host.isEmpty else { throw StackGANError.usage("--host is empty; expected an address such as 127.0.0.1") }
        try requireFile(checkpoint, flag: "--checkpoint")
        if let stageOneCheckpoint { try requireFile(stageOneCheckpoint, flag: "--stage1") }
        let sampler = try Sampler(checkpoint: checkpoint, stageOneCheckpoint: stageOneCheckpoint)
        let api = try ServeAPI(sampler: sampler, encoder: try encoder.load(),
                               checkpointName: URL(fileURLWithPath: checkpoint).lastPathComponent, listeningHost: host, maxWaiting: maxWaiting)
        let (host, size) = (self.host, sampler.imageSize)
        // ArgumentParser's run() is synchronous: the server runs in a task and this thread waits.
        let finished = DispatchSemaphore(value: 0)
        let outcome = ErrorBox()
        Task {
            do {
                try await Server.run(api, host: host, port: port) { bound in
                    // Unbuffered, so a script or a test reading stdout sees the port at once.
                    FileHandle.standardOutput.write(Data("stackgan serve: http://\(host):\(bound)/ (\(size)x\(size) images); Ctrl-C stops\n".utf8))
                }
            } catch {
                outcome.error = error
            }
            finished.signal()
        }
        finished.wait()
        if let error = outcome.error { throw StackGANError.output("serving on \(host):\(port) failed: \(error)") }
    }
}

/// The server task's error, handed to the waiting thread after the semaphore (which orders the accesses).
private final class ErrorBox: @unchecked Sendable {
    var error: (any Error)?
}
