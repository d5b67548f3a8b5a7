import Synchronization

/// Writes that arrive while a batch is being committed wait, and the next transaction commits
/// them together; each writer resumes once the transaction holding its write has committed.
/// With every commit synced to disk (SQLite) or holding the cluster-wide rating lock
/// (PostgreSQL, issue 12), one transaction per call would make that the ceiling of calls per
/// second. How a batch is committed, and how one failing write is kept from failing the others,
/// is the store's: `GroupCommit` (savepoints), `PostgresStore` (the batch, then each alone).
/// The queue holds at most one write per writer waiting on it.
public final class BatchedWrites<Input: Sendable, Output: Sendable>: Sendable {
    /// Commits a batch, answering each input's outcome in order.
    public typealias Commit = @Sendable ([Input]) async -> [Result<Output, any Error>]

    private struct Job: Sendable {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State: Sendable {
        var queued: [Job] = []
        var committing = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Queues `input` for the next batch; when no batch is under way this write starts the
    /// committer, which commits with `commit` until the queue is empty. Returns once its batch is
    /// committed.
    public func write(_ input: Input, committingWith commit: @escaping Commit) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            let startsCommitter = state.withLock { state in
                state.queued.append(Job(input: input, continuation: continuation))
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            // Not a long-lived task, so not one of the service group's: it lives while writes
            // are queued and ends when the queue is empty, and every write it holds is awaited
            // by its writer, which is. Not the writer's own task either: a writer cancelled (its
            // call hung up) must not cancel the others' commit.
            if startsCommitter { Task { await self.commitQueued(with: commit) } }
        }
    }

    private func commitQueued(with commit: Commit) async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let batch = state.queued
                state.queued.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.committing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            for (job, outcome) in zip(batch, await commit(batch.map(\.input))) { job.continuation.resume(with: outcome) }
        }
    }
}
