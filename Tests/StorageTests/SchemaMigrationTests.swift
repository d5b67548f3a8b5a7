import Domain
import Foundation
import GRDB
@testable import Storage
import Testing
import TestSupport

/// A database written by an earlier version: migrated up to `migration`, then given `rows`.
func databaseWritten(upTo migration: String, rows: String) async throws -> TemporaryDatabase {
    let database = try TemporaryDatabase()
    let earlier = try DatabaseQueue(path: database.path)
    try Schema.migrator.migrate(earlier, upTo: migration)
    try await earlier.write { db in try db.execute(sql: rows) }
    try earlier.close()
    return database
}

/// Migrations bring a database written by an earlier version forward without changing what its
/// configuration does.
@Suite struct SchemaMigrationTests {
    /// Before migration 6 a quality_rate rule's finish_sound 0 meant none; since, 0 is the built-in
    /// "thank you" (as for a queue, SPEC §4.1) and none is NULL.
    @Test func ratingRulesThatPlayedNoFinishSoundStillPlayNone() async throws {
        let database = try await databaseWritten(upTo: "5-queue-ringing", rows: """
            INSERT INTO client (id, name, timezone, domain, created_at) VALUES (1, 'Acme', 'UTC', 'acme.local', 0);
            INSERT INTO extension (id, client_id, name, type, created_at) VALUES (9, 1, '099', 'ivr', 0);
            INSERT INTO ivr_context (id, ivr_id, name) VALUES (4, 9, 'main');
            INSERT INTO ivr (extension_id, entry_context) VALUES (9, 4);
            INSERT INTO ivr_rule (context_id, option_digits, position, action, sound, max_rate, finish_sound)
                VALUES (4, 'start', 1, 'quality_rate', 0, 9, 0), (4, 'start', 2, 'quality_rate', 0, 5, 7);
            INSERT INTO ivr_rule (context_id, option_digits, position, action, record_digits_variable, record_digits_max,
                record_digits_sound) VALUES (4, 'start', 3, 'record_digits', 'account', 8, 0);
            """)

        let store = try SQLiteStore(path: database.path)
        let rules = try #require(try await store.ivrRules(clientID: 1, ivrID: 9, contextID: 4, option: "start"))
        #expect(rules.map(\.definition.action) == [
            .qualityRate(sound: 0, maxRate: 9, finishSound: nil),
            .qualityRate(sound: 0, maxRate: 5, finishSound: 7),
            .recordDigits(variable: "account", maxDigits: 8, sound: 0),
        ])
    }
}

/// Migration 10 (issue 10) counts the ratings already stored into the statistics' local-day
/// rollups, in each client's zone.
@Suite struct RatingRollupMigrationTests {
    @Test func backfillsTheRollupsFromTheRatingsAlreadyStored() async throws {
        // 2026-03-26 23:00:00 UTC is the 27th in Berlin, the 26th in UTC.
        let database = try await databaseWritten(upTo: "9-rating-rollups", rows: """
            INSERT INTO client (id, name, timezone, domain, created_at) VALUES (1, 'Acme', 'Europe/Berlin', 'acme.local', 0);
            INSERT INTO rating (client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username) VALUES
                (1, 'A', 1774566000, 50, 5, 5, '101'), (1, 'B', 1774569600, 50, 4, 5, '101'),
                (1, 'C', 1774570500, 50, 3, 9, NULL), (1, 'D', 1774570501, 51, 3, 9, NULL);
            """)

        let store = try SQLiteStore(path: database.path)
        let berlin = ClientTimeZone(identifier: "Europe/Berlin")!
        func days(_ agent: String? = nil) async throws -> [String: Int64] {
            let buckets = try await store.ratingStatistics(
                StatisticsQuery(clientID: 1, agentUsername: agent), zone: berlin, interval: .day, groupBy: nil)
            return Dictionary(uniqueKeysWithValues: buckets.map { ($0.start!.description, $0.measures.rated) })
        }
        #expect(try await days() == ["2026-03-27 00:00:00": 4])
        // New ratings are counted in their insert's transaction, into the same rows.
        try await store.insertRatings([NewRating(
            clientID: 1, callUUID: .random(), ratedAt: UnixTime(seconds: 1_774_570_000), extensionID: 50, rate: 5, maxRate: 5,
            agentUsername: "101")])
        #expect(try await days("101") == ["2026-03-27 00:00:00": 3])
        // Another zone has other days: the rollups are rebuilt with the client.
        var client = try #require(try await store.client(id: 1))
        client.timezone = "UTC"
        try await store.updateClient(client)
        let utc = try await store.ratingStatistics(StatisticsQuery(clientID: 1), zone: .utc, interval: .day, groupBy: nil)
        #expect(utc.map { "\($0.start!) \($0.measures.rated)" } == ["2026-03-26 00:00:00 1", "2026-03-27 00:00:00 4"])
    }
}

/// A rollup row's sums are one BLOB (`PackedMeasures`): what is packed reads back the same, and
/// adding two packed rows adds their measures.
@Suite struct PackedMeasuresTests {
    @Test func packedMeasuresReadBackAndAdd() {
        var first = StatisticsMeasures()
        first.addRating(rate: 4, maxRate: 5)
        first.addRating(rate: 9, maxRate: 9)
        first.addOffer(rated: true)
        var second = StatisticsMeasures()
        second.addRating(rate: 1, maxRate: 3)
        second.addOffer(rated: false)
        var sums = PackedMeasures()
        for measures in [first, second] {
            PackedMeasures(measures).data.withUnsafeBytes { sums.add($0) }
        }
        var both = first
        both.add(second)
        #expect(sums.measures == both)
        #expect(PackedMeasures(first).measures == first)
        // A BLOB of another size is not read as sums.
        Data([1, 2, 3]).withUnsafeBytes { sums.add($0) }
        #expect(sums.measures == both)
    }
}

/// Migration 11 (issue 10) makes each outbox row a delivery with an id of its own; the rows
/// already there keep their state, and their rating's id as theirs.
@Suite struct AlertURLMigrationTests {
    @Test func deliveriesAlreadyInTheOutboxKeepTheirStateAndTheirRatingsID() async throws {
        let database = try await databaseWritten(upTo: "10-rating-day-rollups", rows: """
            INSERT INTO client (id, name, timezone, domain, created_at, rating_notification_url)
                VALUES (1, 'Acme', 'UTC', 'acme.local', 0, 'https://crm.example/hook');
            INSERT INTO rating (id, client_id, call_uuid, rated_at, extension_id, rate, max_rate) VALUES (41, 1, 'BF4643A0B90D11E98DA84B40F3DF0459', 1000, 5, 2, 5);
            INSERT INTO rating_notification (rating_id, client_id, url, is_alert, created_at, state, attempts, next_attempt_at)
                VALUES (41, 1, 'https://crm.example/hook', TRUE, 1000, 'pending', 2, 1003);
            """)
        let store = try SQLiteStore(path: database.path)
        let kept = try #require(try await store.notifications(clientID: 1, beforeID: nil, limit: 10).first)
        #expect(kept.id == 41 && kept.rating.id == 41 && kept.attempts == 2 && kept.state == .pending && kept.isAlert)
        #expect(try await store.dueNotifications(at: UnixTime(seconds: 1003), limit: 10, excluding: []).map(\.notification.id) == [41])
    }
}

/// Migration 12 (issue 11) adds the trunks: a client of an earlier version has none and can add one.
@Suite struct TrunkMigrationTests {
    @Test func aClientOfAnEarlierVersionStartsWithNoTrunksAndCanAddOne() async throws {
        let database = try await databaseWritten(upTo: "11-rating-alert-url", rows: """
            INSERT INTO client (id, name, timezone, domain, created_at) VALUES (1, 'Acme', 'UTC', 'acme.local', 0);
            """)
        let store = try SQLiteStore(path: database.path)
        #expect(try await store.trunks(clientID: 1).isEmpty)
        let created = try await store.createTrunk(Trunk(
            id: 0, clientID: 1, name: "main", host: "sip.provider.example", port: 5060, transport: .udp, username: "acct",
            password: "secret", register: true, registerExpires: 3600, fromDomain: "", prefixes: [], position: 0, stripDigits: 0,
            addPrefix: "", callerID: nil, maxCalls: 0, status: .registering, lastError: nil, createdAt: UnixTime(seconds: 0)))
        #expect(try await store.trunks(clientID: 1) == [created])
        #expect(try await store.registeringTrunks() == [created])
    }
}

/// Migration 13 (issue 11): legs stored before it read as `in`, with no trunk and no SIP status.
@Suite struct OutsideLegsMigrationTests {
    @Test func earlierLegsReadAsInboundWithoutATrunk() async throws {
        let database = try await databaseWritten(upTo: "12-trunks", rows: """
            INSERT INTO client (id, name, timezone, domain, created_at) VALUES (1, 'Acme', 'UTC', 'acme.local', 0);
            INSERT INTO call (call_uuid, client_id, flow, duration, hangup_disposition, started_at)
                VALUES ('BF4643A0B90D11E98DA84B40F3DF0459', 1, 'in', 30, 'caller_hangup', 1000);
            INSERT INTO call_leg (call_uuid, position, role, ani_number, dest_number, started_at, duration)
                VALUES ('BF4643A0B90D11E98DA84B40F3DF0459', 0, 'caller', '+4930111', '4930555', 1000, 30);
            """)
        let store = try SQLiteStore(path: database.path)
        let uuid = try #require(CallUUID("BF4643A0B90D11E98DA84B40F3DF0459"))
        let call = try #require(try await store.call(clientID: 1, uuid: uuid))
        let leg = try #require(call.legs.first)
        #expect(call.legs.count == 1 && leg.flow == .inbound)
        #expect(leg.trunkID == nil && leg.trunkName == nil && leg.sipStatus == nil)
        // The migrated database takes the new columns: an outside leg reads back whole.
        var outside = call
        outside.callUUID = CallUUID.random()
        outside.flow = .outbound
        outside.legs.append(CallLeg(
            role: .transfer, aniNumber: "+4930111", destNumber: "004915712345678", destDomain: nil, application: nil,
            startedAt: UnixTime(seconds: 1020), duration: 0, flow: .outbound, trunkID: 3, trunkName: "Carrier", sipStatus: 503))
        try await store.insertCalls([outside], isSample: false)
        #expect(try await store.call(clientID: 1, uuid: outside.callUUID) == outside)
    }
}
