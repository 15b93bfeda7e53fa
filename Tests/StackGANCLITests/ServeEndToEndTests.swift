import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// The built `stackgan serve` as a real process on a free loopback port: a bounded load test over
/// HTTP, and the page in headless Chromium driven by scripts/e2e_serve.py (Selenium). The browser
/// test needs scripts/install_browser_test.sh; it skips without it, except in CI (CI set).
final class ServeEndToEndTests: XCTestCase {
    typealias H = CommandHarness

    static let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("stackgan")

    /// A running `stackgan serve` on 127.0.0.1, stopped by the test's teardown.
    struct Server {
        let process: Process
        let port: Int
        var url: URL { URL(string: "http://127.0.0.1:\(port)/")! }
    }

    /// Lines the server printed, collected off its pipe.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func append(_ more: Data) { lock.withLock { data.append(more) } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }

    /// Starts the server on port 0 and waits (at most 120 s) for the line naming the bound port.
    func startServer(_ extra: [String] = []) throws -> Server {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no stackgan binary at \(Self.binary.path)")
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--checkpoint", try H.scaledCheckpoint(), "--host", "127.0.0.1", "--port", "0"] + extra
        process.currentDirectoryURL = H.root
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_WAIT_POLICY"] = "PASSIVE"
        process.environment = environment
        let pipe = Pipe(), output = Output()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        try process.run()
        addTeardownBlock {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
        }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && process.isRunning {
            if let range = output.text.range(of: #"http://127\.0\.0\.1:[0-9]+/"#, options: .regularExpression),
               let port = Int(output.text[range].dropFirst("http://127.0.0.1:".count).dropLast()) {
                return Server(process: process, port: port)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw XCTSkip("stackgan serve did not start: \(output.text.suffix(2000))")
    }

    /// The status codes of `count` POSTs to /api/generate from `clients` concurrent clients (each
    /// a different caption and seed), waited for at most `seconds`; -1 for a request without an answer.
    func load(_ server: Server, count: Int, clients: Int, seconds: Double) -> [Int] {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = clients
        configuration.timeoutIntervalForRequest = seconds
        let session = URLSession(configuration: configuration)
        let slots = DispatchSemaphore(value: clients), done = DispatchGroup()
        let statuses = Statuses(count: count)
        let shapes = ["star", "square", "circle", "triangle"], colours = ["red", "blue", "green", "yellow", "white"]
        for i in 0..<count {
            slots.wait()
            var request = URLRequest(url: server.url.appendingPathComponent("api/generate"))
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            let caption = "a \(colours[i % colours.count]) \(shapes[i % shapes.count]) on a black background"
            request.httpBody = Data(#"{"captions": ["\#(caption)"], "samples": 2, "seed": \#(i)}"#.utf8)
            done.enter()
            session.dataTask(with: request) { _, response, _ in
                statuses.set(i, (response as? HTTPURLResponse)?.statusCode ?? -1)
                slots.signal()
                done.leave()
            }.resume()
        }
        _ = done.wait(timeout: .now() + seconds)
        session.invalidateAndCancel()
        return statuses.values
    }

    /// The status of each load-test request, set from URLSession's threads.
    final class Statuses: @unchecked Sendable {
        private let lock = NSLock()
        private var codes: [Int]
        init(count: Int) { codes = Array(repeating: -1, count: count) }
        func set(_ i: Int, _ code: Int) { lock.withLock { codes[i] = code } }
        var values: [Int] { lock.withLock { codes } }
    }

    /// A process's peak resident memory (VmHWM) in MiB, from /proc.
    func peakMemoryMiB(_ pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try XCTUnwrap(Double(line.split(separator: " ").dropFirst().first ?? ""))
        return kilobytes / 1024
    }

    func testLoadOnLoopbackIsAnsweredWith200Or429() throws {
        let server = try startServer(["--max-waiting", "4"])
        let start = Date()
        let statuses = load(server, count: 200, clients: 20, seconds: 240)
        let elapsed = Date().timeIntervalSince(start)
        let ok = statuses.filter { $0 == 200 }.count, busy = statuses.filter { $0 == 429 }.count
        let peak = try peakMemoryMiB(server.process.processIdentifier)
        print("serve load: 200 requests from 20 clients in \(String(format: "%.1f", elapsed)) s: \(ok) x 200, \(busy) x 429, \(200 - ok - busy) other; server peak memory (VmHWM) \(String(format: "%.0f", peak)) MiB")
        XCTAssertEqual(ok + busy, 200, "every request is answered 200 or 429: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        XCTAssertGreaterThan(ok, 0)
        XCTAssertTrue(server.process.isRunning, "the server survives the load")
        let health = try Data(contentsOf: server.url.appendingPathComponent("api/health"))
        XCTAssert(String(decoding: health, as: UTF8.self).contains(#""pending":0"#), "the queue drains")
        XCTAssertLessThan(peak, 2048, "peak memory stays bounded")
    }

    func testThePageInChromium() throws {
        let python = H.root.appendingPathComponent(".venv-e2e/bin/python").path
        let tools = [python, "/usr/bin/chromium", "/usr/bin/chromedriver"]
        let missing = tools.filter { !FileManager.default.isExecutableFile(atPath: $0) }
        if !missing.isEmpty {
            if ProcessInfo.processInfo.environment["CI"] == nil {
                throw XCTSkip("\(missing.joined(separator: ", ")) missing: run scripts/install_browser_test.sh for the browser test")
            }
            XCTFail("CI must run the browser test; \(missing.joined(separator: ", ")) missing (scripts/install_browser_test.sh)")
            return
        }
        let server = try startServer()
        let screenshot = try H.temporaryFolder(for: self).appendingPathComponent("serve.png")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [H.root.appendingPathComponent("scripts/e2e_serve.py").path, "--url", server.url.absoluteString,
                             "--size", "64", "--screenshot", screenshot.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Bounded: the script's own waits are 60 s; past 180 s it is stopped.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: watchdog)
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        print(text)
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssert(text.contains("e2e_serve: ok: 8 PNGs of 64x64"), text)
        let image = try H.png(screenshot)
        XCTAssertGreaterThan(image.width, 800)
    }
}
