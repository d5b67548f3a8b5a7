import AsyncHTTPClient
import Domain
import Foundation
@testable import HTTPAPI
import HTTPTypes
import Hummingbird
import NIOCore
import Storage
import Testing

/// `GET …/quality_rate/events` (issue 10) over real HTTP on loopback, read as a browser's
/// EventSource would: events as they come, with the stream still open.
@Suite(.timeLimit(.minutes(1)))
struct EventStreamTests {
    /// One Server-Sent Event (WHATWG HTML §9.2.6), as these tests need it.
    struct Event: Equatable {
        var event: String?
        var id: String?
        var data: String

        /// The rating in `data`.
        var rating: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
        }
    }

    /// An open `text/event-stream` answer, read one block (up to a blank line) at a time.
    struct Stream {
        let status: UInt
        /// The answer's headers, by lower-case name.
        let headers: [String: String]
        private var chunks: HTTPClientResponse.Body.AsyncIterator
        private var buffer: [UInt8] = []
        /// Comment lines seen so far (`: keep-alive`).
        private(set) var comments: [String] = []
        private(set) var retry: String?

        init(_ response: HTTPClientResponse) {
            status = response.status.code
            headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
            chunks = response.body.makeAsyncIterator()
        }

        /// The next event; nil when the stream ended.
        mutating func next() async throws -> Event? {
            while true {
                guard let block = try await nextBlock() else { return nil }
                var event = Event(data: "")
                var data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") {
                        comments.append(String(line.dropFirst()).trimmingCharacters(in: .whitespaces))
                        continue
                    }
                    let (field, value) = line.firstIndex(of: ":").map {
                        (String(line[..<$0]), String(line[line.index(after: $0)...]).drop(while: { $0 == " " }))
                    } ?? (String(line), "")
                    switch field {
                    case "event": event.event = String(value)
                    case "id": event.id = String(value)
                    case "data": data.append(String(value))
                    case "retry": retry = String(value)
                    default: break
                    }
                }
                if !data.isEmpty {
                    event.data = data.joined(separator: "\n")
                    return event
                }
            }
        }

        private mutating func nextBlock() async throws -> String? {
            while true {
                if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 10 && buffer[$0 + 1] == 10 }) {
                    let block = String(decoding: buffer[..<end], as: UTF8.self)
                    buffer.removeFirst(end + 2)
                    return block
                }
                guard let chunk = try await chunks.next() else { return nil }
                buffer += chunk.readableBytesView
            }
        }
    }

    /// Runs `body` against the fixture's server with an HTTP client that reads answers as they
    /// stream; the client outlives the server, so what a stream does when the server stops can be read.
    @discardableResult
    func withStreams<Value: Sendable>(
        _ fixture: APIFixture, limits: HTTPLimits = HTTPLimits(),
        _ body: @Sendable (_ open: @Sendable (_ path: String, _ token: String?, _ headers: [(String, String)]) async throws -> Stream,
                           _ client: APIFixture.Client) async throws -> Value
    ) async throws -> Value {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let value = try await fixture.withServer(limits: limits) { client in
                let port = try #require(client.http.port)
                return try await body({ path, token, headers in
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                    for (name, value) in headers { request.headers.add(name: name, value: value) }
                    return Stream(try await http.execute(request, timeout: .seconds(30)))
                }, client)
            }
            try await http.shutdown()
            return value
        } catch {
            try await http.shutdown()
            throw error
        }
    }

    static func path(_ clientID: Int64, _ query: String = "") -> String {
        "/api/ver1.0/client/\(clientID)/quality_rate/events" + query
    }

    @Test func replaysTheRatingsAfterLastEventIDThenSendsNewOnesLive() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        let earlier = try await fixture.addRatings(fixture.acme, [
            ("2026-03-01 10:00:00", 5, "101"), ("2026-03-01 11:00:00", 2, nil), ("2026-03-01 12:00:00", 4, "102"),
        ])
        try await fixture.addRatings(fixture.other, [("2026-03-01 10:30:00", 1, nil)])
        try await withStreams(fixture) { open, client in
            let token = try await client.token(fixture.acme)
            var stream = try await open(Self.path(fixture.acme.clientID), token, [("Last-Event-ID", "\(earlier[0].id)")])
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            #expect(stream.headers["cache-control"] == "no-store")
            let replayed = [try await stream.next(), try await stream.next()]
            #expect(replayed.map { $0?.id } == [String(earlier[1].id), String(earlier[2].id)])
            #expect(replayed.allSatisfy { $0?.event == "rating" })
            #expect(stream.retry == "3000")
            // The rating as the list answers it with with_agent=true, the client's local time.
            let list = try await client.get(
                "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?with_agent=true", token: token)
            let listed = try #require(list.array.first { ($0["id"] as? Int64 ?? ($0["id"] as? Int).map(Int64.init)) == earlier[2].id })
            #expect(NSDictionary(dictionary: try #require(replayed[1]).rating) == NSDictionary(dictionary: listed))
            #expect(try #require(replayed[1]).rating["datetime"] as? String == "2026-03-01 12:00:00")

            // Live: another client's rating never appears; this client's next one does.
            try await fixture.addRatings(fixture.other, [("2026-03-02 09:00:00", 3, nil)])
            let new = try await fixture.addRatings(fixture.acme, [("2026-03-02 09:00:01", 1, "103")])
            let live = try #require(try await stream.next())
            #expect(live.id == String(new[0].id))
            #expect(live.rating["agent_username"] as? String == "103")
            #expect(live.rating["target"] as? String == "agent")
            #expect(live.rating["client_id"] as? Int == Int(fixture.acme.clientID))
        }
    }

    @Test func afterIDResumesAndLastEventIDWinsOverIt() async throws {
        let fixture = try await APIFixture()
        let earlier = try await fixture.addRatings(fixture.acme, [
            ("2026-03-01 10:00:00", 5, nil), ("2026-03-01 11:00:00", 2, nil), ("2026-03-01 12:00:00", 4, nil),
        ])
        try await withStreams(fixture) { open, client in
            let token = try await client.token(fixture.acme)
            var byQuery = try await open(Self.path(fixture.acme.clientID, "?after_id=\(earlier[0].id)"), token, [])
            #expect(try await byQuery.next()?.id == String(earlier[1].id))
            #expect(try await byQuery.next()?.id == String(earlier[2].id))
            // EventSource reconnects to the same URL with the last id it got as Last-Event-ID.
            var reconnected = try await open(
                Self.path(fixture.acme.clientID, "?after_id=\(earlier[0].id)"), token, [("Last-Event-ID", "\(earlier[1].id)")])
            #expect(try await reconnected.next()?.id == String(earlier[2].id))
        }
    }

    @Test func withoutAResumePointOnlyNewRatingsAreSent() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-03-01 10:00:00", 5, nil)])
        try await withStreams(fixture) { open, client in
            var stream = try await open(Self.path(fixture.acme.clientID), try await client.token(fixture.acme), [])
            let new = try await fixture.addRatings(fixture.acme, [("2026-03-01 10:05:00", 3, nil)])
            #expect(try await stream.next()?.id == String(new[0].id))
        }
    }

    /// A rating stored by another process on the same database (`qualityrate demo`, another node)
    /// rings nothing in the server: the stream finds it by reading the store every 2 s.
    @Test func aRatingStoredByAnotherProcessArrivesByPolling() async throws {
        let fixture = try await APIFixture()
        try await withStreams(fixture) { open, client in
            var stream = try await open(Self.path(fixture.acme.clientID), try await client.token(fixture.acme), [])
            let elsewhere = try await fixture.database.reopen()
            let stored = try await elsewhere.insertRatings([
                NewRating(clientID: fixture.acme.clientID, callUUID: .random(), ratedAt: .now(), extensionID: 50, rate: 4, maxRate: 5, agentUsername: nil),
            ])
            let started = ContinuousClock.now
            #expect(try await stream.next()?.id == String(stored[0].id))
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    /// `--http-idle-timeout` closes idle connections, not ones whose answer is still being
    /// written: a stream quiet for longer than the timeout still delivers the next rating.
    @Test func theIdleTimeoutDoesNotCutAQuietStream() async throws {
        let fixture = try await APIFixture()
        try await withStreams(fixture, limits: HTTPLimits(idleTimeout: .seconds(1), bodyTimeout: .seconds(1))) { open, client in
            var stream = try await open(Self.path(fixture.acme.clientID), try await client.token(fixture.acme), [])
            // The idleness under test: three timeouts' worth with nothing sent.
            try await Task.sleep(for: .seconds(3))
            let new = try await fixture.addRatings(fixture.acme, [("2026-03-01 10:05:00", 3, nil)])
            #expect(try await stream.next()?.id == String(new[0].id))
        }
    }

    /// Streams may take half the server's connections, never all: with 4 connections, the third
    /// stream is refused while ordinary requests are still answered.
    @Test func streamsLeaveConnectionsForTheRestOfTheAPI() async throws {
        let fixture = try await APIFixture()
        try await withStreams(fixture, limits: HTTPLimits(maximumConnections: 4)) { open, client in
            let token = try await client.token(fixture.acme)
            let held = [try await open(Self.path(fixture.acme.clientID), token, []), try await open(Self.path(fixture.acme.clientID), token, [])]
            #expect(held.map(\.status) == [200, 200])
            try await client.get(Self.path(fixture.acme.clientID), token: token).expectError(.serviceUnavailable, code: "service_unavailable")
            #expect(try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/", token: token).status == .ok)
        }
    }

    /// A graceful shutdown (SIGTERM) ends every open stream, as a finished answer: the server
    /// stops instead of waiting on it, and the client sees the end of the stream, not a cut.
    @Test func aStreamEndsCleanlyWhenTheServerStops() async throws {
        let fixture = try await APIFixture()
        let reading = try await withStreams(fixture) { open, client in
            let stream = try await open(Self.path(fixture.acme.clientID), try await client.token(fixture.acme), [])
            #expect(stream.status == 200)
            return Task {
                var stream = stream
                while try await stream.next() != nil {}
                return stream.comments
            }
        }
        // withStreams returned: the server has stopped, with the stream open until then.
        let comments = try await reading.value
        #expect(comments.contains { $0.hasPrefix("ratings after id") })
    }

    @Test func refusesWhatTheRestOfTheAPIRefuses() async throws {
        let fixture = try await APIFixture()
        let foreign = try await fixture.addRatings(fixture.other, [("2026-03-01 10:00:00", 5, nil)])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let acme = fixture.acme.clientID
            try await client.get(Self.path(acme), token: nil).expectError(.unauthorized, code: "invalid_token")
            try await client.get(Self.path(acme), token: "not-a-token").expectError(.unauthorized, code: "invalid_token")
            try await client.get(Self.path(fixture.other.clientID), token: token).expectError(.notFound, code: "not_found")
            try await client.get(Self.path(acme, "?after_id=0"), token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "after_id")
            // Another client's rating id is no resume point here, exactly like one that does not exist.
            try await client.get(Self.path(acme, "?after_id=\(foreign[0].id)"), token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "no rating")
            var headers: HTTPFields = [.authorization: "Bearer \(token)"]
            headers[HTTPField.Name("Last-Event-ID")!] = "abc"
            let reply = try await client.http.execute(uri: Self.path(acme), method: .get, headers: headers, body: nil)
            #expect(reply.status == .badRequest)
            #expect(String(buffer: reply.body).contains("Last-Event-ID"))
        }
    }

    @Test func aClientHoldsAtMostItsShareOfStreams() async throws {
        let fixture = try await APIFixture()
        try await withStreams(fixture, limits: HTTPLimits(maximumEventStreamsPerClient: 2)) { open, client in
            let token = try await client.token(fixture.acme)
            let held = [try await open(Self.path(fixture.acme.clientID), token, []), try await open(Self.path(fixture.acme.clientID), token, [])]
            #expect(held.map(\.status) == [200, 200])
            let refused = try await client.get(Self.path(fixture.acme.clientID), token: token)
            refused.expectError(.tooManyRequests, code: "too_many_streams")
            #expect(refused.headers[.retryAfter] == "15")
            // Other clients are not held back by it.
            let other = try await open(Self.path(fixture.other.clientID), try await client.token(fixture.other), [])
            #expect(other.status == 200)
        }
    }
}

@Suite struct RatingEventStreamTests {
    let start = ContinuousClock.now

    @Test func resumePoints() {
        typealias Stream = RatingEventStream
        #expect(Stream.resumePoint(lastEventID: nil, afterID: nil) == .newest)
        #expect(Stream.resumePoint(lastEventID: "", afterID: nil) == .newest)
        #expect(Stream.resumePoint(lastEventID: nil, afterID: "7") == .after(7, .afterID))
        #expect(Stream.resumePoint(lastEventID: "9", afterID: "7") == .after(9, .lastEventID))
        #expect(Stream.resumePoint(lastEventID: "+9", afterID: nil) == .malformed(.lastEventID, "+9"))
        #expect(Stream.resumePoint(lastEventID: nil, afterID: "0") == .malformed(.afterID, "0"))
    }

    @Test func sendsEachRatingOnceAsAnEventAndKeepsAlive() {
        var stream = RatingEventStream(after: 10, zone: .utc, now: start)
        #expect(String(decoding: stream.opening(now: start), as: UTF8.self) == "retry: 3000\n: ratings after id 10\n\n")
        let rating = Rating(
            id: 11, clientID: 1, callUUID: CallUUID("BF4643A0B90D11E98DA84B40F3DF0459")!, ratedAt: UnixTime(seconds: 0), extensionID: 5,
            rate: 4, maxRate: 5, agentUsername: nil)
        let text = String(decoding: stream.events([rating], now: start + .seconds(1)), as: UTF8.self)
        #expect(text == """
            event: rating
            id: 11
            data: {"id":11,"client_id":1,"call_uuid":"BF4643A0B90D11E98DA84B40F3DF0459","datetime":"1970-01-01 00:00:00",\
            "extension_id":5,"rate":4,"max_rate":5,"agent_username":null,"target":"call"}


            """)
        #expect(stream.lastID == 11)
        #expect(stream.events([rating], now: start + .seconds(2)).isEmpty)
        // No keep-alive while events flow; one after 15 s of silence, then again 15 s later.
        #expect(stream.keepAlive(now: start + .seconds(15)) == nil)
        #expect(stream.wait(now: start + .seconds(15)) == .seconds(1))
        #expect(stream.keepAlive(now: start + .seconds(16)).map { String(decoding: $0, as: UTF8.self) } == ": keep-alive\n\n")
        #expect(stream.keepAlive(now: start + .seconds(30)) == nil)
        #expect(stream.wait(now: start + .seconds(20)) == .seconds(2))
    }

    @Test func endsAfterAnHour() {
        var stream = RatingEventStream(after: 0, zone: .utc, now: start)
        #expect(!stream.isOver(now: start + .seconds(3_599)))
        #expect(stream.keepAlive(now: start + .seconds(3_599)) != nil)
        #expect(stream.wait(now: start + .milliseconds(3_599_500)) == .milliseconds(500))
        #expect(stream.isOver(now: start + .seconds(3_600)))
    }
}
