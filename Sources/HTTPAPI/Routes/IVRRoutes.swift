import Domain
import Foundation
import Hummingbird
import Storage

/// Voice menus (SPEC §4.2): `/extension/{extension_id}/ivr/` options, its contexts, and the ordered
/// rules of each context option. Every write validates the whole body — including every sound,
/// destination and context it names — before the store changes anything.
struct IVRRoutes {
    let store: any Store

    func register(on routes: inout RouteTable) {
        let ivr = "extension/:extension_id/ivr"
        let context = ivr + "/context/:context_id"
        let rules = context + "/options/:option_digits/rules"
        routes.get(ivr, showOptions)
        routes.put(ivr, updateOptions)
        routes.get(ivr + "/context", listContexts)
        routes.post(ivr + "/context", createContext)
        routes.get(context, showContext)
        routes.put(context, updateContext)
        routes.delete(context, deleteContext)
        routes.get(context + "/options", listOptions)
        routes.get(rules, listRules)
        routes.post(rules, createRule)
        routes.get(rules + "/:rule_id", showRule)
        routes.put(rules + "/:rule_id", updateRule)
        routes.delete(rules + "/:rule_id", deleteRule)
    }

    // MARK: IVR options

    @Sendable func showOptions(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        guard let options = try await store.ivrOptions(clientID: ivr.clientID, ivrID: ivr.id) else {
            throw APIError.notFound("extension \(ivr.id)")
        }
        var json = JSONBytes()
        json.ivrOptions(options)
        return .json(json)
    }

    @Sendable func updateOptions(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let fields = try await JSONFields(JSONBody.object(of: request, context: context))
        try fields.refuseUnknown(
            allowed: ["entry_context", "lifetime", "lifetime_exp_action", "lifetime_exp_transfer_dst", "sleep_time"],
            what: "the IVR options")
        guard var options = try await store.ivrOptions(clientID: ivr.clientID, ivrID: ivr.id) else {
            throw APIError.notFound("extension \(ivr.id)")
        }
        if let entry = try fields.integer("entry_context", in: 0...Int64.max, expected: "a context id of this IVR, or 0 for none") {
            options.entryContext = entry
        }
        if let lifetime = try fields.integer("lifetime", in: 0...86_400, expected: "seconds 0…86400 (0 = no limit)") {
            options.lifetime = lifetime
        }
        if let sleep = try fields.integer("sleep_time", in: 0...60_000, expected: "milliseconds 0…60000") {
            options.sleepTime = sleep
        }
        if let action = try fields.choice("lifetime_exp_action", IVROptions.LifetimeExpiryAction.self) {
            options.lifetimeExpiryAction = action
        }
        if fields.values["lifetime_exp_transfer_dst"] != nil {
            options.lifetimeExpiryTransferDestination = try fields.string("lifetime_exp_transfer_dst", maxLength: 64, nullable: true)
        }
        if options.lifetimeExpiryAction == .transfer, options.lifetimeExpiryTransferDestination == nil {
            throw APIError.invalidValue("lifetime_exp_transfer_dst", "required when lifetime_exp_action is transfer")
        }
        // A destination is checked when it is given or starts being used, so an unrelated change
        // is not refused for a destination stored earlier.
        let startsTransferring = fields.isPresent("lifetime_exp_action") && options.lifetimeExpiryAction == .transfer
        if fields.isPresent("lifetime_exp_transfer_dst") || startsTransferring,
            let destination = options.lifetimeExpiryTransferDestination
        {
            try await ConfigurationAPI.requireTransferDestination(
                "lifetime_exp_transfer_dst", destination, clientID: ivr.clientID, store: store)
        }
        try await translatingStoreErrors {
            try await store.updateIVROptions(clientID: ivr.clientID, ivrID: ivr.id, options)
        }
        var json = JSONBytes()
        json.ivrOptions(options)
        return .json(json)
    }

    // MARK: Contexts

    @Sendable func listContexts(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        var json = JSONBytes()
        json.beginArray()
        for found in try await store.ivrContexts(clientID: ivr.clientID, ivrID: ivr.id) {
            json.ivrContext(found)
        }
        json.endArray()
        return .json(json)
    }

    @Sendable func createContext(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let fields = try await JSONFields(JSONBody.object(of: request, context: context))
        guard fields.isPresent("name") else { throw APIError.invalidValue("name", "required: the context's name, 1 to 64 characters") }
        let settings = try Self.contextSettings(fields, over: IVRContext.Settings(name: ""))
        let created = try await translatingStoreErrors {
            try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, settings)
        }
        var json = JSONBytes()
        json.ivrContext(created)
        return .json(json, status: .created)
    }

    @Sendable func showContext(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        let found = try await ownedContext(context, ivr: ivr)
        var json = JSONBytes()
        json.ivrContext(found)
        return .json(json)
    }

    @Sendable func updateContext(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        var found = try await ownedContext(context, ivr: ivr)
        let fields = try await JSONFields(JSONBody.object(of: request, context: context))
        found.settings = try Self.contextSettings(fields, over: found.settings)
        try await translatingStoreErrors { try await store.updateIVRContext(clientID: ivr.clientID, found) }
        var json = JSONBytes()
        json.ivrContext(found)
        return .json(json)
    }

    @Sendable func deleteContext(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let id = try context.pathID("context_id")
        try await translatingStoreErrors { try await store.deleteIVRContext(clientID: ivr.clientID, ivrID: ivr.id, id: id) }
        return Response(status: .noContent)
    }

    /// The context fields of `fields` applied to `settings`; fields left out keep their value.
    private static func contextSettings(_ fields: JSONFields, over settings: IVRContext.Settings) throws -> IVRContext.Settings {
        try fields.refuseUnknown(allowed: ["name", "timeout", "inter_digit_timeout", "digit_len"], what: "a context")
        var settings = settings
        if fields.values["name"] != nil {
            guard let name = try fields.string("name", maxLength: 64)?.trimmingCharacters(in: .whitespacesAndNewlines),
                !name.isEmpty, !name.containsControlCharacters
            else { throw APIError.invalidValue("name", "must be 1 to 64 printable characters") }
            settings.name = name
        }
        if let timeout = try fields.integer("timeout", in: 1...600_000, expected: "milliseconds 1…600000") {
            settings.timeout = timeout
        }
        if let interDigit = try fields.integer("inter_digit_timeout", in: 1...600_000, expected: "milliseconds 1…600000") {
            settings.interDigitTimeout = interDigit
        }
        if fields.values["digit_len"] != nil {
            settings.digitLength = try fields.integer(
                "digit_len", in: 1...20, expected: "1…20 keys, or null for no limit", nullable: true)
        }
        return settings
    }

    // MARK: Options of a context

    @Sendable func listOptions(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        let contextID = try context.pathID("context_id")
        guard let counts = try await store.ivrRuleCounts(clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID) else {
            throw APIError.notFound("context \(contextID)")
        }
        let others = counts.keys.filter { !IVROptionDigits.builtIn.contains($0) }.sorted()
        var json = JSONBytes()
        json.beginArray()
        for option in IVROptionDigits.builtIn + others {
            json.beginObject()
            json.field("option_digits", option)
            json.field("rule_count", Int64(counts[option] ?? 0))
            json.endObject()
        }
        json.endArray()
        return .json(json)
    }

    // MARK: Rules

    @Sendable func listRules(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        let (contextID, option) = try Self.optionPath(context)
        guard let rules = try await store.ivrRules(clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID, option: option)
        else { throw APIError.notFound("context \(contextID)") }
        var json = JSONBytes()
        json.beginArray()
        for rule in rules { json.ivrRule(rule) }
        json.endArray()
        return .json(json)
    }

    @Sendable func createRule(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let (contextID, option) = try Self.optionPath(context)
        _ = try await ownedContext(context, ivr: ivr)
        let fields = try await JSONFields(JSONBody.object(of: request, context: context))
        let (definition, position) = try await ruleDefinition(fields, clientID: ivr.clientID)
        let created = try await translatingStoreErrors {
            try await store.createIVRRule(
                clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID, option: option, position: position, definition)
        }
        var json = JSONBytes()
        json.ivrRule(created)
        return .json(json, status: .created)
    }

    @Sendable func showRule(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: false)
        let rule = try await ownedRule(context, ivr: ivr)
        var json = JSONBytes()
        json.ivrRule(rule)
        return .json(json)
    }

    @Sendable func updateRule(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let (contextID, option) = try Self.optionPath(context)
        var rule = try await ownedRule(context, ivr: ivr)
        let body = try await JSONBody.object(of: request, context: context)
        // Fields left out keep their value, except what a change makes meaningless: a new action
        // starts from its own defaults, a new caller_id_action drops the old caller_id.
        var merged = Self.fields(of: rule.definition)
        if let action = body["action"] as? String, action != rule.definition.action.name {
            for name in Self.parameters.values.joined() { merged[name] = nil }
        }
        if body["caller_id_action"] != nil { merged["caller_id"] = nil }
        merged.merge(body) { _, new in new }
        let (definition, position) = try await ruleDefinition(JSONFields(merged), clientID: ivr.clientID)
        rule.definition = definition
        rule.position = position ?? rule.position
        try await translatingStoreErrors {
            try await store.updateIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID, option: option, rule)
        }
        var json = JSONBytes()
        json.ivrRule(rule)
        return .json(json)
    }

    @Sendable func deleteRule(_ request: Request, context: APIRequestContext) async throws -> Response {
        let ivr = try await ownedIVR(context, changing: true)
        let (contextID, option) = try Self.optionPath(context)
        let id = try context.pathID("rule_id")
        try await translatingStoreErrors {
            try await store.deleteIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID, option: option, id: id)
        }
        return Response(status: .noContent)
    }

    /// The parameters each action takes, in the order they are shown.
    private static let parameters: [String: [String]] = [
        "play_sound": ["sound", "sound_type"],
        "hangup": [],
        "transfer": ["transfer_dst"],
        "jump_to_context": ["context", "context_option"],
        "set_variable": ["set_variable_name", "set_variable_value"],
        "record_digits": ["record_digits_variable", "record_digits_max", "record_digits_sound"],
        "call_interactive": ["call_interactive_url", "call_interactive_method"],
        "quality_rate": ["sound", "max_rate", "finish_sound"],
    ]
    private static let ruleFields = ["action", "position", "did", "caller_id", "caller_id_action"]

    /// A rule from its fields, every value checked, with the `position` asked for (nil = unchanged/last).
    private func ruleDefinition(_ fields: JSONFields, clientID: Int64) async throws -> (IVRRuleDefinition, Int64?) {
        let accepted = IVRAction.names.joined(separator: ", ")
        guard fields.isPresent("action") else { throw APIError.badParameter("action", "required: one of \(accepted)") }
        guard let actionName = fields.values["action"] as? String, let takes = Self.parameters[actionName] else {
            throw APIError.badParameter("action", "expected one of \(accepted), got \(fields.printed("action"))")
        }
        for key in fields.values.keys.sorted() where !Self.ruleFields.contains(key) && !takes.contains(key) {
            guard Self.parameters.values.contains(where: { $0.contains(key) }) else {
                throw APIError.badParameter(
                    APIError.printable(key),
                    "unknown field; a rule takes \(Self.ruleFields.joined(separator: ", ")) and its action's parameters")
            }
            let list = takes.isEmpty ? "no parameters" : takes.joined(separator: ", ")
            throw APIError.badParameter(key, "not a parameter of action \(actionName), which takes \(list)")
        }
        let position = try fields.integer("position", in: 1...Int64.max, expected: "1 or more")
        let didFilter = try fields.string("did", maxLength: 200, nullable: true)
        if let didFilter {
            guard !didFilter.isEmpty, Self.compiles(didFilter) else {
                throw APIError.invalidValue(
                    "did", "expected a DID number or a regular expression; '\(APIError.printable(didFilter))' does not compile")
            }
        }
        let callerID = try callerIDFilter(fields)

        let action: IVRAction
        switch actionName {
        case "play_sound":
            action = .playSound(
                sound: try await sound(fields, "sound", required: true, zeroMeans: nil, clientID: clientID),
                type: try fields.choice("sound_type", IVRAction.SoundType.self) ?? .foreground)
        case "hangup":
            action = .hangup
        case "transfer":
            guard let destination = try fields.string("transfer_dst", maxLength: 64) else {
                throw APIError.invalidValue(
                    "transfer_dst", "required for action transfer: a number of this client, or an outside number one of its trunks carries")
            }
            try await ConfigurationAPI.requireTransferDestination("transfer_dst", destination, clientID: clientID, store: store)
            action = .transfer(destination: destination)
        case "jump_to_context":
            guard let target = try fields.integer("context", in: 1...Int64.max, expected: "a context id of this IVR") else {
                throw APIError.invalidValue("context", "required for action jump_to_context: a context id of this IVR")
            }
            let option = try fields.string("context_option", maxLength: 20) ?? "start"
            guard IVROptionDigits.isValid(option) else {
                throw APIError.invalidValue("context_option", "expected start, timeout, invalid or 1 to 20 of 0-9 * #")
            }
            action = .jumpToContext(contextID: target, option: option)
        case "set_variable":
            action = .setVariable(
                name: try Self.variableName(fields, "set_variable_name"),
                value: try fields.string("set_variable_value", maxLength: 1000) ?? "")
        case "record_digits":
            action = .recordDigits(
                variable: try Self.variableName(fields, "record_digits_variable"),
                maxDigits: try fields.integer("record_digits_max", in: 1...20, expected: "1…20 keys") ?? 20,
                sound: try await sound(fields, "record_digits_sound", required: false, zeroMeans: "none", clientID: clientID))
        case "call_interactive":
            guard let url = try fields.string("call_interactive_url", maxLength: 2000) else {
                throw APIError.invalidValue("call_interactive_url", "required for action call_interactive: an http:// or https:// URL")
            }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                let host = parsed.host, !host.isEmpty
            else { throw APIError.invalidValue("call_interactive_url", "expected an http:// or https:// URL with a host") }
            action = .callInteractive(url: url, method: try fields.choice("call_interactive_method", IVRAction.HTTPMethod.self) ?? .POST)
        default:
            guard let maxRate = try fields.integer("max_rate", in: 1...9, expected: "1…9, the highest key a caller may press")
            else { throw APIError.invalidValue("max_rate", "required for action quality_rate: 1…9") }
            let prompt = try await sound(fields, "sound", required: false, zeroMeans: "the built-in rating prompt", clientID: clientID)
            // finish_sound 0 (the default) is the built-in "thank you", as a queue's finish sound
            // (SPEC §4.1); null plays none.
            let finishSound: Int64? =
                if fields.isNull("finish_sound") { nil } else {
                    try await sound(
                        fields, "finish_sound", required: false, zeroMeans: "the built-in \"thank you\" (null for none)",
                        clientID: clientID)
                }
            action = .qualityRate(sound: prompt, maxRate: maxRate, finishSound: finishSound)
        }
        return (IVRRuleDefinition(action: action, didFilter: didFilter, callerIDFilter: callerID), position)
    }

    private func callerIDFilter(_ fields: JSONFields) throws -> CallerIDFilter {
        let action = try fields.string("caller_id_action", maxLength: 20) ?? "any"
        let pattern = try fields.string("caller_id", maxLength: 200, nullable: true)
        switch action {
        case "any", "anonymous":
            guard pattern == nil else {
                throw APIError.invalidValue("caller_id", "only used with caller_id_action matches or not_matches")
            }
            return action == "any" ? .any : .anonymous
        case "matches", "not_matches":
            guard let pattern else {
                throw APIError.invalidValue("caller_id", "required with caller_id_action \(action): a regular expression")
            }
            guard !pattern.isEmpty, Self.compiles(pattern) else {
                throw APIError.invalidValue("caller_id", "'\(APIError.printable(pattern))' is not a valid regular expression")
            }
            return action == "matches" ? .matches(pattern) : .notMatches(pattern)
        default:
            throw APIError.invalidValue(
                "caller_id_action",
                "expected one of \(CallerIDFilter.actions.joined(separator: ", ")), got '\(APIError.printable(action))'")
        }
    }

    private static func compiles(_ pattern: String) -> Bool {
        (try? NSRegularExpression(pattern: pattern)) != nil
    }

    private static func variableName(_ fields: JSONFields, _ name: String) throws -> String {
        guard let value = try fields.string(name, maxLength: 64) else {
            throw APIError.invalidValue(name, "required: a variable name")
        }
        let bytes = Array(value.utf8)
        let isLetter = { (byte: UInt8) in (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "_") }
        guard let first = bytes.first, isLetter(first), bytes.allSatisfy({ isLetter($0) || (0x30...0x39).contains($0) }) else {
            throw APIError.invalidValue(name, "expected a letter or _ then up to 63 letters, digits or _")
        }
        return value
    }

    /// A sound id field: a sound of this client, or 0 where the field gives 0 a meaning
    /// (`zeroMeans`: the built-in prompt, or nothing); absent is 0.
    private func sound(_ fields: JSONFields, _ name: String, required: Bool, zeroMeans: String?, clientID: Int64) async throws
        -> Int64
    {
        let expected = zeroMeans.map { "a sound id of this client, or 0 for \($0)" } ?? "a sound id of this client"
        guard let id = try fields.integer(name, in: 0...Int64.max, expected: expected) else {
            if required { throw APIError.invalidValue(name, "required: \(expected)") }
            return 0
        }
        if id == 0, zeroMeans != nil { return 0 }
        guard id != 0, try await store.soundExists(clientID: clientID, id: id) else {
            throw APIError.invalidValue(name, "no sound \(id) for this client; expected \(expected)")
        }
        return id
    }

    /// The API fields of a stored rule, as a body would give them.
    private static func fields(of definition: IVRRuleDefinition) -> [String: Any] {
        var fields: [String: Any] = ["action": definition.action.name, "caller_id_action": definition.callerIDFilter.action]
        if let did = definition.didFilter { fields["did"] = did }
        if let pattern = definition.callerIDFilter.pattern { fields["caller_id"] = pattern }
        for (name, value) in definition.action.parameters {
            switch value {
            case .integer(let integer): fields["\(name)"] = NSNumber(value: integer)
            case .integerOrNull(let integer): fields["\(name)"] = integer.map { NSNumber(value: $0) } ?? NSNull()
            case .text(let text): fields["\(name)"] = text
            }
        }
        return fields
    }

    // MARK: Paths

    private func ownedIVR(_ context: APIRequestContext, changing: Bool) async throws -> Extension {
        let ivr = try await context.ownedExtension(in: store, kinds: [.ivr])
        if changing, try !context.requirePrincipal().mayChangeConfiguration { throw APIError.configurationForbidden }
        return ivr
    }

    private func ownedContext(_ context: APIRequestContext, ivr: Extension) async throws -> IVRContext {
        let id = try context.pathID("context_id")
        guard let found = try await store.ivrContext(clientID: ivr.clientID, ivrID: ivr.id, id: id) else {
            throw APIError.notFound("context \(id)")
        }
        return found
    }

    private func ownedRule(_ context: APIRequestContext, ivr: Extension) async throws -> IVRRule {
        let (contextID, option) = try Self.optionPath(context)
        let id = try context.pathID("rule_id")
        guard try await store.ivrContext(clientID: ivr.clientID, ivrID: ivr.id, id: contextID) != nil else {
            throw APIError.notFound("context \(contextID)")
        }
        guard let rule = try await store.ivrRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: contextID, option: option, id: id)
        else { throw APIError.notFound("rule \(id) of option \(option)") }
        return rule
    }

    /// The context id and option of a rules path; `#` arrives percent-encoded as `%23`.
    private static func optionPath(_ context: APIRequestContext) throws -> (contextID: Int64, option: String) {
        let contextID = try context.pathID("context_id")
        let raw = context.parameters.get("option_digits") ?? ""
        let option = raw.removingPercentEncoding ?? raw
        guard IVROptionDigits.isValid(option) else {
            throw APIError.badParameter(
                "option_digits", expected: "start, timeout, invalid or 1 to 20 of 0-9 * # (# sent as %23)", got: option)
        }
        return (contextID, option)
    }

    /// The store's refusals as API errors: a name taken is 409, a context in use is 409 saying by
    /// what, a context or position that does not fit is 422 naming the field.
    private func translatingStoreErrors<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch StorageError.conflict(let field) {
            throw APIError(
                status: .conflict, code: "conflict", description: "\(field): this IVR already has a context of that name")
        } catch StorageError.notFound(let what) {
            throw APIError.notFound(what)
        } catch let error as IVRStoreError {
            switch error {
            case .contextInUse(let usedBy):
                throw APIError(status: .conflict, code: "conflict", description: "the context cannot be deleted: \(usedBy)")
            case .unknownContext(let field, let id):
                throw APIError.invalidValue(field, "\(id) is not a context of this IVR")
            case .positionOutOfRange(let maximum):
                throw APIError.invalidValue("position", "expected 1…\(maximum) (the rules of this option, in order)")
            }
        }
    }
}

/// A parameter value of a rule's action.
private enum ParameterValue {
    case integer(Int64)
    /// null where the parameter says "none" (`finish_sound`).
    case integerOrNull(Int64?)
    case text(String)
}

extension IVRAction {
    /// The API fields of the action's parameters, in their documented order.
    fileprivate var parameters: [(StaticString, ParameterValue)] {
        switch self {
        case .playSound(let sound, let type): [("sound", .integer(sound)), ("sound_type", .text(type.rawValue))]
        case .hangup: []
        case .transfer(let destination): [("transfer_dst", .text(destination))]
        case .jumpToContext(let contextID, let option): [("context", .integer(contextID)), ("context_option", .text(option))]
        case .setVariable(let name, let value): [("set_variable_name", .text(name)), ("set_variable_value", .text(value))]
        case .recordDigits(let variable, let maxDigits, let sound):
            [("record_digits_variable", .text(variable)), ("record_digits_max", .integer(maxDigits)),
             ("record_digits_sound", .integer(sound))]
        case .callInteractive(let url, let method):
            [("call_interactive_url", .text(url)), ("call_interactive_method", .text(method.rawValue))]
        case .qualityRate(let sound, let maxRate, let finishSound):
            [("sound", .integer(sound)), ("max_rate", .integer(maxRate)), ("finish_sound", .integerOrNull(finishSound))]
        }
    }
}

extension JSONBytes {
    fileprivate mutating func ivrOptions(_ options: IVROptions) {
        beginObject()
        field("entry_context", options.entryContext)
        field("lifetime", options.lifetime)
        field("lifetime_exp_action", options.lifetimeExpiryAction.rawValue)
        field("lifetime_exp_transfer_dst", options.lifetimeExpiryTransferDestination)
        field("sleep_time", options.sleepTime)
        endObject()
    }

    fileprivate mutating func ivrContext(_ context: IVRContext) {
        beginObject()
        field("id", context.id)
        field("name", context.settings.name)
        field("timeout", context.settings.timeout)
        field("inter_digit_timeout", context.settings.interDigitTimeout)
        field("digit_len", context.settings.digitLength)
        endObject()
    }

    fileprivate mutating func ivrRule(_ rule: IVRRule) {
        let definition = rule.definition
        beginObject()
        field("id", rule.id)
        field("position", rule.position)
        field("action", definition.action.name)
        field("did", definition.didFilter)
        field("caller_id", definition.callerIDFilter.pattern)
        field("caller_id_action", definition.callerIDFilter.action)
        for (name, value) in definition.action.parameters {
            switch value {
            case .integer(let integer): field(name, integer)
            case .integerOrNull(let integer): field(name, integer)
            case .text(let text): field(name, text)
            }
        }
        endObject()
    }
}
