import GRDB

/// Commits the writes of many calls together (`BatchedWrites`) in one SQLite transaction. Each
/// write runs in a savepoint of its own, so one failing write (a duplicate call) fails alone.
final class GroupCommit: Sendable {
    typealias Work = @Sendable (Database) throws -> Void

    private let pool: DatabasePool
    private let batches = BatchedWrites<Work, Void>()

    init(pool: DatabasePool) { self.pool = pool }

    /// Runs `work` in the next group transaction; returns once that transaction is committed.
    func write(_ work: @escaping Work) async throws {
        try await batches.write(work) { [pool] batch in await Self.commit(batch, pool: pool) }
    }

    private static func commit(_ batch: [Work], pool: DatabasePool) async -> [Result<Void, any Error>] {
        do {
            return try await pool.write { db in
                batch.map { work in
                    Result {
                        try db.inSavepoint {
                            try work(db)
                            return .commit
                        }
                    }
                }
            }
        } catch {
            // The transaction itself failed (disk full, I/O error): nothing of it is stored.
            return Array(repeating: .failure(error), count: batch.count)
        }
    }
}
