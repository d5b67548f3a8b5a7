public import Domain
import Logging
import PostgresNIO
public import Storage

/// `QueueState` in the database shared by the nodes (issue 12).
///
/// A claim is one statement: an upsert that takes the agent's row only when it is free — no
/// claim, or a claim whose lease is over — or already this call's, and returns the agents it
/// took. PostgreSQL locks the row for the upsert, so two nodes claiming one agent at once are
/// ordered: the second sees the first's claim and gets nothing (no read-then-write gap as in
/// freeswitch#1674). Agents are claimed in name order, so two calls claiming overlapping groups
/// never wait on each other in a cycle.
///
/// A node renews its claims with its heartbeat. A claim whose fate a failed statement left
/// unknown — a claim that may have been taken, a release or an end of call that may not have been
/// written (the database restarting, a connection cut) — is kept out of that renewal until the
/// call claims or answers with the agent again: it lapses with its lease, instead of keeping the
/// agent from every call for as long as the node runs.
public struct PostgresQueueState: QueueState {
    /// How long a claim lasts unless renewed: the run holding it renews its claims with every
    /// heartbeat (`WriteProbeService`, every 2 s), so only a dead run's claims run out, and those
    /// whose fate is unknown (above).
    public static let claimLease: Int64 = 15

    let store: PostgresStore

    public func selection(clientID: Int64, queueID: Int64, agents: [String]) async throws -> QueueSelection {
        try await store.read { connection in
            var selection = QueueSelection()
            let logger = store.logger
            for try await name in try await connection.query(
                "SELECT last_answered FROM queue_rotation WHERE queue_id = \(queueID)", logger: logger
            ).decode(String.self) {
                selection.lastAnswered = name
            }
            for try await (agent, idle) in try await connection.query(
                "SELECT agent, idle_since FROM agent_idle WHERE client_id = \(clientID) AND agent = ANY(\(agents))", logger: logger
            ).decode((String, Int64).self) {
                selection.idleSince[agent] = UnixTime(seconds: idle)
            }
            for try await agent in try await connection.query(
                """
                SELECT agent FROM agent_claim
                WHERE client_id = \(clientID) AND agent = ANY(\(agents)) AND talking AND expires_at >= now()
                """, logger: logger
            ).decode(String.self) {
                selection.talking.insert(agent)
            }
            return selection
        }
    }

    public func claim(clientID: Int64, agents: [String], for call: CallUUID) async throws -> [String] {
        let run = store.run
        let held = try await unsure(clientID: clientID, agents: agents, for: call) {
            try await store.read { connection in
                var held: Set<String> = []
                for try await agent in try await connection.query(
                    """
                    INSERT INTO agent_claim (client_id, agent, call_uuid, run, expires_at)
                    SELECT \(clientID), agent, \(call.value), \(run), now() + make_interval(secs => \(Self.claimLease))
                    FROM unnest(\(agents)::text[]) AS agent ORDER BY agent
                    ON CONFLICT (client_id, agent) DO UPDATE SET call_uuid = excluded.call_uuid, run = excluded.run,
                        talking = agent_claim.talking AND agent_claim.call_uuid = excluded.call_uuid, expires_at = excluded.expires_at
                    WHERE agent_claim.call_uuid = excluded.call_uuid OR agent_claim.expires_at < now()
                    RETURNING agent
                    """, logger: store.logger
                ).decode(String.self) {
                    held.insert(agent)
                }
                return held
            }
        }
        return agents.filter(held.contains)
    }

    public func release(clientID: Int64, agents: [String], for call: CallUUID) async throws {
        try await unsure(clientID: clientID, agents: agents, for: call) {
            try await store.read { connection in
                try await connection.query(
                    """
                    DELETE FROM agent_claim
                    WHERE client_id = \(clientID) AND agent = ANY(\(agents)) AND call_uuid = \(call.value) AND NOT talking
                    """, logger: store.logger)
                return ()
            }
        }
    }

    public func answered(clientID: Int64, queueID: Int64?, agent: String, for call: CallUUID) async throws {
        let run = store.run
        // Failing, the claim the call took to ring the agent still holds it, renewed.
        try await store.write { connection in
            // Held by this call, or by none (a source dialled straight): it talks to this call now.
            try await connection.query(
                """
                INSERT INTO agent_claim (client_id, agent, call_uuid, run, talking, expires_at)
                VALUES (\(clientID), \(agent), \(call.value), \(run), TRUE, now() + make_interval(secs => \(Self.claimLease)))
                ON CONFLICT (client_id, agent) DO UPDATE SET call_uuid = excluded.call_uuid, run = excluded.run, talking = TRUE,
                    expires_at = excluded.expires_at
                WHERE agent_claim.call_uuid = excluded.call_uuid OR agent_claim.expires_at < now()
                """, logger: store.logger)
            if let queueID {
                try await connection.query(
                    """
                    INSERT INTO queue_rotation (queue_id, last_answered) VALUES (\(queueID), \(agent))
                    ON CONFLICT (queue_id) DO UPDATE SET last_answered = excluded.last_answered
                    """, logger: store.logger)
            }
            return ()
        }
        sure(clientID: clientID, agents: [agent], for: call)
    }

    public func finished(clientID: Int64, agent: String, for call: CallUUID, at instant: UnixTime) async throws {
        try await unsure(clientID: clientID, agents: [agent], for: call) {
            try await store.write { connection in
                try await connection.query(
                    "DELETE FROM agent_claim WHERE client_id = \(clientID) AND agent = \(agent) AND call_uuid = \(call.value)",
                    logger: store.logger)
                // Idle from now, unless another call holds the agent already (it is not idle then).
                try await connection.query(
                    """
                    INSERT INTO agent_idle (client_id, agent, idle_since)
                    SELECT \(clientID), \(agent), \(instant.seconds)
                    WHERE NOT EXISTS (
                        SELECT 1 FROM agent_claim WHERE client_id = \(clientID) AND agent = \(agent) AND expires_at >= now())
                    ON CONFLICT (client_id, agent) DO UPDATE SET idle_since = excluded.idle_since
                    """, logger: store.logger)
                return ()
            }
        }
    }
}

extension PostgresQueueState {
    /// `change` to `agents`' claims for `call`; failing, it leaves them unknown: they are kept
    /// out of the heartbeat's renewal (`PostgresStore.unsureClaims`) until they are sure again.
    private func unsure<T>(clientID: Int64, agents: [String], for call: CallUUID, _ change: () async throws -> T) async throws -> T {
        do {
            let result = try await change()
            sure(clientID: clientID, agents: agents, for: call)
            return result
        } catch {
            let now = ContinuousClock.now
            store.unsureClaims.withLock { unsure in
                for agent in agents { unsure[HeldClaim(clientID: clientID, agent: agent, call: call)] = now }
            }
            throw error
        }
    }

    private func sure(clientID: Int64, agents: [String], for call: CallUUID) {
        store.unsureClaims.withLock { unsure in
            for agent in agents { unsure[HeldClaim(clientID: clientID, agent: agent, call: call)] = nil }
        }
    }
}

extension PostgresStore {
    public var queueState: any QueueState { PostgresQueueState(store: self) }

    /// Renews this run's leases — its claims on agents and its places on trunks — with its
    /// heartbeat: they last while it runs, and lapse soon after it dies. The claims whose fate is
    /// unknown are not renewed (`unsureClaims`); those unknown for a lease have lapsed since, and
    /// are deleted. Returns those, to be forgotten once this heartbeat is committed.
    func renewLeases(connection: PostgresConnection) async throws -> [HeldClaim: ContinuousClock.Instant] {
        let (unsure, lapsed) = unsureClaims.withLock { unsure in
            let leaseAgo = ContinuousClock.now - .seconds(PostgresQueueState.claimLease)
            return (Array(unsure.keys), unsure.filter { $0.value <= leaseAgo })
        }
        try await connection.query(
            """
            DELETE FROM agent_claim
            WHERE run = \(run) AND expires_at < now() AND (client_id, agent, call_uuid) IN (
                SELECT * FROM unnest(\(lapsed.keys.map(\.clientID))::bigint[], \(lapsed.keys.map(\.agent))::text[],
                                     \(lapsed.keys.map(\.call.value))::text[]))
            """, logger: logger)
        try await connection.query(
            """
            UPDATE agent_claim SET expires_at = now() + make_interval(secs => \(PostgresQueueState.claimLease))
            WHERE run = \(run) AND (client_id, agent, call_uuid) NOT IN (
                SELECT * FROM unnest(\(unsure.map(\.clientID))::bigint[], \(unsure.map(\.agent))::text[], \(unsure.map(\.call.value))::text[]))
            """, logger: logger)
        try await connection.query(
            """
            UPDATE trunk_call SET expires_at = now() + make_interval(secs => \(PostgresTrunkState.callLease))
            WHERE run = \(run)
            """, logger: logger)
        return lapsed
    }

    /// Forgets the unsure claims a committed heartbeat deleted, unless unsure again since.
    func forgetUnsureClaims(_ deleted: [HeldClaim: ContinuousClock.Instant]) {
        unsureClaims.withLock { unsure in
            for (claim, since) in deleted where unsure[claim] == since { unsure[claim] = nil }
        }
    }
}

/// A claim of one of this run's calls on an agent.
struct HeldClaim: Hashable, Sendable {
    var clientID: Int64
    var agent: String
    var call: CallUUID
}
