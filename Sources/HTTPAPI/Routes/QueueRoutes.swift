import Domain
import Hummingbird
import Storage

/// `/extension/{extension_id}/queue/` (the options of SPEC §4.1) and `…/queue/agent/` (the phones
/// the queue rings, in ring order), for queue extensions only.
struct QueueRoutes {
    let store: any Store

    func register(on routes: inout RouteTable) {
        routes.get("extension/:extension_id/queue", options)
        routes.put("extension/:extension_id/queue", updateOptions)
        routes.get("extension/:extension_id/queue/agent", agents)
        routes.post("extension/:extension_id/queue/agent", addAgent)
        routes.delete("extension/:extension_id/queue/agent/:agent_extension_id", removeAgent)
    }

    static let optionFields: Set<String> = [
        "agent_hangup_action", "agent_hangup_transfer_dst", "quality_rate_sound", "quality_rate_finish_sound",
        "quality_rate_max", "strategy", "max_wait_time", "announce_sound", "announce_frequency", "exit_with_no_av_agents",
        "no_agent_timeout_transfer_dst", "ring_timeout", "retry_delay",
    ]

    @Sendable func options(_ request: Request, context: APIRequestContext) async throws -> Response {
        let queue = try await context.ownedExtension(in: store, kinds: [.queue])
        guard let options = try await store.queueOptions(clientID: queue.clientID, queueID: queue.id) else {
            throw APIError.notFound("queue \(queue.id)")
        }
        return Self.response(options)
    }

    /// Only the fields given change; every field is checked, against the options as they will be,
    /// before anything is written.
    @Sendable func updateOptions(_ request: Request, context: APIRequestContext) async throws -> Response {
        let queue = try await context.ownedExtension(in: store, kinds: [.queue])
        try ConfigurationAPI.requireConfigurationAccess(context)
        let body = try await JSONFields(request, context, accepting: Self.optionFields, of: "a queue")
        guard var options = try await store.queueOptions(clientID: queue.clientID, queueID: queue.id) else {
            throw APIError.notFound("queue \(queue.id)")
        }
        if body.isNull("agent_hangup_action") {
            options.agentHangupAction = nil
        } else if let text = try body.nullableString("agent_hangup_action") {
            guard let action = QueueOptions.AgentHangupAction(rawValue: text) else {
                throw APIError.invalidValue("agent_hangup_action", "expected quality_rate, transfer or null, got '\(APIError.printable(text))'")
            }
            options.agentHangupAction = action
        }
        if body.isNull("agent_hangup_transfer_dst") {
            options.agentHangupTransferDestination = nil
        } else if let destination = try body.nullableString("agent_hangup_transfer_dst") {
            options.agentHangupTransferDestination = try await destinationCheck("agent_hangup_transfer_dst", destination, queue: queue)
        }
        if body.isNull("no_agent_timeout_transfer_dst") {
            options.noAgentTimeoutTransferDestination = nil
        } else if let destination = try body.nullableString("no_agent_timeout_transfer_dst") {
            options.noAgentTimeoutTransferDestination = try await destinationCheck("no_agent_timeout_transfer_dst", destination, queue: queue)
        }
        if options.agentHangupAction == .transfer, options.agentHangupTransferDestination == nil {
            throw APIError.invalidValue(
                "agent_hangup_transfer_dst", "required when agent_hangup_action is transfer: the number the caller is transferred to")
        }
        if let sound = try body.integer("quality_rate_sound") {
            options.qualityRateSound = try await soundCheck("quality_rate_sound", sound, zeroMeans: "the built-in rating prompt", queue: queue)
        }
        if let sound = try body.integer("quality_rate_finish_sound") {
            options.qualityRateFinishSound = try await soundCheck(
                "quality_rate_finish_sound", sound, zeroMeans: "the built-in \"thank you\"", queue: queue)
        }
        if let sound = try body.integer("announce_sound") {
            options.announceSound = try await soundCheck("announce_sound", sound, zeroMeans: "no announcement", queue: queue)
        }
        if let maximum = try body.integer("quality_rate_max") {
            guard QueueOptions.qualityRateMaxRange.contains(maximum) else {
                throw APIError.invalidValue("quality_rate_max", "expected 1 to 9 (the highest key a caller may press), got \(maximum)")
            }
            options.qualityRateMax = maximum
        }
        if let text = try body.string("strategy") {
            guard let strategy = QueueStrategy(rawValue: text) else {
                let accepted = QueueStrategy.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.invalidValue("strategy", "expected one of \(accepted), got '\(APIError.printable(text))'")
            }
            options.strategy = strategy
        }
        if let seconds = try body.integer("max_wait_time") {
            options.maxWaitTime = try Self.period("max_wait_time", seconds, zeroMeans: "no limit")
        }
        if let seconds = try body.integer("announce_frequency") {
            options.announceFrequency = try Self.period("announce_frequency", seconds, zeroMeans: "played once")
        }
        if let exit = try body.boolean("exit_with_no_av_agents") { options.exitWithNoAvailableAgents = exit }
        if let seconds = try body.integer("ring_timeout") {
            guard QueueOptions.ringTimeoutRange.contains(seconds) else {
                throw APIError.invalidValue("ring_timeout", "expected 5 to 600 seconds (how long agents ring before the next ones), got \(seconds)")
            }
            options.ringTimeout = seconds
        }
        if let seconds = try body.integer("retry_delay") {
            guard QueueOptions.retryDelayRange.contains(seconds) else {
                throw APIError.invalidValue("retry_delay", "expected 1 to 600 seconds (the pause before agents are rung again), got \(seconds)")
            }
            options.retryDelay = seconds
        }
        try await ConfigurationAPI.translatingStoreErrors {
            try await store.updateQueueOptions(clientID: queue.clientID, queueID: queue.id, options)
        }
        return Self.response(options)
    }

    @Sendable func agents(_ request: Request, context: APIRequestContext) async throws -> Response {
        let queue = try await context.ownedExtension(in: store, kinds: [.queue])
        guard let agents = try await store.queueAgents(clientID: queue.clientID, queueID: queue.id) else {
            throw APIError.notFound("queue \(queue.id)")
        }
        var json = JSONBytes()
        json.beginArray()
        for agent in agents { json.queueAgent(agent) }
        json.endArray()
        return .json(json)
    }

    @Sendable func addAgent(_ request: Request, context: APIRequestContext) async throws -> Response {
        let queue = try await context.ownedExtension(in: store, kinds: [.queue])
        try ConfigurationAPI.requireConfigurationAccess(context)
        let body = try await JSONFields(request, context, accepting: ["extension_id"], of: "a queue agent")
        guard let agentID = try body.integer("extension_id") else {
            throw APIError.invalidValue("extension_id", "required: the id of a phone extension of this client")
        }
        let added: QueueAgent
        do {
            added = try await ConfigurationAPI.translatingStoreErrors {
                try await store.addQueueAgent(clientID: queue.clientID, queueID: queue.id, agentID: agentID)
            }
        } catch StorageError.conflict {
            throw ConfigurationAPI.conflict("extension_id", "extension \(agentID) already is an agent of this queue")
        }
        var json = JSONBytes()
        json.queueAgent(added)
        return .json(json, status: .created)
    }

    @Sendable func removeAgent(_ request: Request, context: APIRequestContext) async throws -> Response {
        let queue = try await context.ownedExtension(in: store, kinds: [.queue])
        try ConfigurationAPI.requireConfigurationAccess(context)
        let agentID = try context.pathID("agent_extension_id")
        try await ConfigurationAPI.translatingStoreErrors {
            try await store.removeQueueAgent(clientID: queue.clientID, queueID: queue.id, agentID: agentID)
        }
        return Response(status: .noContent)
    }

    /// A number a transfer can reach (`ConfigurationAPI.requireTransferDestination`), other than the queue itself.
    private func destinationCheck(_ field: String, _ destination: String, queue: Extension) async throws -> String {
        try await ConfigurationAPI.requireTransferDestination(field, destination, clientID: queue.clientID, store: store)
        guard destination != queue.name else {
            throw APIError.invalidValue(field, "the queue cannot transfer its callers to itself")
        }
        return destination
    }

    /// 0 (the built-in or no sound, as `zeroMeans` says) or a sound of this client.
    private func soundCheck(_ field: String, _ id: Int64, zeroMeans: String, queue: Extension) async throws -> Int64 {
        if id == 0 { return id }
        guard id > 0, try await store.soundExists(clientID: queue.clientID, id: id) else {
            throw APIError.invalidValue(field, "\(id) is not a sound of this client; use a sound id from /sound/, or 0 for \(zeroMeans)")
        }
        return id
    }

    private static func period(_ field: String, _ seconds: Int64, zeroMeans: String) throws -> Int64 {
        guard (0...QueueOptions.longestPeriod).contains(seconds) else {
            throw APIError.invalidValue(field, "expected 0 (\(zeroMeans)) to 86400 seconds, got \(seconds)")
        }
        return seconds
    }

    private static func response(_ options: QueueOptions) -> Response {
        var json = JSONBytes()
        json.queueOptions(options)
        return .json(json)
    }
}

extension JSONBytes {
    mutating func queueOptions(_ options: QueueOptions) {
        beginObject()
        field("agent_hangup_action", options.agentHangupAction?.rawValue)
        field("agent_hangup_transfer_dst", options.agentHangupTransferDestination)
        field("quality_rate_sound", options.qualityRateSound)
        field("quality_rate_finish_sound", options.qualityRateFinishSound)
        field("quality_rate_max", options.qualityRateMax)
        field("strategy", options.strategy.rawValue)
        field("max_wait_time", options.maxWaitTime)
        field("announce_sound", options.announceSound)
        field("announce_frequency", options.announceFrequency)
        field("exit_with_no_av_agents", options.exitWithNoAvailableAgents)
        field("no_agent_timeout_transfer_dst", options.noAgentTimeoutTransferDestination)
        field("ring_timeout", options.ringTimeout)
        field("retry_delay", options.retryDelay)
        endObject()
    }

    mutating func queueAgent(_ agent: QueueAgent) {
        beginObject()
        field("extension_id", agent.extensionID)
        field("name", agent.name)
        field("label", agent.label)
        field("position", agent.position)
        endObject()
    }
}
