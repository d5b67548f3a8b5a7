import Synchronization

/// What the nodes share about provider trunks (issue 12): the calls each trunk carries now,
/// against its `max_calls`, and which node registers it. One server keeps this in its memory
/// (`LocalTrunkState`); several sharing a PostgreSQL database keep it there, so three nodes do
/// not carry three times a trunk's `max_calls`, nor register one account three times (providers
/// that keep one binding per account would flap between the nodes).
public protocol TrunkState: Sendable {
    /// Takes a place among the trunk's `maxCalls` (0: no limit) for `holder` (one leg's try of
    /// the trunk); false when it is full.
    func claimCall(trunkID: Int64, maxCalls: Int, holder: String) async throws -> Bool
    /// Gives back `holder`'s place.
    func releaseCall(trunkID: Int64, holder: String) async throws
    /// Which of `trunkIDs` this server registers: those it registers already and those no
    /// running server does; asked again well within `TrunkRegistrationLease.seconds`, which keeps them.
    func holdRegistrations(of trunkIDs: [Int64]) async throws -> Set<Int64>
    /// This server stops registering (it is stopping): another takes the trunks over at once.
    func letGoOfRegistrations() async throws
}

/// How long a server keeps a trunk's registration without asking again: a server that dies
/// leaves its trunks to the others after this.
public enum TrunkRegistrationLease {
    public static let seconds: Int64 = 90
}

/// `TrunkState` in this process's memory: one server registers every trunk.
public final class LocalTrunkState: TrunkState {
    private let holders = Mutex<[Int64: Set<String>]>([:])

    public init() {}

    public func claimCall(trunkID: Int64, maxCalls: Int, holder: String) -> Bool {
        holders.withLock { holders in
            let current = holders[trunkID, default: []]
            guard maxCalls == 0 || current.count < maxCalls || current.contains(holder) else { return false }
            holders[trunkID, default: []].insert(holder)
            return true
        }
    }

    public func releaseCall(trunkID: Int64, holder: String) {
        holders.withLock { holders in
            holders[trunkID]?.remove(holder)
            if holders[trunkID]?.isEmpty == true { holders[trunkID] = nil }
        }
    }

    public func holdRegistrations(of trunkIDs: [Int64]) -> Set<Int64> { Set(trunkIDs) }

    public func letGoOfRegistrations() {}
}
