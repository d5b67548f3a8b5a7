public import Domain
import GRDB

extension SQLiteStore {
    public func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM extension WHERE client_id = ? AND id = ?", arguments: [clientID, id])
                .flatMap(Self.extension(from:))
        }
    }

    public func dialTarget(clientID: Int64, number: String) async throws -> DialTarget? {
        try await read { db in
            if let row = try Row.fetchOne(
                db, sql: "SELECT * FROM extension WHERE client_id = ? AND name = ?", arguments: [clientID, number]),
                let found = Self.extension(from: row)
            {
                return .extension(found)
            }
            return try Row.fetchOne(
                db, sql: "SELECT id, name, extension_id FROM did WHERE client_id = ? AND name = ?", arguments: [clientID, number]
            ).map { row in DialTarget.did(id: row["id"], number: row["name"], extensionID: row["extension_id"]) }
        }
    }
}
