public import Domain
import PostgresNIO
import Storage

// Voice menus (SPEC §4.2) on PostgreSQL: SQLiteStore+IVR.swift, statement for statement, with
// the same answers and refusals.
//
// Every write locks the IVR's extension row first (FOR NO KEY UPDATE, as an UPDATE of it would),
// so the writes to one IVR run one at a time, as every write does on SQLite: two nodes cannot
// both number a rule at the same position, nor add a jump to a context while another deletes it,
// nor set an entry context being deleted. Deleting the IVR's extension (FOR UPDATE) waits for
// them, and they for it, then find no IVR.

extension PostgresStore {
    // MARK: Options

    public func ivrOptions(clientID: Int64, ivrID: Int64) async throws -> IVROptions? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID) else { return nil }
            return try await self.options(connection, ivrID: ivrID)
        }
    }

    public func updateIVROptions(clientID: Int64, ivrID: Int64, _ options: IVROptions) async throws {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "ivr \(ivrID)")
            if options.entryContext != 0, try await !self.isContext(connection, ivrID: ivrID, id: options.entryContext) {
                throw IVRStoreError.unknownContext(field: "entry_context", id: options.entryContext)
            }
            try await connection.query(
                """
                INSERT INTO ivr (extension_id, entry_context, lifetime, lifetime_exp_action, lifetime_exp_transfer_dst, sleep_time)
                VALUES (\(ivrID), \(options.entryContext), \(options.lifetime), \(options.lifetimeExpiryAction.rawValue),
                    \(options.lifetimeExpiryTransferDestination), \(options.sleepTime))
                ON CONFLICT (extension_id) DO UPDATE SET entry_context = excluded.entry_context,
                    lifetime = excluded.lifetime, lifetime_exp_action = excluded.lifetime_exp_action,
                    lifetime_exp_transfer_dst = excluded.lifetime_exp_transfer_dst, sleep_time = excluded.sleep_time
                """, logger: self.logger)
        }
    }

    private func options(_ connection: PostgresConnection, ivrID: Int64) async throws -> IVROptions {
        guard let row = try await fetchOne("SELECT * FROM ivr WHERE extension_id = \(ivrID)", on: connection) else {
            return IVROptions()
        }
        return IVROptions(
            entryContext: try row["entry_context"].decode(Int64.self), lifetime: try row["lifetime"].decode(Int64.self),
            lifetimeExpiryAction: IVROptions.LifetimeExpiryAction(rawValue: try row["lifetime_exp_action"].decode(String.self)) ?? .hangup,
            lifetimeExpiryTransferDestination: try row["lifetime_exp_transfer_dst"].decode(String?.self),
            sleepTime: try row["sleep_time"].decode(Int64.self))
    }

    // MARK: Contexts

    public func ivrContexts(clientID: Int64, ivrID: Int64) async throws -> [IVRContext] {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID) else { return [] }
            return try await self.contexts(connection, ivrID: ivrID)
        }
    }

    public func ivrContext(clientID: Int64, ivrID: Int64, id: Int64) async throws -> IVRContext? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID) else { return nil }
            return try await self.fetchOne("SELECT * FROM ivr_context WHERE ivr_id = \(ivrID) AND id = \(id)", on: connection)
                .map(Self.context(from:))
        }
    }

    public func createIVRContext(clientID: Int64, ivrID: Int64, _ settings: IVRContext.Settings) async throws -> IVRContext {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "ivr \(ivrID)")
            let id = try await Self.translatingConflicts(field: "name") {
                try await self.insertedID(
                    """
                    INSERT INTO ivr_context (ivr_id, name, timeout, inter_digit_timeout, digit_len)
                    VALUES (\(ivrID), \(settings.name), \(settings.timeout), \(settings.interDigitTimeout), \(settings.digitLength))
                    RETURNING id
                    """, on: connection)
            }
            try await connection.query(
                """
                INSERT INTO ivr (extension_id, entry_context) VALUES (\(ivrID), \(id))
                ON CONFLICT (extension_id) DO UPDATE SET entry_context = excluded.entry_context WHERE ivr.entry_context = 0
                """, logger: self.logger)
            return IVRContext(id: id, ivrID: ivrID, settings: settings)
        }
    }

    public func updateIVRContext(clientID: Int64, _ context: IVRContext) async throws {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: context.ivrID, notFound: "context \(context.id)")
            let settings = context.settings
            let updated = try await Self.translatingConflicts(field: "name") {
                try await self.fetchAll(
                    """
                    UPDATE ivr_context SET name = \(settings.name), timeout = \(settings.timeout),
                        inter_digit_timeout = \(settings.interDigitTimeout), digit_len = \(settings.digitLength)
                    WHERE ivr_id = \(context.ivrID) AND id = \(context.id)
                    RETURNING id
                    """, on: connection)
            }
            guard updated.count == 1 else { throw StorageError.notFound("context \(context.id)") }
        }
    }

    public func deleteIVRContext(clientID: Int64, ivrID: Int64, id: Int64) async throws {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "context \(id)")
            guard try await self.isContext(connection, ivrID: ivrID, id: id) else { throw StorageError.notFound("context \(id)") }
            if try await self.options(connection, ivrID: ivrID).entryContext == id {
                throw IVRStoreError.entryContextInUse
            }
            // A context's own rules that jump within it go with it; only other contexts' jumps hold it.
            let jumps = try await self.fetchAll(
                """
                SELECT r.id, r.option_digits, c.name FROM ivr_rule r JOIN ivr_context c ON c.id = r.context_id
                WHERE r.action = 'jump_to_context' AND r.context = \(id) AND r.context_id != \(id) ORDER BY r.id
                """, on: connection)
            if !jumps.isEmpty {
                throw IVRStoreError.jumpedTo(
                    by: try jumps.map { row in
                        (
                            id: try row["id"].decode(Int64.self), context: try row["name"].decode(String.self),
                            option: try row["option_digits"].decode(String.self)
                        )
                    })
            }
            try await connection.query("DELETE FROM ivr_context WHERE id = \(id)", logger: self.logger)
        }
    }

    private func contexts(_ connection: PostgresConnection, ivrID: Int64) async throws -> [IVRContext] {
        try await fetchAll("SELECT * FROM ivr_context WHERE ivr_id = \(ivrID) ORDER BY id", on: connection).map(Self.context(from:))
    }

    private static func context(from row: PostgresRandomAccessRow) throws -> IVRContext {
        IVRContext(
            id: try row["id"].decode(Int64.self), ivrID: try row["ivr_id"].decode(Int64.self),
            settings: IVRContext.Settings(
                name: try row["name"].decode(String.self), timeout: try row["timeout"].decode(Int64.self),
                interDigitTimeout: try row["inter_digit_timeout"].decode(Int64.self),
                digitLength: try row["digit_len"].decode(Int64?.self)))
    }

    // MARK: Rules

    public func ivrRuleCounts(clientID: Int64, ivrID: Int64, contextID: Int64) async throws -> [String: Int]? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID),
                try await self.isContext(connection, ivrID: ivrID, id: contextID)
            else { return nil }
            let rows = try await self.fetchAll(
                """
                SELECT option_digits, COUNT(*) AS rules FROM ivr_rule WHERE context_id = \(contextID) GROUP BY option_digits
                """, on: connection)
            return Dictionary(
                uniqueKeysWithValues: try rows.map { row in
                    (try row["option_digits"].decode(String.self), Int(try row["rules"].decode(Int64.self)))
                })
        }
    }

    public func ivrRules(clientID: Int64, ivrID: Int64, contextID: Int64, option: String) async throws -> [IVRRule]? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID),
                try await self.isContext(connection, ivrID: ivrID, id: contextID)
            else { return nil }
            return try await self.fetchAll(
                "SELECT * FROM ivr_rule WHERE context_id = \(contextID) AND option_digits = \(option) ORDER BY position",
                on: connection
            ).compactMap(Self.rule(from:))
        }
    }

    public func ivrRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws -> IVRRule? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID),
                try await self.isContext(connection, ivrID: ivrID, id: contextID)
            else { return nil }
            return try await self.fetchOne(
                "SELECT * FROM ivr_rule WHERE context_id = \(contextID) AND option_digits = \(option) AND id = \(id)",
                on: connection
            ).flatMap(Self.rule(from:))
        }
    }

    public func createIVRRule(
        clientID: Int64, ivrID: Int64, contextID: Int64, option: String, position: Int64?, _ definition: IVRRuleDefinition
    ) async throws -> IVRRule {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "context \(contextID)")
            guard try await self.isContext(connection, ivrID: ivrID, id: contextID) else {
                throw StorageError.notFound("context \(contextID)")
            }
            try await self.checkJumpTarget(connection, ivrID: ivrID, definition)
            let count = try await self.ruleCount(connection, contextID: contextID, option: option)
            let position = position ?? count + 1
            guard (1...count + 1).contains(position) else { throw IVRStoreError.positionOutOfRange(maximum: count + 1) }
            try await connection.query(
                """
                UPDATE ivr_rule SET position = position + 1
                WHERE context_id = \(contextID) AND option_digits = \(option) AND position >= \(position)
                """, logger: self.logger)
            let stored = IVRRuleColumns(definition)
            let id = try await self.insertedID(
                """
                INSERT INTO ivr_rule (
                    context_id, option_digits, position, action, did, caller_id, caller_id_action, sound, sound_type, transfer_dst,
                    context, context_option, set_variable_name, set_variable_value, record_digits_variable, record_digits_max,
                    record_digits_sound, call_interactive_url, call_interactive_method, max_rate, finish_sound)
                VALUES (
                    \(contextID), \(option), \(position), \(stored.action), \(stored.did), \(stored.callerID), \(stored.callerIDAction),
                    \(stored.sound), \(stored.soundType), \(stored.transferDestination), \(stored.context), \(stored.contextOption),
                    \(stored.setVariableName), \(stored.setVariableValue), \(stored.recordDigitsVariable), \(stored.recordDigitsMax),
                    \(stored.recordDigitsSound), \(stored.callInteractiveURL), \(stored.callInteractiveMethod), \(stored.maxRate),
                    \(stored.finishSound))
                RETURNING id
                """, on: connection)
            return IVRRule(id: id, position: position, definition: definition)
        }
    }

    public func updateIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, _ rule: IVRRule) async throws {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "rule \(rule.id)")
            guard try await self.isContext(connection, ivrID: ivrID, id: contextID),
                let current = try await self.rulePosition(connection, contextID: contextID, option: option, id: rule.id)
            else { throw StorageError.notFound("rule \(rule.id)") }
            try await self.checkJumpTarget(connection, ivrID: ivrID, rule.definition)
            let count = try await self.ruleCount(connection, contextID: contextID, option: option)
            guard (1...count).contains(rule.position) else { throw IVRStoreError.positionOutOfRange(maximum: count) }
            if rule.position < current {
                try await connection.query(
                    """
                    UPDATE ivr_rule SET position = position + 1
                    WHERE context_id = \(contextID) AND option_digits = \(option) AND position >= \(rule.position) AND position < \(current)
                    """, logger: self.logger)
            } else if rule.position > current {
                try await connection.query(
                    """
                    UPDATE ivr_rule SET position = position - 1
                    WHERE context_id = \(contextID) AND option_digits = \(option) AND position > \(current) AND position <= \(rule.position)
                    """, logger: self.logger)
            }
            let stored = IVRRuleColumns(rule.definition)
            try await connection.query(
                """
                UPDATE ivr_rule SET position = \(rule.position), action = \(stored.action), did = \(stored.did),
                    caller_id = \(stored.callerID), caller_id_action = \(stored.callerIDAction), sound = \(stored.sound),
                    sound_type = \(stored.soundType), transfer_dst = \(stored.transferDestination), context = \(stored.context),
                    context_option = \(stored.contextOption), set_variable_name = \(stored.setVariableName),
                    set_variable_value = \(stored.setVariableValue), record_digits_variable = \(stored.recordDigitsVariable),
                    record_digits_max = \(stored.recordDigitsMax), record_digits_sound = \(stored.recordDigitsSound),
                    call_interactive_url = \(stored.callInteractiveURL), call_interactive_method = \(stored.callInteractiveMethod),
                    max_rate = \(stored.maxRate), finish_sound = \(stored.finishSound)
                WHERE id = \(rule.id)
                """, logger: self.logger)
        }
    }

    public func deleteIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws {
        try await write { connection in
            try await self.lockIVR(connection, clientID: clientID, ivrID: ivrID, notFound: "rule \(id)")
            guard try await self.isContext(connection, ivrID: ivrID, id: contextID),
                let position = try await self.rulePosition(connection, contextID: contextID, option: option, id: id)
            else { throw StorageError.notFound("rule \(id)") }
            try await connection.query("DELETE FROM ivr_rule WHERE id = \(id)", logger: self.logger)
            try await connection.query(
                """
                UPDATE ivr_rule SET position = position - 1
                WHERE context_id = \(contextID) AND option_digits = \(option) AND position > \(position)
                """, logger: self.logger)
        }
    }

    // MARK: The whole IVR

    public func ivrConfiguration(clientID: Int64, ivrID: Int64) async throws -> IVRConfiguration? {
        try await snapshot { connection in
            guard try await self.isIVR(connection, clientID: clientID, ivrID: ivrID) else { return nil }
            var rulesByContext: [Int64: [String: [IVRRule]]] = [:]
            for row in try await self.fetchAll(
                """
                SELECT r.* FROM ivr_rule r JOIN ivr_context c ON c.id = r.context_id
                WHERE c.ivr_id = \(ivrID) ORDER BY r.context_id, r.option_digits, r.position
                """, on: connection)
            {
                guard let rule = try Self.rule(from: row) else { continue }
                let contextID = try row["context_id"].decode(Int64.self), option = try row["option_digits"].decode(String.self)
                rulesByContext[contextID, default: [:]][option, default: []].append(rule)
            }
            return IVRConfiguration(
                ivrID: ivrID, options: try await self.options(connection, ivrID: ivrID),
                contexts: try await self.contexts(connection, ivrID: ivrID).map { context in
                    IVRConfiguration.Context(context: context, rulesByOption: rulesByContext[context.id] ?? [:])
                })
        }
    }

    // MARK: Helpers

    private func isIVR(_ connection: PostgresConnection, clientID: Int64, ivrID: Int64) async throws -> Bool {
        try await fetchOne(
            "SELECT 1 FROM extension WHERE id = \(ivrID) AND client_id = \(clientID) AND type = 'ivr'", on: connection) != nil
    }

    /// Holds the IVR's extension row until the transaction ends (see the top of this file);
    /// throws `StorageError.notFound(notFound)` when `ivrID` is not an IVR of the client.
    private func lockIVR(_ connection: PostgresConnection, clientID: Int64, ivrID: Int64, notFound: String) async throws {
        guard try await fetchOne(
            "SELECT 1 FROM extension WHERE id = \(ivrID) AND client_id = \(clientID) AND type = 'ivr' FOR NO KEY UPDATE",
            on: connection) != nil
        else { throw StorageError.notFound(notFound) }
    }

    private func isContext(_ connection: PostgresConnection, ivrID: Int64, id: Int64) async throws -> Bool {
        try await fetchOne("SELECT 1 FROM ivr_context WHERE ivr_id = \(ivrID) AND id = \(id)", on: connection) != nil
    }

    private func rulePosition(_ connection: PostgresConnection, contextID: Int64, option: String, id: Int64) async throws -> Int64? {
        try await fetchOne(
            "SELECT position FROM ivr_rule WHERE context_id = \(contextID) AND option_digits = \(option) AND id = \(id)",
            on: connection
        )?["position"].decode(Int64.self)
    }

    private func ruleCount(_ connection: PostgresConnection, contextID: Int64, option: String) async throws -> Int64 {
        try await fetchOne(
            "SELECT COUNT(*) AS rules FROM ivr_rule WHERE context_id = \(contextID) AND option_digits = \(option)", on: connection
        )?["rules"].decode(Int64.self) ?? 0
    }

    private func checkJumpTarget(_ connection: PostgresConnection, ivrID: Int64, _ definition: IVRRuleDefinition) async throws {
        if case .jumpToContext(let target, _) = definition.action, try await !isContext(connection, ivrID: ivrID, id: target) {
            throw IVRStoreError.unknownContext(field: "context", id: target)
        }
    }

    /// nil for a row this version cannot read (`IVRRuleColumns.definition`).
    private static func rule(from row: PostgresRandomAccessRow) throws -> IVRRule? {
        let stored = IVRRuleColumns(
            action: try row["action"].decode(String.self), did: try row["did"].decode(String?.self),
            callerID: try row["caller_id"].decode(String?.self), callerIDAction: try row["caller_id_action"].decode(String.self),
            sound: try row["sound"].decode(Int64?.self), soundType: try row["sound_type"].decode(String?.self),
            transferDestination: try row["transfer_dst"].decode(String?.self), context: try row["context"].decode(Int64?.self),
            contextOption: try row["context_option"].decode(String?.self),
            setVariableName: try row["set_variable_name"].decode(String?.self),
            setVariableValue: try row["set_variable_value"].decode(String?.self),
            recordDigitsVariable: try row["record_digits_variable"].decode(String?.self),
            recordDigitsMax: try row["record_digits_max"].decode(Int64?.self),
            recordDigitsSound: try row["record_digits_sound"].decode(Int64?.self),
            callInteractiveURL: try row["call_interactive_url"].decode(String?.self),
            callInteractiveMethod: try row["call_interactive_method"].decode(String?.self),
            maxRate: try row["max_rate"].decode(Int64?.self), finishSound: try row["finish_sound"].decode(Int64?.self))
        guard let definition = stored.definition else { return nil }
        return IVRRule(id: try row["id"].decode(Int64.self), position: try row["position"].decode(Int64.self), definition: definition)
    }
}
