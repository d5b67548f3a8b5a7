import GRDB

/// Tables of the call-flow configuration (SPEC §4): extensions' SIP credentials, DIDs, queues
/// and their agents, voice menus.
enum ConfigurationSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            -- Digest authentication (issue 4) needs HA1 = H(name:realm:password), realm = the
            -- client's domain, which never changes; the password itself is never stored.
            ALTER TABLE extension ADD COLUMN sip_ha1_md5 TEXT;
            ALTER TABLE extension ADD COLUMN sip_ha1_sha256 TEXT;
            CREATE TABLE did (
                id INTEGER PRIMARY KEY,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                name TEXT NOT NULL UNIQUE,
                extension_id INTEGER REFERENCES extension(id) ON DELETE SET NULL,
                comment TEXT NOT NULL DEFAULT '',
                created_at INTEGER NOT NULL
            );
            CREATE INDEX did_by_client ON did(client_id, id);
            """)
    }
}
