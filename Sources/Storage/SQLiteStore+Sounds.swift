public import Domain
import GRDB

extension SQLiteStore {
    public func soundExists(clientID: Int64, id: Int64) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sound WHERE client_id = ? AND id = ?)", arguments: [clientID, id]) ?? false
        }
    }
}
