import CallFlow
public import Domain
public import Storage

/// The queues' shared state as their calls use it: a queue's next ring plan by its strategy
/// (`AgentSelector`) over its free and reachable agents, and the claims that keep an agent to
/// one call at a time (`QueueState`: this process's memory, or the database shared by several
/// nodes).
public struct QueueRegistry: Sendable {
    private let directory: any CallDirectory
    private let reachability: any AgentReachability
    private let state: any QueueState

    public init(directory: any CallDirectory, reachability: any AgentReachability, state: any QueueState) {
        self.directory = directory
        self.reachability = reachability
        self.state = state
    }

    /// Who to ring for the next caller of `queueID`: its reachable agents not talking to a caller,
    /// in the order its strategy gives. Empty when none is available. An agent being rung for
    /// another caller is in the plan (it is there, and may refuse that call); it is skipped when
    /// its turn comes if it is still held (`claim`).
    public func ringPlan(clientID: Int64, queueID: Int64) async throws -> [[String]] {
        let (strategy, agents) = try await directory.queueAgents(clientID: clientID, queueID: queueID)
        let selection = try await state.selection(clientID: clientID, queueID: queueID, agents: agents)
        var available: Set<String> = []
        for agent in agents where !selection.talking.contains(agent) {
            if await reachability.isReachable(clientID: clientID, agent: agent) { available.insert(agent) }
        }
        var generator = SystemRandomNumberGenerator()
        return AgentSelector(strategy: strategy, lastAnswered: selection.lastAnswered, idleSince: selection.idleSince)
            .ringPlan(agents: agents, available: available, using: &generator)
    }

    /// Claims `agents` for `call` before they are rung; returns those it got.
    public func claim(clientID: Int64, agents: [String], for call: CallUUID) async throws -> [String] {
        try await state.claim(clientID: clientID, agents: agents, for: call)
    }

    /// `agents` stopped ringing for `call` without answering.
    public func release(clientID: Int64, agents: [String], for call: CallUUID) async throws {
        try await state.release(clientID: clientID, agents: agents, for: call)
    }

    /// `agent` is talking to `call` now; `queueID` is the queue whose call it took (nil: a phone
    /// dialled directly or a callback), for round-robin.
    public func agentAnswered(clientID: Int64, queueID: Int64?, agent: String, for call: CallUUID) async throws {
        try await state.answered(clientID: clientID, queueID: queueID, agent: agent, for: call)
    }

    public func agentFinished(clientID: Int64, agent: String, for call: CallUUID, at instant: UnixTime) async throws {
        try await state.finished(clientID: clientID, agent: agent, for: call, at: instant)
    }
}
