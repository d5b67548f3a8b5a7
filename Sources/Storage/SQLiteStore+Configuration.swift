public import Domain
import GRDB

extension SQLiteStore {
    public func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension? {
        try await read { db in try Self.ownedExtension(db, clientID: clientID, id: id) }
    }

    public func dialTarget(clientID: Int64, number: String) async throws -> DialTarget? {
        try await read { db in
            if let row = try Row.fetchOne(
                db, sql: "SELECT * FROM extension WHERE client_id = ? AND name = ?", arguments: [clientID, number]),
                let found = Self.extension(from: row)
            {
                return .extension(found)
            }
            return try Row.fetchOne(
                db, sql: "SELECT id, name, extension_id FROM did WHERE client_id = ? AND name = ?",
                arguments: [clientID, DIDNumber.withoutPlus(number)]
            ).map { row in DialTarget.did(id: row["id"], number: row["name"], extensionID: row["extension_id"]) }
        }
    }

    private static func ownedExtension(_ db: Database, clientID: Int64, id: Int64) throws -> Extension? {
        try Row.fetchOne(db, sql: "SELECT * FROM extension WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            .flatMap(Self.extension(from:))
    }

    // MARK: Extensions

    public func `extension`(clientID: Int64, name: String) async throws -> Extension? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM extension WHERE client_id = ? AND name = ?", arguments: [clientID, name])
                .flatMap(Self.extension(from:))
        }
    }

    public func createExtension(_ new: NewExtension, status: ExtensionStatus, credentials: SIPCredentials?) async throws -> Extension {
        try await write { db in
            let now = UnixTime.now()
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: """
                        INSERT INTO extension (client_id, name, type, label, status, created_at, is_sample, sip_ha1_md5, sip_ha1_sha256)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        new.clientID, new.name, new.kind.rawValue, new.label, status.rawValue, now.seconds, new.isSample,
                        credentials?.ha1MD5, credentials?.ha1SHA256,
                    ])
            }
            return Extension(
                id: db.lastInsertedRowID, clientID: new.clientID, name: new.name, kind: new.kind, label: new.label,
                status: status.rawValue, createdAt: now)
        }
    }

    public func updateExtension(_ changed: Extension, credentials: SIPCredentials?) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE extension SET label = ?, status = ?, sip_ha1_md5 = COALESCE(?, sip_ha1_md5),
                        sip_ha1_sha256 = COALESCE(?, sip_ha1_sha256)
                    WHERE client_id = ? AND id = ?
                    """,
                arguments: [
                    changed.label, changed.status, credentials?.ha1MD5, credentials?.ha1SHA256, changed.clientID, changed.id,
                ])
            guard db.changesCount == 1 else { throw StorageError.notFound("extension \(changed.id)") }
        }
    }

    public func deleteExtension(clientID: Int64, id: Int64) async throws {
        try await write { db in
            guard let found = try Self.ownedExtension(db, clientID: clientID, id: id) else {
                throw StorageError.notFound("extension \(id)")
            }
            var users: [ConfigurationUser] = []
            users += try String.fetchAll(db, sql: "SELECT name FROM did WHERE extension_id = ? ORDER BY name", arguments: [id])
                .map { .did(number: $0) }
            users += try String.fetchAll(
                db,
                sql: """
                    SELECT queue.name FROM queue_agent JOIN extension AS queue ON queue.id = queue_agent.queue_id
                    WHERE queue_agent.agent_id = ? ORDER BY queue.name
                    """,
                arguments: [id]
            ).map { .queueAgent(queue: $0) }
            users += try Self.queuesTransferring(db, clientID: clientID, to: [found.name])
            users += try Self.voiceMenusNaming(db, clientID: clientID, numbers: [found.name], except: id)
            guard users.isEmpty else { throw ConfigurationStoreError.used(by: users) }
            try db.execute(sql: "DELETE FROM extension WHERE id = ?", arguments: [id])
        }
    }

    /// The queues of the client whose transfer destinations name one of `numbers`, described for
    /// a person.
    private static func queuesTransferring(_ db: Database, clientID: Int64, to numbers: [String]) throws -> [ConfigurationUser] {
        let placeholders = Array(repeating: "?", count: numbers.count).joined(separator: ",")
        var arguments: StatementArguments = [clientID]
        arguments += StatementArguments(numbers)
        arguments += StatementArguments(numbers)
        return try String.fetchAll(
            db,
            sql: """
                SELECT extension.name FROM queue JOIN extension ON extension.id = queue.extension_id
                WHERE extension.client_id = ?
                    AND (queue.agent_hangup_transfer_dst IN (\(placeholders)) OR queue.no_agent_timeout_transfer_dst IN (\(placeholders)))
                ORDER BY extension.name
                """,
            arguments: arguments
        ).map { .queueTransfer(queue: $0) }
    }

    /// The voice menus of the client that would send a caller to one of `numbers` (a rule's
    /// `transfer_dst`, the menu's `lifetime_exp_transfer_dst`) or, with `filteringDIDs`, pick
    /// rules by it (a rule's `did`), described for a person. The menu `except` is left out: its
    /// rules go with it.
    private static func voiceMenusNaming(
        _ db: Database, clientID: Int64, numbers: [String], except deleted: Int64? = nil, filteringDIDs: Bool = false
    ) throws -> [ConfigurationUser] {
        let placeholders = Array(repeating: "?", count: numbers.count).joined(separator: ",")
        let ruleColumns = filteringDIDs ? ["transfer_dst", "did"] : ["transfer_dst"]
        var users: [ConfigurationUser] = []
        for column in ruleColumns {
            var arguments: StatementArguments = [clientID, deleted]
            arguments += StatementArguments(numbers)
            users += try Row.fetchAll(
                db,
                sql: """
                    SELECT menu.name, ivr_rule.id FROM ivr_rule
                    JOIN ivr_context ON ivr_context.id = ivr_rule.context_id
                    JOIN extension AS menu ON menu.id = ivr_context.ivr_id
                    WHERE menu.client_id = ? AND menu.id IS NOT ? AND ivr_rule.\(column) IN (\(placeholders))
                    ORDER BY menu.name, ivr_rule.id
                    """,
                arguments: arguments
            ).map { row in .voiceMenuRule(menu: row[0], rule: row[1], column: column) }
        }
        var arguments: StatementArguments = [clientID, deleted]
        arguments += StatementArguments(numbers)
        users += try String.fetchAll(
            db,
            sql: """
                SELECT menu.name FROM ivr JOIN extension AS menu ON menu.id = ivr.extension_id
                WHERE menu.client_id = ? AND menu.id IS NOT ? AND ivr.lifetime_exp_transfer_dst IN (\(placeholders))
                ORDER BY menu.name
                """,
            arguments: arguments
        ).map { .voiceMenuLifetimeTransfer(menu: $0) }
        return users
    }

    public func sipCredentials(clientID: Int64, extensionID: Int64) async throws -> SIPCredentials? {
        try await read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT sip_ha1_md5, sip_ha1_sha256 FROM extension WHERE client_id = ? AND id = ? AND type = 'phone'",
                arguments: [clientID, extensionID]),
                let md5 = row["sip_ha1_md5"] as String?, let sha256 = row["sip_ha1_sha256"] as String?
            else { return nil }
            return SIPCredentials(ha1MD5: md5, ha1SHA256: sha256)
        }
    }

    // MARK: DIDs

    public func dids(clientID: Int64) async throws -> [DID] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM did WHERE client_id = ? ORDER BY id", arguments: [clientID]).map(Self.did(from:))
        }
    }

    public func did(clientID: Int64, id: Int64) async throws -> DID? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM did WHERE client_id = ? AND id = ?", arguments: [clientID, id]).map(Self.did(from:))
        }
    }

    public func did(number: String) async throws -> DID? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM did WHERE name = ?", arguments: [DIDNumber.withoutPlus(number)]).map(Self.did(from:))
        }
    }

    public func createDID(_ new: NewDID) async throws -> DID {
        try await write { db in
            try Self.checkDIDTarget(db, clientID: new.clientID, extensionID: new.extensionID)
            let now = UnixTime.now()
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: "INSERT INTO did (client_id, name, extension_id, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [new.clientID, new.number, new.extensionID, new.comment, now.seconds])
            }
            return DID(
                id: db.lastInsertedRowID, clientID: new.clientID, number: new.number, extensionID: new.extensionID,
                comment: new.comment, createdAt: now)
        }
    }

    public func updateDID(_ changed: DID) async throws {
        try await write { db in
            try Self.checkDIDTarget(db, clientID: changed.clientID, extensionID: changed.extensionID)
            try db.execute(
                sql: "UPDATE did SET extension_id = ?, comment = ? WHERE client_id = ? AND id = ?",
                arguments: [changed.extensionID, changed.comment, changed.clientID, changed.id])
            guard db.changesCount == 1 else { throw StorageError.notFound("DID \(changed.id)") }
        }
    }

    private static func checkDIDTarget(_ db: Database, clientID: Int64, extensionID: Int64?) throws {
        guard let extensionID, try ownedExtension(db, clientID: clientID, id: extensionID) == nil else { return }
        throw ConfigurationStoreError.noExtension(extensionID)
    }

    public func deleteDID(clientID: Int64, id: Int64) async throws {
        try await write { db in
            guard let number = try String.fetchOne(
                db, sql: "SELECT name FROM did WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            else { throw StorageError.notFound("DID \(id)") }
            // A trunk's caller ID must stay a number of the client: once deleted, the DID could be
            // given to another client, whose number the trunk would then show.
            let users = try Self.queuesTransferring(db, clientID: clientID, to: [number, "+" + number])
                + Self.voiceMenusNaming(db, clientID: clientID, numbers: [number, "+" + number], filteringDIDs: true)
                + String.fetchAll(
                    db, sql: "SELECT name FROM trunk WHERE client_id = ? AND caller_id = ? ORDER BY name", arguments: [clientID, number]
                ).map { ConfigurationUser.trunkCallerID(trunk: $0) }
            guard users.isEmpty else { throw ConfigurationStoreError.used(by: users) }
            try db.execute(sql: "DELETE FROM did WHERE id = ?", arguments: [id])
        }
    }

    private static func did(from row: Row) -> DID {
        DID(
            id: row["id"], clientID: row["client_id"], number: row["name"], extensionID: row["extension_id"],
            comment: row["comment"], createdAt: UnixTime(seconds: row["created_at"]))
    }

    // MARK: Queues

    public func queueOptions(clientID: Int64, queueID: Int64) async throws -> QueueOptions? {
        try await read { db in try Self.queueOptions(db, clientID: clientID, queueID: queueID) }
    }

    public func updateQueueOptions(clientID: Int64, queueID: Int64, _ options: QueueOptions) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE queue SET agent_hangup_action = ?, agent_hangup_transfer_dst = ?, quality_rate_sound = ?,
                        quality_rate_finish_sound = ?, quality_rate_max = ?, strategy = ?, max_wait_time = ?, announce_sound = ?,
                        announce_frequency = ?, exit_with_no_av_agents = ?, no_agent_timeout_transfer_dst = ?, ring_timeout = ?,
                        retry_delay = ?
                    WHERE extension_id = (SELECT id FROM extension WHERE client_id = ? AND id = ? AND type = 'queue')
                    """,
                arguments: [
                    options.agentHangupAction?.rawValue, options.agentHangupTransferDestination, options.qualityRateSound,
                    options.qualityRateFinishSound, options.qualityRateMax, options.strategy.rawValue, options.maxWaitTime,
                    options.announceSound, options.announceFrequency, options.exitWithNoAvailableAgents,
                    options.noAgentTimeoutTransferDestination, options.ringTimeout, options.retryDelay, clientID, queueID,
                ])
            guard db.changesCount == 1 else { throw StorageError.notFound("queue \(queueID)") }
        }
    }

    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> [QueueAgent]? {
        try await read { db in
            guard try Self.isQueue(db, clientID: clientID, id: queueID) else { return nil }
            return try Self.queueAgents(db, queueID: queueID)
        }
    }

    public func addQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws -> QueueAgent {
        try await write { db in
            guard try Self.isQueue(db, clientID: clientID, id: queueID) else { throw StorageError.notFound("queue \(queueID)") }
            guard let agent = try Self.ownedExtension(db, clientID: clientID, id: agentID) else {
                throw ConfigurationStoreError.noExtension(agentID)
            }
            guard agent.kind == .phone else { throw ConfigurationStoreError.notAPhone(agent) }
            let position = try Int64.fetchOne(
                db, sql: "SELECT COALESCE(MAX(position), 0) + 1 FROM queue_agent WHERE queue_id = ?", arguments: [queueID]) ?? 1
            try Self.translatingConflicts(field: "extension_id") {
                try db.execute(
                    sql: "INSERT INTO queue_agent (queue_id, agent_id, position) VALUES (?, ?, ?)",
                    arguments: [queueID, agentID, position])
            }
            return QueueAgent(extensionID: agentID, name: agent.name, label: agent.label, position: position)
        }
    }

    public func removeQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws {
        try await write { db in
            guard try Self.isQueue(db, clientID: clientID, id: queueID) else { throw StorageError.notFound("queue \(queueID)") }
            guard let position = try Int64.fetchOne(
                db, sql: "SELECT position FROM queue_agent WHERE queue_id = ? AND agent_id = ?", arguments: [queueID, agentID])
            else { throw StorageError.notFound("agent \(agentID) of queue \(queueID)") }
            try db.execute(sql: "DELETE FROM queue_agent WHERE queue_id = ? AND agent_id = ?", arguments: [queueID, agentID])
            try db.execute(
                sql: "UPDATE queue_agent SET position = position - 1 WHERE queue_id = ? AND position > ?",
                arguments: [queueID, position])
        }
    }

    public func queueConfiguration(clientID: Int64, queueID: Int64) async throws -> QueueConfiguration? {
        try await read { db in
            guard let queue = try Self.ownedExtension(db, clientID: clientID, id: queueID), queue.kind == .queue,
                let options = try Self.queueOptions(db, clientID: clientID, queueID: queueID)
            else { return nil }
            return QueueConfiguration(queue: queue, options: options, agents: try Self.queueAgents(db, queueID: queueID))
        }
    }

    private static func isQueue(_ db: Database, clientID: Int64, id: Int64) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM extension WHERE client_id = ? AND id = ? AND type = 'queue')",
            arguments: [clientID, id]) ?? false
    }

    private static func queueOptions(_ db: Database, clientID: Int64, queueID: Int64) throws -> QueueOptions? {
        guard let row = try Row.fetchOne(
            db,
            sql: """
                SELECT queue.* FROM queue JOIN extension ON extension.id = queue.extension_id
                WHERE extension.client_id = ? AND extension.id = ?
                """,
            arguments: [clientID, queueID])
        else { return nil }
        return QueueOptions(
            agentHangupAction: (row["agent_hangup_action"] as String?).flatMap(QueueOptions.AgentHangupAction.init(rawValue:)),
            agentHangupTransferDestination: row["agent_hangup_transfer_dst"], qualityRateSound: row["quality_rate_sound"],
            qualityRateFinishSound: row["quality_rate_finish_sound"], qualityRateMax: row["quality_rate_max"],
            strategy: QueueStrategy(rawValue: row["strategy"]) ?? .roundRobin, maxWaitTime: row["max_wait_time"],
            announceSound: row["announce_sound"], announceFrequency: row["announce_frequency"],
            exitWithNoAvailableAgents: row["exit_with_no_av_agents"],
            noAgentTimeoutTransferDestination: row["no_agent_timeout_transfer_dst"], ringTimeout: row["ring_timeout"],
            retryDelay: row["retry_delay"])
    }

    private static func queueAgents(_ db: Database, queueID: Int64) throws -> [QueueAgent] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT agent.id, agent.name, agent.label, queue_agent.position
                FROM queue_agent JOIN extension AS agent ON agent.id = queue_agent.agent_id
                WHERE queue_agent.queue_id = ? ORDER BY queue_agent.position
                """,
            arguments: [queueID]
        ).map { row in QueueAgent(extensionID: row["id"], name: row["name"], label: row["label"], position: row["position"]) }
    }
}
