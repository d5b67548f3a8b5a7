public import AsyncHTTPClient
public import Domain
public import Logging
import NIOCore
public import ServiceLifecycle
public import Storage

/// Delivers the outbox of rating notifications (issue 10), at least once: sends what is due,
/// records each outcome, and tries failures again on `schedule` (timeouts, connection errors
/// and non-2xx answers alike) until it gives up. It wakes when the store rings its doorbell (a
/// rating with a notification was committed) and at least once a second.
public struct NotificationDeliveryService: Service {
    let store: any NotificationStore
    let http: HTTPClient
    let schedule: RetrySchedule
    let timeout: Duration
    let logger: Logger
    /// Deliveries in flight at most.
    static let batch = 64

    public init(
        store: any NotificationStore, http: HTTPClient = .shared, schedule: RetrySchedule = RetrySchedule(),
        timeout: Duration = .seconds(10), logger: Logger
    ) {
        // An attempt ends within `timeout` (its answer's body included), then is recorded: well
        // within the lease of a store shared by nodes, or another node would send it as well.
        precondition(timeout * 2 <= DueNotification.claimLease, "an attempt must end well within the outbox's claim lease")
        self.store = store
        self.http = http
        self.schedule = schedule
        self.timeout = timeout
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await deliverUntilCancelled() }
    }

    /// Keeps up to `batch` deliveries in flight and starts the next due one as soon as one ends,
    /// so a receiver that takes its time (up to the 10 s timeout) holds up only its own
    /// notifications, not those of every other client queued behind it.
    func deliverUntilCancelled() async {
        await withTaskGroup(of: Int64?.self) { group in
            var inFlight: Set<Int64> = []
            var waiting = false
            while !Task.isCancelled {
                for entry in await due(excluding: inFlight) {
                    inFlight.insert(entry.notification.id)
                    group.addTask {
                        await deliver(entry)
                        return entry.notification.id
                    }
                }
                // One child waits for the doorbell (a new rating) or a second (a retry falling due);
                // the loop goes on when it or any delivery ends.
                if !waiting {
                    waiting = true
                    group.addTask {
                        await store.notificationDoorbell.wait(upTo: .seconds(1))
                        return nil
                    }
                }
                guard let ended = await group.next() else { return }
                if let deliveryID = ended { inFlight.remove(deliveryID) } else { waiting = false }
            }
        }
    }

    /// What is due and not already being sent, as many as there are free places.
    private func due(excluding inFlight: Set<Int64>) async -> [DueNotification] {
        let free = Self.batch - inFlight.count
        guard free > 0 else { return [] }
        do {
            // Entries in flight are still pending in the outbox until their outcome is recorded;
            // asking for just as many as can start leaves a shared store's claims none to spare.
            return try await store.dueNotifications(at: .now(), limit: free, excluding: inFlight)
        } catch {
            // Stopping cancels the read: nothing is wrong with the outbox.
            if !Task.isCancelled {
                logger.error("cannot read the notification outbox", metadata: ["error_type": "\(type(of: error))"])
            }
            return []
        }
    }

    /// One attempt at `entry`, its outcome recorded.
    func deliver(_ entry: DueNotification) async {
        let notification = entry.notification
        let outcome = await attempt(entry)
        // Stopping: the attempt was cut short, which says nothing of the receiver; the entry stays
        // due as it was and the next run sends it.
        if Task.isCancelled { return }
        let recorded: NotificationAttempt
        switch outcome {
        case .success(let status):
            recorded = .delivered(status: status, at: .now())
        case .failure(let status, let error):
            let now = UnixTime.now()
            if let next = schedule.nextAttempt(afterFailures: notification.attempts + 1, now: now, createdAt: notification.createdAt) {
                recorded = .retry(status: status, error: error, at: next)
            } else {
                recorded = .failed(status: status, error: error)
                logger.warning(
                    "gave up a rating notification", metadata: ["rating_id": "\(notification.rating.id)", "error": "\(error)"])
            }
        }
        do {
            // An attempt that came back is recorded even when the server starts stopping now: a
            // delivered notification left pending would be sent again after the restart. The
            // write runs in a task of its own, which the stop does not cancel; it is awaited.
            let store = store
            try await Task { try await store.recordNotificationAttempt(id: notification.id, recorded) }.value
        } catch {
            // Left pending as it was: it is sent again (at least once).
            logger.error("cannot record a notification attempt", metadata: ["error_type": "\(type(of: error))"])
        }
    }

    enum Outcome {
        case success(status: Int64)
        case failure(status: Int64?, error: String)
    }

    private func attempt(_ entry: DueNotification) async -> Outcome {
        guard let secret = entry.secret else {
            return .failure(status: nil, error: "the client has no signing secret: PUT rotate_rating_notification_secret=true")
        }
        guard let zone = ClientTimeZone(identifier: entry.timezone) else {
            return .failure(status: nil, error: "unknown client time zone \(entry.timezone)")
        }
        do {
            let message = try NotificationMessage(entry.notification, zone: zone, secret: secret, timestamp: .now())
            var request = HTTPClientRequest(url: entry.notification.url)
            request.method = .POST
            for (name, value) in message.headers { request.headers.add(name: name, value: value) }
            request.headers.add(name: "User-Agent", value: "QualityRate")
            request.body = .bytes(ByteBuffer(bytes: message.body))
            let deadline = ContinuousClock.now + timeout
            let response = try await http.execute(request, timeout: .init(timeout))
            try await Self.drain(response.body, until: deadline)
            let status = Int64(response.status.code)
            return (200..<300).contains(status) ? .success(status: status) : .failure(status: status, error: "answered \(status)")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .failure(status: nil, error: "no answer within \(timeout.components.seconds) s")
        } catch {
            return .failure(status: nil, error: "\(error)")
        }
    }

    /// Reads the answer's body and drops it, so that the connection can be used again, until
    /// `deadline` at the latest: the client's timeout stops counting once the answer's head has
    /// come, and an attempt must end within the outbox's claim lease. The status came with the
    /// head: it counts even when the body is cut short at the deadline.
    private static func drain(_ body: HTTPClientResponse.Body, until deadline: ContinuousClock.Instant) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for try await _ in body {} }
            group.addTask { try? await Task.sleep(until: deadline) }
            try await group.next()
            // Cancelling the body's reading cancels the request and closes its connection.
            group.cancelAll()
        }
    }
}
