/// A caller's rating, as stored (SPEC §3).
///
/// `ratedAt` is an instant; the API shows it as `datetime` in the client's time zone.
/// `agentUsername` is the agent the rating is of (the call's `bridged_username` when the key
/// was pressed), or nil when the rating is of the whole call.
public struct Rating: Sendable, Equatable {
    public var id: Int64
    public var clientID: Int64
    public var callUUID: CallUUID
    public var ratedAt: UnixTime
    public var extensionID: Int64
    public var rate: Int64
    public var maxRate: Int64
    public var agentUsername: String?

    public enum Target: String, Sendable {
        case agent, call
    }

    public var target: Target { agentUsername == nil ? .call : .agent }

    public init(
        id: Int64, clientID: Int64, callUUID: CallUUID, ratedAt: UnixTime, extensionID: Int64,
        rate: Int64, maxRate: Int64, agentUsername: String?
    ) {
        self.id = id
        self.clientID = clientID
        self.callUUID = callUUID
        self.ratedAt = ratedAt
        self.extensionID = extensionID
        self.rate = rate
        self.maxRate = maxRate
        self.agentUsername = agentUsername
    }
}

/// What the call-flow engine hands to storage when a caller presses a valid key.
public struct NewRating: Sendable, Equatable {
    public var clientID: Int64
    public var callUUID: CallUUID
    public var ratedAt: UnixTime
    public var extensionID: Int64
    public var rate: Int64
    public var maxRate: Int64
    public var agentUsername: String?
    public var isSample: Bool

    public init(
        clientID: Int64, callUUID: CallUUID, ratedAt: UnixTime, extensionID: Int64, rate: Int64,
        maxRate: Int64, agentUsername: String?, isSample: Bool = false
    ) {
        self.clientID = clientID
        self.callUUID = callUUID
        self.ratedAt = ratedAt
        self.extensionID = extensionID
        self.rate = rate
        self.maxRate = maxRate
        self.agentUsername = agentUsername
        self.isSample = isSample
    }
}
