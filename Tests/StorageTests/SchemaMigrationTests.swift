import Domain
import GRDB
@testable import Storage
import Testing
import TestSupport

/// Migrations bring a database written by an earlier version forward without changing what its
/// configuration does.
@Suite struct SchemaMigrationTests {
    /// Before migration 6 a quality_rate rule's finish_sound 0 meant none; since, 0 is the built-in
    /// "thank you" (as for a queue, SPEC §4.1) and none is NULL.
    @Test func ratingRulesThatPlayedNoFinishSoundStillPlayNone() async throws {
        let database = try TemporaryDatabase()
        let earlier = try DatabaseQueue(path: database.path)
        try Schema.migrator.migrate(earlier, upTo: "5-queue-ringing")
        try await earlier.write { db in
            try db.execute(sql: """
                INSERT INTO client (id, name, timezone, domain, created_at) VALUES (1, 'Acme', 'UTC', 'acme.local', 0);
                INSERT INTO extension (id, client_id, name, type, created_at) VALUES (9, 1, '099', 'ivr', 0);
                INSERT INTO ivr_context (id, ivr_id, name) VALUES (4, 9, 'main');
                INSERT INTO ivr (extension_id, entry_context) VALUES (9, 4);
                INSERT INTO ivr_rule (context_id, option_digits, position, action, sound, max_rate, finish_sound)
                    VALUES (4, 'start', 1, 'quality_rate', 0, 9, 0), (4, 'start', 2, 'quality_rate', 0, 5, 7);
                INSERT INTO ivr_rule (context_id, option_digits, position, action, record_digits_variable, record_digits_max,
                    record_digits_sound) VALUES (4, 'start', 3, 'record_digits', 'account', 8, 0);
                """)
        }
        try earlier.close()

        let store = try SQLiteStore(path: database.path)
        let rules = try #require(try await store.ivrRules(clientID: 1, ivrID: 9, contextID: 4, option: "start"))
        #expect(rules.map(\.definition.action) == [
            .qualityRate(sound: 0, maxRate: 9, finishSound: nil),
            .qualityRate(sound: 0, maxRate: 5, finishSound: 7),
            .recordDigits(variable: "account", maxDigits: 8, sound: 0),
        ])
    }
}
