import GRDB

/// Voice menus (SPEC §4.2). Rule parameters sit in typed columns named like their API fields, so
/// every stored rule reads with plain SQL; only the columns of a rule's action are set.
enum IVRSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            -- A row appears when the options are first changed; an IVR without one has the defaults.
            CREATE TABLE ivr (
                extension_id INTEGER PRIMARY KEY REFERENCES extension(id) ON DELETE CASCADE,
                entry_context INTEGER NOT NULL DEFAULT 0,
                lifetime INTEGER NOT NULL DEFAULT 0,
                lifetime_exp_action TEXT NOT NULL DEFAULT 'hangup',
                lifetime_exp_transfer_dst TEXT,
                sleep_time INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE ivr_context (
                id INTEGER PRIMARY KEY,
                ivr_id INTEGER NOT NULL REFERENCES extension(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                timeout INTEGER NOT NULL DEFAULT 5000,
                inter_digit_timeout INTEGER NOT NULL DEFAULT 2000,
                digit_len INTEGER,
                UNIQUE (ivr_id, name)
            );
            -- `context` (the target of jump_to_context) has no foreign key: deleting a whole IVR removes its contexts in any
            -- order, and deleting one targeted context is refused by the store, naming the rule.
            CREATE TABLE ivr_rule (
                id INTEGER PRIMARY KEY,
                context_id INTEGER NOT NULL REFERENCES ivr_context(id) ON DELETE CASCADE,
                option_digits TEXT NOT NULL,
                position INTEGER NOT NULL,
                action TEXT NOT NULL,
                did TEXT,
                caller_id TEXT,
                caller_id_action TEXT NOT NULL DEFAULT 'any',
                sound INTEGER,
                sound_type TEXT,
                transfer_dst TEXT,
                context INTEGER,
                context_option TEXT,
                set_variable_name TEXT,
                set_variable_value TEXT,
                record_digits_variable TEXT,
                record_digits_max INTEGER,
                record_digits_sound INTEGER,
                call_interactive_url TEXT,
                call_interactive_method TEXT,
                max_rate INTEGER,
                finish_sound INTEGER
            );
            CREATE INDEX ivr_rule_by_option ON ivr_rule(context_id, option_digits, position);
            CREATE INDEX ivr_rule_by_jump ON ivr_rule(context);
            """)
    }
}
