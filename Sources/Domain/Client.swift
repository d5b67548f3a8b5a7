/// One tenant. Everything else belongs to exactly one client (SPEC §1).
public struct Client: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// IANA name; ratings and call history are shown in this zone.
    public var timezone: String
    /// The SIP domain phones register in; also the digest realm.
    public var domain: String
    /// Where each new rating is POSTed (SPEC §3, ours); nil = no notification.
    public var ratingNotificationURL: String?
    /// Ratings with `rate / max_rate` at or below this percentage are notified as alerts
    /// (issue 10); nil = no alerts.
    public var ratingAlertThreshold: Int64?
    /// Where alerts are POSTed as well (issue 10: a pager or a chat channel for bad ratings, while
    /// `ratingNotificationURL` takes every rating); nil = nowhere else.
    public var ratingAlertURL: String?

    public init(
        id: Int64, name: String, timezone: String, domain: String, ratingNotificationURL: String? = nil,
        ratingAlertThreshold: Int64? = nil, ratingAlertURL: String? = nil
    ) {
        self.id = id
        self.name = name
        self.timezone = timezone
        self.domain = domain
        self.ratingNotificationURL = ratingNotificationURL
        self.ratingAlertThreshold = ratingAlertThreshold
        self.ratingAlertURL = ratingAlertURL
    }
}

/// An internal number of a client (SPEC §1).
public struct Extension: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case phone, queue, ivr
    }

    public var id: Int64
    public var clientID: Int64
    public var name: String
    public var kind: Kind
    public var label: String
    public var status: String
    public var createdAt: UnixTime

    public init(id: Int64, clientID: Int64, name: String, kind: Kind, label: String, status: String, createdAt: UnixTime) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.kind = kind
        self.label = label
        self.status = status
        self.createdAt = createdAt
    }
}
