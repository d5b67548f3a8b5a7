import Crypto
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Notifications
import Storage
import Testing
import TestSupport

/// A real HTTP receiver on loopback that answers 500 to the first `failures` requests; with
/// `holdsFirst`, it answers its first request only once `release()` is called.
actor Receiver {
    struct Delivery: Sendable {
        /// Header names in lowercase.
        var headers: [String: String]
        var body: [UInt8]
        var status: HTTPResponse.Status
    }

    let failures: Int
    private(set) var deliveries: [Delivery] = []
    private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    let holdsFirst: Bool
    private var held: CheckedContinuation<Void, Never>?
    private var released = false

    init(failures: Int, holdsFirst: Bool = false) {
        self.failures = failures
        self.holdsFirst = holdsFirst
    }

    func release() {
        released = true
        held?.resume()
        held = nil
    }

    func receive(headers: [String: String], body: [UInt8]) async -> HTTPResponse.Status {
        let status: HTTPResponse.Status = deliveries.count < failures ? .internalServerError : .noContent
        deliveries.append(Delivery(headers: headers, body: body, status: status))
        let ready = waiters.filter { $0.count <= deliveries.count }
        waiters.removeAll { $0.count <= deliveries.count }
        for waiter in ready { waiter.continuation.resume() }
        if holdsFirst, deliveries.count == 1, !released {
            await withCheckedContinuation { held = $0 }
        }
        return status
    }

    /// Returns once `count` requests have come in.
    func waitFor(_ count: Int) async {
        if deliveries.count >= count { return }
        await withCheckedContinuation { waiters.append((count, $0)) }
    }

    nonisolated func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            return Response(status: await self.receive(headers: headers, body: Array(body.readableBytesView)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

@Suite struct DeliveryTests {
    static let secret = "whsec_delivery_test"

    /// Checks the signature as a receiver would: HMAC-SHA256 over `t + "." + body` with the secret.
    static func signatureIsValid(_ delivery: Receiver.Delivery) -> Bool {
        guard let header = delivery.headers["qualityrate-signature"] else { return false }
        let parts = Dictionary(uniqueKeysWithValues: header.split(separator: ",").compactMap { part -> (String, String)? in
            let pair = part.split(separator: "=", maxSplits: 1)
            return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
        })
        guard let timestamp = parts["t"], let signature = parts["v1"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data((timestamp + ".").utf8) + Data(delivery.body), using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == signature
    }

    /// A rating whose receiver fails three times is retried with backoff and delivered, each
    /// request signed, with the rating id as idempotency key; the outbox says so.
    @Test func aReceiverThatFailsFirstGetsTheRatingAfterRetriesSigned() async throws {
        let database = try await TestStore()
        let store = database.store
        let receiver = Receiver(failures: 3)
        try await receiver.application().test(.live) { client in
            let port = try #require(client.port)
            var acme = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
            acme.ratingNotificationURL = "http://127.0.0.1:\(port)/hook"
            try await store.updateClient(acme, replacingNotificationSecret: Self.secret)
            let service = NotificationDeliveryService(store: store, logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                let rating = try await store.insertRatings([NewRating(
                    clientID: acme.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 4, maxRate: 5,
                    agentUsername: nil)])[0]
                await receiver.waitFor(4)
                // The service records the 204 after the answer: wait (generously) for that row.
                var entry: RatingNotification?
                for _ in 0..<200 {
                    entry = try await store.notifications(clientID: acme.id, beforeID: nil, limit: 1).first
                    if entry?.state == .delivered { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                group.cancelAll()
                let deliveries = await receiver.deliveries
                #expect(deliveries.map(\.status) == [.internalServerError, .internalServerError, .internalServerError, .noContent])
                #expect(deliveries.allSatisfy(Self.signatureIsValid))
                #expect(deliveries.allSatisfy { $0.headers["idempotency-key"] == String(rating.id) })
                let body = try #require(try JSONSerialization.jsonObject(with: Data(deliveries[3].body)) as? [String: Any])
                #expect(body["id"] as? Int64 == rating.id && body["rate"] as? Int == 4 && body["target"] as? String == "call")
                #expect(body["alert"] as? Bool == false)
                #expect(entry?.state == .delivered && entry?.attempts == 4 && entry?.lastStatus == 204)
            }
        }
    }

    /// A server stopped between retries leaves the notification pending in the database; the next
    /// run (another store on the same file, another service) delivers it.
    @Test func aNotificationPendingAtAStopIsDeliveredByTheNextRun() async throws {
        let database = try await TestStore()
        let receiver = Receiver(failures: 1)
        try await receiver.application().test(.live) { client in
            let port = try #require(client.port)
            let first = database.store
            var acme = try await first.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
            acme.ratingNotificationURL = "http://127.0.0.1:\(port)/hook"
            try await first.updateClient(acme, replacingNotificationSecret: Self.secret)
            let rating = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await NotificationDeliveryService(store: first, logger: Logger(label: "test")).run() }
                let rating = try await first.insertRatings([NewRating(
                    clientID: acme.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 1, maxRate: 5,
                    agentUsername: nil)])[0]
                await receiver.waitFor(1)
                group.cancelAll()
                return rating
            }
            let second = try await database.reopen()
            #expect(try await second.notifications(clientID: acme.id, beforeID: nil, limit: 1).first?.state == .pending)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await NotificationDeliveryService(store: second, logger: Logger(label: "test")).run() }
                await receiver.waitFor(2)
                var entry: RatingNotification?
                for _ in 0..<200 {
                    entry = try await second.notifications(clientID: acme.id, beforeID: nil, limit: 1).first
                    if entry?.state == .delivered { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                group.cancelAll()
                #expect(entry?.rating.id == rating.id && entry?.state == .delivered)
                let deliveries = await receiver.deliveries
                #expect(deliveries.map(\.status) == [.internalServerError, .noContent])
                #expect(deliveries.allSatisfy(Self.signatureIsValid))
            }
        }
    }

    /// A receiver that takes its time holds up only its own notifications: another client's
    /// rating, stored while the first receiver still keeps its request, is delivered meanwhile.
    @Test func aSlowReceiverDoesNotHoldUpAnotherClientsNotifications() async throws {
        let database = try await TestStore()
        let store = database.store
        let slow = Receiver(failures: 0, holdsFirst: true)
        let quick = Receiver(failures: 0)
        try await slow.application().test(.live) { slowClient in
            try await quick.application().test(.live) { quickClient in
                var acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
                acme.ratingNotificationURL = "http://127.0.0.1:\(try #require(slowClient.port))/hook"
                try await store.updateClient(acme, replacingNotificationSecret: Self.secret)
                var beta = try await store.createClient(name: "Beta", timezone: "UTC", domain: "beta.local")
                beta.ratingNotificationURL = "http://127.0.0.1:\(try #require(quickClient.port))/hook"
                try await store.updateClient(beta, replacingNotificationSecret: Self.secret)
                func rate(_ client: Client) async throws {
                    try await store.insertRatings([NewRating(
                        clientID: client.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 3, maxRate: 5, agentUsername: nil)])
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await NotificationDeliveryService(store: store, logger: Logger(label: "test")).run() }
                    try await rate(acme)
                    await slow.waitFor(1)
                    try await rate(beta)
                    // Beta's arrives while Acme's receiver still holds its request; should it not,
                    // the hold ends after 5 s so that the test fails instead of hanging.
                    let arrivedWhileHeld = await withTaskGroup(of: Bool.self) { race in
                        race.addTask {
                            await quick.waitFor(1)
                            return true
                        }
                        race.addTask {
                            try? await Task.sleep(for: .seconds(5))
                            return false
                        }
                        let first = await race.next()!
                        await slow.release()
                        return first
                    }
                    #expect(arrivedWhileHeld, "another client's notification waited for a slow receiver")
                    group.cancelAll()
                }
            }
        }
    }

    /// Issue 12: the services of two nodes sharing one outbox send each notification once, not
    /// once per node; ratings stored through both, so that both services wake at once.
    @Test(.enabled(if: TestStore.isPostgres)) func nodesSharingTheOutboxSendEachNotificationOnce() async throws {
        let database = try await TestStore()
        let nodes = [database.store, try await database.reopen()]
        let receiver = Receiver(failures: 0)
        try await receiver.application().test(.live) { client in
            var acme = try await nodes[0].createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
            acme.ratingNotificationURL = "http://127.0.0.1:\(try #require(client.port))/hook"
            try await nodes[0].updateClient(acme, replacingNotificationSecret: Self.secret)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask { try await NotificationDeliveryService(store: node, logger: Logger(label: "test")).run() }
                }
                var ratings: [Rating] = []
                for _ in 0..<5 {
                    let batches = nodes.map { _ in (1...3).map { _ in Self.rating(acme) } }
                    async let first = nodes[0].insertRatings(batches[0])
                    async let second = nodes[1].insertRatings(batches[1])
                    ratings += try await first + second
                }
                await receiver.waitFor(ratings.count)
                // Time for any of them to be sent a second time, should a node send what the other did.
                try await Task.sleep(for: .seconds(2))
                group.cancelAll()
                let keys = await receiver.deliveries.compactMap { $0.headers["idempotency-key"] }
                #expect(keys.count == ratings.count && Set(keys) == Set(ratings.map { String($0.id) }))
            }
        }
    }

    static func rating(_ client: Client) -> NewRating {
        NewRating(clientID: client.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 4, maxRate: 5, agentUsername: nil)
    }

    /// A tampered body or another secret does not verify: the check above is not vacuous.
    @Test func theSignatureCheckRejectsAnotherSecret() throws {
        let notification = RatingNotification(
            id: 1, rating: Rating(
                id: 1, clientID: 1, callUUID: .random(), ratedAt: UnixTime(seconds: 10), extensionID: 1, rate: 1, maxRate: 5,
                agentUsername: nil),
            url: "http://127.0.0.1/", fromUsername: nil, didNumber: nil, isAlert: false, createdAt: UnixTime(seconds: 10),
            state: .pending, attempts: 0, nextAttemptAt: nil, lastStatus: nil, lastError: nil, deliveredAt: nil)
        let message = try NotificationMessage(notification, zone: .utc, secret: "whsec_other", timestamp: UnixTime(seconds: 11))
        var headers = Dictionary(uniqueKeysWithValues: message.headers.map { ($0.name.lowercased(), $0.value) })
        #expect(!Self.signatureIsValid(Receiver.Delivery(headers: headers, body: message.body, status: .ok)))
        let signed = try NotificationMessage(notification, zone: .utc, secret: Self.secret, timestamp: UnixTime(seconds: 11))
        headers = Dictionary(uniqueKeysWithValues: signed.headers.map { ($0.name.lowercased(), $0.value) })
        #expect(Self.signatureIsValid(Receiver.Delivery(headers: headers, body: signed.body, status: .ok)))
        #expect(!Self.signatureIsValid(Receiver.Delivery(headers: headers, body: signed.body + [32], status: .ok)))
    }
}
