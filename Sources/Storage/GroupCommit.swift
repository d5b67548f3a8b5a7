import GRDB
import Synchronization

/// Commits the writes of many calls together. With every commit synced to disk, one
/// transaction per rating would make the disk's sync time the ceiling of calls per second; here
/// writes that arrive while a commit is under way wait for the next one, and each caller resumes
/// only once the transaction holding its write is durable. Each write runs in a savepoint of
/// its own, so one failing write (a duplicate call) fails alone.
final class GroupCommit: Sendable {
    private struct Job: Sendable {
        var work: @Sendable (Database) throws -> Void
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queued: [Job] = []
        var committing = false
    }

    private let pool: DatabasePool
    private let state = Mutex(State())

    init(pool: DatabasePool) { self.pool = pool }

    /// Runs `work` in the next group transaction; returns once that transaction is committed.
    func write(_ work: @escaping @Sendable (Database) throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startsCommitter = state.withLock { state in
                state.queued.append(Job(work: work, continuation: continuation))
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            // Not a long-lived task, so not one of the service group's: it lives while writes
            // are queued and ends when the queue is empty, and every write it holds is awaited
            // by its writer, which is.
            if startsCommitter { Task { await self.commitQueued() } }
        }
    }

    private func commitQueued() async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let batch = state.queued
                state.queued.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.committing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let outcomes: [(any Error)?]
            do {
                outcomes = try await pool.write { db in
                    batch.map { job -> (any Error)? in
                        do {
                            try db.inSavepoint {
                                try job.work(db)
                                return .commit
                            }
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
            } catch {
                // The transaction itself failed (disk full, I/O error): nothing of it is stored.
                outcomes = Array(repeating: error, count: batch.count)
            }
            for (job, failure) in zip(batch, outcomes) {
                if let failure { job.continuation.resume(throwing: failure) } else { job.continuation.resume() }
            }
        }
    }
}
