public import CallFlow
public import Domain
import Synchronization

/// Routing answers kept for a short while. Every call reads its routing (the number dialled,
/// the queue's or menu's whole configuration, the queue's agents for each ring plan); under
/// load those reads, not the rating writes, are what storage spends its time on. A change of
/// configuration reaches new calls within `lifetime` (ours: 2 s), on every server instance
/// alike, since nothing needs to be told.
public final class CachingCallDirectory: CallDirectory {
    private struct DestinationKey: Hashable {
        var clientID: Int64
        var number: String
    }

    private struct QueueKey: Hashable {
        var clientID: Int64
        var queueID: Int64
    }

    private let base: any CallDirectory
    // Mutexes rather than an actor: lookups are synchronous and short, and an actor hop per
    // routing read costs more than the read it saves.
    private let destinations: ExpiringCache<DestinationKey, Call.Destination>
    private let agents: ExpiringCache<QueueKey, (strategy: QueueStrategy, agents: [String])>

    public init(caching base: any CallDirectory, lifetime: Duration = .seconds(2), capacity: Int = 10_000) {
        self.base = base
        destinations = ExpiringCache(lifetime: lifetime, capacity: capacity)
        agents = ExpiringCache(lifetime: lifetime, capacity: capacity)
    }

    public func destination(clientID: Int64, number: String) async throws -> Call.Destination {
        try await destinations.value(for: DestinationKey(clientID: clientID, number: number)) {
            try await base.destination(clientID: clientID, number: number)
        }
    }

    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> (strategy: QueueStrategy, agents: [String]) {
        try await agents.value(for: QueueKey(clientID: clientID, queueID: queueID)) {
            try await base.queueAgents(clientID: clientID, queueID: queueID)
        }
    }
}

/// Values kept for `lifetime`; at `capacity` entries it starts over, which bounds the memory a
/// flood of calls to distinct unknown numbers could take.
private final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    init(lifetime: Duration, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func value(for key: Key, otherwise load: () async throws -> Value) async throws -> Value {
        let now = ContinuousClock.now
        if let cached = entries.withLock({ $0[key] }), cached.expires > now { return cached.value }
        let fresh = try await load()
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: fresh, expires: now + lifetime)
        }
        return fresh
    }
}
