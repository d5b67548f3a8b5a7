public import Domain
import GRDB

/// The outbox of rating notifications (issue 10) on SQLite.
extension SQLiteStore {
    /// Writes the outbox rows of `rating`, in the rating's transaction: one for the client's
    /// notification URL, and for an alert one for its alert URL (once when both are the same);
    /// answers whether it wrote any. The call's caller and DID are those of its record as saved so
    /// far (a call's record is written from its answer on), nil when there is none yet.
    static func enqueueNotification(of rating: Rating, db: Database) throws -> Bool {
        guard let client = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT rating_notification_url, rating_alert_threshold, rating_alert_url FROM client WHERE id = ?"),
            arguments: [rating.clientID])
        else { return false }
        let isAlert = RatingNotification.isAlert(
            rate: rating.rate, maxRate: rating.maxRate, threshold: client["rating_alert_threshold"])
        var urls: [String] = []
        if let url = client["rating_notification_url"] as String? { urls.append(url) }
        if isAlert, let url = client["rating_alert_url"] as String?, !urls.contains(url) { urls.append(url) }
        guard !urls.isEmpty else { return false }
        let call = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT from_username, did_number FROM call WHERE call_uuid = ? AND client_id = ?"),
            arguments: [rating.callUUID.value, rating.clientID])
        for url in urls {
            try db.cachedStatement(sql: """
                INSERT INTO rating_notification (rating_id, client_id, url, from_username, did_number, is_alert, created_at, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    rating.id, rating.clientID, url, call?["from_username"] as String?, call?["did_number"] as String?, isAlert,
                    rating.ratedAt.seconds, rating.ratedAt.seconds,
                ])
        }
        return true
    }

    public func updateClient(_ client: Client, replacingNotificationSecret notificationSecret: String?) async throws {
        try await write { db in
            let previousZone = try String.fetchOne(db, sql: "SELECT timezone FROM client WHERE id = ?", arguments: [client.id])
            try db.execute(
                sql: """
                    UPDATE client SET name = ?, timezone = ?, rating_notification_url = ?, rating_alert_threshold = ?, rating_alert_url = ?
                    WHERE id = ?
                    """,
                arguments: [
                    client.name, client.timezone, client.ratingNotificationURL, client.ratingAlertThreshold, client.ratingAlertURL, client.id,
                ])
            guard db.changesCount == 1 else { throw StorageError.notFound("client \(client.id)") }
            // The statistics' rollups are per local day (issue 10): another zone has other days.
            if previousZone != client.timezone {
                try RatingRollups.rebuild(clientID: client.id, zone: client.zone, db: db)
            }
            if let notificationSecret {
                try db.execute(
                    sql: "UPDATE client SET rating_notification_secret = ? WHERE id = ?", arguments: [notificationSecret, client.id])
            }
        }
    }

    public func hasNotificationSecret(clientID: Int64) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(
                db, sql: "SELECT rating_notification_secret IS NOT NULL FROM client WHERE id = ?", arguments: [clientID]) ?? false
        }
    }

    private static let notificationSelect = """
        SELECT n.*, r.call_uuid, r.rated_at, r.extension_id, r.rate, r.max_rate, r.agent_username,
               c.timezone, c.rating_notification_secret
        FROM rating_notification n JOIN rating r ON r.id = n.rating_id JOIN client c ON c.id = n.client_id
        """

    public func notifications(clientID: Int64, beforeID: Int64?, limit: Int) async throws -> [RatingNotification] {
        try await read { db in
            try Row.fetchAll(
                db, sql: Self.notificationSelect + " WHERE n.client_id = ? AND n.id < ? ORDER BY n.id DESC LIMIT ?",
                arguments: [clientID, beforeID ?? Int64.max, limit]
            ).compactMap(Self.notification(from:))
        }
    }

    public func dueNotifications(at now: UnixTime, limit: Int, excluding inFlight: Set<Int64>) async throws -> [DueNotification] {
        let skipped = inFlight.sorted()
        return try await read { db in
            try Row.fetchAll(
                db, sql: Self.notificationSelect
                    + " WHERE n.state = 'pending' AND n.next_attempt_at <= ? AND n.id NOT IN (\(databaseQuestionMarks(count: skipped.count)))"
                    + " ORDER BY n.next_attempt_at, n.id LIMIT ?",
                arguments: [now.seconds] + StatementArguments(skipped) + [limit]
            ).compactMap { row in
                Self.notification(from: row).map {
                    DueNotification(notification: $0, timezone: row["timezone"], secret: row["rating_notification_secret"])
                }
            }
        }
    }

    public func recordNotificationAttempt(id: Int64, _ outcome: NotificationAttempt) async throws {
        let (sql, arguments): (String, StatementArguments) = switch outcome {
        case .delivered(let status, let at):
            ("state = 'delivered', last_status = ?, last_error = NULL, next_attempt_at = NULL, delivered_at = ?", [status, at.seconds])
        case .retry(let status, let error, let at):
            ("last_status = ?, last_error = ?, next_attempt_at = ?", [status, error, at.seconds])
        case .failed(let status, let error):
            ("state = 'failed', last_status = ?, last_error = ?, next_attempt_at = NULL", [status, error])
        }
        try await write { db in
            try db.execute(
                sql: "UPDATE rating_notification SET attempts = attempts + 1, \(sql) WHERE id = ?",
                arguments: arguments + [id])
        }
    }

    private static func notification(from row: Row) -> RatingNotification? {
        guard let uuid = CallUUID(row["call_uuid"] as String), let state = RatingNotification.State(rawValue: row["state"])
        else { return nil }
        let rating = Rating(
            id: row["rating_id"], clientID: row["client_id"], callUUID: uuid, ratedAt: UnixTime(seconds: row["rated_at"]),
            extensionID: row["extension_id"], rate: row["rate"], maxRate: row["max_rate"], agentUsername: row["agent_username"])
        return RatingNotification(
            id: row["id"], rating: rating, url: row["url"], fromUsername: row["from_username"], didNumber: row["did_number"],
            isAlert: row["is_alert"], createdAt: UnixTime(seconds: row["created_at"]), state: state, attempts: row["attempts"],
            nextAttemptAt: (row["next_attempt_at"] as Int64?).map(UnixTime.init(seconds:)), lastStatus: row["last_status"],
            lastError: row["last_error"], deliveredAt: (row["delivered_at"] as Int64?).map(UnixTime.init(seconds:)))
    }
}
