public import Domain
import PostgresNIO
public import Storage

// The call-flow configuration (SPEC §4) on PostgreSQL: SQLiteStore+Configuration.swift, statement
// for statement, with the same answers and refusals.
//
// SQLite runs one write at a time, so a check and the write after it can never be split by
// another write; here two nodes can. Where that would let a refusal be missed, the write locks
// the rows its checks are about first, and the other side of the race takes a conflicting lock:
// - Deleting an extension locks its row (FOR UPDATE) before asking what uses it; pointing a DID
//   at an extension and adding a phone as a queue agent lock that extension FOR KEY SHARE (what
//   the foreign key would take, but before the check that it exists). Whichever comes second
//   waits for the first to commit, then sees its outcome: the deletion sees the new DID or agent
//   and is refused, or the DID or agent sees no extension.
// - Changing a queue's agents locks the queue's extension row (FOR NO KEY UPDATE, as an UPDATE
//   would), so two nodes adding agents at once never give two the same position.
// Nodes that write transfer destinations naming an extension or a DID (queue options, voice
// menus, trunks) are not held back: those names are checked by the API before the write, on
// SQLite as here, outside the write's transaction.

extension PostgresStore {
    public func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension? {
        try await read { connection in try await self.ownedExtension(connection, clientID: clientID, id: id) }
    }

    public func dialTarget(clientID: Int64, number: String) async throws -> DialTarget? {
        try await snapshot { connection in
            if let row = try await self.fetchOne(
                "SELECT * FROM extension WHERE client_id = \(clientID) AND name = \(number)", on: connection),
                let found = try Self.extension(from: row)
            {
                return .extension(found)
            }
            guard let row = try await self.fetchOne(
                "SELECT id, name, extension_id FROM did WHERE client_id = \(clientID) AND name = \(DIDNumber.withoutPlus(number))",
                on: connection)
            else { return nil }
            return .did(
                id: try row["id"].decode(Int64.self), number: try row["name"].decode(String.self),
                extensionID: try row["extension_id"].decode(Int64?.self))
        }
    }

    /// The extension `id` of the client; `lock` (`FOR UPDATE`, `FOR KEY SHARE`) holds its row
    /// until the transaction ends.
    private func ownedExtension(
        _ connection: PostgresConnection, clientID: Int64, id: Int64, lock: String = ""
    ) async throws -> Extension? {
        try await fetchOne("SELECT * FROM extension WHERE client_id = \(clientID) AND id = \(id) \(unescaped: lock)", on: connection)
            .flatMap(Self.extension(from:))
    }

    /// nil for a type this version does not know, as on SQLite.
    static func `extension`(from row: PostgresRandomAccessRow) throws -> Extension? {
        guard let kind = Extension.Kind(rawValue: try row["type"].decode(String.self)) else { return nil }
        return Extension(
            id: try row["id"].decode(Int64.self), clientID: try row["client_id"].decode(Int64.self),
            name: try row["name"].decode(String.self), kind: kind, label: try row["label"].decode(String.self),
            status: try row["status"].decode(String.self), createdAt: UnixTime(seconds: try row["created_at"].decode(Int64.self)))
    }

    // MARK: Extensions

    public func `extension`(clientID: Int64, name: String) async throws -> Extension? {
        try await read { connection in
            try await self.fetchOne("SELECT * FROM extension WHERE client_id = \(clientID) AND name = \(name)", on: connection)
                .flatMap(Self.extension(from:))
        }
    }

    public func createExtension(_ new: NewExtension, status: ExtensionStatus, credentials: SIPCredentials?) async throws -> Extension {
        try await write { connection in
            let now = UnixTime.now()
            // A queue's options are inserted by the trigger queue_options_of_new_queue, in this transaction.
            let id = try await Self.translatingConflicts(field: "name") {
                try await self.insertedID(
                    """
                    INSERT INTO extension (client_id, name, type, label, status, created_at, is_sample, sip_ha1_md5, sip_ha1_sha256)
                    VALUES (\(new.clientID), \(new.name), \(new.kind.rawValue), \(new.label), \(status.rawValue), \(now.seconds),
                        \(new.isSample), \(credentials?.ha1MD5), \(credentials?.ha1SHA256))
                    RETURNING id
                    """, on: connection)
            }
            return Extension(
                id: id, clientID: new.clientID, name: new.name, kind: new.kind, label: new.label,
                status: status.rawValue, createdAt: now)
        }
    }

    public func updateExtension(_ changed: Extension, credentials: SIPCredentials?) async throws {
        try await write { connection in
            let updated = try await self.fetchAll(
                """
                UPDATE extension SET label = \(changed.label), status = \(changed.status),
                    sip_ha1_md5 = COALESCE(\(credentials?.ha1MD5), sip_ha1_md5),
                    sip_ha1_sha256 = COALESCE(\(credentials?.ha1SHA256), sip_ha1_sha256)
                WHERE client_id = \(changed.clientID) AND id = \(changed.id)
                RETURNING id
                """, on: connection)
            guard updated.count == 1 else { throw StorageError.notFound("extension \(changed.id)") }
        }
    }

    public func deleteExtension(clientID: Int64, id: Int64) async throws {
        try await write { connection in
            guard let found = try await self.ownedExtension(connection, clientID: clientID, id: id, lock: "FOR UPDATE") else {
                throw StorageError.notFound("extension \(id)")
            }
            var users: [ConfigurationUser] = []
            for row in try await self.fetchAll("SELECT name FROM did WHERE extension_id = \(id) ORDER BY name", on: connection) {
                users.append(.did(number: try row["name"].decode(String.self)))
            }
            for row in try await self.fetchAll(
                """
                SELECT queue.name FROM queue_agent JOIN extension AS queue ON queue.id = queue_agent.queue_id
                WHERE queue_agent.agent_id = \(id) ORDER BY queue.name
                """, on: connection)
            {
                users.append(.queueAgent(queue: try row["name"].decode(String.self)))
            }
            users += try await self.queuesTransferring(connection, clientID: clientID, to: [found.name])
            users += try await self.voiceMenusNaming(connection, clientID: clientID, numbers: [found.name], except: id)
            guard users.isEmpty else { throw ConfigurationStoreError.used(by: users) }
            try await connection.query("DELETE FROM extension WHERE id = \(id)", logger: self.logger)
        }
    }

    /// The queues of the client whose transfer destinations name one of `numbers`.
    private func queuesTransferring(
        _ connection: PostgresConnection, clientID: Int64, to numbers: [String]
    ) async throws -> [ConfigurationUser] {
        try await fetchAll(
            """
            SELECT extension.name FROM queue JOIN extension ON extension.id = queue.extension_id
            WHERE extension.client_id = \(clientID)
                AND (queue.agent_hangup_transfer_dst = ANY(\(numbers)) OR queue.no_agent_timeout_transfer_dst = ANY(\(numbers)))
            ORDER BY extension.name
            """, on: connection
        ).map { row in .queueTransfer(queue: try row["name"].decode(String.self)) }
    }

    /// The voice menus of the client that would send a caller to one of `numbers` (a rule's
    /// `transfer_dst`, the menu's `lifetime_exp_transfer_dst`) or, with `filteringDIDs`, pick
    /// rules by it (a rule's `did`). The menu `except` is left out: its rules go with it.
    private func voiceMenusNaming(
        _ connection: PostgresConnection, clientID: Int64, numbers: [String], except deleted: Int64? = nil,
        filteringDIDs: Bool = false
    ) async throws -> [ConfigurationUser] {
        var users: [ConfigurationUser] = []
        for column in filteringDIDs ? ["transfer_dst", "did"] : ["transfer_dst"] {
            users += try await fetchAll(
                """
                SELECT menu.name, ivr_rule.id FROM ivr_rule
                JOIN ivr_context ON ivr_context.id = ivr_rule.context_id
                JOIN extension AS menu ON menu.id = ivr_context.ivr_id
                WHERE menu.client_id = \(clientID) AND menu.id IS DISTINCT FROM \(deleted)
                    AND ivr_rule.\(unescaped: column) = ANY(\(numbers))
                ORDER BY menu.name, ivr_rule.id
                """, on: connection
            ).map { row in
                .voiceMenuRule(menu: try row["name"].decode(String.self), rule: try row["id"].decode(Int64.self), column: column)
            }
        }
        users += try await fetchAll(
            """
            SELECT menu.name FROM ivr JOIN extension AS menu ON menu.id = ivr.extension_id
            WHERE menu.client_id = \(clientID) AND menu.id IS DISTINCT FROM \(deleted)
                AND ivr.lifetime_exp_transfer_dst = ANY(\(numbers))
            ORDER BY menu.name
            """, on: connection
        ).map { row in .voiceMenuLifetimeTransfer(menu: try row["name"].decode(String.self)) }
        return users
    }

    public func sipCredentials(clientID: Int64, extensionID: Int64) async throws -> SIPCredentials? {
        try await read { connection in
            guard let row = try await self.fetchOne(
                """
                SELECT sip_ha1_md5, sip_ha1_sha256 FROM extension WHERE client_id = \(clientID) AND id = \(extensionID) AND type = 'phone'
                """, on: connection),
                let md5 = try row["sip_ha1_md5"].decode(String?.self), let sha256 = try row["sip_ha1_sha256"].decode(String?.self)
            else { return nil }
            return SIPCredentials(ha1MD5: md5, ha1SHA256: sha256)
        }
    }

    // MARK: DIDs

    public func dids(clientID: Int64) async throws -> [DID] {
        try await read { connection in
            try await self.fetchAll("SELECT * FROM did WHERE client_id = \(clientID) ORDER BY id", on: connection).map(Self.did(from:))
        }
    }

    public func did(clientID: Int64, id: Int64) async throws -> DID? {
        try await read { connection in
            try await self.fetchOne("SELECT * FROM did WHERE client_id = \(clientID) AND id = \(id)", on: connection).map(Self.did(from:))
        }
    }

    public func did(number: String) async throws -> DID? {
        try await read { connection in
            try await self.fetchOne("SELECT * FROM did WHERE name = \(DIDNumber.withoutPlus(number))", on: connection)
                .map(Self.did(from:))
        }
    }

    public func createDID(_ new: NewDID) async throws -> DID {
        try await write { connection in
            try await self.checkDIDTarget(connection, clientID: new.clientID, extensionID: new.extensionID)
            let now = UnixTime.now()
            let id = try await Self.translatingConflicts(field: "name") {
                try await self.insertedID(
                    """
                    INSERT INTO did (client_id, name, extension_id, comment, created_at)
                    VALUES (\(new.clientID), \(new.number), \(new.extensionID), \(new.comment), \(now.seconds))
                    RETURNING id
                    """, on: connection)
            }
            return DID(
                id: id, clientID: new.clientID, number: new.number,
                extensionID: new.extensionID, comment: new.comment, createdAt: now)
        }
    }

    public func updateDID(_ changed: DID) async throws {
        try await write { connection in
            try await self.checkDIDTarget(connection, clientID: changed.clientID, extensionID: changed.extensionID)
            let updated = try await self.fetchAll(
                """
                UPDATE did SET extension_id = \(changed.extensionID), comment = \(changed.comment)
                WHERE client_id = \(changed.clientID) AND id = \(changed.id)
                RETURNING id
                """, on: connection)
            guard updated.count == 1 else { throw StorageError.notFound("DID \(changed.id)") }
        }
    }

    /// Holds the target until the transaction ends, so that it cannot be deleted meanwhile.
    private func checkDIDTarget(_ connection: PostgresConnection, clientID: Int64, extensionID: Int64?) async throws {
        guard let extensionID,
            try await ownedExtension(connection, clientID: clientID, id: extensionID, lock: "FOR KEY SHARE") == nil
        else { return }
        throw ConfigurationStoreError.noExtension(extensionID)
    }

    public func deleteDID(clientID: Int64, id: Int64) async throws {
        try await write { connection in
            guard let row = try await self.fetchOne(
                "SELECT name FROM did WHERE client_id = \(clientID) AND id = \(id) FOR UPDATE", on: connection)
            else { throw StorageError.notFound("DID \(id)") }
            let number = try row["name"].decode(String.self)
            // A trunk's caller ID must stay a number of the client: once deleted, the DID could be
            // given to another client, whose number the trunk would then show.
            var users = try await self.queuesTransferring(connection, clientID: clientID, to: [number, "+" + number])
            users += try await self.voiceMenusNaming(connection, clientID: clientID, numbers: [number, "+" + number], filteringDIDs: true)
            users += try await self.fetchAll(
                "SELECT name FROM trunk WHERE client_id = \(clientID) AND caller_id = \(number) ORDER BY name", on: connection
            ).map { row in .trunkCallerID(trunk: try row["name"].decode(String.self)) }
            guard users.isEmpty else { throw ConfigurationStoreError.used(by: users) }
            try await connection.query("DELETE FROM did WHERE id = \(id)", logger: self.logger)
        }
    }

    private static func did(from row: PostgresRandomAccessRow) throws -> DID {
        DID(
            id: try row["id"].decode(Int64.self), clientID: try row["client_id"].decode(Int64.self),
            number: try row["name"].decode(String.self), extensionID: try row["extension_id"].decode(Int64?.self),
            comment: try row["comment"].decode(String.self), createdAt: UnixTime(seconds: try row["created_at"].decode(Int64.self)))
    }

    // MARK: Queues

    public func queueOptions(clientID: Int64, queueID: Int64) async throws -> QueueOptions? {
        try await read { connection in try await self.queueOptions(connection, clientID: clientID, queueID: queueID) }
    }

    public func updateQueueOptions(clientID: Int64, queueID: Int64, _ options: QueueOptions) async throws {
        try await write { connection in
            let updated = try await self.fetchAll(
                """
                UPDATE queue SET agent_hangup_action = \(options.agentHangupAction?.rawValue),
                    agent_hangup_transfer_dst = \(options.agentHangupTransferDestination),
                    quality_rate_sound = \(options.qualityRateSound), quality_rate_finish_sound = \(options.qualityRateFinishSound),
                    quality_rate_max = \(options.qualityRateMax), strategy = \(options.strategy.rawValue),
                    max_wait_time = \(options.maxWaitTime), announce_sound = \(options.announceSound),
                    announce_frequency = \(options.announceFrequency), exit_with_no_av_agents = \(options.exitWithNoAvailableAgents),
                    no_agent_timeout_transfer_dst = \(options.noAgentTimeoutTransferDestination),
                    ring_timeout = \(options.ringTimeout), retry_delay = \(options.retryDelay)
                WHERE extension_id = (SELECT id FROM extension WHERE client_id = \(clientID) AND id = \(queueID) AND type = 'queue')
                RETURNING extension_id
                """, on: connection)
            guard updated.count == 1 else { throw StorageError.notFound("queue \(queueID)") }
        }
    }

    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> [QueueAgent]? {
        try await snapshot { connection in
            guard try await self.isQueue(connection, clientID: clientID, id: queueID) else { return nil }
            return try await self.queueAgents(connection, queueID: queueID)
        }
    }

    public func addQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws -> QueueAgent {
        try await write { connection in
            guard try await self.isQueue(connection, clientID: clientID, id: queueID, lock: "FOR NO KEY UPDATE") else {
                throw StorageError.notFound("queue \(queueID)")
            }
            guard let agent = try await self.ownedExtension(connection, clientID: clientID, id: agentID, lock: "FOR KEY SHARE") else {
                throw ConfigurationStoreError.noExtension(agentID)
            }
            guard agent.kind == .phone else { throw ConfigurationStoreError.notAPhone(agent) }
            let position = try await self.fetchOne(
                "SELECT COALESCE(MAX(position), 0) + 1 AS position FROM queue_agent WHERE queue_id = \(queueID)", on: connection
            )?["position"].decode(Int64.self) ?? 1
            _ = try await Self.translatingConflicts(field: "extension_id") {
                try await connection.query(
                    "INSERT INTO queue_agent (queue_id, agent_id, position) VALUES (\(queueID), \(agentID), \(position))",
                    logger: self.logger)
            }
            return QueueAgent(extensionID: agentID, name: agent.name, label: agent.label, position: position)
        }
    }

    public func removeQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws {
        try await write { connection in
            guard try await self.isQueue(connection, clientID: clientID, id: queueID, lock: "FOR NO KEY UPDATE") else {
                throw StorageError.notFound("queue \(queueID)")
            }
            guard let row = try await self.fetchOne(
                "SELECT position FROM queue_agent WHERE queue_id = \(queueID) AND agent_id = \(agentID)", on: connection)
            else { throw StorageError.notFound("agent \(agentID) of queue \(queueID)") }
            let position = try row["position"].decode(Int64.self)
            try await connection.query(
                "DELETE FROM queue_agent WHERE queue_id = \(queueID) AND agent_id = \(agentID)", logger: self.logger)
            try await connection.query(
                "UPDATE queue_agent SET position = position - 1 WHERE queue_id = \(queueID) AND position > \(position)",
                logger: self.logger)
        }
    }

    public func queueConfiguration(clientID: Int64, queueID: Int64) async throws -> QueueConfiguration? {
        try await snapshot { connection in
            guard let queue = try await self.ownedExtension(connection, clientID: clientID, id: queueID), queue.kind == .queue,
                let options = try await self.queueOptions(connection, clientID: clientID, queueID: queueID)
            else { return nil }
            return QueueConfiguration(queue: queue, options: options, agents: try await self.queueAgents(connection, queueID: queueID))
        }
    }

    /// Whether `id` is a queue extension of the client; `lock` holds its row until the
    /// transaction ends.
    private func isQueue(_ connection: PostgresConnection, clientID: Int64, id: Int64, lock: String = "") async throws -> Bool {
        try await fetchOne(
            "SELECT 1 FROM extension WHERE client_id = \(clientID) AND id = \(id) AND type = 'queue' \(unescaped: lock)",
            on: connection) != nil
    }

    private func queueOptions(_ connection: PostgresConnection, clientID: Int64, queueID: Int64) async throws -> QueueOptions? {
        guard let row = try await fetchOne(
            """
            SELECT queue.* FROM queue JOIN extension ON extension.id = queue.extension_id
            WHERE extension.client_id = \(clientID) AND extension.id = \(queueID)
            """, on: connection)
        else { return nil }
        return QueueOptions(
            agentHangupAction: try row["agent_hangup_action"].decode(String?.self).flatMap(QueueOptions.AgentHangupAction.init(rawValue:)),
            agentHangupTransferDestination: try row["agent_hangup_transfer_dst"].decode(String?.self),
            qualityRateSound: try row["quality_rate_sound"].decode(Int64.self),
            qualityRateFinishSound: try row["quality_rate_finish_sound"].decode(Int64.self),
            qualityRateMax: try row["quality_rate_max"].decode(Int64.self),
            strategy: QueueStrategy(rawValue: try row["strategy"].decode(String.self)) ?? .roundRobin,
            maxWaitTime: try row["max_wait_time"].decode(Int64.self), announceSound: try row["announce_sound"].decode(Int64.self),
            announceFrequency: try row["announce_frequency"].decode(Int64.self),
            exitWithNoAvailableAgents: try row["exit_with_no_av_agents"].decode(Bool.self),
            noAgentTimeoutTransferDestination: try row["no_agent_timeout_transfer_dst"].decode(String?.self),
            ringTimeout: try row["ring_timeout"].decode(Int64.self), retryDelay: try row["retry_delay"].decode(Int64.self))
    }

    private func queueAgents(_ connection: PostgresConnection, queueID: Int64) async throws -> [QueueAgent] {
        try await fetchAll(
            """
            SELECT agent.id, agent.name, agent.label, queue_agent.position
            FROM queue_agent JOIN extension AS agent ON agent.id = queue_agent.agent_id
            WHERE queue_agent.queue_id = \(queueID) ORDER BY queue_agent.position
            """, on: connection
        ).map { row in
            QueueAgent(
                extensionID: try row["id"].decode(Int64.self), name: try row["name"].decode(String.self),
                label: try row["label"].decode(String.self), position: try row["position"].decode(Int64.self))
        }
    }

    // MARK: Reading

    /// The rows of `query`, their columns read by name.
    func fetchAll(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// The first row of `query`.
    func fetchOne(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> PostgresRandomAccessRow? {
        try await fetchAll(query, on: connection).first
    }

    /// The id that an `INSERT … RETURNING id` of one row answers (SQLite's `lastInsertedRowID`).
    func insertedID(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> Int64 {
        guard let row = try await connection.query(query, logger: logger).collect().first else {
            preconditionFailure("an INSERT … RETURNING answers the row it inserted")
        }
        return try row.decode(Int64.self)
    }
}
