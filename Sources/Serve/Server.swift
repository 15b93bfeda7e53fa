import Foundation
import Hummingbird

/// `ServeAPI` over HTTP/1.1 on Hummingbird: the one place that knows about swift-nio. Every request
/// goes to `ServeAPI.respond`; bodies are read up to `limits.maxBodyBytes` and no further.
public enum Server {
    /// Serves `api` on `host:port` (port 0: any free port) until SIGINT or SIGTERM, or until the
    /// calling task is cancelled. `onRunning` gets the port actually bound.
    public static func run(_ api: ServeAPI, host: String, port: Int, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let limit = api.limits.maxBodyBytes
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var body: [UInt8]?
            if request.method == .post {
                // A body past the limit stops being read there: nil, answered 400 by the API.
                body = (try? await request.body.collect(upTo: limit)).map { Array(buffer: $0) }
            }
            let reply = await api.respond(method: request.method.rawValue, path: request.uri.path, body: body)
            var headers: HTTPFields = [.contentType: reply.contentType, .cacheControl: "no-store"]
            if let seconds = reply.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
            return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
        }
        let app = Application(responder: responder,
                              configuration: .init(address: .hostname(host, port: port), serverName: "stackgan"),
                              onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) })
        try await app.runService()
    }
}
