public import Domain
import PostgresNIO
public import Storage

/// Write health, open call records and the closing of those a dead run left open (issue 9), on a
/// database that several nodes share (issue 12).
extension PostgresStore {
    /// How long a run's heartbeat may go unrenewed before the other nodes take the run for dead
    /// and close the call records it left open. The write probe renews it every 2 s
    /// (`WriteProbeService.interval`), so 30 s is some fifteen missed beats: a node busy,
    /// paused or briefly cut off from the database is never taken for dead, and a crashed one's
    /// calls are closed half a minute after its last beat.
    static let heartbeatLeaseSeconds: Int64 = 30

    /// How long a probe may take before `writeHealth` says the database is not answering: with
    /// the database down, the pool keeps a statement waiting for a connection until its circuit
    /// breaker trips (a minute), and `/health` would say all is well meanwhile.
    static let probeDeadline: Duration = .seconds(5)

    public var writeHealth: WriteHealth { health.withLock { $0 } }

    /// A small real write — this run's heartbeat, its `seen_at` on the database's clock — whose
    /// outcome is `writeHealth`; one that takes longer than `probeDeadline` marks the writes
    /// failing until it ends. There is no look at the free space as on SQLite: the database's
    /// disk is on its server, and a full disk there fails the write itself (SQLSTATE 53100).
    ///
    /// An overdue probe is logged here, with how long it took once it ends: the service that
    /// probes logs each change it sees between two probes, and a probe that is late and then
    /// succeeds is `.ok` before and after — while meanwhile `/health` and OPTIONS said 503.
    public func probeWrites(at instant: UnixTime) async {
        let started = ContinuousClock.now
        await withTaskGroup(of: ProbeEvent.self) { group in
            group.addTask { .written(await self.writeHeartbeat(at: instant)) }
            group.addTask {
                do { try await Task.sleep(for: Self.probeDeadline) } catch { return .stopped }
                return .overdue
            }
            var overdue = false
            for await event in group {
                switch event {
                case .written(let outcome):
                    health.withLock { $0 = outcome }
                    group.cancelAll()
                    if overdue {
                        logger.notice("the database answered the write probe late", metadata: [
                            "seconds": "\((ContinuousClock.now - started).components.seconds)", "outcome": "\(outcome)"])
                    }
                case .overdue:
                    overdue = true
                    health.withLock { $0 = .failing(reason: "database not answering") }
                    logger.warning("the database has not answered the write probe; /health and OPTIONS answer 503 until it does", metadata: [
                        "seconds": "\(Self.probeDeadline.components.seconds)"])
                case .stopped:
                    break
                }
            }
        }
    }

    private enum ProbeEvent: Sendable {
        case written(WriteHealth)
        case overdue
        case stopped
    }

    private func writeHeartbeat(at instant: UnixTime) async -> WriteHealth {
        do {
            let deleted = try await write { connection in
                _ = try await connection.query("""
                    INSERT INTO heartbeat (run, beat_at, seen_at) VALUES (\(run), \(instant.seconds), now())
                    ON CONFLICT (run) DO UPDATE SET beat_at = excluded.beat_at, seen_at = now()
                    """, logger: logger)
                // The heartbeat keeps this run's claims on agents and places on trunks (issue 12).
                return try await renewLeases(connection: connection)
            }
            forgetUnsureClaims(deleted)
            return .ok
        } catch {
            return .failing(reason: Self.writeFailure(error))
        }
    }

    /// Saves the history of a call still up (an open record, not listed by the API), replacing
    /// the call's earlier open record.
    public func saveOpenCall(_ call: OpenCallRecord) async throws {
        try await write { connection in
            try await Self.upsert(call.record, isSample: false, open: (call, run), connection: connection, logger: logger)
        }
    }

    /// Closes the records that runs of the server which stopped without ending their calls
    /// (kill -9, power cut) left open — `hangup_disposition` `system`, the call, its open legs and
    /// its bridge ending at the last time known, the later of the record's last save and its
    /// run's last heartbeat, as on SQLite. Returns how many were closed. A failure marks the
    /// writes failing (`writeHealth`) until a probe succeeds.
    ///
    /// Other runs are not over here, unlike on SQLite: the other nodes share the database. A run
    /// is over when its heartbeat is older than `heartbeatLeaseSeconds` on the database's clock
    /// (the one clock all nodes share). A record whose run has no heartbeat (it died before its
    /// first beat, or its heartbeat went as it was saving one more record) is taken as over when
    /// the record itself was last saved a lease ago: a live run beats within seconds. The rows
    /// closed are locked, and those another node is closing skipped, so two nodes closing at
    /// once close each record once.
    public func closeInterruptedCalls() async throws -> Int {
        do {
            return try await closeDeadRunsCalls()
        } catch {
            health.withLock { $0 = .failing(reason: Self.writeFailure(error)) }
            throw error
        }
    }

    private func closeDeadRunsCalls() async throws -> Int {
        try await write { connection in
            let lease = Self.heartbeatLeaseSeconds
            var interrupted: [(uuid: String, lastKnown: Int64)] = []
            for try await (uuid, startedAt, duration, beatAt) in try await connection.query("""
                SELECT call.call_uuid, call.started_at, call.duration, heartbeat.beat_at FROM call
                LEFT JOIN heartbeat ON heartbeat.run = call.open_run
                WHERE call.open_run IS NOT NULL AND call.open_run <> \(run)
                    AND (heartbeat.seen_at < now() - \(lease) * interval '1 second'
                        OR (heartbeat.run IS NULL AND call.started_at + call.duration < extract(epoch FROM now()) - \(lease)))
                FOR UPDATE OF call SKIP LOCKED
                """, logger: logger
            ).decode((String, Int64, Int64, Int64?).self) {
                interrupted.append((uuid, max(beatAt ?? 0, startedAt + duration)))
            }
            for (uuid, lastKnown) in interrupted {
                try await connection.query("""
                    UPDATE call SET duration = \(lastKnown) - started_at,
                        bridged_duration = CASE WHEN is_bridged AND bridged_at IS NOT NULL
                            THEN GREATEST(0, \(lastKnown) - bridged_at) ELSE bridged_duration END,
                        hangup_disposition = 'system', open_run = NULL, is_bridged = FALSE
                    WHERE call_uuid = \(uuid)
                    """, logger: logger)
                try await connection.query(
                    "UPDATE call_leg SET duration = GREATEST(0, \(lastKnown) - started_at), is_open = FALSE WHERE call_uuid = \(uuid) AND is_open",
                    logger: logger)
            }
            // The dead runs' heartbeats have served once nothing of theirs is open; one whose
            // records another node is closing keeps it for that node.
            try await connection.query("""
                DELETE FROM heartbeat WHERE run <> \(run) AND seen_at < now() - \(lease) * interval '1 second'
                    AND NOT EXISTS (SELECT 1 FROM call WHERE call.open_run = heartbeat.run)
                """, logger: logger)
            return interrupted.count
        }
    }

    /// Writes `call` whole: a new record, or over the call's open record (legs replaced). A
    /// closed record of the same `call_uuid` is never overwritten: that is a conflict.
    /// `open`: the record is of a call still up, kept open by `run`. As `SQLiteStore.upsert`.
    static func upsert(
        _ call: CallRecord, isSample: Bool, open: (call: OpenCallRecord, run: String)?, connection: PostgresConnection, logger: Logger
    ) async throws {
        let written = try await connection.query("""
            INSERT INTO call (call_uuid, client_id, extension_id, extension_name, extension_type, flow, did_number,
                did_domain, from_username, from_screen_name, from_domain, bridged_username, bridged_domain, bridged_at,
                bridged_duration, duration, hangup_disposition, started_at, is_sample, open_run, is_bridged)
            VALUES (\(call.callUUID.value), \(call.clientID), \(call.extensionID), \(call.extensionName), \(call.extensionType?.rawValue),
                \(call.flow.rawValue), \(call.didNumber), \(call.didDomain), \(call.fromUsername), \(call.fromScreenName),
                \(call.fromDomain), \(call.bridgedUsername), \(call.bridgedDomain), \(call.bridgedAt?.seconds),
                \(call.bridgedDuration), \(call.duration), \(call.hangupDisposition.rawValue), \(call.startedAt.seconds),
                \(isSample), \(open?.run), \(open?.call.isBridged ?? false))
            ON CONFLICT (call_uuid) DO UPDATE SET
                extension_id = excluded.extension_id, extension_name = excluded.extension_name,
                extension_type = excluded.extension_type, flow = excluded.flow, bridged_username = excluded.bridged_username,
                bridged_domain = excluded.bridged_domain, bridged_at = excluded.bridged_at,
                bridged_duration = excluded.bridged_duration, duration = excluded.duration,
                hangup_disposition = excluded.hangup_disposition, open_run = excluded.open_run,
                is_bridged = excluded.is_bridged
            WHERE call.open_run IS NOT NULL AND call.client_id = excluded.client_id
            RETURNING 1
            """, logger: logger).count()
        // The upsert's condition did not hold: the call is closed already (or another client's).
        guard written == 1 else { throw StorageError.conflict(field: "call_uuid") }
        try await connection.query("DELETE FROM call_leg WHERE call_uuid = \(call.callUUID.value)", logger: logger)
        for (position, leg) in call.legs.enumerated() {
            try await connection.query("""
                INSERT INTO call_leg (call_uuid, position, role, ani_number, dest_number, dest_domain, application,
                    started_at, duration, is_open, flow, trunk_id, trunk_name, sip_status)
                VALUES (\(call.callUUID.value), \(position), \(leg.role.rawValue), \(leg.aniNumber), \(leg.destNumber), \(leg.destDomain),
                    \(leg.application?.rawValue), \(leg.startedAt.seconds), \(leg.duration), \(open?.call.openLegs.contains(position) ?? false),
                    \(leg.flow.rawValue), \(leg.trunkID), \(leg.trunkName), \(leg.sipStatus))
                """, logger: logger)
        }
    }

    /// What a failed write says about the database, in words fit for `/health`: no SQL, no host,
    /// no user.
    static func writeFailure(_ error: any Error) -> String {
        // Not a PSQLError: the pool's own, which gave up getting a connection.
        guard let error = error as? PSQLError else { return "database unreachable" }
        switch error.code {
        case .server:
            switch error.serverInfo?[.sqlState] {
            case "53100": return "database disk full"
            case "25006": return "database read-only"
            // Class 08: connection exception; 57P0x: the server is shutting down or starting.
            case let state? where state.hasPrefix("08") || state.hasPrefix("57P"): return "database unreachable"
            case let state?: return "database write failed (SQLSTATE \(state))"
            case nil: return "database write failed"
            }
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .sslUnsupported,
            .failedToAddSSLHandler:
            return "database unreachable"
        default:
            return "database write failed"
        }
    }
}
