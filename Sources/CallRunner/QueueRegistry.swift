import CallFlow
public import Domain

/// The state queues share between their calls: one `AgentSelector` per queue (who took the last
/// call, who has been idle longest) and which agents are talking now, so a busy agent is never
/// rung for a second caller.
public actor QueueRegistry {
    private struct AgentKey: Hashable {
        var clientID: Int64
        var name: String
    }

    private let directory: any CallDirectory
    private let reachability: any AgentReachability
    private struct QueueKey: Hashable {
        var clientID: Int64
        var queueID: Int64
    }

    private var selectors: [QueueKey: AgentSelector] = [:]
    private var busy: Set<AgentKey> = []
    private var generator = SystemRandomNumberGenerator()

    public init(directory: any CallDirectory, reachability: any AgentReachability) {
        self.directory = directory
        self.reachability = reachability
    }

    /// Who to ring for the next caller of `queueID`: its free and reachable agents, in the order
    /// its strategy gives. Empty when none is available.
    public func ringPlan(clientID: Int64, queueID: Int64) async throws -> [[String]] {
        let (strategy, agents) = try await directory.queueAgents(clientID: clientID, queueID: queueID)
        let key = QueueKey(clientID: clientID, queueID: queueID)
        if selectors[key]?.strategy != strategy { selectors[key] = AgentSelector(strategy: strategy) }
        var available: [String] = []
        for agent in agents where !busy.contains(AgentKey(clientID: clientID, name: agent)) {
            if await reachability.isReachable(clientID: clientID, agent: agent) { available.append(agent) }
        }
        return selectors[key]?.ringPlan(available: available, using: &generator) ?? []
    }

    /// `agent` is talking now; `queueID` is the queue whose call it took (nil: a phone dialled
    /// directly or a callback), for round-robin.
    public func agentAnswered(clientID: Int64, queueID: Int64?, agent: String) {
        busy.insert(AgentKey(clientID: clientID, name: agent))
        if let queueID { selectors[QueueKey(clientID: clientID, queueID: queueID)]?.agentAnswered(agent) }
    }

    public func agentFinished(clientID: Int64, agent: String, at instant: UnixTime) {
        busy.remove(AgentKey(clientID: clientID, name: agent))
        for key in selectors.keys where key.clientID == clientID { selectors[key]?.agentBecameIdle(agent, at: instant) }
    }
}
