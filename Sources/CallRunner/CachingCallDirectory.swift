public import CallFlow
public import Domain
import Synchronization

/// Routing answers kept for a short while. Every call reads its routing (the number dialled,
/// the queue's or menu's whole configuration, the queue's agents for each ring plan); under
/// load those reads, not the rating writes, are what storage spends its time on. A change of
/// configuration reaches new calls within `lifetime` (ours: 2 s), on every server instance
/// alike, since nothing needs to be told.
public final class CachingCallDirectory: CallDirectory {
    private struct Entry<Value> {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private struct DestinationKey: Hashable {
        var clientID: Int64
        var number: String
    }

    private struct QueueKey: Hashable {
        var clientID: Int64
        var queueID: Int64
    }

    private struct State {
        var destinations: [DestinationKey: Entry<Call.Destination>] = [:]
        var agents: [QueueKey: Entry<(strategy: QueueStrategy, agents: [String])>] = [:]
    }

    private let base: any CallDirectory
    private let lifetime: Duration
    /// Bounds the memory a flood of calls to distinct unknown numbers could take.
    private let capacity: Int
    // A Mutex rather than an actor: lookups are synchronous and short, and an actor hop per
    // routing read costs more than the read it saves.
    private let state = Mutex(State())

    public init(caching base: any CallDirectory, lifetime: Duration = .seconds(2), capacity: Int = 10_000) {
        self.base = base
        self.lifetime = lifetime
        self.capacity = capacity
    }

    public func destination(clientID: Int64, number: String) async throws -> Call.Destination {
        let key = DestinationKey(clientID: clientID, number: number)
        let now = ContinuousClock.now
        if let cached = state.withLock({ $0.destinations[key] }), cached.expires > now { return cached.value }
        let fresh = try await base.destination(clientID: clientID, number: number)
        state.withLock { state in
            if state.destinations.count >= capacity { state.destinations.removeAll(keepingCapacity: true) }
            state.destinations[key] = Entry(value: fresh, expires: now + lifetime)
        }
        return fresh
    }

    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> (strategy: QueueStrategy, agents: [String]) {
        let key = QueueKey(clientID: clientID, queueID: queueID)
        let now = ContinuousClock.now
        if let cached = state.withLock({ $0.agents[key] }), cached.expires > now { return cached.value }
        let fresh = try await base.queueAgents(clientID: clientID, queueID: queueID)
        state.withLock { state in
            if state.agents.count >= capacity { state.agents.removeAll(keepingCapacity: true) }
            state.agents[key] = Entry(value: fresh, expires: now + lifetime)
        }
        return fresh
    }
}
