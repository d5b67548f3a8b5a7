import Domain
import Foundation
import PostgresStorage
import Storage
import Testing
import TestSupport

/// What the nodes of a cluster share through their PostgreSQL database (issue 12), seen from two
/// stores on one database, as two nodes see it. (On SQLite every server is alone: its state is
/// in its memory, and `LocalQueueState`/`LocalRegistrationState` are covered through the call
/// flows' tests.)
@Suite(.enabled(if: TestStore.isPostgres, "needs QR_TEST_POSTGRES (scripts/test's PostgreSQL pass)"))
struct SharedStateTests {
    let database: TestStore
    let node1: any Store
    let node2: any Store
    let client: Client

    init() async throws {
        database = try await TestStore()
        node1 = database.store
        node2 = try await database.reopen()
        client = try await node1.createClient(name: "Acme", timezone: "UTC", domain: "acme.test")
    }

    @Test func anAgentIsClaimedByOneCallOfOneNodeAtATime() async throws {
        let (first, second) = (CallUUID.random(), CallUUID.random())
        #expect(try await node1.queueState.claim(clientID: client.id, agents: ["101", "102"], for: first) == ["101", "102"])
        // Held by node 1's call: node 2's call gets only what is free.
        #expect(try await node2.queueState.claim(clientID: client.id, agents: ["102", "103"], for: second) == ["103"])
        // The holding call claiming again keeps what it has.
        #expect(try await node1.queueState.claim(clientID: client.id, agents: ["101"], for: first) == ["101"])
        // Released by node 1 (102 did not answer): node 2 may take it.
        try await node1.queueState.release(clientID: client.id, agents: ["102"], for: first)
        #expect(try await node2.queueState.claim(clientID: client.id, agents: ["102"], for: second) == ["102"])
        // A release by a call that does not hold the agent changes nothing.
        try await node1.queueState.release(clientID: client.id, agents: ["102"], for: first)
        #expect(try await node1.queueState.claim(clientID: client.id, agents: ["102"], for: .random()) == [])
    }

    @Test func manyCallsOnTwoNodesClaimingOneAgentAtOnceGetItOnce() async throws {
        let calls = (0..<40).map { _ in CallUUID.random() }
        let winners = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, call) in calls.enumerated() {
                let node = index.isMultiple(of: 2) ? node1 : node2
                group.addTask { try await node.queueState.claim(clientID: client.id, agents: ["101", "102"], for: call).count }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        // Each agent went to exactly one call.
        #expect(winners.reduce(0, +) == 2)
    }

    @Test func aTalkingAgentIsNotAvailableOnAnyNodeAndIsIdleOnceFinished() async throws {
        let queue = try await node1.createExtension(
            NewExtension(clientID: client.id, name: "200", kind: .queue, label: "Support"), status: .active, credentials: nil)
        let call = CallUUID.random()
        #expect(try await node1.queueState.claim(clientID: client.id, agents: ["101"], for: call) == ["101"])
        try await node1.queueState.answered(clientID: client.id, queueID: queue.id, agent: "101", for: call)
        let talking = try await node2.queueState.selection(clientID: client.id, queueID: queue.id, agents: ["101", "102"])
        #expect(talking.talking == ["101"] && talking.lastAnswered == "101")
        // Talking: a release (as for ringing) does not free it; the end of its part does.
        try await node1.queueState.release(clientID: client.id, agents: ["101"], for: call)
        #expect(try await node2.queueState.selection(clientID: client.id, queueID: queue.id, agents: ["101"]).talking == ["101"])
        try await node1.queueState.finished(clientID: client.id, agent: "101", for: call, at: UnixTime(seconds: 1_800_000_000))
        let after = try await node2.queueState.selection(clientID: client.id, queueID: queue.id, agents: ["101", "102"])
        #expect(after.talking.isEmpty && after.idleSince == ["101": UnixTime(seconds: 1_800_000_000)] && after.lastAnswered == "101")
    }

    /// A node killed with agents claimed stops renewing their leases: once a lease is over, the
    /// agent is free for any call (here the lease's end is brought forward, as time would).
    @Test func aDeadNodesClaimsEndWithTheirLease() async throws {
        #expect(try await node1.queueState.claim(clientID: client.id, agents: ["101"], for: .random()) == ["101"])
        #expect(try await node2.queueState.claim(clientID: client.id, agents: ["101"], for: .random()) == [])
        try await database.execute("UPDATE agent_claim SET expires_at = now() - interval '1 second'")
        #expect(try await node2.queueState.claim(clientID: client.id, agents: ["101"], for: .random()) == ["101"])
    }

    @Test func bindingsSavedThroughOneNodeAreReadByTheOtherAndRacesAreRefused() async throws {
        let binding = StoredBinding(
            contact: "sip:101@192.0.2.7:5062", expiresAt: 1_900_000_000, callID: "a@b", sequence: 3,
            path: ["<sip:127.0.0.10;lr;received=sip:192.0.2.7:5062>"], source: "udp 127.0.0.10 5060")
        let empty = try await node2.registrationState.bindings(of: "101@acme.test")
        #expect(empty == VersionedBindings(bindings: [], version: 0))
        #expect(try await node1.registrationState.saveBindings([binding], of: "101@acme.test", replacing: 0))
        let seen = try await node2.registrationState.bindings(of: "101@acme.test")
        #expect(seen.bindings == [binding] && seen.version == 1)
        // Node 1 saves again from version 1; node 2's save from the same version then loses.
        #expect(try await node1.registrationState.saveBindings([], of: "101@acme.test", replacing: 1))
        #expect(try await !node2.registrationState.saveBindings([binding], of: "101@acme.test", replacing: 1))
        #expect(try await node2.registrationState.bindings(of: "101@acme.test").bindings.isEmpty)
    }

    @Test func everyNodeSignsNoncesWithTheSameSecretAndTakesANonceCountOnce() async throws {
        let secret = try await node1.registrationState.nonceSecret()
        #expect(secret.count == 32)
        #expect(try await node2.registrationState.nonceSecret() == secret)
        #expect(try await node1.registrationState.acceptNonceCount(1, of: "n1", until: 4_000_000_000))
        // The same request replayed to node 2.
        #expect(try await !node2.registrationState.acceptNonceCount(1, of: "n1", until: 4_000_000_000))
        #expect(try await node2.registrationState.acceptNonceCount(2, of: "n1", until: 4_000_000_000))
        #expect(try await !node1.registrationState.acceptNonceCount(2, of: "n1", until: 4_000_000_000))
    }

    /// LISTEN/NOTIFY (issue 12): ratings and trunk changes committed through one node ring the
    /// other node's broadcasts, so its live streams and trunk registration hear of them at once.
    @Test func changesCommittedByOneNodeRingTheOthersBroadcasts() async throws {
        let listener = try #require(node1 as? PostgresStore)
        while !listener.listensForChanges { try await Task.sleep(for: .milliseconds(20)) }
        let ratingsSeen = node1.ratingBroadcast.generation
        let trunksSeen = node1.trunkBroadcast.generation
        try await node2.insertRatings([NewRating(
            clientID: client.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 4, maxRate: 5, agentUsername: nil)])
        #expect(await node1.ratingBroadcast.wait(after: ratingsSeen, upTo: .seconds(10)) > ratingsSeen)
        _ = try await node2.createTrunk(Trunk(
            id: 0, clientID: client.id, name: "carrier", host: "198.51.100.10", port: 5060, transport: .udp, username: "a", password: "p",
            register: false, registerExpires: 3600, fromDomain: "", prefixes: [], position: 0, stripDigits: 0, addPrefix: "",
            callerID: nil, maxCalls: 0, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0)))
        #expect(await node1.trunkBroadcast.wait(after: trunksSeen, upTo: .seconds(10)) > trunksSeen)
    }
}
