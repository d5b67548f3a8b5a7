import Synchronization

/// The state of a wake-up signal for any number of listeners, as a value: a generation counter
/// that every ring advances, and the waiters parked on the generation they last saw. Unlike
/// `Doorbell` (one waiter, which a ring consumes), a ring here wakes everyone and consumes
/// nothing: a listener compares the generation it saw with the current one, so a ring that came
/// while it was busy is seen at its next wait, and a ring never wakes one listener at another's
/// expense.
public struct BroadcastState<Waiter> {
    public private(set) var generation: UInt64 = 0
    private var waiters: [Int: Waiter] = [:]
    private var nextTicket = 0

    public init() {}

    /// How many listeners are parked.
    public var waiting: Int { waiters.count }

    /// Advances the generation; returns the waiters to wake (all of them).
    public mutating func ring() -> [Waiter] {
        generation &+= 1
        defer { waiters.removeAll() }
        return Array(waiters.values)
    }

    /// A listener that saw `seen` wants to wait. `.now` when a ring came since (wake it at once);
    /// else it is parked under the returned ticket.
    public mutating func park(_ waiter: Waiter, seen: UInt64) -> BroadcastParking {
        guard seen == generation else { return .now }
        defer { nextTicket += 1 }
        waiters[nextTicket] = waiter
        return .parked(ticket: nextTicket)
    }

    /// Removes a parked waiter (its task was cancelled); nil when a ring already took it.
    public mutating func leave(ticket: Int) -> Waiter? {
        waiters.removeValue(forKey: ticket)
    }
}

/// What `BroadcastState.park` decided: wake the listener at once, or it waits under a ticket.
public enum BroadcastParking: Equatable, Sendable {
    case now
    case parked(ticket: Int)
}

/// The locked shell of `BroadcastState`: `SQLiteStore` rings one after each rating transaction
/// commits (issue 10), which every live event stream waits on, and another after each change of a
/// trunk's configuration (issue 11), which the trunk registration waits on.
public final class Broadcast: Sendable {
    private let state = Mutex(BroadcastState<CheckedContinuation<Void, Never>>())

    public init() {}

    /// The current generation: read it before looking at what the ring announces (the store),
    /// then `wait(after:)` it, and no ring in between is missed.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Listeners parked now.
    public var waiting: Int { state.withLock { $0.waiting } }

    public func ring() {
        for waiter in state.withLock({ $0.ring() }) { waiter.resume() }
    }

    /// Returns once the generation is past `seen` (at once if it already is), or when the task is
    /// cancelled; answers the generation then.
    @discardableResult
    public func wait(after seen: UInt64) async -> UInt64 {
        let ticket = Mutex<Int?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parking = state.withLock { state -> BroadcastParking in
                    // Cancelled before parking: the handler below ran with no ticket to remove.
                    if Task.isCancelled { return .now }
                    let parking = state.park(continuation, seen: seen)
                    if case .parked(let number) = parking { ticket.withLock { $0 = number } }
                    return parking
                }
                if parking == .now { continuation.resume() }
            }
        } onCancel: {
            // Runs at most once; a ring may have taken the waiter already (then it was resumed).
            // Parking and its ticket happen under the state's lock, so either the ticket is here
            // or the parking saw Task.isCancelled (set before this handler runs) and never parked.
            let waiter = state.withLock { state in ticket.withLock { $0 }.flatMap { state.leave(ticket: $0) } }
            waiter?.resume()
        }
        return generation
    }

    /// Returns once the generation is past `seen`, or after `timeout` at the latest; answers the
    /// generation then.
    @discardableResult
    public func wait(after seen: UInt64, upTo timeout: Duration) async -> UInt64 {
        await waitAtMost(timeout) { await self.wait(after: seen) }
        return generation
    }
}

/// Runs `wait` until it returns or `timeout` has passed, whichever comes first (the other is cancelled).
func waitAtMost(_ timeout: Duration, for wait: @escaping @Sendable () async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await wait() }
        group.addTask { try? await Task.sleep(for: timeout) }
        await group.next()
        group.cancelAll()
    }
}
