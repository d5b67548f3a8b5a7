import Domain
import Foundation
import GRDB
import PostgresNIO
@testable import PostgresStorage
import Storage
import Testing
import TestSupport

/// A queue call answered at 100, its agent bridged at 110, still talking when last saved at 130.
func openCall(client: Int64, uuid: CallUUID) -> OpenCallRecord {
    OpenCallRecord(
        record: CallRecord(
            callUUID: uuid, clientID: client, extensionID: 5, extensionName: "200", extensionType: .queue,
            flow: .inbound, didNumber: "4930555", didDomain: "acme.local", fromUsername: "+4930111", fromScreenName: nil,
            fromDomain: nil, bridgedUsername: "101", bridgedDomain: "acme.local", bridgedAt: UnixTime(seconds: 110),
            bridgedDuration: 20, duration: 30, hangupDisposition: .system, startedAt: UnixTime(seconds: 100),
            legs: [
                CallLeg(role: .caller, aniNumber: "+4930111", destNumber: "4930555", destDomain: "acme.local",
                        application: nil, startedAt: UnixTime(seconds: 100), duration: 30),
                CallLeg(role: .agent, aniNumber: "+4930111", destNumber: "102", destDomain: nil,
                        application: .callcenter, startedAt: UnixTime(seconds: 104), duration: 2),
                CallLeg(role: .agent, aniNumber: "+4930111", destNumber: "101", destDomain: nil,
                        application: .callcenter, startedAt: UnixTime(seconds: 110), duration: 20),
            ]),
        openLegs: [0, 2], isBridged: true)
}

/// kill -9 of the run behind `store`, as the next run or another node sees it: on SQLite every
/// other run is over; on PostgreSQL a run is over once its heartbeat is older than the lease, made
/// so here rather than waited for.
func crash(_ store: any Store) async throws {
    guard let store = store as? PostgresStore else { return }
    try await store.read { connection in
        _ = try await connection.query("""
            UPDATE heartbeat SET seen_at = now() - \(PostgresStore.heartbeatLeaseSeconds + 1) * interval '1 second' WHERE run = \(store.run)
            """, logger: store.logger)
    }
}

/// Issue 9: a call's history is in the database from its answer on, open; a server that crashed
/// closes it at its next start.
@Suite struct OpenCallHistoryTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    @Test func anOpenRecordIsNotListedAndItsEndClosesIt() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let uuid = CallUUID.random()
        let open = openCall(client: client.id, uuid: uuid)
        try await store.saveOpenCall(open)
        try await store.saveOpenCall(open)  // a later save of the same call replaces it
        #expect(try await store.call(clientID: client.id, uuid: uuid) == nil)
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)).isEmpty)

        var ended = open.record
        ended.duration = 75
        ended.hangupDisposition = .callerHangup
        ended.legs.removeLast()
        try await store.insertCalls([ended], isSample: false)
        #expect(try await store.call(clientID: client.id, uuid: uuid) == ended)
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)) == [ended])
        // Closed is final: neither an open save nor a second end changes it.
        await #expect(throws: StorageError.conflict(field: "call_uuid")) { try await store.saveOpenCall(open) }
        await #expect(throws: StorageError.conflict(field: "call_uuid")) { try await store.insertCalls([ended], isSample: false) }
        #expect(try await store.call(clientID: client.id, uuid: uuid) == ended)
        #expect(try await store.closeInterruptedCalls() == 0)
    }

    /// Issue 11: a call that went out through trunks keeps its flow, its legs' trunks and the
    /// SIP status that refused one, also when its open record (still `in`) is closed.
    @Test func outsideLegsKeepTheirTrunkAndStatusAndTheCallBecomesOutbound() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let uuid = CallUUID.random()
        let open = openCall(client: client.id, uuid: uuid)
        try await store.saveOpenCall(open)
        var ended = open.record
        ended.flow = .outbound
        ended.hangupDisposition = .agentHangup
        ended.legs.append(CallLeg(
            role: .transfer, aniNumber: "+4930111", destNumber: "004915712345678", destDomain: nil, application: nil,
            startedAt: UnixTime(seconds: 131), duration: 0, flow: .outbound, trunkID: 7, trunkName: "Carrier A", sipStatus: 503))
        ended.legs.append(CallLeg(
            role: .agent, aniNumber: "+4930111", destNumber: "+4915712345678", destDomain: nil, application: .callcenter,
            startedAt: UnixTime(seconds: 132), duration: 40, flow: .outbound, trunkID: 8, trunkName: "Carrier B"))
        try await store.insertCalls([ended], isSample: false)
        let stored = try #require(try await store.call(clientID: client.id, uuid: uuid))
        #expect(stored == ended)
        #expect(stored.flow == .outbound && stored.legs.suffix(2).map(\.sipStatus) == [503, nil])
    }

    @Test func anOpenRecordOfAnotherClientIsNotTakenOver() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let other = try await store.createClient(name: "Other", timezone: "UTC", domain: "other.local")
        let uuid = CallUUID.random()
        try await store.saveOpenCall(openCall(client: client.id, uuid: uuid))
        var intruder = openCall(client: other.id, uuid: uuid).record
        intruder.hangupDisposition = .callerHangup
        await #expect(throws: StorageError.conflict(field: "call_uuid")) { try await store.insertCalls([intruder], isSample: false) }
    }

    /// kill -9 with the call up: the next start closes it as `system` at the last heartbeat,
    /// the bridge and the open legs ending then too; the rating it left joins by `call_uuid`.
    @Test func aCrashedServersOpenCallsAreClosedAtTheLastTimeKnown() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let uuid = CallUUID.random()
        try await store.saveOpenCall(openCall(client: client.id, uuid: uuid))
        let rating = try await store.insertRatings([NewRating(
            clientID: client.id, callUUID: uuid, ratedAt: UnixTime(seconds: 140), extensionID: 5, rate: 4, maxRate: 5,
            agentUsername: "101")])[0]
        await store.probeWrites(at: UnixTime(seconds: 160))  // the heartbeat, after the record's last save
        #expect(try await store.closeInterruptedCalls() == 0, "the run's own calls stay open")

        // kill -9: the next run opens the same database.
        try await crash(store)
        let restarted = try await database.reopen()
        await restarted.probeWrites(at: UnixTime(seconds: 900))  // its own heartbeat changes nothing of the last run's calls
        #expect(try await restarted.closeInterruptedCalls() == 1)
        let closed = try #require(try await restarted.call(clientID: client.id, uuid: uuid))
        #expect(closed.hangupDisposition == .system)
        #expect(closed.duration == 60 && closed.bridgedUsername == "101" && closed.bridgedDuration == 50)
        #expect(closed.legs.map(\.duration) == [60, 2, 50])
        let joined = try #require(try await restarted.rating(clientID: client.id, id: rating.id))
        #expect(joined.callUUID == closed.callUUID && joined.agentUsername == closed.bridgedUsername)
        #expect(try await restarted.closeInterruptedCalls() == 0)
    }

    /// Without a later heartbeat (the server died before its next beat), the record's own last
    /// save is the last time known.
    @Test func withoutALaterHeartbeatTheRecordsLastSaveIsTheEnd() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        await store.probeWrites(at: UnixTime(seconds: 90))
        let uuid = CallUUID.random()
        try await store.saveOpenCall(openCall(client: client.id, uuid: uuid))
        try await crash(store)
        let restarted = try await database.reopen()
        #expect(try await restarted.closeInterruptedCalls() == 1)
        let closed = try #require(try await restarted.call(clientID: client.id, uuid: uuid))
        #expect(closed.duration == 30 && closed.bridgedDuration == 20 && closed.hangupDisposition == .system)
    }

}

/// `writeHealth` follows real writes on SQLite (PostgreSQL: `PostgresNodeTests`).
@Suite struct SQLiteWriteHealthTests {
    let database: TemporaryDatabase
    let store: SQLiteStore

    init() throws {
        database = try TemporaryDatabase()
        store = try SQLiteStore(path: database.path)
    }

    @Test func writeHealthFollowsARealWrite() async throws {
        await store.probeWrites(at: .now())
        #expect(store.writeHealth == .ok)
        // Another connection holds the write lock longer than the store waits for it.
        let blocker = try SQLiteStoreLockHolder(path: database.path)
        await store.probeWrites(at: .now())
        #expect(store.writeHealth == .failing(reason: "database locked"))
        blocker.release()
        await store.probeWrites(at: .now())
        #expect(store.writeHealth == .ok)
    }

    /// Closing a crashed run's calls is a write too: when it fails the writes are failing, and
    /// nothing was closed.
    @Test func aCloseThatCannotWriteMarksTheWritesFailing() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let uuid = CallUUID.random()
        try await store.saveOpenCall(openCall(client: client.id, uuid: uuid))
        let restarted = try SQLiteStore(path: database.path)
        let blocker = try SQLiteStoreLockHolder(path: database.path)
        await #expect(throws: (any Error).self) { _ = try await restarted.closeInterruptedCalls() }
        #expect(restarted.writeHealth == .failing(reason: "database locked"))
        blocker.release()
        #expect(try await restarted.closeInterruptedCalls() == 1)
        await restarted.probeWrites(at: .now())
        #expect(restarted.writeHealth == .ok)
    }
}

/// Another process's connection holding the write lock (`BEGIN EXCLUSIVE`) until released.
final class SQLiteStoreLockHolder {
    private let queue: DatabaseQueue

    init(path: String) throws {
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.inDatabase { db in try db.execute(sql: "BEGIN EXCLUSIVE") }
    }

    func release() {
        try? queue.inDatabase { db in try db.execute(sql: "ROLLBACK") }
    }
}
