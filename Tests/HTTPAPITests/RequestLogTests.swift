import Logging
import Synchronization
import Testing

/// What the server logs of a request: its method and path, never its query string.
@Suite struct RequestLogTests {
    /// Keeps every message logged, with its metadata, for a test to read.
    final class Recording: Sendable {
        let lines = Mutex<[String]>([])

        func handler(label: String) -> some LogHandler { Handler(recording: self) }

        struct Handler: LogHandler {
            let recording: Recording
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let all = metadata.merging(event.metadata ?? [:]) { $1 }
                recording.lines.withLock { $0.append("\(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))") }
            }
        }
    }

    /// A token sent in the query string by mistake is refused (401) and does not reach the log.
    @Test func aTokenInTheQueryStringIsNotLogged() async throws {
        let fixture = try await APIFixture()
        let recording = Recording()
        let logger = Logger(label: "test") { recording.handler(label: $0) }
        try await fixture.withServer(logger: logger) { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/?access_token=\(token)", token: nil)
            #expect(reply.status == .unauthorized)
            let logged = recording.lines.withLock { $0 }
            #expect(logged.contains { $0.contains("hb.request.path=/api/ver1.0/client/\(fixture.acme.clientID)/") })
            #expect(!logged.contains { $0.contains(token) || $0.contains("access_token") }, "\(logged)")
        }
    }
}
