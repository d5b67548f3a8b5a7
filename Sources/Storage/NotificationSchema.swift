import GRDB

/// Migration `8-rating-notifications` (issue 10): the client's signing secret and low-score
/// threshold, and the outbox of rating notifications. An outbox row is written in the same
/// transaction as its rating, so no stored rating can miss its notification (restart, kill -9).
///
/// The secret is stored as is, not hashed like passwords and application secrets: the server
/// needs the secret itself to compute each notification's HMAC, and a hash cannot sign.
enum NotificationSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE client ADD COLUMN rating_notification_secret TEXT;
            ALTER TABLE client ADD COLUMN rating_alert_threshold INTEGER;
            CREATE TABLE rating_notification (
                rating_id INTEGER PRIMARY KEY REFERENCES rating(id) ON DELETE CASCADE,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                from_username TEXT,
                did_number TEXT,
                is_alert BOOLEAN NOT NULL,
                created_at INTEGER NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER,
                last_status INTEGER,
                last_error TEXT,
                delivered_at INTEGER
            );
            CREATE INDEX rating_notification_due ON rating_notification(next_attempt_at) WHERE state = 'pending';
            CREATE INDEX rating_notification_by_client ON rating_notification(client_id, rating_id);
            """)
    }
}
