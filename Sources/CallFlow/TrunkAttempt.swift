/// One try to reach a number outside the client through one of its trunks (issue 11): what
/// call history shows of an outside leg.
public struct TrunkAttempt: Sendable, Equatable {
    /// The party the flow rang (`OutsideParty.name`).
    public var party: String
    /// The number as the trunk sent it.
    public var number: String
    public var trunkID: Int64
    public var trunkName: String
    /// The SIP status that refused it; nil when it was answered.
    public var sipStatus: Int?

    public init(party: String, number: String, trunkID: Int64, trunkName: String, sipStatus: Int?) {
        self.party = party
        self.number = number
        self.trunkID = trunkID
        self.trunkName = trunkName
        self.sipStatus = sipStatus
    }
}
