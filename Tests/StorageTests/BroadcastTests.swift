import Storage
import Synchronization
import Testing

/// The wake-up signal of the live event streams (issue 10): one ring wakes every listener, and a
/// ring that came while a listener was busy is seen at its next wait.
@Suite(.timeLimit(.minutes(1)))
struct BroadcastTests {
    @Test func theStateWakesEveryParkedWaiterAndCountsGenerations() {
        var state = BroadcastState<String>()
        #expect(state.park("a", seen: 0) == .parked(ticket: 0))
        #expect(state.park("b", seen: 0) == .parked(ticket: 1))
        #expect(state.waiting == 2)
        #expect(Set(state.ring()) == ["a", "b"])
        #expect(state.generation == 1)
        #expect(state.waiting == 0)
        // A listener that saw generation 0 missed a ring: it does not park.
        #expect(state.park("late", seen: 0) == .now)
        #expect(state.park("c", seen: 1) == .parked(ticket: 2))
        #expect(state.leave(ticket: 2) == "c")
        #expect(state.leave(ticket: 2) == nil)
        #expect(state.ring().isEmpty)
    }

    @Test func oneRingWakesManyListeners() async {
        let broadcast = Broadcast()
        let seen = broadcast.generation
        await withTaskGroup(of: UInt64.self) { group in
            for _ in 0..<50 { group.addTask { await broadcast.wait(after: seen) } }
            // Ring once they are all parked (waiting until then, not sleeping a guess).
            while broadcast.waiting < 50 { await Task.yield() }
            broadcast.ring()
            var woken = 0
            for await generation in group {
                #expect(generation == seen + 1)
                woken += 1
            }
            #expect(woken == 50)
        }
    }

    @Test func aRingBeforeTheWaitIsNotMissed() async {
        let broadcast = Broadcast()
        let seen = broadcast.generation
        broadcast.ring()
        #expect(await broadcast.wait(after: seen) == seen + 1)
    }

    @Test func aTimeoutOrACancellationEndsTheWait() async {
        let broadcast = Broadcast()
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await broadcast.wait(after: broadcast.generation, upTo: .milliseconds(50)) == 0)
        #expect(clock.now - started >= .milliseconds(50))
        let waiter = Task { await broadcast.wait(after: 0) }
        while broadcast.waiting < 1 { await Task.yield() }
        waiter.cancel()
        #expect(await waiter.value == 0)
        #expect(broadcast.waiting == 0)
    }
}
