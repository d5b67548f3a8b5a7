import Domain
import Foundation
import PostgresNIO
@testable import PostgresStorage
import Storage
import Synchronization
import Testing
import TestSupport

/// Several nodes on one PostgreSQL database (issue 12): each store opened by `TestStore.reopen()`
/// is another node, with a run of its own. These need a PostgreSQL server; `scripts/test` runs
/// them in its PostgreSQL pass.
@Suite(.enabled(if: TestStore.isPostgres, "needs QR_TEST_POSTGRES (scripts/test's PostgreSQL pass)"))
struct PostgresNodeTests {
    let database: TestStore
    let nodeA: PostgresStore

    init() async throws {
        database = try await TestStore()
        nodeA = try #require(database.store as? PostgresStore)
    }

    func node() async throws -> PostgresStore {
        try #require(try await database.reopen() as? PostgresStore)
    }

    func heartbeatRuns(_ node: PostgresStore) async throws -> Set<String> {
        try await node.read { connection in
            var runs: Set<String> = []
            for try await run in try await connection.query("SELECT run FROM heartbeat", logger: node.logger).decode(String.self) {
                runs.insert(run)
            }
            return runs
        }
    }

    /// Another node's calls are its own while it beats; once its heartbeat is a lease old, any
    /// node closes them, at the last time known, and its heartbeat goes with them.
    @Test func aLiveNodesOpenCallsStayOpenAndADeadNodesAreClosed() async throws {
        let nodeB = try await node()
        let client = try await nodeA.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        await nodeA.probeWrites(at: UnixTime(seconds: 160))
        await nodeB.probeWrites(at: UnixTime(seconds: 170))
        let (onA, onB) = (CallUUID.random(), CallUUID.random())
        try await nodeA.saveOpenCall(openCall(client: client.id, uuid: onA))
        try await nodeB.saveOpenCall(openCall(client: client.id, uuid: onB))
        #expect(try await nodeB.closeInterruptedCalls() == 0, "A is alive")
        #expect(try await nodeA.closeInterruptedCalls() == 0, "B is alive")

        try await crash(nodeA)
        #expect(try await nodeB.closeInterruptedCalls() == 1)
        let closed = try #require(try await nodeB.call(clientID: client.id, uuid: onA))
        #expect(closed.hangupDisposition == .system && closed.duration == 60 && closed.bridgedDuration == 50)
        #expect(try await nodeB.call(clientID: client.id, uuid: onB) == nil, "B's own call is still up")
        #expect(try await heartbeatRuns(nodeB) == [nodeB.run])
        #expect(try await nodeB.closeInterruptedCalls() == 0)
    }

    /// A record whose run has no heartbeat (it died before its first beat) is closed once the
    /// record itself is a lease old: until then its run may be a live one about to beat.
    @Test func aRecordOfARunWithoutAHeartbeatIsClosedOnceItIsALeaseOld() async throws {
        let silent = try await node()
        let client = try await nodeA.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let (old, recent) = (CallUUID.random(), CallUUID.random())
        try await silent.saveOpenCall(openCall(client: client.id, uuid: old))
        var up = openCall(client: client.id, uuid: recent)
        up.record.startedAt = UnixTime.now().adding(seconds: -20)
        try await silent.saveOpenCall(up)
        #expect(try await nodeA.closeInterruptedCalls() == 1)
        #expect(try await nodeA.call(clientID: client.id, uuid: old)?.duration == 30)
        #expect(try await nodeA.call(clientID: client.id, uuid: recent) == nil)
    }

    /// Two nodes closing a dead node's calls at once close each call once.
    @Test func nodesClosingAtOnceCloseEachRecordOnce() async throws {
        let (dead, nodeB) = (try await node(), try await node())
        let client = try await nodeA.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        await dead.probeWrites(at: UnixTime(seconds: 200))
        let calls = (0..<40).map { _ in CallUUID.random() }
        for uuid in calls { try await dead.saveOpenCall(openCall(client: client.id, uuid: uuid)) }
        try await crash(dead)
        async let closedByA = nodeA.closeInterruptedCalls()
        async let closedByB = nodeB.closeInterruptedCalls()
        #expect(try await closedByA + closedByB == calls.count)
        for uuid in calls {
            #expect(try await nodeA.call(clientID: client.id, uuid: uuid)?.duration == 100, "closed at the last heartbeat")
        }
        #expect(try await nodeA.closeInterruptedCalls() == 0)
        #expect(try await heartbeatRuns(nodeA).contains(dead.run) == false)
    }

    /// Ratings written by two nodes at once: a reader following `ratings(clientID:afterID:limit:)`
    /// as a live event stream does gets every one, in id order (ids become visible in id order),
    /// and the rollup row every write adds to counts each (issue 12).
    @Test func ratingsOfNodesWritingAtOnceAreFollowedWithoutAGapAndCountedExactly() async throws {
        let nodeB = try await node()
        let client = try await nodeA.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let (writersPerNode, ratingsPerWriter) = (4, 40)
        let total = 2 * writersPerNode * ratingsPerWriter
        let follower = Task { () -> [Int64] in
            var seen: [Int64] = []
            while seen.count < total, !Task.isCancelled {
                let page = try await nodeB.ratings(clientID: client.id, afterID: seen.last ?? 0, limit: 25)
                seen += page.map(\.id)
                if page.isEmpty { try? await Task.sleep(for: .milliseconds(1)) }
            }
            return seen
        }
        let stored = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for store in [nodeA, nodeB] {
                for writer in 0..<writersPerNode {
                    group.addTask {
                        var ids: [Int64] = []
                        for index in 0..<ratingsPerWriter {
                            // The same day, extension and agent: every write adds to one rollup row.
                            let offeredAt = UnixTime(seconds: 1_000_000 + Int64(writer * ratingsPerWriter + index))
                            let call = CallUUID.random()
                            try await store.recordRatingOffers([RatingOffer(
                                clientID: client.id, callUUID: call, offeredAt: offeredAt, extensionID: 5, agentUsername: "101")])
                            ids += try await store.insertRatings([NewRating(
                                clientID: client.id, callUUID: call, ratedAt: offeredAt.adding(seconds: 5), extensionID: 5,
                                rate: Int64(1 + index % 5), maxRate: 5, agentUsername: "101", offeredAt: offeredAt)]).map(\.id)
                        }
                        return ids
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            follower.cancel()
        }
        let followed = try await follower.value
        watchdog.cancel()
        let missed = Set(stored).subtracting(followed)
        #expect(missed.isEmpty, "the follower missed \(missed.sorted())")
        #expect(followed.count == stored.count && followed == followed.sorted(), "each once, in id order")

        let buckets = try await nodeA.ratingStatistics(StatisticsQuery(clientID: client.id), zone: .utc, interval: nil, groupBy: nil)
        let measures = try #require(buckets.first?.measures)
        #expect(buckets.count == 1)
        #expect(measures.rated == Int64(total) && measures.offered == Int64(total) && measures.offersRated == Int64(total))
        #expect(measures.rateSum == Int64(2 * writersPerNode * (0..<ratingsPerWriter).reduce(0) { $0 + 1 + $1 % 5 }))
    }

    /// A change of the client's zone recounts its rollups in the new zone's days
    /// (`rebuildRollups`, which `updateClient` calls in its transaction).
    @Test func rebuiltRollupsCountInTheNewZonesDays() async throws {
        let client = try await nodeA.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
        let sample = StatisticsSample(clientID: client.id)
        try await sample.store(in: nodeA)
        let newYork = try #require(ClientTimeZone(identifier: "America/New_York"))
        try await nodeA.write { connection in
            try await connection.query(
                "UPDATE client SET timezone = \(newYork.identifier) WHERE id = \(client.id)", logger: nodeA.logger)
            try await PostgresStore.rebuildRollups(clientID: client.id, zone: newYork, connection: connection, logger: nodeA.logger)
        }
        for interval in [nil, StatisticsInterval.day, .month] {
            let query = StatisticsQuery(clientID: client.id)
            let buckets = try await nodeA.ratingStatistics(query, zone: newYork, interval: interval, groupBy: .agent)
            #expect(buckets == sample.expected(query, zone: newYork, interval: interval, groupBy: .agent))
        }
    }

    /// `/health` says why writes fail, in words without SQL, host or user.
    @Test func writeHealthNamesAFailedWritesSQLState() async throws {
        await nodeA.probeWrites(at: .now())
        #expect(nodeA.writeHealth == .ok)
        try await nodeA.read { connection in
            _ = try await connection.query(
                "ALTER TABLE heartbeat ADD CONSTRAINT no_beats CHECK (beat_at < 0) NOT VALID", logger: nodeA.logger)
        }
        await nodeA.probeWrites(at: .now())
        #expect(nodeA.writeHealth == .failing(reason: "database write failed (SQLSTATE 23514)"))
        try await nodeA.read { connection in
            _ = try await connection.query("ALTER TABLE heartbeat DROP CONSTRAINT no_beats", logger: nodeA.logger)
        }
        await nodeA.probeWrites(at: .now())
        #expect(nodeA.writeHealth == .ok)
    }

    /// A claim whose end of call could not be written (here the database refuses it; in the field
    /// it went away as the call ended) is left out of the heartbeat's renewal and lapses with its
    /// lease, while the claim of a call still up is renewed. Renewed with the run's others, it kept
    /// the agent from every call for as long as the node ran (issue 12's cluster test).
    @Test func aClaimWhoseEndCouldNotBeWrittenLapsesWhileOthersAreRenewed() async throws {
        let nodeB = try await node()
        let client = try await nodeA.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let queues = nodeA.queueState
        let (ended, up) = (CallUUID.random(), CallUUID.random())
        for (agent, call) in [("101", ended), ("102", up)] {
            #expect(try await queues.claim(clientID: client.id, agents: [agent], for: call) == [agent])
            try await queues.answered(clientID: client.id, queueID: nil, agent: agent, for: call)
        }
        try await execute(on: nodeA, "ALTER TABLE agent_idle ADD CONSTRAINT no_idle CHECK (idle_since < 0) NOT VALID")
        await #expect(throws: (any Error).self) {
            try await queues.finished(clientID: client.id, agent: "101", for: ended, at: .now())
        }
        try await execute(on: nodeA, "ALTER TABLE agent_idle DROP CONSTRAINT no_idle")
        // Both leases run out; the next heartbeat renews the claim of the call still up only.
        try await execute(on: nodeA, "UPDATE agent_claim SET expires_at = now() - interval '1 second'")
        await nodeA.probeWrites(at: .now())
        #expect(nodeA.writeHealth == .ok)
        #expect(try await nodeB.queueState.claim(clientID: client.id, agents: ["101", "102"], for: .random()) == ["101"])
    }

    func execute(on node: PostgresStore, _ statement: String) async throws {
        try await node.read { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: node.logger)
        }
    }

    /// A write that hangs (here: behind another node's lock) makes the writes failing once the
    /// probe's deadline passes, and working again when it completes.
    @Test func aProbeThatHangsMarksTheWritesFailingUntilItEnds() async throws {
        let nodeB = try await node()
        let (locked, lockTaken) = AsyncStream<Void>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await nodeB.write { connection in
                try await connection.query("LOCK TABLE heartbeat IN ACCESS EXCLUSIVE MODE", logger: nodeB.logger)
                lockTaken.yield()
                for await _ in released {}
            }
        }
        for await _ in locked { break }
        async let probe: Void = nodeA.probeWrites(at: .now())
        var sawFailing = false
        for _ in 0..<100 where !sawFailing {
            try await Task.sleep(for: .milliseconds(100))
            sawFailing = nodeA.writeHealth == .failing(reason: "database not answering")
        }
        release.finish()
        await probe
        try await holder.value
        #expect(sawFailing)
        #expect(nodeA.writeHealth == .ok)
    }
}
