import Foundation
@testable import PostgresStorage
import Testing

/// The health check on a database that does not answer (issue 12: a node whose PostgreSQL
/// restarts must say so at once). No PostgreSQL server needed: nothing listens on the port.
@Suite struct PostgresHealthTests {
    @Test func aHealthCheckFailsWithinTheProbeDeadlineWhenTheDatabaseDoesNotAnswer() async throws {
        let store = PostgresStore(location: try PostgresLocation(url: "postgres://qualityrate@127.0.0.1:1/none?sslmode=disable"))
        let running = Task { try await store.run() }
        defer { running.cancel() }
        let started = ContinuousClock.now
        await #expect(throws: (any Error).self) { try await store.checkHealth() }
        // Not the pool's minute before its circuit breaker trips.
        #expect(ContinuousClock.now - started < PostgresStore.probeDeadline + .seconds(3))
    }
}
