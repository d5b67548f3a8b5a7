public import NIOCore
public import NIOPosix

/// The work of the server's calls that outlives the event at hand — their timers, their
/// `call_interactive` requests, the start of callbacks, each SIP call's event loop — as child
/// tasks of one task group, held by `run()`. The service group runs it, so a SIGTERM ends every
/// one of them: `finish()` closes the group to new work and cancels what is left.
public final class CallTasks: TimerScheduler {
    public typealias Job = @Sendable () async -> Void

    private let jobs: AsyncStream<Job>.Continuation
    private let stream: AsyncStream<Job>
    private let timerLoop: any EventLoop

    /// `timerLoop`: where timers wait. A waiting timer is an entry in the loop's schedule, not a
    /// task: a call's ring and key timers are cancelled far more often than they fire, and
    /// thousands of calls each have some.
    public init(timerLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        (stream, jobs) = AsyncStream.makeStream()
        self.timerLoop = timerLoop
    }

    /// Runs `job` as a child of `run()`'s group (after `finish()`: not at all).
    public func spawn(_ job: @escaping Job) {
        jobs.yield(job)
    }

    /// `fire` runs as a job of the group once `delay` has passed, unless cancelled first.
    public func schedule(after delay: Duration, _ fire: @escaping @Sendable () async -> Void) -> any ScheduledTimer {
        let jobs = jobs
        let scheduled = timerLoop.scheduleTask(in: TimeAmount(delay)) { _ = jobs.yield(fire) }
        return LoopTimer(scheduled: scheduled)
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

private struct LoopTimer: ScheduledTimer {
    let scheduled: Scheduled<Void>
    func cancel() { scheduled.cancel() }
}
