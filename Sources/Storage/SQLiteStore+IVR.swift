public import Domain
import GRDB

extension SQLiteStore {
    // MARK: Options

    public func ivrOptions(clientID: Int64, ivrID: Int64) async throws -> IVROptions? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { return nil }
            return try Self.options(db, ivrID: ivrID)
        }
    }

    public func updateIVROptions(clientID: Int64, ivrID: Int64, _ options: IVROptions) async throws {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { throw StorageError.notFound("ivr \(ivrID)") }
            if options.entryContext != 0, try !Self.isContext(db, ivrID: ivrID, id: options.entryContext) {
                throw IVRStoreError.unknownContext(field: "entry_context", id: options.entryContext)
            }
            try db.execute(
                sql: """
                    INSERT INTO ivr (extension_id, entry_context, lifetime, lifetime_exp_action, lifetime_exp_transfer_dst, sleep_time)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (extension_id) DO UPDATE SET entry_context = excluded.entry_context,
                        lifetime = excluded.lifetime, lifetime_exp_action = excluded.lifetime_exp_action,
                        lifetime_exp_transfer_dst = excluded.lifetime_exp_transfer_dst, sleep_time = excluded.sleep_time
                    """,
                arguments: [
                    ivrID, options.entryContext, options.lifetime, options.lifetimeExpiryAction.rawValue,
                    options.lifetimeExpiryTransferDestination, options.sleepTime,
                ])
        }
    }

    private static func options(_ db: Database, ivrID: Int64) throws -> IVROptions {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM ivr WHERE extension_id = ?", arguments: [ivrID]) else {
            return IVROptions()
        }
        return IVROptions(
            entryContext: row["entry_context"], lifetime: row["lifetime"],
            lifetimeExpiryAction: IVROptions.LifetimeExpiryAction(rawValue: row["lifetime_exp_action"]) ?? .hangup,
            lifetimeExpiryTransferDestination: row["lifetime_exp_transfer_dst"], sleepTime: row["sleep_time"])
    }

    // MARK: Contexts

    public func ivrContexts(clientID: Int64, ivrID: Int64) async throws -> [IVRContext] {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { return [] }
            return try Self.contexts(db, ivrID: ivrID)
        }
    }

    public func ivrContext(clientID: Int64, ivrID: Int64, id: Int64) async throws -> IVRContext? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM ivr_context WHERE ivr_id = ? AND id = ?", arguments: [ivrID, id])
                .map(Self.context(from:))
        }
    }

    public func createIVRContext(clientID: Int64, ivrID: Int64, _ settings: IVRContext.Settings) async throws -> IVRContext {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { throw StorageError.notFound("ivr \(ivrID)") }
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: "INSERT INTO ivr_context (ivr_id, name, timeout, inter_digit_timeout, digit_len) VALUES (?, ?, ?, ?, ?)",
                    arguments: [ivrID, settings.name, settings.timeout, settings.interDigitTimeout, settings.digitLength])
            }
            let id = db.lastInsertedRowID
            try db.execute(
                sql: """
                    INSERT INTO ivr (extension_id, entry_context) VALUES (?, ?)
                    ON CONFLICT (extension_id) DO UPDATE SET entry_context = excluded.entry_context WHERE ivr.entry_context = 0
                    """,
                arguments: [ivrID, id])
            return IVRContext(id: id, ivrID: ivrID, settings: settings)
        }
    }

    public func updateIVRContext(clientID: Int64, _ context: IVRContext) async throws {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: context.ivrID) else {
                throw StorageError.notFound("context \(context.id)")
            }
            let settings = context.settings
            try Self.translatingConflicts(field: "name") {
                try db.execute(
                    sql: """
                        UPDATE ivr_context SET name = ?, timeout = ?, inter_digit_timeout = ?, digit_len = ?
                        WHERE ivr_id = ? AND id = ?
                        """,
                    arguments: [
                        settings.name, settings.timeout, settings.interDigitTimeout, settings.digitLength, context.ivrID,
                        context.id,
                    ])
            }
            guard db.changesCount == 1 else { throw StorageError.notFound("context \(context.id)") }
        }
    }

    public func deleteIVRContext(clientID: Int64, ivrID: Int64, id: Int64) async throws {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: id) else {
                throw StorageError.notFound("context \(id)")
            }
            if try Self.options(db, ivrID: ivrID).entryContext == id {
                throw IVRStoreError.entryContextInUse
            }
            // A context's own rules that jump within it go with it; only other contexts' jumps hold it.
            let jumps = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.option_digits, c.name FROM ivr_rule r JOIN ivr_context c ON c.id = r.context_id
                    WHERE r.action = 'jump_to_context' AND r.context = ? AND r.context_id != ? ORDER BY r.id
                    """,
                arguments: [id, id])
            if !jumps.isEmpty {
                throw IVRStoreError.jumpedTo(by: jumps.map { row in (id: row["id"], context: row["name"], option: row["option_digits"]) })
            }
            try db.execute(sql: "DELETE FROM ivr_context WHERE id = ?", arguments: [id])
        }
    }

    private static func contexts(_ db: Database, ivrID: Int64) throws -> [IVRContext] {
        try Row.fetchAll(db, sql: "SELECT * FROM ivr_context WHERE ivr_id = ? ORDER BY id", arguments: [ivrID])
            .map(Self.context(from:))
    }

    private static func context(from row: Row) -> IVRContext {
        IVRContext(
            id: row["id"], ivrID: row["ivr_id"],
            settings: IVRContext.Settings(
                name: row["name"], timeout: row["timeout"], interDigitTimeout: row["inter_digit_timeout"],
                digitLength: row["digit_len"]))
    }

    // MARK: Rules

    public func ivrRuleCounts(clientID: Int64, ivrID: Int64, contextID: Int64) async throws -> [String: Int]? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID)
            else { return nil }
            let rows = try Row.fetchAll(
                db, sql: "SELECT option_digits, COUNT(*) AS rules FROM ivr_rule WHERE context_id = ? GROUP BY option_digits",
                arguments: [contextID])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["option_digits"], $0["rules"]) })
        }
    }

    public func ivrRules(clientID: Int64, ivrID: Int64, contextID: Int64, option: String) async throws -> [IVRRule]? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID)
            else { return nil }
            return try Row.fetchAll(
                db, sql: "SELECT * FROM ivr_rule WHERE context_id = ? AND option_digits = ? ORDER BY position",
                arguments: [contextID, option]
            ).compactMap(Self.rule(from:))
        }
    }

    public func ivrRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws -> IVRRule? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID)
            else { return nil }
            return try Row.fetchOne(
                db, sql: "SELECT * FROM ivr_rule WHERE context_id = ? AND option_digits = ? AND id = ?",
                arguments: [contextID, option, id]
            ).flatMap(Self.rule(from:))
        }
    }

    public func createIVRRule(
        clientID: Int64, ivrID: Int64, contextID: Int64, option: String, position: Int64?, _ definition: IVRRuleDefinition
    ) async throws -> IVRRule {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID)
            else { throw StorageError.notFound("context \(contextID)") }
            try Self.checkJumpTarget(db, ivrID: ivrID, definition)
            let count = try Self.ruleCount(db, contextID: contextID, option: option)
            let position = position ?? count + 1
            guard (1...count + 1).contains(position) else { throw IVRStoreError.positionOutOfRange(maximum: count + 1) }
            try db.execute(
                sql: "UPDATE ivr_rule SET position = position + 1 WHERE context_id = ? AND option_digits = ? AND position >= ?",
                arguments: [contextID, option, position])
            var columns = Self.columns(of: definition)
            columns["context_id"] = contextID
            columns["option_digits"] = option
            columns["position"] = position
            let names = columns.keys.sorted()
            try db.execute(
                sql: "INSERT INTO ivr_rule (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))",
                arguments: StatementArguments(names.map { columns[$0] ?? nil }))
            return IVRRule(id: db.lastInsertedRowID, position: position, definition: definition)
        }
    }

    public func updateIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, _ rule: IVRRule) async throws {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID),
                let current = try Int64.fetchOne(
                    db, sql: "SELECT position FROM ivr_rule WHERE context_id = ? AND option_digits = ? AND id = ?",
                    arguments: [contextID, option, rule.id])
            else { throw StorageError.notFound("rule \(rule.id)") }
            try Self.checkJumpTarget(db, ivrID: ivrID, rule.definition)
            let count = try Self.ruleCount(db, contextID: contextID, option: option)
            guard (1...count).contains(rule.position) else { throw IVRStoreError.positionOutOfRange(maximum: count) }
            if rule.position < current {
                try db.execute(
                    sql: """
                        UPDATE ivr_rule SET position = position + 1
                        WHERE context_id = ? AND option_digits = ? AND position >= ? AND position < ?
                        """,
                    arguments: [contextID, option, rule.position, current])
            } else if rule.position > current {
                try db.execute(
                    sql: """
                        UPDATE ivr_rule SET position = position - 1
                        WHERE context_id = ? AND option_digits = ? AND position > ? AND position <= ?
                        """,
                    arguments: [contextID, option, current, rule.position])
            }
            var columns = Self.columns(of: rule.definition)
            columns["position"] = rule.position
            let names = columns.keys.sorted()
            try db.execute(
                sql: "UPDATE ivr_rule SET \(names.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
                arguments: StatementArguments(names.map { columns[$0] ?? nil }) + [rule.id])
        }
    }

    public func deleteIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws {
        try await write { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID), try Self.isContext(db, ivrID: ivrID, id: contextID),
                let position = try Int64.fetchOne(
                    db, sql: "SELECT position FROM ivr_rule WHERE context_id = ? AND option_digits = ? AND id = ?",
                    arguments: [contextID, option, id])
            else { throw StorageError.notFound("rule \(id)") }
            try db.execute(sql: "DELETE FROM ivr_rule WHERE id = ?", arguments: [id])
            try db.execute(
                sql: "UPDATE ivr_rule SET position = position - 1 WHERE context_id = ? AND option_digits = ? AND position > ?",
                arguments: [contextID, option, position])
        }
    }

    // MARK: The whole IVR

    public func ivrConfiguration(clientID: Int64, ivrID: Int64) async throws -> IVRConfiguration? {
        try await read { db in
            guard try Self.isIVR(db, clientID: clientID, ivrID: ivrID) else { return nil }
            var rulesByContext: [Int64: [String: [IVRRule]]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM ivr_rule r JOIN ivr_context c ON c.id = r.context_id
                    WHERE c.ivr_id = ? ORDER BY r.context_id, r.option_digits, r.position
                    """,
                arguments: [ivrID])
            {
                guard let rule = Self.rule(from: row) else { continue }
                rulesByContext[row["context_id"], default: [:]][row["option_digits"], default: []].append(rule)
            }
            return IVRConfiguration(
                ivrID: ivrID, options: try Self.options(db, ivrID: ivrID),
                contexts: try Self.contexts(db, ivrID: ivrID).map { context in
                    IVRConfiguration.Context(context: context, rulesByOption: rulesByContext[context.id] ?? [:])
                })
        }
    }

    // MARK: Helpers

    private static func isIVR(_ db: Database, clientID: Int64, ivrID: Int64) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM extension WHERE id = ? AND client_id = ? AND type = 'ivr')",
            arguments: [ivrID, clientID]) ?? false
    }

    private static func isContext(_ db: Database, ivrID: Int64, id: Int64) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM ivr_context WHERE ivr_id = ? AND id = ?)", arguments: [ivrID, id]) ?? false
    }

    private static func ruleCount(_ db: Database, contextID: Int64, option: String) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT COUNT(*) FROM ivr_rule WHERE context_id = ? AND option_digits = ?", arguments: [contextID, option]
        ) ?? 0
    }

    private static func checkJumpTarget(_ db: Database, ivrID: Int64, _ definition: IVRRuleDefinition) throws {
        if case .jumpToContext(let target, _) = definition.action, try !isContext(db, ivrID: ivrID, id: target) {
            throw IVRStoreError.unknownContext(field: "context", id: target)
        }
    }

    /// Every parameter column by name (`IVRRuleColumns`).
    private static func columns(of definition: IVRRuleDefinition) -> [String: (any DatabaseValueConvertible)?] {
        let stored = IVRRuleColumns(definition)
        return [
            "action": stored.action, "did": stored.did, "caller_id": stored.callerID, "caller_id_action": stored.callerIDAction,
            "sound": stored.sound, "sound_type": stored.soundType, "transfer_dst": stored.transferDestination,
            "context": stored.context, "context_option": stored.contextOption, "set_variable_name": stored.setVariableName,
            "set_variable_value": stored.setVariableValue, "record_digits_variable": stored.recordDigitsVariable,
            "record_digits_max": stored.recordDigitsMax, "record_digits_sound": stored.recordDigitsSound,
            "call_interactive_url": stored.callInteractiveURL, "call_interactive_method": stored.callInteractiveMethod,
            "max_rate": stored.maxRate, "finish_sound": stored.finishSound,
        ]
    }

    /// nil for a row this version cannot read (`IVRRuleColumns.definition`).
    private static func rule(from row: Row) -> IVRRule? {
        let stored = IVRRuleColumns(
            action: row["action"], did: row["did"], callerID: row["caller_id"], callerIDAction: row["caller_id_action"],
            sound: row["sound"], soundType: row["sound_type"], transferDestination: row["transfer_dst"], context: row["context"],
            contextOption: row["context_option"], setVariableName: row["set_variable_name"],
            setVariableValue: row["set_variable_value"], recordDigitsVariable: row["record_digits_variable"],
            recordDigitsMax: row["record_digits_max"], recordDigitsSound: row["record_digits_sound"],
            callInteractiveURL: row["call_interactive_url"], callInteractiveMethod: row["call_interactive_method"],
            maxRate: row["max_rate"], finishSound: row["finish_sound"])
        return stored.definition.map { IVRRule(id: row["id"], position: row["position"], definition: $0) }
    }
}
