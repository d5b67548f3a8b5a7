public import Domain
import PostgresNIO
public import Storage

/// Call history on PostgreSQL, as on SQLite: a record with its legs, listed by (start time,
/// `call_uuid`); records of calls still up (`PostgresStore+Durability`) are not listed.
extension PostgresStore {
    /// One transaction for `calls`, as SQLite's one group-commit job: a conflict on one of them
    /// stores none.
    public func insertCalls(_ calls: [CallRecord], isSample: Bool) async throws {
        guard !calls.isEmpty else { return }
        try await write { connection in
            for call in calls { try await Self.upsert(call, isSample: isSample, open: nil, connection: connection, logger: logger) }
        }
    }

    static let callColumns = """
        call_uuid, client_id, extension_id, extension_name, extension_type, flow, did_number, did_domain, from_username,
        from_screen_name, from_domain, bridged_username, bridged_domain, bridged_at, bridged_duration, duration,
        hangup_disposition, started_at
        """

    public func call(clientID: Int64, uuid: CallUUID) async throws -> CallRecord? {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: Self.callColumns) FROM call WHERE client_id = \(clientID) AND call_uuid = \(uuid.value) AND open_run IS NULL",
                logger: logger
            ).collect()
            return try await Self.withLegs(rows, connection: connection, logger: logger).first
        }
    }

    public func calls(_ query: CallQuery) async throws -> [CallRecord] {
        let statement = Self.listQuery(
            select: "SELECT \(Self.callColumns) FROM call", query: query, time: "started_at", tieBreaker: "call_uuid", onlyClosed: true,
            cursor: query.after.map { ($0.startedAt, $0.callUUID.value) })
        return try await read { connection in
            try await Self.withLegs(connection.query(statement, logger: logger).collect(), connection: connection, logger: logger)
        }
    }

    /// Builds records for `rows` (selected as `callColumns`) with their legs, fetching the legs
    /// of the whole page at once. A row with a value this version does not know is left out, as
    /// on SQLite.
    private static func withLegs(_ rows: [PostgresRow], connection: PostgresConnection, logger: Logger) async throws -> [CallRecord] {
        guard !rows.isEmpty else { return [] }
        let uuids = try rows.map { try $0.makeRandomAccess()["call_uuid"].decode(String.self) }
        var legsByCall: [String: [CallLeg]] = [:]
        for try await (uuid, role, ani, destNumber, destDomain, application, startedAt, duration, flow, trunkID, trunkName, sipStatus)
            in try await connection.query("""
                SELECT call_uuid, role, ani_number, dest_number, dest_domain, application, started_at, duration, flow, trunk_id,
                    trunk_name, sip_status
                FROM call_leg WHERE call_uuid = ANY(\(uuids)) ORDER BY call_uuid, position
                """, logger: logger
            ).decode((String, String, String?, String?, String?, String?, Int64, Int64, String, Int64?, String?, Int?).self)
        {
            guard let role = CallLeg.Role(rawValue: role) else { continue }
            legsByCall[uuid, default: []].append(CallLeg(
                role: role, aniNumber: ani, destNumber: destNumber, destDomain: destDomain,
                application: application.flatMap(CallLeg.Application.init(rawValue:)), startedAt: UnixTime(seconds: startedAt),
                duration: duration, flow: CallRecord.Flow(rawValue: flow) ?? .inbound, trunkID: trunkID, trunkName: trunkName,
                sipStatus: sipStatus))
        }
        return try rows.compactMap { row in
            let cells = row.makeRandomAccess()
            guard let uuid = CallUUID(try cells["call_uuid"].decode(String.self)),
                let flow = CallRecord.Flow(rawValue: try cells["flow"].decode(String.self)),
                let disposition = CallRecord.HangupDisposition(rawValue: try cells["hangup_disposition"].decode(String.self))
            else { return nil }
            return CallRecord(
                callUUID: uuid, clientID: try cells["client_id"].decode(Int64.self),
                extensionID: try cells["extension_id"].decode(Int64?.self),
                extensionName: try cells["extension_name"].decode(String?.self),
                extensionType: try cells["extension_type"].decode(String?.self).flatMap(Extension.Kind.init(rawValue:)), flow: flow,
                didNumber: try cells["did_number"].decode(String?.self), didDomain: try cells["did_domain"].decode(String?.self),
                fromUsername: try cells["from_username"].decode(String?.self),
                fromScreenName: try cells["from_screen_name"].decode(String?.self),
                fromDomain: try cells["from_domain"].decode(String?.self),
                bridgedUsername: try cells["bridged_username"].decode(String?.self),
                bridgedDomain: try cells["bridged_domain"].decode(String?.self),
                bridgedAt: try cells["bridged_at"].decode(Int64?.self).map(UnixTime.init(seconds:)),
                bridgedDuration: try cells["bridged_duration"].decode(Int64?.self), duration: try cells["duration"].decode(Int64.self),
                hangupDisposition: disposition, startedAt: UnixTime(seconds: try cells["started_at"].decode(Int64.self)),
                legs: legsByCall[uuid.value] ?? [])
        }
    }
}
