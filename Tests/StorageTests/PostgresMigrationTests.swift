import Domain
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

/// `qualityrate simulate` on PostgreSQL plays its call on a scratch copy: one transaction, rolled
/// back at the end, so the nodes using the database never see what it wrote.
@Suite(.enabled(if: TestStore.isPostgres, "needs QR_TEST_POSTGRES (scripts/test's PostgreSQL pass)"))
struct PostgresScratchCopyTests {
    @Test func whatAScratchCopyWritesIsGoneAfterwardsAndWasNeverSeenOutside() async throws {
        let database = try await TestStore()
        let client = try await database.store.createClient(name: "Acme", timezone: "UTC", domain: "acme.test")
        let rating = NewRating(clientID: client.id, callUUID: .random(), ratedAt: .now(), extensionID: 5, rate: 4, maxRate: 5, agentUsername: nil)
        try await database.store.insertRatings([rating])
        let query = RatingQuery(clientID: client.id, limit: 10)
        try await PostgresStore.withScratchCopy(try PostgresLocation(url: database.location), logger: Logger(label: "test")) { scratch in
            try await scratch.insertRatings([rating, rating])
            #expect(try await scratch.ratings(query).count == 3)
            // Statistics read several statements as one snapshot: inside the scratch transaction too.
            let buckets = try await scratch.ratingStatistics(
                StatisticsQuery(clientID: client.id), zone: .utc, interval: nil, groupBy: nil)
            #expect(buckets.first?.measures.rated == 3)
            #expect(try await database.store.ratings(query).count == 1, "the copy's ratings are not committed")
        }
        #expect(try await database.store.ratings(query).count == 1)
    }
}
