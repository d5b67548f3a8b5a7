import Foundation
@testable import PostgresStorage
import Testing

/// The health check on a database that does not answer (issue 12: a node whose PostgreSQL
/// restarts must say so at once). No PostgreSQL server needed: nothing listens on the port.
@Suite struct PostgresHealthTests {
    /// Without the deadline the check waits for a pooled connection until the pool's circuit
    /// breaker trips, over a minute: the test's time limit (Swift Testing's least, one minute)
    /// fails it then. No timed assertion: the machine may be busy.
    @Test(.timeLimit(.minutes(1)))
    func aHealthCheckFailsWithinTheProbeDeadlineWhenTheDatabaseDoesNotAnswer() async throws {
        let store = PostgresStore(location: try PostgresLocation(url: "postgres://qualityrate@127.0.0.1:1/none?sslmode=disable"))
        let running = Task { try await store.run() }
        defer { running.cancel() }
        await #expect(throws: (any Error).self) { try await store.checkHealth() }
    }
}
