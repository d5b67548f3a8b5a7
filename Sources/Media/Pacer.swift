import NIOCore

/// Drives every playing leg (a prompt, or keys being sent) of one event loop from a single 20 ms
/// tick, rather than a timer per leg: at thousands of prompts at once, one wake-up per loop per
/// 20 ms is what keeps the pacing cheap. Each tick sends at most one packet per playing leg. A
/// late tick still sends one (no burst to catch up); the tick numbers follow the wall clock, so
/// the timestamps stay in step with it. Lives on its event loop and is only touched there.
final class Pacer {
    static let interval = TimeAmount.milliseconds(20)

    let eventLoop: any EventLoop
    private let metrics: MediaMetrics
    private let epoch = NIODeadline.now()
    private var lastTick: Int64 = -1
    private var legs: [LegState] = []
    private var tickScheduled = false

    init(eventLoop: any EventLoop, metrics: MediaMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    /// Includes `leg` from the next tick on (no-op if it already is).
    func add(_ leg: LegState) {
        guard leg.pacerIndex == nil else { return }
        leg.pacerIndex = legs.count
        legs.append(leg)
        scheduleNextTick()
    }

    func remove(_ leg: LegState) {
        guard let index = leg.pacerIndex else { return }
        removeLeg(at: index)
    }

    /// O(1): the last leg takes the removed one's place.
    private func removeLeg(at index: Int) {
        legs[index].pacerIndex = nil
        let last = legs.removeLast()
        if index < legs.count {
            legs[index] = last
            last.pacerIndex = index
        }
    }

    private func tick() {
        tickScheduled = false
        let tick = max(tickNumber(at: .now()), lastTick + 1)
        lastTick = tick
        var finished: [@Sendable () -> Void] = []
        var sent = 0
        var index = 0
        while index < legs.count {
            let outcome = legs[index].sendFrame(atTick: tick)
            if outcome.sent { sent += 1 }
            finished += outcome.finished
            if outcome.isIdle {
                removeLeg(at: index)
            } else {
                index += 1
            }
        }
        if sent > 0 { metrics.packetsSent.increment(by: sent) }
        // After the loop: a callback may start the next prompt on its leg (or any other).
        for onFinished in finished { onFinished() }
        scheduleNextTick()
    }

    private func scheduleNextTick() {
        guard !tickScheduled, !legs.isEmpty else { return }
        // A slot whose start has passed unserved runs at once (the tick then serves the
        // current slot): a tick that ran a little late does not cost the next one.
        let next = lastTick + 1
        tickScheduled = true
        eventLoop.assumeIsolated().scheduleTask(deadline: epoch + .nanoseconds(next * Self.interval.nanoseconds)) {
            self.tick()
        }
    }

    private func tickNumber(at time: NIODeadline) -> Int64 {
        (time - epoch).nanoseconds / Self.interval.nanoseconds
    }
}
