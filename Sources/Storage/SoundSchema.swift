import GRDB

/// Uploaded sounds, kept as converted 8 kHz G.711 audio ready for playback, so a call never
/// converts audio while it plays.
enum SoundSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE sound (
                id INTEGER PRIMARY KEY,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                title TEXT NOT NULL,
                filename TEXT NOT NULL,
                source_format TEXT NOT NULL,
                duration_ms INTEGER NOT NULL,
                ulaw BLOB NOT NULL,
                alaw BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE INDEX sound_by_client ON sound(client_id, id);
            """)
    }
}
