import Foundation
import Logging
import PostgresNIO
@testable import PostgresStorage
import Storage
import Testing
import TestSupport

/// Migrating a PostgreSQL database (issue 12): several nodes start at once against one database.
/// These tests need a PostgreSQL server; `scripts/test` runs them in its PostgreSQL pass.
@Suite(.enabled(if: TestStore.isPostgres, "needs QR_TEST_POSTGRES (scripts/test's PostgreSQL pass)"))
struct PostgresMigrationTests {
    @Test func nodesStartingAtOnceMigrateTheDatabaseExactlyOnce() async throws {
        let location = try await TestStore.emptyPostgresDatabase()
        // Three nodes, each with its own pool, migrate the empty database at the same time: the
        // advisory lock lets one create the schema and the others find it done.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in 1...3 {
                group.addTask {
                    try await PostgresStore.withStore(location, logger: Logger(label: "node\(node)")) { _ in }
                }
            }
            try await group.waitForAll()
        }
        try await PostgresStore.withStore(location, logger: Logger(label: "check")) { store in
            let names = try await store.read { connection in
                var names: [String] = []
                for try await name in try await connection.query("SELECT name FROM schema_migration ORDER BY name", logger: store.logger)
                    .decode(String.self)
                {
                    names.append(name)
                }
                return names
            }
            #expect(names == PostgresStore.migrations.map(\.name))
        }
    }

}

/// `--database postgres://…` as an operator writes it.
@Suite struct PostgresLocationTests {
    @Test func theURLsPasswordIsNeverShown() throws {
        let location = try PostgresLocation(url: "postgres://qr:s%40cret@db.example:6543/ratings?sslmode=require")
        #expect(location.password == "s@cret")
        #expect(location.port == 6543)
        #expect(location.database == "ratings")
        #expect("\(location)" == "postgres://qr@db.example:6543/ratings")
        #expect(throws: PostgresLocation.ParseError.self) { try PostgresLocation(url: "postgres://db.example/ratings") }
        #expect(throws: PostgresLocation.ParseError.self) { try PostgresLocation(url: "postgres://qr@db.example/") }
        #expect(throws: PostgresLocation.ParseError.self) { try PostgresLocation(url: "postgres://qr@db.example/x?sslmode=maybe") }
    }
}
