import Logging
import PostgresNIO
public import Storage

/// `TrunkState` in the database shared by the nodes (issue 12).
public struct PostgresTrunkState: TrunkState {
    /// A place on a trunk lasts this long unless the run holding it renews it (with its
    /// heartbeat, as agents' claims): only a dead run's places lapse.
    static let callLease: Int64 = PostgresQueueState.claimLease

    let store: PostgresStore

    public func claimCall(trunkID: Int64, maxCalls: Int, holder: String) async throws -> Bool {
        let run = store.run
        return try await store.write { connection in
            // The trunk's row is the lock the nodes counting its calls take turns on: the count
            // and the new place are one step.
            try await connection.query("SELECT 1 FROM trunk WHERE id = \(trunkID) FOR UPDATE", logger: store.logger)
            if maxCalls > 0 {
                var inUse: Int64 = 0
                for try await count in try await connection.query(
                    """
                    SELECT count(*) FROM trunk_call
                    WHERE trunk_id = \(trunkID) AND holder <> \(holder) AND expires_at >= now()
                    """, logger: store.logger
                ).decode(Int64.self) {
                    inUse = count
                }
                guard inUse < maxCalls else { return false }
            }
            try await connection.query(
                """
                INSERT INTO trunk_call (trunk_id, holder, run, expires_at)
                VALUES (\(trunkID), \(holder), \(run), now() + make_interval(secs => \(Self.callLease)))
                ON CONFLICT (trunk_id, holder) DO UPDATE SET run = excluded.run, expires_at = excluded.expires_at
                """, logger: store.logger)
            return true
        }
    }

    public func releaseCall(trunkID: Int64, holder: String) async throws {
        try await store.read { connection in
            try await connection.query(
                "DELETE FROM trunk_call WHERE trunk_id = \(trunkID) AND holder = \(holder)", logger: store.logger)
            return ()
        }
    }

    public func holdRegistrations(of trunkIDs: [Int64]) async throws -> Set<Int64> {
        guard !trunkIDs.isEmpty else { return [] }
        let run = store.run
        return try await store.read { connection in
            var held: Set<Int64> = []
            for try await id in try await connection.query(
                """
                INSERT INTO trunk_registration (trunk_id, run, expires_at)
                SELECT id, \(run), now() + make_interval(secs => \(TrunkRegistrationLease.seconds))
                FROM unnest(\(trunkIDs)::bigint[]) AS id ORDER BY id
                ON CONFLICT (trunk_id) DO UPDATE SET run = excluded.run, expires_at = excluded.expires_at
                WHERE trunk_registration.run = excluded.run OR trunk_registration.expires_at < now()
                RETURNING trunk_id
                """, logger: store.logger
            ).decode(Int64.self) {
                held.insert(id)
            }
            return held
        }
    }

    public func letGoOfRegistrations() async throws {
        try await store.read { connection in
            try await connection.query("DELETE FROM trunk_registration WHERE run = \(store.run)", logger: store.logger)
            return ()
        }
    }
}

extension PostgresStore {
    public var trunkState: any TrunkState { PostgresTrunkState(store: self) }
}
