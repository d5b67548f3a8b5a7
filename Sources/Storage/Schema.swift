import GRDB

/// The schema, as an ordered list of migrations. A migration, once shipped, is never edited:
/// later changes are new migrations, so every existing database can be brought forward.
///
/// SQL is kept to what SQLite and PostgreSQL both read where that costs nothing (row-value
/// comparisons, BOOLEAN, plain indexes); instants are integer Unix seconds.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-foundation") { db in
            try db.execute(sql: """
                CREATE TABLE client (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    timezone TEXT NOT NULL DEFAULT 'UTC',
                    domain TEXT NOT NULL UNIQUE,
                    rating_notification_url TEXT,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE app_user (
                    id INTEGER PRIMARY KEY,
                    client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                    username TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    is_admin BOOLEAN NOT NULL
                );
                CREATE TABLE application (
                    id INTEGER PRIMARY KEY,
                    app_id TEXT NOT NULL UNIQUE,
                    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    access TEXT NOT NULL,
                    secret_hash TEXT NOT NULL
                );
                CREATE TABLE token (
                    hash TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    application_id INTEGER NOT NULL REFERENCES application(id) ON DELETE CASCADE,
                    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
                    expires_at INTEGER NOT NULL
                );
                CREATE INDEX token_by_expiry ON token(expires_at);
                CREATE TABLE extension (
                    id INTEGER PRIMARY KEY,
                    client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    label TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL DEFAULT 'active',
                    created_at INTEGER NOT NULL,
                    is_sample BOOLEAN NOT NULL DEFAULT FALSE,
                    UNIQUE (client_id, name)
                );
                CREATE TABLE call (
                    call_uuid TEXT PRIMARY KEY,
                    client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                    extension_id INTEGER,
                    extension_name TEXT,
                    extension_type TEXT,
                    flow TEXT NOT NULL,
                    did_number TEXT,
                    did_domain TEXT,
                    from_username TEXT,
                    from_screen_name TEXT,
                    from_domain TEXT,
                    bridged_username TEXT,
                    bridged_domain TEXT,
                    bridged_at INTEGER,
                    bridged_duration INTEGER,
                    duration INTEGER NOT NULL,
                    hangup_disposition TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    is_sample BOOLEAN NOT NULL DEFAULT FALSE
                );
                CREATE INDEX call_by_client_time ON call(client_id, started_at, call_uuid);
                CREATE INDEX call_by_extension_time ON call(client_id, extension_id, started_at, call_uuid);
                CREATE TABLE call_leg (
                    call_uuid TEXT NOT NULL REFERENCES call(call_uuid) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    role TEXT NOT NULL,
                    ani_number TEXT,
                    dest_number TEXT,
                    dest_domain TEXT,
                    application TEXT,
                    started_at INTEGER NOT NULL,
                    duration INTEGER NOT NULL,
                    PRIMARY KEY (call_uuid, position)
                );
                -- No foreign key to call: a rating is stored the moment the key is pressed,
                -- before the call ends and its history is written. No foreign key to extension
                -- either: deleting a queue must not delete what its callers said.
                CREATE TABLE rating (
                    id INTEGER PRIMARY KEY,
                    client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                    call_uuid TEXT NOT NULL,
                    rated_at INTEGER NOT NULL,
                    extension_id INTEGER NOT NULL,
                    rate INTEGER NOT NULL,
                    max_rate INTEGER NOT NULL,
                    agent_username TEXT,
                    is_sample BOOLEAN NOT NULL DEFAULT FALSE
                );
                CREATE INDEX rating_by_client_time ON rating(client_id, rated_at, id);
                CREATE INDEX rating_by_extension_time ON rating(client_id, extension_id, rated_at, id);
                """)
        }
        migrator.registerMigration("2-configuration", migrate: ConfigurationSchema.migrate)
        migrator.registerMigration("3-sounds", migrate: SoundSchema.migrate)
        migrator.registerMigration("4-ivr", migrate: IVRSchema.migrate)
        migrator.registerMigration("5-queue-ringing") { db in
            // How long an attempt rings and the pause between rounds (issue 8): an agent who
            // refuses at once was rung again in a tight loop. Defaults as QueueOptions says.
            try db.execute(sql: """
                ALTER TABLE queue ADD COLUMN ring_timeout INTEGER NOT NULL DEFAULT 20;
                ALTER TABLE queue ADD COLUMN retry_delay INTEGER NOT NULL DEFAULT 5;
                """)
        }
        migrator.registerMigration("6-rule-finish-sound") { db in
            // A quality_rate rule's finish_sound 0 now means the built-in "thank you", as a
            // queue's does (SPEC §4.1), and NULL means none (issue 8): rules stored with 0 meant
            // none, and keep playing nothing.
            try db.execute(sql: "UPDATE ivr_rule SET finish_sound = NULL WHERE action = 'quality_rate' AND finish_sound = 0")
        }
        migrator.registerMigration("7-open-calls") { db in
            // A call's history is written from the moment it is answered (issue 9), as an open
            // record that the end of the call closes. `open_run` names the server run (process)
            // that keeps it open, NULL once closed. A run that crashed leaves its records open; the
            // next run closes them with the last time known: the later of the record's own last
            // save and the heartbeat the crashed run wrote every few seconds (docs/API.md).
            try db.execute(sql: """
                ALTER TABLE call ADD COLUMN open_run TEXT;
                ALTER TABLE call ADD COLUMN is_bridged BOOLEAN NOT NULL DEFAULT FALSE;
                ALTER TABLE call_leg ADD COLUMN is_open BOOLEAN NOT NULL DEFAULT FALSE;
                CREATE INDEX call_open ON call(open_run) WHERE open_run IS NOT NULL;
                CREATE TABLE heartbeat (
                    run TEXT PRIMARY KEY,
                    beat_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("8-rating-notifications", migrate: NotificationSchema.migrate)
        migrator.registerMigration("9-rating-rollups") { db in
            // Superseded by migration 10, which drops this table.
            try db.execute(sql: "CREATE TABLE rating_rollup (client_id INTEGER)")
        }
        // Statistics fast over a year (issue 10): sums per local day instead of per quarter-hour,
        // and the rating prompts offered, for the response rate; RatingRollups.
        migrator.registerMigration("10-rating-day-rollups", migrate: RatingRollups.migrate)
        migrator.registerMigration("11-rating-alert-url", migrate: NotificationSchema.migrateAlertURL)
        migrator.registerMigration("12-trunks", migrate: TrunkSchema.migrate)
        migrator.registerMigration("13-outside-legs", migrate: TrunkSchema.migrateOutsideLegs)
        return migrator
    }
}
