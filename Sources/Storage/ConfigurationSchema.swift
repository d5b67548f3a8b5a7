import GRDB

/// Tables of the call-flow configuration (SPEC §4): extensions' SIP credentials, DIDs, queues
/// and their agents.
enum ConfigurationSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            -- Digest authentication (issue 4) needs HA1 = H(name:realm:password), realm = the
            -- client's domain, which never changes; the password itself is never stored.
            ALTER TABLE extension ADD COLUMN sip_ha1_md5 TEXT;
            ALTER TABLE extension ADD COLUMN sip_ha1_sha256 TEXT;
            -- `name` is stored without a leading '+'. Deleting an extension that a DID points at is
            -- refused by the store, naming the DID; the foreign key is the last guard.
            CREATE TABLE did (
                id INTEGER PRIMARY KEY,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                name TEXT NOT NULL UNIQUE,
                extension_id INTEGER REFERENCES extension(id),
                comment TEXT NOT NULL DEFAULT '',
                created_at INTEGER NOT NULL
            );
            CREATE INDEX did_by_client ON did(client_id, id);
            CREATE INDEX did_by_extension ON did(extension_id);
            -- The options of a queue extension (SPEC §4.1), with its defaults.
            CREATE TABLE queue (
                extension_id INTEGER PRIMARY KEY REFERENCES extension(id) ON DELETE CASCADE,
                agent_hangup_action TEXT,
                agent_hangup_transfer_dst TEXT,
                quality_rate_sound INTEGER NOT NULL DEFAULT 0,
                quality_rate_finish_sound INTEGER NOT NULL DEFAULT 0,
                quality_rate_max INTEGER NOT NULL DEFAULT 5,
                strategy TEXT NOT NULL DEFAULT 'round-robin',
                max_wait_time INTEGER NOT NULL DEFAULT 0,
                announce_sound INTEGER NOT NULL DEFAULT 0,
                announce_frequency INTEGER NOT NULL DEFAULT 0,
                exit_with_no_av_agents BOOLEAN NOT NULL DEFAULT TRUE,
                no_agent_timeout_transfer_dst TEXT
            );
            -- Every way a queue extension comes to exist (the API, `qualityrate demo`) gets its
            -- options in the same transaction, so a queue never lacks them.
            CREATE TRIGGER queue_options_of_new_queue AFTER INSERT ON extension WHEN NEW.type = 'queue'
            BEGIN
                INSERT INTO queue (extension_id) VALUES (NEW.id);
            END;
            -- A phone stays an agent until removed: deleting it is refused by the store while it
            -- is one, naming the queue; the foreign key is the last guard.
            CREATE TABLE queue_agent (
                queue_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
                agent_id INTEGER NOT NULL REFERENCES extension(id),
                position INTEGER NOT NULL,
                PRIMARY KEY (queue_id, agent_id)
            );
            CREATE INDEX queue_agent_by_agent ON queue_agent(agent_id);
            """)
    }
}
