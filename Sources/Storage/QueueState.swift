public import Domain
import Synchronization

/// What the queues' calls share (issue 12): which agents calls hold now, and what the queues'
/// strategies remember — the agent who took a queue's last call (round-robin), when each agent
/// became idle (longest idle). On one server this lives in its memory (`LocalQueueState`); on
/// several sharing a PostgreSQL database it lives in the database, so that every node sees the
/// same order and no agent is ever offered two calls by two nodes.
///
/// An agent is *claimed* by a call from the moment it is rung for it until it stops ringing or
/// hangs up: a claimed agent is not rung for another call. FreeSWITCH's mod_callcenter on a
/// shared database wrote agent state without compare-and-set and offered agents two callers
/// (freeswitch#1674, #2540): here a claim is one atomic step that either takes the agent for
/// the call or finds it held.
public protocol QueueState: Sendable {
    /// What a queue's strategy needs for its next ring plan among `agents`.
    func selection(clientID: Int64, queueID: Int64, agents: [String]) async throws -> QueueSelection
    /// Claims for `call` those of `agents` that no other call holds (those `call` already holds
    /// included); returns them, in `agents`' order.
    func claim(clientID: Int64, agents: [String], for call: CallUUID) async throws -> [String]
    /// Gives back those of `agents` that `call` holds and that are not talking to it; an agent
    /// held by another call is left alone.
    func release(clientID: Int64, agents: [String], for call: CallUUID) async throws
    /// `agent`, held by `call`, answered it: it stays held while it talks; when `queueID` is
    /// given (a caller of that queue), round-robin goes on after it.
    func answered(clientID: Int64, queueID: Int64?, agent: String, for call: CallUUID) async throws
    /// `agent`'s part in `call` is over: it is free again, idle since `instant`.
    func finished(clientID: Int64, agent: String, for call: CallUUID, at instant: UnixTime) async throws
}

/// A queue's shared state, as its next ring plan needs it.
public struct QueueSelection: Sendable, Equatable {
    /// The agent who took the queue's last call.
    public var lastAnswered: String?
    /// When the agents became idle (none recorded: idle the longest).
    public var idleSince: [String: UnixTime]
    /// Agents talking to a caller now (not merely rung for one): not available.
    public var talking: Set<String>

    public init(lastAnswered: String? = nil, idleSince: [String: UnixTime] = [:], talking: Set<String> = []) {
        self.lastAnswered = lastAnswered
        self.idleSince = idleSince
        self.talking = talking
    }
}

/// `QueueState` in this process's memory: one server per SQLite database, so nothing is shared
/// beyond it. Claims need no lease: they end with the process.
public final class LocalQueueState: QueueState {
    private struct AgentKey: Hashable {
        var clientID: Int64
        var name: String
    }

    private struct QueueKey: Hashable {
        var clientID: Int64
        var queueID: Int64
    }

    private struct Claim {
        var call: CallUUID
        var talking: Bool
    }

    private struct State {
        var claims: [AgentKey: Claim] = [:]
        var lastAnswered: [QueueKey: String] = [:]
        var idleSince: [AgentKey: UnixTime] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func selection(clientID: Int64, queueID: Int64, agents: [String]) -> QueueSelection {
        state.withLock { state in
            var selection = QueueSelection(lastAnswered: state.lastAnswered[QueueKey(clientID: clientID, queueID: queueID)])
            for agent in agents {
                let key = AgentKey(clientID: clientID, name: agent)
                if let idle = state.idleSince[key] { selection.idleSince[agent] = idle }
                if state.claims[key]?.talking == true { selection.talking.insert(agent) }
            }
            return selection
        }
    }

    public func claim(clientID: Int64, agents: [String], for call: CallUUID) -> [String] {
        state.withLock { state in
            agents.filter { agent in
                let key = AgentKey(clientID: clientID, name: agent)
                if let held = state.claims[key] { return held.call == call }
                state.claims[key] = Claim(call: call, talking: false)
                return true
            }
        }
    }

    public func release(clientID: Int64, agents: [String], for call: CallUUID) {
        state.withLock { state in
            for agent in agents {
                let key = AgentKey(clientID: clientID, name: agent)
                if let held = state.claims[key], held.call == call, !held.talking { state.claims[key] = nil }
            }
        }
    }

    public func answered(clientID: Int64, queueID: Int64?, agent: String, for call: CallUUID) {
        state.withLock { state in
            let key = AgentKey(clientID: clientID, name: agent)
            // Held by this call, or by none (a source dialled straight): it talks to this call now.
            if state.claims[key] == nil || state.claims[key]?.call == call { state.claims[key] = Claim(call: call, talking: true) }
            if let queueID { state.lastAnswered[QueueKey(clientID: clientID, queueID: queueID)] = agent }
        }
    }

    public func finished(clientID: Int64, agent: String, for call: CallUUID, at instant: UnixTime) {
        state.withLock { state in
            let key = AgentKey(clientID: clientID, name: agent)
            guard state.claims[key] == nil || state.claims[key]?.call == call else { return }
            state.claims[key] = nil
            state.idleSince[key] = instant
        }
    }
}
