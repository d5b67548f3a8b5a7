public import Domain

/// Gathers what happens to one call into its call-history record (SPEC §4.3): the extension it
/// came to, each leg, the party it was bridged to last, and who ended it.
public struct CallHistoryRecorder: Sendable {
    public struct Caller: Sendable, Equatable {
        public var username: String?
        public var screenName: String?
        public var domain: String?

        public init(username: String?, screenName: String?, domain: String?) {
            self.username = username
            self.screenName = screenName
            self.domain = domain
        }
    }

    /// Identifies a leg started with `legStarted`, to end it later.
    public struct LegHandle: Sendable, Hashable {
        fileprivate let index: Int
    }

    private var record: CallRecord
    private var legEnds: [UnixTime?] = []
    private var bridgeStartedAt: UnixTime?
    /// Counts the changes to the record, so that the call knows when the open record it last
    /// saved is out of date (`snapshot`).
    public private(set) var revision = 0

    public init(
        callUUID: CallUUID, clientID: Int64, flow: CallRecord.Flow, startedAt: UnixTime, did: (number: String, domain: String)?,
        caller: Caller
    ) {
        record = CallRecord(
            callUUID: callUUID, clientID: clientID, extensionID: nil, extensionName: nil, extensionType: nil, flow: flow,
            didNumber: did?.number, didDomain: did?.domain, fromUsername: caller.username, fromScreenName: caller.screenName,
            fromDomain: caller.domain, bridgedUsername: nil, bridgedDomain: nil, bridgedAt: nil, bridgedDuration: nil,
            duration: 0, hangupDisposition: .system, startedAt: startedAt, legs: [])
    }

    /// The call reached an extension. The record keeps the first one: the extension the caller
    /// dialled (or the DID led to), where the call belongs even after transfers.
    public mutating func reached(_ destination: Extension) {
        guard record.extensionID == nil else { return }
        revision += 1
        record.extensionID = destination.id
        record.extensionName = destination.name
        record.extensionType = destination.kind
    }

    /// `trunk`: the leg went to a number outside the client through a trunk (issue 11): the
    /// leg's flow is `out`, and so is the call's.
    public mutating func legStarted(
        _ role: CallLeg.Role, ani: String?, destination: String?, domain: String?, application: CallLeg.Application?,
        through trunk: TrunkAttempt? = nil, at instant: UnixTime
    ) -> LegHandle {
        record.legs.append(CallLeg(
            role: role, aniNumber: ani, destNumber: destination, destDomain: domain, application: application,
            startedAt: instant, duration: 0, flow: trunk == nil ? .inbound : .outbound, trunkID: trunk?.trunkID,
            trunkName: trunk?.trunkName, sipStatus: trunk?.sipStatus))
        if trunk != nil { record.flow = .outbound }
        legEnds.append(nil)
        revision += 1
        return LegHandle(index: record.legs.count - 1)
    }

    public mutating func legEnded(_ leg: LegHandle, at instant: UnixTime) {
        guard legEnds[leg.index] == nil else { return }
        revision += 1
        legEnds[leg.index] = instant
        record.legs[leg.index].duration = max(0, instant.seconds - record.legs[leg.index].startedAt.seconds)
    }

    /// The caller is now talking to `username`; the last party bridged is the one the record
    /// names (and a rating after an agent hang-up is attributed to).
    public mutating func bridged(to username: String, domain: String?, at instant: UnixTime) {
        closeBridge(at: instant)
        revision += 1
        record.bridgedUsername = username
        record.bridgedDomain = domain
        record.bridgedAt = instant
        bridgeStartedAt = instant
    }

    public mutating func unbridged(at instant: UnixTime) {
        closeBridge(at: instant)
    }

    /// The finished record; legs still open end now.
    public mutating func finish(at instant: UnixTime, disposition: CallRecord.HangupDisposition) -> CallRecord {
        closeBridge(at: instant)
        for index in legEnds.indices where legEnds[index] == nil { legEnded(LegHandle(index: index), at: instant) }
        record.duration = max(0, instant.seconds - record.startedAt.seconds)
        record.hangupDisposition = disposition
        return record
    }

    /// The record (SPEC §4.3) of the call still up, as if it ended now with `system` (what a
    /// crash would leave), and what of it is still going on: a server that restarts after a crash
    /// closes it from there (issue 9).
    public func snapshot(at instant: UnixTime) -> OpenCallRecord {
        var ended = self
        return OpenCallRecord(
            record: ended.finish(at: instant, disposition: .system),
            openLegs: Set(legEnds.indices.filter { legEnds[$0] == nil }), isBridged: bridgeStartedAt != nil)
    }

    private mutating func closeBridge(at instant: UnixTime) {
        guard let started = bridgeStartedAt else { return }
        revision += 1
        // Talk time of the last bridged party only: `bridged_duration` goes with `bridged_username`.
        record.bridgedDuration = max(0, instant.seconds - started.seconds)
        bridgeStartedAt = nil
    }
}
