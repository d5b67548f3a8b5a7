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
    /// When the prompt this rating answers was offered (`RatingOffer.offeredAt`); nil for
    /// ratings from no recorded offer (sample data, imports).
    public var offeredAt: UnixTime?

    public init(
        clientID: Int64, callUUID: CallUUID, ratedAt: UnixTime, extensionID: Int64, rate: Int64,
        maxRate: Int64, agentUsername: String?, isSample: Bool = false, offeredAt: UnixTime? = nil
    ) {
        self.clientID = clientID
        self.callUUID = callUUID
        self.ratedAt = ratedAt
        self.extensionID = extensionID
        self.rate = rate
        self.maxRate = maxRate
        self.agentUsername = agentUsername
        self.isSample = isSample
        self.offeredAt = offeredAt
    }
}

/// A call reached a rating prompt (issue 10): the engine records each offer, and the rating given
/// in answer marks it rated, so statistics can say how many callers who were asked did rate.
/// `agentUsername` is the agent a rating would be of, as in `NewRating`.
public struct RatingOffer: Sendable, Equatable {
    public var clientID: Int64
    public var callUUID: CallUUID
    public var offeredAt: UnixTime
    public var extensionID: Int64
    public var agentUsername: String?

    public init(clientID: Int64, callUUID: CallUUID, offeredAt: UnixTime, extensionID: Int64, agentUsername: String?) {
        self.clientID = clientID
        self.callUUID = callUUID
        self.offeredAt = offeredAt
        self.extensionID = extensionID
        self.agentUsername = agentUsername
    }
}
