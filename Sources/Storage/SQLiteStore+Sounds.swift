import Domain
import Foundation
import GRDB

extension SQLiteStore {
    private static let infoColumns = "id, client_id, title, filename, source_format, duration_ms, created_at, updated_at"

    public func soundExists(clientID: Int64, id: Int64) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sound WHERE client_id = ? AND id = ?)", arguments: [clientID, id]) ?? false
        }
    }

    public func createSound(clientID: Int64, title: String, audio: SoundAudio) async throws -> SoundInfo {
        try await write { db in
            let now = UnixTime.now()
            try db.execute(
                sql: """
                    INSERT INTO sound (client_id, title, filename, source_format, duration_ms, ulaw, alaw, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    clientID, title, audio.filename, audio.sourceFormat, audio.durationMilliseconds, Data(audio.ulaw),
                    Data(audio.alaw), now.seconds, now.seconds,
                ])
            return SoundInfo(
                id: db.lastInsertedRowID, clientID: clientID, title: title, filename: audio.filename,
                sourceFormat: audio.sourceFormat, durationMilliseconds: audio.durationMilliseconds, createdAt: now, updatedAt: now)
        }
    }

    public func sounds(clientID: Int64) async throws -> [SoundInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.infoColumns) FROM sound WHERE client_id = ? ORDER BY id", arguments: [clientID])
                .map(Self.soundInfo(from:))
        }
    }

    public func sound(clientID: Int64, id: Int64) async throws -> SoundInfo? {
        try await read { db in try Self.soundInfo(db, clientID: clientID, id: id) }
    }

    public func soundAudio(clientID: Int64, id: Int64) async throws -> SoundAudio? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT filename, source_format, duration_ms, ulaw, alaw FROM sound WHERE client_id = ? AND id = ?",
                arguments: [clientID, id]
            ).map { row in
                SoundAudio(
                    filename: row["filename"], sourceFormat: row["source_format"], durationMilliseconds: row["duration_ms"],
                    ulaw: [UInt8](row["ulaw"] as Data), alaw: [UInt8](row["alaw"] as Data))
            }
        }
    }

    public func updateSoundTitle(clientID: Int64, id: Int64, title: String) async throws -> SoundInfo? {
        try await write { db in
            try db.execute(
                sql: "UPDATE sound SET title = ?, updated_at = ? WHERE client_id = ? AND id = ?",
                arguments: [title, UnixTime.now().seconds, clientID, id])
            return try Self.soundInfo(db, clientID: clientID, id: id)
        }
    }

    public func replaceSoundAudio(clientID: Int64, id: Int64, title: String?, audio: SoundAudio) async throws -> SoundInfo? {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE sound SET title = COALESCE(?, title), filename = ?, source_format = ?, duration_ms = ?, ulaw = ?,
                        alaw = ?, updated_at = ?
                    WHERE client_id = ? AND id = ?
                    """,
                arguments: [
                    title, audio.filename, audio.sourceFormat, audio.durationMilliseconds, Data(audio.ulaw), Data(audio.alaw),
                    UnixTime.now().seconds, clientID, id,
                ])
            return try Self.soundInfo(db, clientID: clientID, id: id)
        }
    }

    public func deleteSound(clientID: Int64, id: Int64) async throws -> Bool {
        try await write { db in
            guard try Self.soundInfo(db, clientID: clientID, id: id) != nil else { return false }
            let usedBy = try SoundReferenceColumn.all.flatMap { reference in
                try String.fetchAll(db, sql: reference.query(parameter: "?"), arguments: [id])
            }
            guard usedBy.isEmpty else { throw SoundInUse(usedBy: usedBy) }
            try db.execute(sql: "DELETE FROM sound WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            return true
        }
    }

    private static func soundInfo(_ db: Database, clientID: Int64, id: Int64) throws -> SoundInfo? {
        try Row.fetchOne(db, sql: "SELECT \(infoColumns) FROM sound WHERE client_id = ? AND id = ?", arguments: [clientID, id])
            .map(soundInfo(from:))
    }

    private static func soundInfo(from row: Row) -> SoundInfo {
        SoundInfo(
            id: row["id"], clientID: row["client_id"], title: row["title"], filename: row["filename"],
            sourceFormat: row["source_format"], durationMilliseconds: row["duration_ms"],
            createdAt: UnixTime(seconds: row["created_at"]), updatedAt: UnixTime(seconds: row["updated_at"]))
    }
}
