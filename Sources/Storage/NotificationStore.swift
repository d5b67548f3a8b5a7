public import Domain
import Synchronization

/// The outbox of rating notifications (issue 10). `insertRatings` writes a rating's outbox row
/// in the rating's own transaction when its client has a `rating_notification_url`, and rings
/// `notificationDoorbell` once that transaction is committed.
public protocol NotificationStore: Sendable {
    /// Rung after ratings that have notifications are committed; the delivery service waits on it.
    var notificationDoorbell: Doorbell { get }

    /// Updates the client as `updateClient` does and, when `notificationSecret` is given,
    /// replaces its signing secret, in one transaction.
    func updateClient(_ client: Client, replacingNotificationSecret notificationSecret: String?) async throws
    /// Whether the client has a signing secret.
    func hasNotificationSecret(clientID: Int64) async throws -> Bool

    /// A page of a client's deliveries, newest first, before the delivery `beforeID`.
    func notifications(clientID: Int64, beforeID: Int64?, limit: Int) async throws -> [RatingNotification]
    /// Pending notifications due at `now`, oldest first, with what signing them needs, except
    /// those in `inFlight`: the caller's attempts under way, still pending until recorded.
    ///
    /// A store several nodes share (issue 12) claims what it returns, so that each notification
    /// is sent by one node: no store on that database returns it again before its attempt is
    /// recorded or `DueNotification.claimLease` has passed (the node may have died). A store of
    /// one node (SQLite) needs no claim and returns an entry until its attempt is recorded.
    func dueNotifications(at now: UnixTime, limit: Int, excluding inFlight: Set<Int64>) async throws -> [DueNotification]
    /// Records the outcome of one delivery attempt.
    func recordNotificationAttempt(id: Int64, _ outcome: NotificationAttempt) async throws
}

/// A notification to send now, with its client's time zone (for `datetime`) and signing secret.
public struct DueNotification: Sendable, Equatable {
    public var notification: RatingNotification
    public var timezone: String
    public var secret: String?

    public init(notification: RatingNotification, timezone: String, secret: String?) {
        self.notification = notification
        self.timezone = timezone
        self.secret = secret
    }

    /// How long a shared store keeps a returned entry from the other nodes: its attempt must be
    /// recorded by then, or another node sends it too. An attempt's HTTP timeout is well below it.
    public static let claimLease: Duration = .seconds(60)
}

/// How one attempt went: `status` is the HTTP status when an answer came back.
public enum NotificationAttempt: Sendable, Equatable {
    case delivered(status: Int64, at: UnixTime)
    case retry(status: Int64?, error: String, at: UnixTime)
    case failed(status: Int64?, error: String)
}

/// A wake-up signal for one waiter: `ring` wakes the waiter, or the next `wait` when nobody waits
/// (a ring is never lost, rings while nobody waits count as one).
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (at once if it was rung since the last wait) or when the task is cancelled.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            // Cancelled before the waiter was stored: the next ring check sees `rung`.
            ring()
        }
    }

    /// Returns when rung, or after `timeout` at the latest.
    public func wait(upTo timeout: Duration) async {
        await waitAtMost(timeout) { await self.wait() }
    }
}
