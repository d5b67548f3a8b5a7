/// One call's history record with its legs (SPEC §4.3).
public struct CallRecord: Sendable, Equatable {
    public enum Flow: String, Sendable { case inbound = "in", outbound = "out" }

    public enum HangupDisposition: String, Sendable {
        case callerHangup = "caller_hangup"
        case agentHangup = "agent_hangup"
        case system
    }

    public var callUUID: CallUUID
    public var clientID: Int64
    public var extensionID: Int64?
    public var extensionName: String?
    public var extensionType: Extension.Kind?
    public var flow: Flow
    public var didNumber: String?
    public var didDomain: String?
    public var fromUsername: String?
    public var fromScreenName: String?
    public var fromDomain: String?
    public var bridgedUsername: String?
    public var bridgedDomain: String?
    public var bridgedAt: UnixTime?
    public var bridgedDuration: Int64?
    public var duration: Int64
    public var hangupDisposition: HangupDisposition
    public var startedAt: UnixTime
    public var legs: [CallLeg]

    public init(
        callUUID: CallUUID, clientID: Int64, extensionID: Int64?, extensionName: String?,
        extensionType: Extension.Kind?, flow: Flow, didNumber: String?, didDomain: String?,
        fromUsername: String?, fromScreenName: String?, fromDomain: String?, bridgedUsername: String?,
        bridgedDomain: String?, bridgedAt: UnixTime?, bridgedDuration: Int64?, duration: Int64,
        hangupDisposition: HangupDisposition, startedAt: UnixTime, legs: [CallLeg]
    ) {
        self.callUUID = callUUID
        self.clientID = clientID
        self.extensionID = extensionID
        self.extensionName = extensionName
        self.extensionType = extensionType
        self.flow = flow
        self.didNumber = didNumber
        self.didDomain = didDomain
        self.fromUsername = fromUsername
        self.fromScreenName = fromScreenName
        self.fromDomain = fromDomain
        self.bridgedUsername = bridgedUsername
        self.bridgedDomain = bridgedDomain
        self.bridgedAt = bridgedAt
        self.bridgedDuration = bridgedDuration
        self.duration = duration
        self.hangupDisposition = hangupDisposition
        self.startedAt = startedAt
        self.legs = legs
    }
}

/// One leg of a call: the caller, an agent, a callback party or a transfer (the `cdr` array).
public struct CallLeg: Sendable, Equatable {
    public enum Role: String, Sendable {
        case caller, agent, transfer
        case callbackSource = "callback_source"
        case callbackDestination = "callback_destination"
    }

    public enum Application: String, Sendable { case callcenter, callback, ivr }

    public var role: Role
    public var aniNumber: String?
    public var destNumber: String?
    public var destDomain: String?
    public var application: Application?
    public var startedAt: UnixTime
    public var duration: Int64
    /// `out` for a leg to a number outside the client, through a trunk (issue 11); `in` otherwise.
    public var flow: CallRecord.Flow
    /// The trunk an outside leg went through, and its name then.
    public var trunkID: Int64?
    public var trunkName: String?
    /// The SIP status that refused an outside leg; nil when it was answered.
    public var sipStatus: Int?

    public init(
        role: Role, aniNumber: String?, destNumber: String?, destDomain: String?, application: Application?,
        startedAt: UnixTime, duration: Int64, flow: CallRecord.Flow = .inbound, trunkID: Int64? = nil, trunkName: String? = nil,
        sipStatus: Int? = nil
    ) {
        self.role = role
        self.aniNumber = aniNumber
        self.destNumber = destNumber
        self.destDomain = destDomain
        self.application = application
        self.startedAt = startedAt
        self.duration = duration
        self.flow = flow
        self.trunkID = trunkID
        self.trunkName = trunkName
        self.sipStatus = sipStatus
    }
}

/// The history of a call still up (issue 9): its record as if it ended at the moment it was
/// taken (`hangupDisposition` `system`), and which of it is still going on, so that a server
/// that crashed can close it at its next start with the last time it knew of.
public struct OpenCallRecord: Sendable, Equatable {
    public var record: CallRecord
    /// Positions in `record.legs` of the legs still up.
    public var openLegs: Set<Int>
    /// The caller is still talking to `record.bridgedUsername`.
    public var isBridged: Bool

    public init(record: CallRecord, openLegs: Set<Int>, isBridged: Bool) {
        self.record = record
        self.openLegs = openLegs
        self.isBridged = isBridged
    }
}
