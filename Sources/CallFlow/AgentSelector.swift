public import Domain

/// Who a queue rings for its next caller, by the queue's strategy (SPEC §4.1), from what the
/// queue's calls share (`QueueState`): who answered last (round-robin) and since when each agent
/// has been idle (longest-idle-agent).
public struct AgentSelector: Sendable {
    public let strategy: QueueStrategy
    /// The agent who took this queue's last call; round-robin starts after them.
    private let lastAnswered: String?
    /// When each agent's last call ended (`QueueState` keeps both, shared by the queue's calls).
    private let idleSince: [String: UnixTime]

    public init(strategy: QueueStrategy, lastAnswered: String? = nil, idleSince: [String: UnixTime] = [:]) {
        self.strategy = strategy
        self.lastAnswered = lastAnswered
        self.idleSince = idleSince
    }

    /// The rounds of ringing for a caller: each round is the agents rung together. `agents` are
    /// the queue's agents in their configured order; `available` those of them not busy or
    /// unreachable now.
    public func ringPlan(
        agents: [String], available: Set<String>, using generator: inout some RandomNumberGenerator
    ) -> [[String]] {
        let available = agents.filter(available.contains)
        guard !available.isEmpty else { return [] }
        switch strategy {
        case .ringAll:
            return [available]
        case .topDown:
            return available.map { [$0] }
        case .roundRobin:
            // After the last agent's place in the configured order, whether or not that agent is
            // available now: under load the last agent is usually still talking, and starting
            // from the top then gave the first agents nearly every call (issue 12's cluster test).
            let start = lastAnswered.flatMap { agents.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
            return (agents[start...] + agents[..<start]).filter(available.contains).map { [$0] }
        case .random:
            return available.shuffled(using: &generator).map { [$0] }
        case .longestIdleAgent:
            // Never-idle-recorded agents (no call yet) count as idle the longest; ties keep the
            // configured order, because `sorted` is stable.
            return available.enumerated()
                .sorted { lhs, rhs in
                    let left = idleSince[lhs.element]?.seconds ?? .min
                    let right = idleSince[rhs.element]?.seconds ?? .min
                    return left != right ? left < right : lhs.offset < rhs.offset
                }
                .map { [$0.element] }
        }
    }
}
