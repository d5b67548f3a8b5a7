import Synchronization

/// Writes that arrive while one is being committed wait, and the next transaction commits them
/// together — as SQLite's `GroupCommit`. For the ratings (`PostgresStore.insertRatings`): every
/// rating transaction of every node holds the cluster-wide rating lock to its commit, so one
/// transaction per call made the lock's queue the ceiling of rated calls per second, and its
/// waiters held most of a node's pooled connections (docs/BENCHMARKS.md). Batched, a node has
/// one rating transaction at a time on one connection, and each holds the lock for as many
/// ratings as arrived meanwhile.
final class BatchedWrites<Input: Sendable, Output: Sendable>: Sendable {
    /// Commits a batch in one transaction, answering each input's output in order.
    typealias Commit = @Sendable ([Input]) async throws -> [Output]

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
            for (job, outcome) in zip(batch, await Self.outcomes(of: batch.map(\.input), committingWith: commit)) {
                job.continuation.resume(with: outcome)
            }
        }
    }

    /// The batch's outcomes. When its transaction fails and holds more than one write, each is
    /// tried again alone, so that one write's failure (its client just deleted) fails only that
    /// write, as SQLite's savepoints do.
    private static func outcomes(of inputs: [Input], committingWith commit: Commit) async -> [Result<Output, any Error>] {
        do {
            return try await commit(inputs).map { .success($0) }
        } catch {
            guard inputs.count > 1 else { return [.failure(error)] }
            var outcomes: [Result<Output, any Error>] = []
            for input in inputs {
                do { outcomes.append(.success(try await commit([input])[0])) } catch { outcomes.append(.failure(error)) }
            }
            return outcomes
        }
    }
}
