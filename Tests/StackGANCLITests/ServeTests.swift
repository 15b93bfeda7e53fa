import Datasets
import Foundation
import Serve
import StackGAN
import TextEncoder
import XCTest

/// `stackgan serve`'s routes in-process (`ServeAPI.respond`, what the HTTP server calls): the
/// images equal `stackgan generate`'s, interpolation ends are plain samples, bad requests get a
/// 400 naming the field, a full queue a 429. ServeEndToEndTests covers HTTP, the page and load.
final class ServeTests: XCTestCase {
    typealias H = CommandHarness

    /// One API over the scaled tiny checkpoint, loaded once (the model and encoder load is the slow part).
    static func api(maxWaiting: Int = 8) throws -> ServeAPI {
        let sampler = try Sampler(checkpoint: try H.scaledCheckpoint())
        let encoder = try SentenceEncoder(folder: try SentenceEncoder.locate(nil))
        return try ServeAPI(sampler: sampler, encoder: encoder, checkpointName: "scaled.safetensors", maxWaiting: maxWaiting)
    }

    private static var shared: ServeAPI?
    func api() throws -> ServeAPI {
        if let shared = Self.shared { return shared }
        Self.shared = try Self.api()
        return try XCTUnwrap(Self.shared)
    }

    func post(_ path: String, _ json: String, api: ServeAPI? = nil) async throws -> (status: Int, object: [String: Any]) {
        let reply = await (try api ?? self.api()).respond(method: "POST", path: path, body: Array(json.utf8), caller: .local)
        XCTAssertEqual(reply.contentType, "application/json")
        return (reply.status, try XCTUnwrap(JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any]))
    }

    /// The PNG bytes of each image in a reply, in order.
    func pngs(_ object: [String: Any]) throws -> [Data] {
        let images = try XCTUnwrap(object["images"] as? [[String: Any]])
        return try images.map { try XCTUnwrap(Data(base64Encoded: try XCTUnwrap($0["png"] as? String))) }
    }

    func testGenerateDrawsWhatTheCommandLineDrawsAndTheWalkEndsOnItsSamples() async throws {
        let captions = ["a big red star on a black background", "a small blue circle"]
        let reply = try await post("/api/generate", #"{"captions": ["\#(captions[0])", "\#(captions[1])"], "samples": 3, "seed": 5}"#)
        XCTAssertEqual(reply.status, 200, "\(reply.object)")
        XCTAssertEqual(reply.object["imageSize"] as? Int, 64)
        let served = try pngs(reply.object)
        XCTAssertEqual(served.count, 6)
        let order = try XCTUnwrap(reply.object["images"] as? [[String: Any]]).map { "\($0["caption"] ?? "")/\($0["sample"] ?? "")" }
        XCTAssertEqual(order, ["0/0", "0/1", "0/2", "1/0", "1/1", "1/2"])

        // `generate` run once per caption: the server embeds captions one at a time (the
        // encoder's batches round differently with their size).
        for c in 0..<2 {
            let folder = try H.temporaryFolder(for: self)
            let cli = H.run(["generate", "--checkpoint", try H.scaledCheckpoint(), "--caption", captions[c],
                             "--samples-per-caption", "3", "--seed", "5", "--out", folder.path])
            XCTAssertEqual(cli.code, 0, cli.error)
            for s in 0..<3 {
                let file = try Data(contentsOf: folder.appendingPathComponent(String(format: "caption000_sample%02d.png", s)))
                XCTAssertEqual(served[c * 3 + s], file, "caption \(c) sample \(s) differs from stackgan generate's")
                let image = try ImageCodec.decodePNG([UInt8](served[c * 3 + s]))
                XCTAssertEqual([image.width, image.height], [64, 64])
            }
        }
        XCTAssertNotEqual(served[0], served[1], "samples differ with z")
        XCTAssertNotEqual(served[0], served[3], "captions differ")

        // One caption per request (what the page sends) gives the same images: column k's noise
        // does not depend on the other captions.
        let alone = try await post("/api/generate", #"{"captions": ["\#(captions[1])"], "samples": 3, "seed": 5}"#)
        XCTAssertEqual(try pngs(alone.object), Array(served[3..<6]))

        let walk = try await post("/api/interpolate", #"{"captions": ["\#(captions[0])", "\#(captions[1])"], "steps": 5, "seed": 5}"#)
        XCTAssertEqual(walk.status, 200, "\(walk.object)")
        let steps = try pngs(walk.object)
        XCTAssertEqual(steps.count, 5)
        XCTAssertEqual(steps.first, served[0], "the walk starts at caption 0's sample 0")
        XCTAssertEqual(steps.last, served[3], "the walk ends at caption 1's sample 0")
        XCTAssertNotEqual(steps[2], steps[0])
    }

    func testPageAndHealth() async throws {
        let api = try api()
        let page = await api.respond(method: "GET", path: "/", body: nil, caller: .local)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.contentType, "text/html; charset=utf-8")
        let html = String(decoding: page.body, as: UTF8.self)
        for part in ["id=\"generate\"", "id=\"walk-slider\"", "/api/generate", "/api/interpolate", "history.replaceState"] {
            XCTAssert(html.contains(part), part)
        }
        // Nothing from elsewhere: no CDN, no web font, no external script or stylesheet.
        for outside in ["http://", "https://", "<script src", "<link", "@import", "url("] {
            XCTAssertFalse(html.contains(outside), outside)
        }

        let health = await api.respond(method: "GET", path: "/api/health", body: nil, caller: .local)
        XCTAssertEqual(health.status, 200)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(health.body)) as? [String: Any])
        XCTAssertEqual(object["status"] as? String, "ok")
        XCTAssertEqual(object["imageSize"] as? Int, 64)
        XCTAssertEqual((object["limits"] as? [String: Any])?["maxSamples"] as? Int, 8)

        let missing = await api.respond(method: "GET", path: "/etc/passwd", body: nil, caller: .local)
        XCTAssertEqual(missing.status, 404)
        let wrongMethod = await api.respond(method: "GET", path: "/api/generate", body: nil, caller: .local)
        XCTAssertEqual(wrongMethod.status, 405)
    }

    func testBadRequestsAre400sNamingTheField() async throws {
        let long = String(repeating: "a", count: 301)
        let cases: [(body: String, says: String)] = [
            ("", "body: empty"),
            ("{not json", "body: not valid JSON"),
            ("[1, 2]", "body: expected a JSON object"),
            (#"{"samples": 2}"#, "captions: missing"),
            (#"{"captions": "a red star"}"#, "captions: expected an array"),
            (#"{"captions": ["a", 3]}"#, "captions[1]: expected a string"),
            (#"{"captions": null}"#, "captions: expected"),
            (#"{"captions": []}"#, "captions: empty"),
            (#"{"captions": ["a", "  "]}"#, "captions[1]: empty"),
            (#"{"captions": ["\#(long)"]}"#, "captions[0]: 301 characters; at most 300"),
            (#"{"captions": ["a","a","a","a","a","a","a","a","a"]}"#, "captions: 9 given; at most 8"),
            (#"{"captions": ["a"], "samples": "4"}"#, "samples: expected a number"),
            (#"{"captions": ["a"], "sample": 4}"#, "sample: unknown field; expected captions, samples, seed"),
            (#"{"captions": ["a"], "samples": 0}"#, "samples: 0; expected an integer in 1...8"),
            (#"{"captions": ["a"], "samples": 1000000000}"#, "samples: 1000000000; expected an integer in 1...8"),
            (#"{"captions": ["a"], "samples": 1e300}"#, "samples: 1e+300; expected an integer in 1...8"),
            (#"{"captions": ["a"], "samples": 2.5}"#, "samples: 2.5; expected an integer in 1...8"),
            (#"{"captions": ["a"], "seed": -1}"#, "seed: -1; expected an integer in 0...4294967295"),
            (#"{"captions": ["a"], "seed": 4294967296}"#, "seed: 4294967296; expected an integer in 0...4294967295"),
        ]
        for (body, says) in cases {
            let reply = try await post("/api/generate", body)
            XCTAssertEqual(reply.status, 400, body)
            let message = try XCTUnwrap(reply.object["error"] as? String, body)
            XCTAssert(message.hasPrefix(says), "\(body): \(message)")
        }
        let walkOfOne = try await post("/api/interpolate", #"{"captions": ["a"]}"#)
        XCTAssertEqual(walkOfOne.status, 400)
        XCTAssert((walkOfOne.object["error"] as? String ?? "").hasPrefix("captions: 1 given; interpolation walks between exactly 2"))
        let samplesInAWalk = try await post("/api/interpolate", #"{"captions": ["a", "b"], "samples": 2}"#)
        XCTAssertEqual(samplesInAWalk.object["error"] as? String, "samples: unknown field; expected captions, steps, seed")
        let tooManySteps = try await post("/api/interpolate", #"{"captions": ["a", "b"], "steps": 17}"#)
        XCTAssertEqual(tooManySteps.object["error"] as? String, "steps: 17; expected an integer in 2...16")

        // The HTTP layer stops reading a body past the limit and hands nil.
        let api = try api()
        let huge = await api.respond(method: "POST", path: "/api/generate", body: nil, caller: .local)
        XCTAssertEqual(huge.status, 400)
        XCTAssert(String(decoding: huge.body, as: UTF8.self).contains("body: more than 32768 bytes"))
    }

    /// Issue 28: a web page open in the user's browser could make the server work with a
    /// `text/plain` POST (no CORS preflight) or reach it under a host name rebound to 127.0.0.1.
    func testOnlyThisMachinesPageAndScriptsAreAnswered() async throws {
        let api = try api()
        let body = Array(#"{"captions": ["a red star"], "samples": 1}"#.utf8)
        func status(_ caller: ServeAPI.Caller, method: String = "POST") async -> (Int, String) {
            let reply = await api.respond(method: method, path: method == "POST" ? "/api/generate" : "/api/health", body: body, caller: caller)
            return (reply.status, String(decoding: reply.body, as: UTF8.self))
        }
        for (caller, expected) in [
            (ServeAPI.Caller(host: "127.0.0.1:8080", contentType: "text/plain", port: 8080), "Content-Type text/plain: expected application/json"),
            (ServeAPI.Caller(host: "127.0.0.1:8080", port: 8080), "Content-Type missing"),
            (ServeAPI.Caller(host: "evil.example:8080", contentType: "application/json", port: 8080), "Host evil.example:8080"),
            (ServeAPI.Caller(host: "127.0.0.1:9999", contentType: "application/json", port: 8080), "Host 127.0.0.1:9999"),
            (ServeAPI.Caller(host: nil, contentType: "application/json", port: 8080), "Host header: missing"),
            (ServeAPI.Caller(host: "127.0.0.1:8080", origin: "http://evil.example", contentType: "application/json", port: 8080), "Origin http://evil.example"),
            (ServeAPI.Caller(host: "127.0.0.1:8080", origin: "null", contentType: "application/json", port: 8080), "Origin null"),
        ] {
            let (code, text) = await status(caller)
            XCTAssertEqual(code, caller.contentType == "application/json" ? 403 : 415, text)
            XCTAssertTrue(text.contains(expected), text)
        }
        let (code, text) = await status(ServeAPI.Caller(host: "evil.example", port: 80), method: "GET")
        XCTAssertEqual(code, 403, text)
        // The server's own page (same origin), localhost, an IPv6 literal and scripts without Origin are answered.
        for caller in [ServeAPI.Caller(host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", contentType: "application/json; charset=utf-8", port: 8080),
                       ServeAPI.Caller(host: "localhost:8080", contentType: "application/json", port: 8080),
                       ServeAPI.Caller(host: "[::1]:8080", origin: "http://[::1]:8080", contentType: "application/json", port: 8080)] {
            let (code, text) = await status(caller)
            XCTAssertEqual(code, 200, text)
        }
        // 7. A caption with nothing in it to embed is empty like a blank one.
        for nothing in ["\u{200B}", "\u{FEFF}\u{00AD}", "\u{0301}", "\u{0}"] {
            let json = String(decoding: try JSONEncoder().encode(["captions": [nothing]]), as: UTF8.self)
            let reply = try await post("/api/generate", json)
            XCTAssertEqual(reply.status, 400)
            XCTAssertTrue((reply.object["error"] as? String ?? "").hasPrefix("captions[0]: empty"), "\(reply.object)")
        }
    }

    func testAFullQueueAnswers429AndRecovers() async throws {
        let api = try Self.api(maxWaiting: 0)
        let release = DispatchSemaphore(value: 0)
        // Holds the queue's only place, as a long generation would.
        let holder = Task { try await api.queue.submit { release.wait() } }
        for _ in 0..<500 where api.queue.pending == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        XCTAssertEqual(api.queue.pending, 1)

        let busy = await api.respond(method: "POST", path: "/api/generate", body: Array(#"{"captions": ["a red star"], "samples": 1}"#.utf8), caller: .local)
        XCTAssertEqual(busy.status, 429)
        XCTAssertEqual(busy.retryAfterSeconds, 1)
        XCTAssert(String(decoding: busy.body, as: UTF8.self).contains("busy: 0 requests are already waiting"))

        release.signal()
        _ = try await holder.value
        let after = try await post("/api/generate", #"{"captions": ["a red star"], "samples": 1}"#, api: api)
        XCTAssertEqual(after.status, 200)
        XCTAssertEqual(api.queue.pending, 0)
    }
}

extension ServeTests {
    func testCommandLineRefusesBadFlagsBeforeServing() throws {
        let checkpoint = try H.scaledCheckpoint()
        let port = H.run(["serve", "--checkpoint", checkpoint, "--port", "70000"])
        XCTAssertEqual(port.code, 2)
        XCTAssert(port.error.contains("--port must be in 0...65535, got 70000"), port.error)
        let waiting = H.run(["serve", "--checkpoint", checkpoint, "--max-waiting", "1000"])
        XCTAssertEqual(waiting.code, 2)
        XCTAssert(waiting.error.contains("--max-waiting must be in 0...256"), waiting.error)
        let missing = H.run(["serve", "--checkpoint", "/nonexistent/c.safetensors"])
        XCTAssertEqual(missing.code, 2)
        XCTAssert(missing.error.contains("--checkpoint /nonexistent/c.safetensors: no such file"), missing.error)
        let unreachable = H.run(["serve", "--checkpoint", checkpoint, "--host", "no-such-host.invalid", "--port", "0"])
        XCTAssertEqual(unreachable.code, 1)
        XCTAssert(unreachable.error.contains("serving on no-such-host.invalid:0 failed"), unreachable.error)
    }
}

extension ServeAPI.Caller {
    /// What a script on this machine sends to a server on 127.0.0.1:8080.
    static let local = ServeAPI.Caller(host: "127.0.0.1:8080", contentType: "application/json", port: 8080)
}
