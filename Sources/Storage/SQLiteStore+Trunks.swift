public import Domain
import GRDB

/// A client's provider trunks (issue 11) on SQLite.
extension SQLiteStore {
    public func trunks(clientID: Int64) async throws -> [Trunk] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM trunk WHERE client_id = ? ORDER BY position, id", arguments: [clientID])
                .compactMap(Self.trunk(from:))
        }
    }

    public func trunk(clientID: Int64, id: Int64) async throws -> Trunk? {
        try await read { db in try Self.trunk(db, clientID: clientID, id: id) }
    }

    public func createTrunk(_ new: Trunk) async throws -> Trunk {
        let created = try await write { db in
            var created = TrunkRecord.created(new, at: UnixTime.now())
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: """
                        INSERT INTO trunk (client_id, name, host, port, transport, username, password, register, register_expires,
                            from_domain, prefixes, position, strip_digits, add_prefix, caller_id, max_calls, status, last_error, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [created.clientID] + Self.configurationArguments(created)
                        + [created.status.rawValue, created.lastError, created.createdAt.seconds])
            }
            created.id = db.lastInsertedRowID
            return created
        }
        trunkBroadcast.ring()
        return created
    }

    public func updateTrunk(_ changed: Trunk) async throws -> Trunk {
        let updated = try await write { db in
            guard let stored = try Self.trunk(db, clientID: changed.clientID, id: changed.id) else {
                throw StorageError.notFound("trunk \(changed.id)")
            }
            let updated = TrunkRecord.updated(stored, to: changed)
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: """
                        UPDATE trunk SET name = ?, host = ?, port = ?, transport = ?, username = ?, password = ?,
                            register = ?, register_expires = ?, from_domain = ?, prefixes = ?, position = ?, strip_digits = ?,
                            add_prefix = ?, caller_id = ?, max_calls = ?, status = ?, last_error = ?
                        WHERE id = ?
                        """,
                    arguments: try Self.configurationArguments(updated) + [updated.status.rawValue, updated.lastError, updated.id])
            }
            return updated
        }
        trunkBroadcast.ring()
        return updated
    }

    public func deleteTrunk(clientID: Int64, id: Int64) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM trunk WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            guard db.changesCount == 1 else { throw StorageError.notFound("trunk \(id)") }
        }
        trunkBroadcast.ring()
    }

    public func registeringTrunks() async throws -> [Trunk] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM trunk WHERE register ORDER BY client_id, position, id")
                .compactMap(Self.trunk(from:))
        }
    }

    public func setTrunkStatus(id: Int64, _ status: Trunk.Status, lastError: String?) async throws {
        // An UPDATE of a deleted id changes nothing: no row comes back from the dead.
        try await write { db in
            try db.execute(sql: "UPDATE trunk SET status = ?, last_error = ? WHERE id = ?", arguments: [status.rawValue, lastError, id])
        }
    }

    /// The columns from `name` to `max_calls`, in the table's order.
    private static func configurationArguments(_ trunk: Trunk) throws -> StatementArguments {
        [
            trunk.name, trunk.host, trunk.port, trunk.transport.rawValue, trunk.username, trunk.password,
            trunk.register, trunk.registerExpires, trunk.fromDomain, try TrunkRecord.prefixesText(trunk.prefixes), trunk.position,
            trunk.stripDigits, trunk.addPrefix, trunk.callerID, trunk.maxCalls,
        ]
    }

    private static func trunk(_ db: Database, clientID: Int64, id: Int64) throws -> Trunk? {
        try Row.fetchOne(db, sql: "SELECT * FROM trunk WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            .flatMap(Self.trunk(from:))
    }

    private static func trunk(from row: Row) -> Trunk? {
        guard let transport = Trunk.Transport(rawValue: row["transport"]), let status = Trunk.Status(rawValue: row["status"]),
            let prefixes = TrunkRecord.prefixes(fromText: row["prefixes"])
        else { return nil }
        return Trunk(
            id: row["id"], clientID: row["client_id"], name: row["name"], host: row["host"], port: row["port"], transport: transport,
            username: row["username"], password: row["password"], register: row["register"],
            registerExpires: row["register_expires"], fromDomain: row["from_domain"], prefixes: prefixes,
            position: row["position"], stripDigits: row["strip_digits"], addPrefix: row["add_prefix"], callerID: row["caller_id"],
            maxCalls: row["max_calls"], status: status, lastError: row["last_error"], createdAt: UnixTime(seconds: row["created_at"]))
    }
}
