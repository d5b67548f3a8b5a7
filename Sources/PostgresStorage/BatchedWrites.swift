import Synchronization

/// Writes that arrive while one is being committed wait, and the next transaction commits them
/// together — as SQLite's `GroupCommit`. For the ratings (`PostgresStore.insertRatings`): every
/// rating transaction of every node holds the cluster-wide rating lock to its commit, so one
/// transaction per call made the lock's queue the ceiling of rated calls per second, and its
/// waiters held most of a node's pooled connections (docs/BENCHMARKS.md). Batched, a node has
/// one rating transaction at a time on one connection, and each holds the lock for as many
/// ratings as arrived meanwhile.
final class BatchedWrites<Input: Sendable, Output: Sendable>: Sendable {
    /// Commits a batch, giving each input its own outcome, in order.
    typealias Commit = @Sendable ([Input]) async -> [Result<Output, any Error>]

    private struct Job: Sendable {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State: Sendable {
        var queued: [Job] = []
        var committer: Commit?
    }

    private let state = Mutex(State())

    /// Queues `input` for the next batch, which `commit` commits when this write starts the
    /// committer (no batch is under way); returns once its batch is committed.
    func write(_ input: Input, committingWith commit: @escaping Commit) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            let startsCommitter = state.withLock { state in
                state.queued.append(Job(input: input, continuation: continuation))
                guard state.committer == nil else { return false }
                state.committer = commit
                return true
            }
            // Not a long-lived task, so not one of the service group's: it lives while writes
            // are queued and ends when the queue is empty, and every write it holds is awaited
            // by its writer, which is. Not the writer's own task either: a writer cancelled
            // (its call hung up) must not cancel the others' commit.
            if startsCommitter { Task { await self.commitQueued(with: commit) } }
        }
    }

    private func commitQueued(with commit: Commit) async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let batch = state.queued
                state.queued.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.committer = nil }
                return batch
            }
            guard !batch.isEmpty else { return }
            let outcomes = await commit(batch.map(\.input))
            for (job, outcome) in zip(batch, outcomes) { job.continuation.resume(with: outcome) }
        }
    }
}
