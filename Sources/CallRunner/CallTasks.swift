/// The work of the server's calls that outlives the event at hand — their timers, their
/// `call_interactive` requests, the start of callbacks, each SIP call's event loop — as child
/// tasks of one task group, held by `run()`. The service group runs it, so a SIGTERM ends every
/// one of them: `finish()` closes the group to new work and cancels what is left.
public final class CallTasks: TimerScheduler {
    public typealias Job = @Sendable () async -> Void

    private let jobs: AsyncStream<Job>.Continuation
    private let stream: AsyncStream<Job>

    public init() { (stream, jobs) = AsyncStream.makeStream() }

    /// Runs `job` as a child of `run()`'s group (after `finish()`: not at all).
    public func spawn(_ job: @escaping Job) {
        jobs.yield(job)
    }

    public func schedule(after delay: Duration, _ fire: @escaping @Sendable () async -> Void) -> any ScheduledTimer {
        let timer = GroupTimer()
        spawn {
            if await timer.sleep(delay) { await fire() }
        }
        return timer
    }

    /// The group; returns after `finish()`, once what was left has ended.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await job in stream { group.addTask { await job() } }
            group.cancelAll()
        }
    }

    public func finish() { jobs.finish() }
}

/// A timer whose task ends as soon as it is cancelled, not when its delay would have passed: a
/// call's ring and key timers are cancelled far more often than they fire.
private final class GroupTimer: ScheduledTimer {
    private let cancellation = AsyncStream.makeStream(of: Never.self)

    func cancel() { cancellation.continuation.finish() }

    /// True when `delay` passed; false when cancelled first (or the group is ending).
    func sleep(_ delay: Duration) async -> Bool {
        let cancelled = cancellation.stream
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await Task.sleep(for: delay)) != nil }
            group.addTask {
                for await _ in cancelled {}
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
