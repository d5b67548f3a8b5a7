import Domain
import Foundation
import Storage
import Testing
import TestSupport

/// Issue 10: a rating's notification is written to the outbox in the rating's own transaction.
@Suite struct NotificationOutboxTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    func rating(_ client: Client, call: CallUUID = .random(), rate: Int64, isSample: Bool = false) -> NewRating {
        NewRating(
            clientID: client.id, callUUID: call, ratedAt: UnixTime(seconds: 1_000), extensionID: 5, rate: rate, maxRate: 5,
            agentUsername: "101", isSample: isSample)
    }

    @Test func theOutboxRowIsWrittenWithTheRatingWithTheCallsCallerAndDID() async throws {
        var client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let quiet = try await store.createClient(name: "Quiet", timezone: "UTC", domain: "quiet.local")
        client.ratingNotificationURL = "http://127.0.0.1:9/hook"
        client.ratingAlertThreshold = 40
        try await store.updateClient(client, replacingNotificationSecret: "whsec_test")
        #expect(try await store.hasNotificationSecret(clientID: client.id))
        #expect(try await !store.hasNotificationSecret(clientID: quiet.id))

        let uuid = CallUUID.random()
        try await store.saveOpenCall(OpenCallRecord(
            record: CallRecord(
                callUUID: uuid, clientID: client.id, extensionID: 5, extensionName: "200", extensionType: .queue,
                flow: .inbound, didNumber: "4930555", didDomain: nil, fromUsername: "+4930111", fromScreenName: nil,
                fromDomain: nil, bridgedUsername: "101", bridgedDomain: nil, bridgedAt: nil, bridgedDuration: nil,
                duration: 30, hangupDisposition: .system, startedAt: UnixTime(seconds: 970), legs: []),
            openLegs: [], isBridged: true))

        let stored = try await store.insertRatings([
            rating(client, call: uuid, rate: 2), rating(client, rate: 5), rating(client, rate: 1, isSample: true),
            rating(quiet, rate: 1),
        ])
        let outbox = try await store.notifications(clientID: client.id, beforeID: nil, limit: 10)
        #expect(outbox.map(\.rating.id) == [stored[1].id, stored[0].id])
        let low = try #require(outbox.last)
        #expect(low.fromUsername == "+4930111" && low.didNumber == "4930555")
        #expect(low.isAlert && low.state == .pending && low.attempts == 0 && low.nextAttemptAt == UnixTime(seconds: 1_000))
        #expect(low.url == "http://127.0.0.1:9/hook")
        let unknownCall = try #require(outbox.first)
        #expect(unknownCall.fromUsername == nil && unknownCall.didNumber == nil && !unknownCall.isAlert)
        #expect(try await store.notifications(clientID: quiet.id, beforeID: nil, limit: 10).isEmpty)
        #expect(try await store.notifications(clientID: client.id, beforeID: unknownCall.id, limit: 10).map(\.rating.id) == [stored[0].id])

        let due = try await store.dueNotifications(at: UnixTime(seconds: 1_000), limit: 10, excluding: [])
        #expect(due.map(\.notification.rating.id) == [stored[0].id, stored[1].id])
        #expect(due.allSatisfy { $0.secret == "whsec_test" && $0.timezone == "UTC" })
        #expect(try await store.dueNotifications(at: UnixTime(seconds: 999), limit: 10, excluding: []).isEmpty)
    }

    @Test func aFailedRatingTransactionLeavesNoOutboxRowAndAttemptsAreRecorded() async throws {
        var client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        client.ratingNotificationURL = "http://127.0.0.1:9/hook"
        try await store.updateClient(client, replacingNotificationSecret: "whsec_test")
        _ = try await store.insertRatings([rating(client, rate: 3)])
        let delivery = try #require(try await store.notifications(clientID: client.id, beforeID: nil, limit: 1).first).id
        try await store.recordNotificationAttempt(
            id: delivery, .retry(status: 500, error: "answered 500", at: UnixTime(seconds: 1_001)))
        var entry = try #require(try await store.notifications(clientID: client.id, beforeID: nil, limit: 1).first)
        #expect(entry.attempts == 1 && entry.lastStatus == 500 && entry.lastError == "answered 500" && entry.state == .pending)
        #expect(try await store.dueNotifications(at: UnixTime(seconds: 1_000), limit: 10, excluding: []).isEmpty)
        try await store.recordNotificationAttempt(id: delivery, .delivered(status: 204, at: UnixTime(seconds: 1_002)))
        entry = try #require(try await store.notifications(clientID: client.id, beforeID: nil, limit: 1).first)
        #expect(entry.state == .delivered && entry.attempts == 2 && entry.deliveredAt == UnixTime(seconds: 1_002))
        #expect(entry.lastError == nil && entry.nextAttemptAt == nil)

        // A rating for a client that does not exist fails, and takes no outbox row with it.
        await #expect(throws: (any Error).self) {
            try await store.insertRatings([NewRating(
                clientID: 999, callUUID: .random(), ratedAt: UnixTime(seconds: 1), extensionID: 5, rate: 1, maxRate: 5,
                agentUsername: nil)])
        }
        #expect(try await store.notifications(clientID: client.id, beforeID: nil, limit: 10).count == 1)
        #expect(try await store.notifications(clientID: 999, beforeID: nil, limit: 10).isEmpty)
    }

    /// An alert goes to the alert URL as well, as a delivery of its own; other ratings go to the
    /// notification URL only; with only an alert URL, only alerts are sent; one URL set as both
    /// gets each alert once.
    @Test func alertsAreDeliveredToTheAlertURLToo() async throws {
        var client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        client.ratingNotificationURL = "http://127.0.0.1:9/all"
        client.ratingAlertURL = "http://127.0.0.1:9/pager"
        client.ratingAlertThreshold = 40
        try await store.updateClient(client, replacingNotificationSecret: "whsec_test")
        let stored = try await store.insertRatings([rating(client, rate: 2), rating(client, rate: 5)])
        let outbox = try await store.notifications(clientID: client.id, beforeID: nil, limit: 10)
        #expect(outbox.map { "\($0.rating.id) \($0.url) \($0.isAlert)" } == [
            "\(stored[1].id) http://127.0.0.1:9/all false", "\(stored[0].id) http://127.0.0.1:9/pager true",
            "\(stored[0].id) http://127.0.0.1:9/all true",
        ])
        #expect(Set(outbox.map(\.id)).count == 3)

        client.ratingNotificationURL = nil
        try await store.updateClient(client, replacingNotificationSecret: nil)
        let onlyAlerts = try await store.insertRatings([rating(client, rate: 1), rating(client, rate: 4)])
        var newest = try await store.notifications(clientID: client.id, beforeID: nil, limit: 10)
        #expect(newest.first?.rating.id == onlyAlerts[0].id && newest.first?.url == "http://127.0.0.1:9/pager")
        #expect(!newest.contains { $0.rating.id == onlyAlerts[1].id })

        client.ratingNotificationURL = "http://127.0.0.1:9/pager"
        try await store.updateClient(client, replacingNotificationSecret: nil)
        let same = try await store.insertRatings([rating(client, rate: 1)])
        newest = try await store.notifications(clientID: client.id, beforeID: nil, limit: 10)
        #expect(newest.filter { $0.rating.id == same[0].id }.count == 1)
    }

    /// The delivery service names the attempts it has under way, which are still pending in the
    /// outbox: they are left out, and the limit counts the others only.
    @Test func dueNotificationsLeaveOutTheAttemptsInFlight() async throws {
        var client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        client.ratingNotificationURL = "http://127.0.0.1:9/hook"
        try await store.updateClient(client, replacingNotificationSecret: "whsec_test")
        let stored = try await store.insertRatings([rating(client, rate: 3), rating(client, rate: 4), rating(client, rate: 5)])
        let deliveries = try await store.notifications(clientID: client.id, beforeID: nil, limit: 10).reversed().map(\.id)
        #expect(deliveries.count == 3)
        let due = try await store.dueNotifications(at: UnixTime(seconds: 1_000), limit: 1, excluding: [deliveries[0]])
        #expect(due.map(\.notification.id) == [deliveries[1]] && due.map(\.notification.rating.id) == [stored[1].id])
        // As before the claim (a shared store's), which only the outbox's listing shows.
        #expect(due.first?.notification.nextAttemptAt == UnixTime(seconds: 1_000) && due.first?.notification.attempts == 0)
    }

    /// Issue 12: nodes sharing the outbox each send a delivery they claimed, and no other node
    /// gets it meanwhile — until its attempt is recorded, or the claim's lease runs out (the
    /// node died). Eight claims at once, over two stores on one database, as two nodes.
    @Test(.enabled(if: TestStore.isPostgres)) func nodesSharingTheOutboxNeverGetTheSameDelivery() async throws {
        var client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        client.ratingNotificationURL = "http://127.0.0.1:9/hook"
        try await store.updateClient(client, replacingNotificationSecret: "whsec_test")
        _ = try await store.insertRatings((1...40).map { rating(client, rate: $0 % 5 + 1) })
        let nodes = [store, try await database.reopen()]
        let now = UnixTime(seconds: 1_000)

        var claimed: [Int64] = []
        for _ in 0..<2 {
            claimed += try await withThrowingTaskGroup(of: [Int64].self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        try await nodes[caller % 2].dueNotifications(at: now, limit: 3, excluding: []).map(\.notification.id)
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        #expect(claimed.count == 40 && Set(claimed).count == 40)
        #expect(try await nodes[1].dueNotifications(at: now, limit: 50, excluding: []).isEmpty)

        // A recorded attempt ends its claim: the retry is due at its own time, on any node.
        try await store.recordNotificationAttempt(id: claimed[0], .retry(status: 500, error: "answered 500", at: now.adding(seconds: 5)))
        #expect(try await nodes[1].dueNotifications(at: now.adding(seconds: 5), limit: 50, excluding: []).map(\.notification.id) == [claimed[0]])
        // The others were never recorded: once the lease has run out, any node sends them.
        let lease = DueNotification.claimLease.components.seconds
        #expect(try await nodes[1].dueNotifications(at: now.adding(seconds: lease - 1), limit: 50, excluding: []).isEmpty)
        let expired = try await nodes[1].dueNotifications(at: now.adding(seconds: lease), limit: 50, excluding: [])
        #expect(Set(expired.map(\.notification.id)) == Set(claimed.dropFirst()))
    }
}
