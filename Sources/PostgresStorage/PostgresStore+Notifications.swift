public import Domain
import PostgresNIO
public import Storage

/// The outbox of rating notifications (issue 10) on PostgreSQL, which several nodes' delivery
/// services read at once (issue 12): `dueNotifications` claims what it returns, so that each
/// delivery is sent by one node. The outbox rows themselves are written by `insertRatings`.
extension PostgresStore {
    public func updateClient(_ client: Client, replacingNotificationSecret notificationSecret: String?) async throws {
        try await write { connection in
            // Locked until the commit, so that the zone read here is the one this update
            // replaces: two updates of the client at once cannot both skip the rebuild below.
            let previous = try await connection.query(
                "SELECT timezone FROM client WHERE id = \(client.id) FOR UPDATE", logger: logger
            ).collect()
            guard let previousZone = try previous.first?.decode(String.self) else { throw StorageError.notFound("client \(client.id)") }
            try await connection.query(
                """
                UPDATE client SET name = \(client.name), timezone = \(client.timezone),
                    rating_notification_url = \(client.ratingNotificationURL), rating_alert_threshold = \(client.ratingAlertThreshold),
                    rating_alert_url = \(client.ratingAlertURL),
                    rating_notification_secret = COALESCE(\(notificationSecret), rating_notification_secret)
                WHERE id = \(client.id)
                """, logger: logger)
            // The statistics' rollups are per local day (issue 10): another zone has other days.
            if previousZone != client.timezone {
                try await Self.rebuildRollups(clientID: client.id, zone: client.zone, connection: connection, logger: logger)
            }
        }
    }

    public func hasNotificationSecret(clientID: Int64) async throws -> Bool {
        try await read { connection in
            try await connection.query(
                "SELECT rating_notification_secret IS NOT NULL FROM client WHERE id = \(clientID)", logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        }
    }

    /// A delivery with what its notification says of the rating and what signing it needs, from
    /// `deliveries` (the outbox, or the rows a statement claimed) as `n`.
    private static func notificationSelect(from deliveries: String) -> String {
        """
        SELECT n.id, n.rating_id, n.client_id, n.url, n.from_username, n.did_number, n.is_alert, n.created_at, n.state,
               n.attempts, n.next_attempt_at, n.last_status, n.last_error, n.delivered_at,
               r.call_uuid, r.rated_at, r.extension_id, r.rate, r.max_rate, r.agent_username,
               c.timezone, c.rating_notification_secret
        FROM \(deliveries) n JOIN rating r ON r.id = n.rating_id JOIN client c ON c.id = n.client_id
        """
    }

    public func notifications(clientID: Int64, beforeID: Int64?, limit: Int) async throws -> [RatingNotification] {
        try await read { connection in
            var notifications: [RatingNotification] = []
            for try await row in try await connection.query(
                """
                \(unescaped: Self.notificationSelect(from: "rating_notification"))
                WHERE n.client_id = \(clientID) AND n.id < \(beforeID ?? Int64.max) ORDER BY n.id DESC LIMIT \(limit)
                """, logger: logger)
            {
                if let notification = try Self.notification(from: row.makeRandomAccess()) { notifications.append(notification) }
            }
            return notifications
        }
    }

    /// Claims what it returns, in the statement that selects it: due pending rows are locked
    /// `FOR UPDATE SKIP LOCKED` (a claim running on another node at this moment passes over them
    /// to the next ones instead of waiting for this one) and their `next_attempt_at` is moved a
    /// lease ahead (so no later claim takes them); `recordNotificationAttempt` then writes the
    /// real outcome. Should the node die before that, the lease runs out and any node sends them.
    /// Entries are returned as they were before the claim, as SQLite returns them; only the
    /// outbox's listing (`notifications`) shows the lease as the next attempt meanwhile.
    public func dueNotifications(at now: UnixTime, limit: Int, excluding inFlight: Set<Int64>) async throws -> [DueNotification] {
        let leaseEnd = now.adding(seconds: DueNotification.claimLease.components.seconds)
        return try await write { connection in
            var due: [DueNotification] = []
            for try await row in try await connection.query(
                """
                WITH due AS (
                    SELECT id, next_attempt_at FROM rating_notification
                    WHERE state = 'pending' AND next_attempt_at <= \(now.seconds) AND id <> ALL(\(Array(inFlight)))
                    ORDER BY next_attempt_at, id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                ), claimed AS (
                    UPDATE rating_notification n SET next_attempt_at = \(leaseEnd.seconds) FROM due WHERE n.id = due.id
                    RETURNING n.id, n.rating_id, n.client_id, n.url, n.from_username, n.did_number, n.is_alert, n.created_at, n.state,
                        n.attempts, due.next_attempt_at, n.last_status, n.last_error, n.delivered_at
                )
                \(unescaped: Self.notificationSelect(from: "claimed"))
                ORDER BY n.next_attempt_at, n.id
                """, logger: logger)
            {
                let cells = row.makeRandomAccess()
                guard let notification = try Self.notification(from: cells) else { continue }
                due.append(DueNotification(
                    notification: notification, timezone: try cells["timezone"].decode(String.self),
                    secret: try cells["rating_notification_secret"].decode(String?.self)))
            }
            return due
        }
    }

    public func recordNotificationAttempt(id: Int64, _ outcome: NotificationAttempt) async throws {
        // SQLite's three forms of the update as one statement: nil leaves `state` and
        // `delivered_at` as they are. Writing `next_attempt_at` ends this node's claim.
        let (state, status, error, nextAttempt, deliveredAt): (String?, Int64?, String?, Int64?, Int64?) = switch outcome {
        case .delivered(let status, let at): (RatingNotification.State.delivered.rawValue, status, nil, nil, at.seconds)
        case .retry(let status, let error, let at): (nil, status, error, at.seconds, nil)
        case .failed(let status, let error): (RatingNotification.State.failed.rawValue, status, error, nil, nil)
        }
        try await write { connection in
            _ = try await connection.query(
                """
                UPDATE rating_notification SET attempts = attempts + 1, state = COALESCE(\(state), state), last_status = \(status),
                    last_error = \(error), next_attempt_at = \(nextAttempt), delivered_at = COALESCE(\(deliveredAt), delivered_at)
                WHERE id = \(id)
                """, logger: logger)
        }
    }

    /// A delivery of `notificationSelect`; nil for a row this version cannot read (an unknown
    /// state or call UUID), as on SQLite.
    private static func notification(from cells: PostgresRandomAccessRow) throws -> RatingNotification? {
        guard let uuid = CallUUID(try cells["call_uuid"].decode(String.self)),
            let state = RatingNotification.State(rawValue: try cells["state"].decode(String.self))
        else { return nil }
        let rating = Rating(
            id: try cells["rating_id"].decode(Int64.self), clientID: try cells["client_id"].decode(Int64.self), callUUID: uuid,
            ratedAt: UnixTime(seconds: try cells["rated_at"].decode(Int64.self)), extensionID: try cells["extension_id"].decode(Int64.self),
            rate: try cells["rate"].decode(Int64.self), maxRate: try cells["max_rate"].decode(Int64.self),
            agentUsername: try cells["agent_username"].decode(String?.self))
        return RatingNotification(
            id: try cells["id"].decode(Int64.self), rating: rating, url: try cells["url"].decode(String.self),
            fromUsername: try cells["from_username"].decode(String?.self), didNumber: try cells["did_number"].decode(String?.self),
            isAlert: try cells["is_alert"].decode(Bool.self), createdAt: UnixTime(seconds: try cells["created_at"].decode(Int64.self)),
            state: state, attempts: try cells["attempts"].decode(Int64.self),
            nextAttemptAt: try cells["next_attempt_at"].decode(Int64?.self).map(UnixTime.init(seconds:)),
            lastStatus: try cells["last_status"].decode(Int64?.self), lastError: try cells["last_error"].decode(String?.self),
            deliveredAt: try cells["delivered_at"].decode(Int64?.self).map(UnixTime.init(seconds:)))
    }
}
