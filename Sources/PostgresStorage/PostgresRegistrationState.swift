import Foundation
import Logging
import NIOCore
import PostgresNIO
public import Storage

/// `RegistrationState` in the database shared by the nodes (issue 12): a phone registered
/// through any node is rung by every node, and a digest nonce one node sent is taken by the next
/// (behind a proxy, a phone's REGISTER and its authenticated retry may reach different nodes).
public struct PostgresRegistrationState: RegistrationState {
    let store: PostgresStore

    public func nonceSecret() async throws -> [UInt8] {
        let candidate = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
        return try await store.read { connection in
            // The first node to start makes it; every other node (and restart) reads that one.
            try await connection.query(
                """
                INSERT INTO shared_secret (name, secret) VALUES ('sip-digest-nonces', \(ByteBuffer(bytes: candidate)))
                ON CONFLICT (name) DO NOTHING
                """, logger: store.logger)
            for try await secret in try await connection.query(
                "SELECT secret FROM shared_secret WHERE name = 'sip-digest-nonces'", logger: store.logger
            ).decode(ByteBuffer.self) {
                return Array(buffer: secret)
            }
            throw StorageError.notFound("the digest nonce secret")
        }
    }

    public func bindings(of aor: String) async throws -> VersionedBindings {
        try await store.read { connection in
            for try await (version, bindings) in try await connection.query(
                "SELECT version, bindings FROM sip_aor WHERE aor = \(aor)", logger: store.logger
            ).decode((Int64, String).self) {
                return VersionedBindings(bindings: try JSONDecoder().decode([StoredBinding].self, from: Data(bindings.utf8)), version: version)
            }
            return VersionedBindings(bindings: [], version: 0)
        }
    }

    public func saveBindings(_ bindings: [StoredBinding], of aor: String, replacing version: Int64) async throws -> Bool {
        let json = String(decoding: try JSONEncoder().encode(bindings), as: UTF8.self)
        let expiresAt = bindings.map(\.expiresAt).max() ?? 0
        return try await store.write { connection in
            // Bindings over for a while are removed with every write, so the table holds the
            // phones registered now and those of the last minutes.
            try await connection.query(
                "DELETE FROM sip_aor WHERE expires_at < \(Int64(Date().timeIntervalSince1970) - 600)", logger: store.logger)
            let rows: PostgresRowSequence
            if version == 0 {
                rows = try await connection.query(
                    """
                    INSERT INTO sip_aor (aor, version, bindings, expires_at) VALUES (\(aor), 1, \(json), \(expiresAt))
                    ON CONFLICT (aor) DO NOTHING RETURNING 1
                    """, logger: store.logger)
            } else {
                rows = try await connection.query(
                    """
                    UPDATE sip_aor SET version = version + 1, bindings = \(json), expires_at = \(expiresAt)
                    WHERE aor = \(aor) AND version = \(version) RETURNING 1
                    """, logger: store.logger)
            }
            for try await _ in rows { return true }
            return false
        }
    }
}

extension PostgresRegistrationState {
    public func acceptNonceCount(_ count: UInt32, of nonce: String, until expiresAt: Int64) async throws -> Bool {
        try await store.write { connection in
            // Counts of nonces no longer taken are of no use: dropped as new ones come.
            try await connection.query(
                "DELETE FROM nonce_use WHERE expires_at < \(Int64(Date().timeIntervalSince1970))", logger: store.logger)
            let taken = try await connection.query(
                """
                INSERT INTO nonce_use (nonce, count, expires_at) VALUES (\(nonce), \(Int64(count)), \(expiresAt))
                ON CONFLICT (nonce) DO UPDATE SET count = excluded.count WHERE nonce_use.count < excluded.count
                RETURNING 1
                """, logger: store.logger)
            for try await _ in taken { return true }
            return false
        }
    }
}

extension PostgresStore {
    public var registrationState: any RegistrationState { PostgresRegistrationState(store: self) }
}
