import GRDB

/// Migration `12-trunks` (issue 11): the client's provider trunks.
///
/// The password is stored as is, not hashed like a phone's: here the server is the one that
/// answers a digest challenge, and the answer is computed from the realm, nonce and algorithm the
/// provider sends, so no hash made in advance can stand in for the password (as the notification
/// secret is kept for the HMAC it signs with).
enum TrunkSchema {
    /// Migration `13-outside-legs`: a call leg to a number outside the client records its
    /// direction (`out`), the trunk it went through (its name too: the trunk may be renamed or
    /// deleted later, the history stays), and the SIP status that refused it. The trunk id is
    /// not a foreign key for the same reason.
    static func migrateOutsideLegs(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE call_leg ADD COLUMN flow TEXT NOT NULL DEFAULT 'in';
            ALTER TABLE call_leg ADD COLUMN trunk_id INTEGER;
            ALTER TABLE call_leg ADD COLUMN trunk_name TEXT;
            ALTER TABLE call_leg ADD COLUMN sip_status INTEGER;
            """)
    }

    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE trunk (
                id INTEGER PRIMARY KEY,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                host TEXT NOT NULL,
                port INTEGER NOT NULL,
                transport TEXT NOT NULL,
                username TEXT NOT NULL,
                password TEXT NOT NULL,
                register BOOLEAN NOT NULL,
                register_expires INTEGER NOT NULL,
                from_domain TEXT NOT NULL,
                -- A JSON array of strings: read and written whole with its trunk, never searched.
                prefixes TEXT NOT NULL,
                position INTEGER NOT NULL,
                strip_digits INTEGER NOT NULL,
                add_prefix TEXT NOT NULL,
                caller_id TEXT,
                max_calls INTEGER NOT NULL,
                status TEXT NOT NULL,
                last_error TEXT,
                created_at INTEGER NOT NULL,
                UNIQUE (client_id, name)
            );
            """)
    }
}
