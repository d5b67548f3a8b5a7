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

    /// Migration `11-rating-alert-url` (issue 10): a second URL that gets the alerts only, so an
    /// outbox row is now one delivery — of one rating to one URL — with an id of its own; the
    /// rows already there keep their rating's id as theirs.
    static func migrateAlertURL(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE client ADD COLUMN rating_alert_url TEXT;
            CREATE TABLE rating_delivery (
                id INTEGER PRIMARY KEY,
                rating_id INTEGER NOT NULL REFERENCES rating(id) ON DELETE CASCADE,
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
                delivered_at INTEGER,
                UNIQUE (rating_id, url)
            );
            INSERT INTO rating_delivery (id, rating_id, client_id, url, from_username, did_number, is_alert, created_at, state,
                                         attempts, next_attempt_at, last_status, last_error, delivered_at)
                SELECT rating_id, rating_id, client_id, url, from_username, did_number, is_alert, created_at, state,
                       attempts, next_attempt_at, last_status, last_error, delivered_at
                FROM rating_notification;
            DROP TABLE rating_notification;
            ALTER TABLE rating_delivery RENAME TO rating_notification;
            CREATE INDEX rating_notification_due ON rating_notification(next_attempt_at) WHERE state = 'pending';
            CREATE INDEX rating_notification_by_client ON rating_notification(client_id, id);
            """)
    }
}
