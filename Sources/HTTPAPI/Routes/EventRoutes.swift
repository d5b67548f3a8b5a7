import Admission
import Domain
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import Storage

/// `GET /client/{client_id}/quality_rate/events` (issue 10): the client's new ratings as they are
/// stored, as Server-Sent Events (`RatingEventStream` decides what is sent; this only reads the
/// store, waits and writes). A stream holds an HTTP connection for as long as it runs, so their
/// number is bounded per client and in all (`HTTPLimits`), and each ends when the server stops.
struct EventRoutes {
    let store: any Store
    /// Places for open streams, keyed by client id.
    let streams: ConnectionGate

    init(store: any Store, limits: HTTPLimits) {
        self.store = store
        streams = ConnectionGate(
            maximum: limits.maximumEventStreams, maximumPerAddress: limits.maximumEventStreamsPerClient,
            name: "qualityrate_event_streams")
    }

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/quality_rate/events", events)
    }

    @Sendable func events(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let parameters = try QueryParameters(request.uri.query)
        let start: Int64
        switch RatingEventStream.resumePoint(lastEventID: request.headers[HTTPField.Name("Last-Event-ID")!], afterID: parameters["after_id"]) {
        case .newest:
            start = try await store.newestRatingID()
        case .malformed(let source, let text):
            throw APIError.badParameter(source.rawValue, expected: "the id of a rating (a positive integer)", got: text)
        case .after(let id, let source):
            guard try await store.rating(clientID: clientID, id: id) != nil else {
                throw APIError.badParameter(
                    source.rawValue, "no rating \(id) for this client; pass the id of the last event received")
            }
            start = id
        }
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8",
            // A stream is never cached, and proxies that buffer answers (nginx) must pass it on as it comes.
            .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        if request.method == .head { return Response(status: .ok, headers: headers) }
        let place = try StreamPlace.take(clientID: clientID, gate: streams)
        let store = self.store
        let body = ResponseBody { writer in
            // Held by this closure: the place is given back when the body is released, run or not.
            withExtendedLifetime(place) {}
            let clock = ContinuousClock()
            var stream = RatingEventStream(after: start, zone: zone, now: clock.now)
            try await writer.write(ByteBuffer(bytes: stream.opening(now: clock.now)))
            // A graceful shutdown (SIGTERM) rings every stream awake, and each ends below: an open
            // stream would otherwise keep its connection, and the HTTP server waiting for it, forever.
            try await withGracefulShutdownHandler {
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    // Read before the store: a ring after this point ends the wait at once.
                    let generation = store.ratingBroadcast.generation
                    var page: [Rating]
                    repeat {
                        page = try await store.ratings(clientID: clientID, afterID: stream.lastID, limit: RatingEventStream.pageSize)
                        let events = stream.events(page, now: clock.now)
                        if !events.isEmpty { try await writer.write(ByteBuffer(bytes: events)) }
                    } while page.count == RatingEventStream.pageSize
                    if let comment = stream.keepAlive(now: clock.now) { try await writer.write(ByteBuffer(bytes: comment)) }
                    if stream.isOver(now: clock.now) { break }
                    await store.ratingBroadcast.wait(after: generation, upTo: stream.wait(now: clock.now))
                }
            } onGracefulShutdown: {
                store.ratingBroadcast.ring()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// A stream's place among the client's and the server's open streams, given back when the
/// stream's body is released — run to its end or dropped unrun (a connection closed before the
/// answer's head was written) alike.
private final class StreamPlace: Sendable {
    private let key: String
    private let gate: ConnectionGate

    private init(key: String, gate: ConnectionGate) {
        self.key = key
        self.gate = gate
    }

    /// Takes a place for a stream of `clientID`: 429 when the client has its most, 503 when the server has.
    static func take(clientID: Int64, gate: ConnectionGate) throws -> StreamPlace {
        let key = String(clientID)
        switch gate.take(from: key) {
        case nil:
            return StreamPlace(key: key, gate: gate)
        case .fullForAddress:
            throw APIError(
                status: .tooManyRequests, code: "too_many_streams",
                description: "this client already has the most live event streams allowed open; close one (another dashboard tab?) and retry",
                extraHeaders: [.retryAfter: "15"])
        case .full:
            throw APIError(
                status: .serviceUnavailable, code: "service_unavailable",
                description: "this server has the most live event streams it serves open; try again later",
                extraHeaders: [.retryAfter: "15"])
        }
    }

    deinit { gate.release(from: key) }
}
