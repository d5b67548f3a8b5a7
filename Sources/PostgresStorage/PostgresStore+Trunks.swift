public import Domain
import PostgresNIO
import Storage

/// A client's provider trunks (issue 11) on PostgreSQL; `prefixes` is the same JSON text as on
/// SQLite (`TrunkRecord`).
extension PostgresStore {
    private static let trunkColumns = """
        id, client_id, name, host, port, transport, username, password, register, register_expires, from_domain, prefixes,
        position, strip_digits, add_prefix, caller_id, max_calls, status, last_error, created_at
        """

    public func trunks(clientID: Int64) async throws -> [Trunk] {
        try await read { connection in
            try await Self.trunks(connection.query(
                "SELECT \(unescaped: Self.trunkColumns) FROM trunk WHERE client_id = \(clientID) ORDER BY position, id", logger: logger))
        }
    }

    public func trunk(clientID: Int64, id: Int64) async throws -> Trunk? {
        try await read { connection in
            try await Self.trunks(connection.query(
                "SELECT \(unescaped: Self.trunkColumns) FROM trunk WHERE client_id = \(clientID) AND id = \(id)", logger: logger)
            ).first
        }
    }

    public func createTrunk(_ new: Trunk) async throws -> Trunk {
        let created = try await write { connection in
            var created = TrunkRecord.created(new, at: UnixTime.now())
            let prefixes = try TrunkRecord.prefixesText(created.prefixes)
            let rows = try await Self.translatingConflicts(field: "name") {
                try await connection.query(
                    """
                    INSERT INTO trunk (client_id, name, host, port, transport, username, password, register, register_expires,
                        from_domain, prefixes, position, strip_digits, add_prefix, caller_id, max_calls, status, last_error, created_at)
                    VALUES (\(created.clientID), \(created.name), \(created.host), \(created.port), \(created.transport.rawValue),
                        \(created.username), \(created.password), \(created.register), \(created.registerExpires), \(created.fromDomain),
                        \(prefixes), \(created.position), \(created.stripDigits), \(created.addPrefix), \(created.callerID),
                        \(created.maxCalls), \(created.status.rawValue), \(created.lastError), \(created.createdAt.seconds))
                    RETURNING id
                    """, logger: logger
                ).collect()
            }
            created.id = try rows[0].decode(Int64.self)
            try await announce(.trunks, on: connection)
            return created
        }
        trunkBroadcast.ring()
        return created
    }

    public func updateTrunk(_ changed: Trunk) async throws -> Trunk {
        let updated = try await write { connection in
            // Locked until the commit: what the registration service writes meanwhile
            // (`setTrunkStatus`) is not overwritten by the state read here, nor lost.
            let stored = try await Self.trunks(connection.query(
                "SELECT \(unescaped: Self.trunkColumns) FROM trunk WHERE client_id = \(changed.clientID) AND id = \(changed.id) FOR UPDATE",
                logger: logger)
            ).first
            guard let stored else { throw StorageError.notFound("trunk \(changed.id)") }
            let updated = TrunkRecord.updated(stored, to: changed)
            let prefixes = try TrunkRecord.prefixesText(updated.prefixes)
            try await Self.translatingConflicts(field: "name") {
                _ = try await connection.query(
                    """
                    UPDATE trunk SET name = \(updated.name), host = \(updated.host), port = \(updated.port),
                        transport = \(updated.transport.rawValue), username = \(updated.username), password = \(updated.password),
                        register = \(updated.register), register_expires = \(updated.registerExpires), from_domain = \(updated.fromDomain),
                        prefixes = \(prefixes), position = \(updated.position), strip_digits = \(updated.stripDigits),
                        add_prefix = \(updated.addPrefix), caller_id = \(updated.callerID), max_calls = \(updated.maxCalls),
                        status = \(updated.status.rawValue), last_error = \(updated.lastError)
                    WHERE id = \(updated.id)
                    """, logger: logger)
            }
            try await announce(.trunks, on: connection)
            return updated
        }
        trunkBroadcast.ring()
        return updated
    }

    public func deleteTrunk(clientID: Int64, id: Int64) async throws {
        try await write { connection in
            let deleted = try await connection.query(
                "DELETE FROM trunk WHERE client_id = \(clientID) AND id = \(id) RETURNING id", logger: logger
            ).collect()
            guard deleted.count == 1 else { throw StorageError.notFound("trunk \(id)") }
            try await announce(.trunks, on: connection)
        }
        trunkBroadcast.ring()
    }

    public func registeringTrunks() async throws -> [Trunk] {
        try await read { connection in
            try await Self.trunks(connection.query(
                "SELECT \(unescaped: Self.trunkColumns) FROM trunk WHERE register ORDER BY client_id, position, id", logger: logger))
        }
    }

    public func setTrunkStatus(id: Int64, _ status: Trunk.Status, lastError: String?) async throws {
        // An UPDATE of a deleted id changes nothing: no row comes back from the dead.
        try await write { connection in
            _ = try await connection.query(
                "UPDATE trunk SET status = \(status.rawValue), last_error = \(lastError) WHERE id = \(id)", logger: logger)
        }
    }

    /// The rows of `trunkColumns`; a row this version cannot read (an unknown transport or
    /// status) is left out, as on SQLite.
    private static func trunks(_ rows: PostgresRowSequence) async throws -> [Trunk] {
        var trunks: [Trunk] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            guard let transport = Trunk.Transport(rawValue: try cells["transport"].decode(String.self)),
                let status = Trunk.Status(rawValue: try cells["status"].decode(String.self)),
                let prefixes = TrunkRecord.prefixes(fromText: try cells["prefixes"].decode(String.self))
            else { continue }
            trunks.append(Trunk(
                id: try cells["id"].decode(Int64.self), clientID: try cells["client_id"].decode(Int64.self),
                name: try cells["name"].decode(String.self), host: try cells["host"].decode(String.self),
                port: try cells["port"].decode(Int.self), transport: transport, username: try cells["username"].decode(String.self),
                password: try cells["password"].decode(String.self), register: try cells["register"].decode(Bool.self),
                registerExpires: try cells["register_expires"].decode(Int.self), fromDomain: try cells["from_domain"].decode(String.self),
                prefixes: prefixes, position: try cells["position"].decode(Int.self), stripDigits: try cells["strip_digits"].decode(Int.self),
                addPrefix: try cells["add_prefix"].decode(String.self), callerID: try cells["caller_id"].decode(String?.self),
                maxCalls: try cells["max_calls"].decode(Int.self), status: status, lastError: try cells["last_error"].decode(String?.self),
                createdAt: UnixTime(seconds: try cells["created_at"].decode(Int64.self))))
        }
        return trunks
    }
}
