public import Domain
import Foundation
import GRDB

/// Whether the database takes writes, as the last probe found (issue 9): what `/health` and SIP
/// `OPTIONS` answer by. `reason` is safe to show anyone: no path, no SQL (SPEC §6).
public enum WriteHealth: Sendable, Equatable {
    case ok
    case failing(reason: String)
}

extension SQLiteStore {
    /// Below this much free space for the database's folder, writes are taken to fail: SQLite
    /// reuses the space of its WAL file, so a small write can still succeed on a full disk while
    /// the next rating cannot grow the file. 1 MiB is a few hundred calls' records.
    static let minimumFreeBytes: UInt64 = 1 << 20

    public var writeHealth: WriteHealth { health.withLock { $0 } }

    /// A small real write — the heartbeat, through the one writer, synced like every commit —
    /// and a look at the free space where the database lives; the outcome is `writeHealth`.
    /// The heartbeat is also the last time a crashed server is known to have run
    /// (`closeInterruptedCalls`).
    public func probeWrites(at instant: UnixTime) async {
        let outcome: WriteHealth
        if let free = Self.freeBytes(under: directory), free < Self.minimumFreeBytes {
            outcome = .failing(reason: "disk full: \(free / 1024) KiB free for the database")
        } else {
            do {
                let run = run
                try await write { db in
                    try db.execute(
                        sql: "INSERT INTO heartbeat (run, beat_at) VALUES (?, ?) ON CONFLICT (run) DO UPDATE SET beat_at = excluded.beat_at",
                        arguments: [run, instant.seconds])
                }
                outcome = .ok
            } catch {
                outcome = .failing(reason: Self.writeFailure(error))
            }
        }
        health.withLock { $0 = outcome }
    }

    /// Saves the history of a call still up (an open record, not listed by the API), replacing
    /// the call's earlier open record.
    public func saveOpenCall(_ call: OpenCallRecord) async throws {
        let run = run
        try await callWrites.write { db in
            try Self.upsert(call.record, isSample: false, open: (call, run), db: db)
        }
    }

    /// Closes the records that earlier runs of the server left open when they stopped without
    /// ending their calls (kill -9, power cut) — never this run's: `hangup_disposition`
    /// `system`, the call, its open legs and its bridge ending at the last time known, the later
    /// of the record's last save and its run's last heartbeat. Returns how many were closed. With
    /// one server per SQLite file every other run is over. A failure marks the writes failing
    /// (`writeHealth`) until a probe succeeds.
    public func closeInterruptedCalls() async throws -> Int {
        do {
            return try await closeOtherRunsCalls()
        } catch {
            health.withLock { $0 = .failing(reason: Self.writeFailure(error)) }
            throw error
        }
    }

    private func closeOtherRunsCalls() async throws -> Int {
        let run = run
        return try await write { db in
            let open = try Row.fetchAll(
                db,
                sql: """
                    SELECT call.call_uuid, call.started_at, call.duration, heartbeat.beat_at FROM call
                    LEFT JOIN heartbeat ON heartbeat.run = call.open_run
                    WHERE call.open_run IS NOT NULL AND call.open_run <> ?
                    """,
                arguments: [run])
            for row in open {
                let uuid: String = row["call_uuid"]
                let startedAt: Int64 = row["started_at"]
                let lastKnown = max(row["beat_at"] as Int64? ?? 0, startedAt + (row["duration"] as Int64))
                try db.execute(
                    sql: """
                        UPDATE call SET duration = ? - started_at,
                            bridged_duration = CASE WHEN is_bridged AND bridged_at IS NOT NULL
                                THEN MAX(0, ? - bridged_at) ELSE bridged_duration END,
                            hangup_disposition = 'system', open_run = NULL, is_bridged = FALSE
                        WHERE call_uuid = ?
                        """,
                    arguments: [lastKnown, lastKnown, uuid])
                try db.execute(
                    sql: "UPDATE call_leg SET duration = MAX(0, ? - started_at), is_open = FALSE WHERE call_uuid = ? AND is_open",
                    arguments: [lastKnown, uuid])
            }
            // Those runs have nothing open any more: their heartbeats have served.
            try db.execute(sql: "DELETE FROM heartbeat WHERE run <> ?", arguments: [run])
            return open.count
        }
    }

    /// Writes `call` whole: a new record, or over the call's open record (legs replaced). A
    /// closed record of the same `call_uuid` is never overwritten: that is a conflict.
    /// `open`: the record is of a call still up, kept open by `run`.
    static func upsert(_ call: CallRecord, isSample: Bool, open: (call: OpenCallRecord, run: String)?, db: Database) throws {
        let callStatement = try db.cachedStatement(sql: """
            INSERT INTO call (call_uuid, client_id, extension_id, extension_name, extension_type, flow, did_number,
                did_domain, from_username, from_screen_name, from_domain, bridged_username, bridged_domain, bridged_at,
                bridged_duration, duration, hangup_disposition, started_at, is_sample, open_run, is_bridged)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (call_uuid) DO UPDATE SET
                extension_id = excluded.extension_id, extension_name = excluded.extension_name,
                extension_type = excluded.extension_type, flow = excluded.flow, bridged_username = excluded.bridged_username,
                bridged_domain = excluded.bridged_domain, bridged_at = excluded.bridged_at,
                bridged_duration = excluded.bridged_duration, duration = excluded.duration,
                hangup_disposition = excluded.hangup_disposition, open_run = excluded.open_run,
                is_bridged = excluded.is_bridged
            WHERE call.open_run IS NOT NULL AND call.client_id = excluded.client_id
            """)
        let legStatement = try db.cachedStatement(sql: """
            INSERT INTO call_leg (call_uuid, position, role, ani_number, dest_number, dest_domain, application,
                started_at, duration, is_open, flow, trunk_id, trunk_name, sip_status)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try translatingConflicts(field: "call_uuid") {
            try callStatement.execute(arguments: [
                call.callUUID.value, call.clientID, call.extensionID, call.extensionName, call.extensionType?.rawValue,
                call.flow.rawValue, call.didNumber, call.didDomain, call.fromUsername, call.fromScreenName,
                call.fromDomain, call.bridgedUsername, call.bridgedDomain, call.bridgedAt?.seconds,
                call.bridgedDuration, call.duration, call.hangupDisposition.rawValue, call.startedAt.seconds,
                isSample, open?.run, open?.call.isBridged ?? false,
            ])
        }
        // The upsert's condition did not hold: the call is closed already (or another client's).
        guard db.changesCount == 1 else { throw StorageError.conflict(field: "call_uuid") }
        try db.execute(sql: "DELETE FROM call_leg WHERE call_uuid = ?", arguments: [call.callUUID.value])
        for (position, leg) in call.legs.enumerated() {
            try legStatement.execute(arguments: [
                call.callUUID.value, position, leg.role.rawValue, leg.aniNumber, leg.destNumber, leg.destDomain,
                leg.application?.rawValue, leg.startedAt.seconds, leg.duration, open?.call.openLegs.contains(position) ?? false,
                leg.flow.rawValue, leg.trunkID, leg.trunkName, leg.sipStatus,
            ])
        }
    }

    /// Free bytes for an unprivileged writer on the file system holding `directory`; nil when
    /// it cannot be asked.
    private static func freeBytes(under directory: String) -> UInt64? {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }

    /// What a failed write says about the database, in words fit for `/health` (no SQL, no path).
    private static func writeFailure(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "database write failed" }
        switch error.resultCode {
        case .SQLITE_FULL: return "disk full"
        case .SQLITE_BUSY, .SQLITE_LOCKED: return "database locked"
        case .SQLITE_READONLY: return "database read-only"
        case .SQLITE_IOERR: return "database I/O error"
        case .SQLITE_CANTOPEN: return "database file cannot be opened"
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return "database corrupt"
        default: return "database write failed (SQLite code \(error.resultCode.rawValue))"
        }
    }
}
