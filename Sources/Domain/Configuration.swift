/// The configuration of numbers and queues (SPEC §1, §4, §4.1): the rules for what may be
/// stored, and the values the API and the call-flow engine share.

/// The extension `status` values; a disabled extension keeps its configuration but takes no calls.
public enum ExtensionStatus: String, Sendable, CaseIterable {
    case active, disabled
}

/// The number dialled inside a client to reach an extension, e.g. `100` or `099`.
public enum ExtensionName {
    public static let maximumDigits = 15

    /// 1…15 ASCII digits; leading zeros are part of the number.
    public static func isValid(_ text: String) -> Bool {
        (1...maximumDigits).contains(text.utf8.count) && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}

/// A phone's SIP digest credentials: HA1 = H(name:realm:password) for MD5 and SHA-256
/// (RFC 7616), so the registrar can check a REGISTER without the password ever being stored.
public struct SIPCredentials: Sendable, Equatable {
    /// Lower-case hex.
    public var ha1MD5: String
    /// Lower-case hex.
    public var ha1SHA256: String

    public init(ha1MD5: String, ha1SHA256: String) {
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
    }
}

/// An external number of a client (SPEC §1, `/did/`): calls arriving on it go to `extensionID`.
public struct DID: Sendable, Equatable {
    public var id: Int64
    public var clientID: Int64
    /// Digits only, no `+`: the form every lookup compares with (see `DIDNumber`).
    public var number: String
    /// Where calls to this number go; nil = unassigned.
    public var extensionID: Int64?
    public var comment: String
    public var createdAt: UnixTime

    public init(id: Int64, clientID: Int64, number: String, extensionID: Int64?, comment: String, createdAt: UnixTime) {
        self.id = id
        self.clientID = clientID
        self.number = number
        self.extensionID = extensionID
        self.comment = comment
        self.createdAt = createdAt
    }
}

/// How external numbers are written. Trunks send the same number with or without a leading `+`,
/// so it is stored and compared without one.
public enum DIDNumber {
    public static let digitRange = 3...20

    /// `text` without one leading `+`, when the rest is 3…20 ASCII digits; nil otherwise.
    public static func normalized(_ text: String) -> String? {
        let digits = text.hasPrefix("+") ? String(text.dropFirst()) : text
        guard digitRange.contains(digits.utf8.count), digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return digits
    }
}

/// How a queue chooses which agents to ring (SPEC §4.1).
public enum QueueStrategy: String, Sendable, CaseIterable {
    case ringAll = "ring-all"
    case roundRobin = "round-robin"
    case topDown = "top-down"
    case random
    case longestIdleAgent = "longest-idle-agent"
}

/// The options of a queue extension: exactly SPEC §4.1's fields, with its defaults.
public struct QueueOptions: Sendable, Equatable {
    /// What happens to the caller when the agent hangs up first; nil = the call ends.
    public enum AgentHangupAction: String, Sendable, CaseIterable {
        case qualityRate = "quality_rate"
        case transfer
    }

    public static let qualityRateMaxRange: ClosedRange<Int64> = 1...9
    /// Upper bound of `maxWaitTime` and `announceFrequency` (ours): one day, in seconds.
    public static let longestPeriod: Int64 = 86_400

    public var agentHangupAction: AgentHangupAction?
    /// A number the client can dial; required when `agentHangupAction` is `transfer`.
    public var agentHangupTransferDestination: String?
    /// A sound id of the client; 0 = the built-in rating prompt.
    public var qualityRateSound: Int64
    /// A sound id of the client; 0 = the built-in "thank you".
    public var qualityRateFinishSound: Int64
    /// The highest key a caller may press, 1…9.
    public var qualityRateMax: Int64
    public var strategy: QueueStrategy
    /// Seconds a caller may wait; 0 = no limit.
    public var maxWaitTime: Int64
    /// A sound id of the client played while waiting; 0 = none.
    public var announceSound: Int64
    /// Seconds between two announcements; 0 = played once.
    public var announceFrequency: Int64
    /// Whether a caller is refused (not queued) while no agent is available.
    public var exitWithNoAvailableAgents: Bool
    /// Where a caller goes when no agent is available or `maxWaitTime` runs out; nil = hang up.
    public var noAgentTimeoutTransferDestination: String?
    /// Seconds one attempt rings its agents before the next attempt (ours: `ring_timeout`).
    public var ringTimeout: Int64
    /// Seconds a caller waits after every available agent was tried once, before they are rung
    /// again (ours: `retry_delay`, Asterisk's `retry`): an agent who refuses is not rung in a loop.
    public var retryDelay: Int64

    public static let defaultRingTimeout: Int64 = 20
    public static let ringTimeoutRange: ClosedRange<Int64> = 5...600
    public static let defaultRetryDelay: Int64 = 5
    public static let retryDelayRange: ClosedRange<Int64> = 1...600

    public init(
        agentHangupAction: AgentHangupAction? = nil, agentHangupTransferDestination: String? = nil,
        qualityRateSound: Int64 = 0, qualityRateFinishSound: Int64 = 0, qualityRateMax: Int64 = 5,
        strategy: QueueStrategy = .roundRobin, maxWaitTime: Int64 = 0, announceSound: Int64 = 0,
        announceFrequency: Int64 = 0, exitWithNoAvailableAgents: Bool = true, noAgentTimeoutTransferDestination: String? = nil,
        ringTimeout: Int64 = QueueOptions.defaultRingTimeout, retryDelay: Int64 = QueueOptions.defaultRetryDelay
    ) {
        self.agentHangupAction = agentHangupAction
        self.agentHangupTransferDestination = agentHangupTransferDestination
        self.qualityRateSound = qualityRateSound
        self.qualityRateFinishSound = qualityRateFinishSound
        self.qualityRateMax = qualityRateMax
        self.strategy = strategy
        self.maxWaitTime = maxWaitTime
        self.announceSound = announceSound
        self.announceFrequency = announceFrequency
        self.exitWithNoAvailableAgents = exitWithNoAvailableAgents
        self.noAgentTimeoutTransferDestination = noAgentTimeoutTransferDestination
        self.ringTimeout = ringTimeout
        self.retryDelay = retryDelay
    }
}

/// A phone extension that a queue rings, at its place in the queue's ring order.
public struct QueueAgent: Sendable, Equatable {
    public var extensionID: Int64
    /// The phone's extension name: how the agent is named in calls (`bridged_username`).
    public var name: String
    public var label: String
    /// 1…n, in the order the agents were added; `top-down` rings in this order.
    public var position: Int64

    public init(extensionID: Int64, name: String, label: String, position: Int64) {
        self.extensionID = extensionID
        self.name = name
        self.label = label
        self.position = position
    }
}

/// A whole queue as the call-flow engine runs it, read at once so options and agents agree.
public struct QueueConfiguration: Sendable, Equatable {
    public var queue: Extension
    public var options: QueueOptions
    /// In `position` order.
    public var agents: [QueueAgent]

    public init(queue: Extension, options: QueueOptions, agents: [QueueAgent]) {
        self.queue = queue
        self.options = options
        self.agents = agents
    }
}
