/// A rating's notification to its client's `rating_notification_url`, or an alert's to its
/// `rating_alert_url` (issue 10), as the outbox holds it: one delivery of one rating to one URL,
/// what is sent besides the rating, and how delivery went so far.
public struct RatingNotification: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Not delivered yet; tried again at `nextAttemptAt`.
        case pending
        /// A 2xx answer came back.
        case delivered
        /// Given up after `RetrySchedule.giveUpAfter` of failures.
        case failed
    }

    /// The delivery's own id (a rating sent to two URLs is two deliveries).
    public var id: Int64
    public var rating: Rating
    /// The URL at the time of the key press.
    public var url: String
    /// The call's caller and DID as known when the key was pressed (nil when unknown then).
    public var fromUsername: String?
    public var didNumber: String?
    /// The rating is at or below the client's `rating_alert_threshold`.
    public var isAlert: Bool
    public var createdAt: UnixTime
    public var state: State
    public var attempts: Int64
    public var nextAttemptAt: UnixTime?
    public var lastStatus: Int64?
    public var lastError: String?
    public var deliveredAt: UnixTime?

    public init(
        id: Int64, rating: Rating, url: String, fromUsername: String?, didNumber: String?, isAlert: Bool, createdAt: UnixTime,
        state: State, attempts: Int64, nextAttemptAt: UnixTime?, lastStatus: Int64?, lastError: String?,
        deliveredAt: UnixTime?
    ) {
        self.id = id
        self.rating = rating
        self.url = url
        self.fromUsername = fromUsername
        self.didNumber = didNumber
        self.isAlert = isAlert
        self.createdAt = createdAt
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.deliveredAt = deliveredAt
    }

    /// Whether `rate / max_rate`, as a percentage, is at or below `threshold` (0–100; nil = off).
    public static func isAlert(rate: Int64, maxRate: Int64, threshold: Int64?) -> Bool {
        guard let threshold, maxRate > 0 else { return false }
        return rate * 100 <= threshold * maxRate
    }
}

/// When a failed delivery is tried again: 1 s after the first failure, doubling up to `cap`,
/// and never once `giveUpAfter` has passed since the rating.
public struct RetrySchedule: Sendable, Equatable {
    public var first: Int64
    public var cap: Int64
    public var giveUpAfter: Int64

    public init(first: Int64 = 1, cap: Int64 = 3_600, giveUpAfter: Int64 = 86_400) {
        self.first = first
        self.cap = cap
        self.giveUpAfter = giveUpAfter
    }

    /// The next attempt after `attempts` failed ones (1 = the first failed), or nil: give up.
    public func nextAttempt(afterFailures attempts: Int64, now: UnixTime, createdAt: UnixTime) -> UnixTime? {
        let exponent = max(0, min(attempts - 1, 40))
        let delay = min(cap, first << exponent)
        let next = now.adding(seconds: delay)
        return next.seconds - createdAt.seconds > giveUpAfter ? nil : next
    }
}
