import Domain
import NIOCore
import PostgresNIO
public import Storage

/// Uploaded sounds (SPEC §4, §7) on PostgreSQL: the converted audio as BYTEA.
extension PostgresStore {
    private static let soundInfoColumns = "id, client_id, title, filename, source_format, duration_ms, created_at, updated_at"

    public func soundExists(clientID: Int64, id: Int64) async throws -> Bool {
        try await read { connection in
            try await connection.query(
                "SELECT EXISTS (SELECT 1 FROM sound WHERE client_id = \(clientID) AND id = \(id))", logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        }
    }

    public func createSound(clientID: Int64, title: String, audio: SoundAudio) async throws -> SoundInfo {
        try await write { connection in
            let now = UnixTime.now()
            let row = try await connection.query(
                """
                INSERT INTO sound (client_id, title, filename, source_format, duration_ms, ulaw, alaw, created_at, updated_at)
                VALUES (\(clientID), \(title), \(audio.filename), \(audio.sourceFormat), \(audio.durationMilliseconds),
                    \(ByteBuffer(bytes: audio.ulaw)), \(ByteBuffer(bytes: audio.alaw)), \(now.seconds), \(now.seconds))
                RETURNING id
                """, logger: logger
            ).collect()
            let id = try row[0].decode(Int64.self)
            return SoundInfo(
                id: id, clientID: clientID, title: title, filename: audio.filename, sourceFormat: audio.sourceFormat,
                durationMilliseconds: audio.durationMilliseconds, createdAt: now, updatedAt: now)
        }
    }

    public func sounds(clientID: Int64) async throws -> [SoundInfo] {
        try await read { connection in
            try await Self.soundInfos(connection.query(
                "SELECT \(unescaped: Self.soundInfoColumns) FROM sound WHERE client_id = \(clientID) ORDER BY id", logger: logger))
        }
    }

    public func sound(clientID: Int64, id: Int64) async throws -> SoundInfo? {
        try await read { connection in try await soundInfo(connection, clientID: clientID, id: id) }
    }

    public func soundAudio(clientID: Int64, id: Int64) async throws -> SoundAudio? {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT filename, source_format, duration_ms, ulaw, alaw FROM sound WHERE client_id = \(clientID) AND id = \(id)",
                logger: logger)
            for try await (filename, sourceFormat, duration, ulaw, alaw) in rows.decode((String, String, Int64, ByteBuffer, ByteBuffer).self) {
                return SoundAudio(
                    filename: filename, sourceFormat: sourceFormat, durationMilliseconds: duration,
                    ulaw: Array(ulaw.readableBytesView), alaw: Array(alaw.readableBytesView))
            }
            return nil
        }
    }

    public func updateSoundTitle(clientID: Int64, id: Int64, title: String) async throws -> SoundInfo? {
        try await write { connection in
            try await Self.soundInfos(connection.query(
                """
                UPDATE sound SET title = \(title), updated_at = \(UnixTime.now().seconds) WHERE client_id = \(clientID) AND id = \(id)
                RETURNING \(unescaped: Self.soundInfoColumns)
                """, logger: logger)
            ).first
        }
    }

    public func replaceSoundAudio(clientID: Int64, id: Int64, title: String?, audio: SoundAudio) async throws -> SoundInfo? {
        try await write { connection in
            try await Self.soundInfos(connection.query(
                """
                UPDATE sound SET title = COALESCE(\(title), title), filename = \(audio.filename), source_format = \(audio.sourceFormat),
                    duration_ms = \(audio.durationMilliseconds), ulaw = \(ByteBuffer(bytes: audio.ulaw)), alaw = \(ByteBuffer(bytes: audio.alaw)),
                    updated_at = \(UnixTime.now().seconds)
                WHERE client_id = \(clientID) AND id = \(id)
                RETURNING \(unescaped: Self.soundInfoColumns)
                """, logger: logger)
            ).first
        }
    }

    public func deleteSound(clientID: Int64, id: Int64) async throws -> Bool {
        try await write { connection in
            // Locked: a concurrent delete of the same sound waits, then finds it gone.
            let found = try await connection.query(
                "SELECT 1 FROM sound WHERE client_id = \(clientID) AND id = \(id) FOR UPDATE", logger: logger
            ).collect()
            guard !found.isEmpty else { return false }
            var sound = PostgresBindings()
            sound.append(id)
            var usedBy: [String] = []
            for reference in SoundReferenceColumn.all {
                let places = try await connection.query(
                    PostgresQuery(unsafeSQL: reference.query(parameter: "$1"), binds: sound), logger: logger)
                for try await place in places.decode(String.self) { usedBy.append(place) }
            }
            guard usedBy.isEmpty else { throw SoundInUse(usedBy: usedBy) }
            try await connection.query("DELETE FROM sound WHERE client_id = \(clientID) AND id = \(id)", logger: logger)
            return true
        }
    }

    private func soundInfo(_ connection: PostgresConnection, clientID: Int64, id: Int64) async throws -> SoundInfo? {
        try await Self.soundInfos(connection.query(
            "SELECT \(unescaped: Self.soundInfoColumns) FROM sound WHERE client_id = \(clientID) AND id = \(id)", logger: logger)
        ).first
    }

    /// The rows of `soundInfoColumns`.
    private static func soundInfos(_ rows: PostgresRowSequence) async throws -> [SoundInfo] {
        var infos: [SoundInfo] = []
        for try await (id, clientID, title, filename, sourceFormat, duration, createdAt, updatedAt)
            in rows.decode((Int64, Int64, String, String, String, Int64, Int64, Int64).self)
        {
            infos.append(SoundInfo(
                id: id, clientID: clientID, title: title, filename: filename, sourceFormat: sourceFormat,
                durationMilliseconds: duration, createdAt: UnixTime(seconds: createdAt), updatedAt: UnixTime(seconds: updatedAt)))
        }
        return infos
    }
}
