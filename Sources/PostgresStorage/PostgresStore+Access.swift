public import Domain
import PostgresNIO
public import Storage

/// Clients, users, applications, tokens and the list of a client's extensions on PostgreSQL, as
/// `SQLiteStore` keeps them.
extension PostgresStore {
    // MARK: Clients

    public func createClient(name: String, timezone: String, domain: String) async throws -> Client {
        let id = try await write { connection in
            try await Self.translatingConflicts(field: "domain") {
                try await connection.query("""
                    INSERT INTO client (name, timezone, domain, created_at) VALUES (\(name), \(timezone), \(domain), \(UnixTime.now().seconds))
                    RETURNING id
                    """, logger: logger).decodeOne(Int64.self)
            }
        }
        return Client(id: id, name: name, timezone: timezone, domain: domain)
    }

    static let clientColumns = "id, name, timezone, domain, rating_notification_url, rating_alert_threshold, rating_alert_url"

    public func client(id: Int64) async throws -> Client? {
        try await read { connection in
            try await Self.client(
                from: connection.query("SELECT \(unescaped: Self.clientColumns) FROM client WHERE id = \(id)", logger: logger))
        }
    }

    public func updateClient(_ client: Client) async throws {
        try await updateClient(client, replacingNotificationSecret: nil)
    }

    public func isDomainTaken(_ domain: String) async throws -> Bool {
        try await read { connection in
            try await connection.query("SELECT EXISTS (SELECT 1 FROM client WHERE domain = \(domain))", logger: logger)
                .decodeOne(Bool.self)
        }
    }

    public func client(domain: String) async throws -> Client? {
        try await read { connection in
            // ASCII letters only, as SQLite's NOCASE: lower() folds by the collation of its
            // argument, C for the column and, said here, for the value too. The expression is
            // `client_by_domain`'s.
            try await Self.client(
                from: connection.query(
                    "SELECT \(unescaped: Self.clientColumns) FROM client WHERE lower(domain) = lower(\(domain) COLLATE \"C\")",
                    logger: logger))
        }
    }

    /// The first client of `rows`, selected as `clientColumns`.
    static func client(from rows: PostgresRowSequence) async throws -> Client? {
        for try await (id, name, timezone, domain, notificationURL, alertThreshold, alertURL) in rows.decode(
            (Int64, String, String, String, String?, Int64?, String?).self)
        {
            return Client(
                id: id, name: name, timezone: timezone, domain: domain, ratingNotificationURL: notificationURL,
                ratingAlertThreshold: alertThreshold, ratingAlertURL: alertURL)
        }
        return nil
    }

    // MARK: Users, applications, tokens

    public func createUser(_ user: NewUser) async throws -> User {
        let id = try await write { connection in
            try await Self.translatingConflicts(field: "username") {
                try await connection.query("""
                    INSERT INTO app_user (client_id, username, password_hash, is_admin)
                    VALUES (\(user.clientID), \(user.username), \(user.passwordHash), \(user.isAdmin)) RETURNING id
                    """, logger: logger).decodeOne(Int64.self)
            }
        }
        return User(id: id, clientID: user.clientID, username: user.username, passwordHash: user.passwordHash, isAdmin: user.isAdmin)
    }

    public func user(id: Int64) async throws -> User? {
        try await read { connection in
            try await Self.user(from: connection.query(
                "SELECT id, client_id, username, password_hash, is_admin FROM app_user WHERE id = \(id)", logger: logger))
        }
    }

    public func user(username: String) async throws -> User? {
        try await read { connection in
            try await Self.user(from: connection.query(
                "SELECT id, client_id, username, password_hash, is_admin FROM app_user WHERE username = \(username)", logger: logger))
        }
    }

    private static func user(from rows: PostgresRowSequence) async throws -> User? {
        for try await (id, clientID, username, passwordHash, isAdmin) in rows.decode((Int64, Int64, String, String, Bool).self) {
            return User(id: id, clientID: clientID, username: username, passwordHash: passwordHash, isAdmin: isAdmin)
        }
        return nil
    }

    public func createApplication(_ application: NewApplication) async throws -> Application {
        let id = try await write { connection in
            try await Self.translatingConflicts(field: "app_id") {
                try await connection.query("""
                    INSERT INTO application (app_id, user_id, name, type, access, secret_hash)
                    VALUES (\(application.appID), \(application.userID), \(application.name), \(application.type.rawValue),
                        \(application.access.rawValue), \(application.secretHash))
                    RETURNING id
                    """, logger: logger).decodeOne(Int64.self)
            }
        }
        return Application(
            id: id, appID: application.appID, userID: application.userID, name: application.name, type: application.type,
            access: application.access, secretHash: application.secretHash)
    }

    public func application(appID: String) async throws -> Application? {
        try await read { connection in
            try await Self.application(from: connection.query(
                "SELECT id, app_id, user_id, name, type, access, secret_hash FROM application WHERE app_id = \(appID)", logger: logger))
        }
    }

    public func application(id: Int64) async throws -> Application? {
        try await read { connection in
            try await Self.application(from: connection.query(
                "SELECT id, app_id, user_id, name, type, access, secret_hash FROM application WHERE id = \(id)", logger: logger))
        }
    }

    /// The first application of `rows`; nil as well when its type or access is one this version
    /// does not know, as on SQLite.
    private static func application(from rows: PostgresRowSequence) async throws -> Application? {
        for try await (id, appID, userID, name, type, access, secretHash) in rows.decode(
            (Int64, String, Int64, String, String, String, String).self)
        {
            guard let type = ApplicationType(rawValue: type), let access = AccessLevel(rawValue: access) else { return nil }
            return Application(id: id, appID: appID, userID: userID, name: name, type: type, access: access, secretHash: secretHash)
        }
        return nil
    }

    public func saveToken(_ token: StoredToken) async throws {
        try await write { connection in
            _ = try await connection.query("""
                INSERT INTO token (hash, kind, application_id, user_id, expires_at)
                VALUES (\(token.hash), \(token.kind.rawValue), \(token.applicationID), \(token.userID), \(token.expiresAt.seconds))
                """, logger: logger)
        }
    }

    public func token(hash: String) async throws -> StoredToken? {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT hash, kind, application_id, user_id, expires_at FROM token WHERE hash = \(hash)", logger: logger)
            for try await (hash, kind, applicationID, userID, expiresAt) in rows.decode((String, String, Int64, Int64, Int64).self) {
                guard let kind = StoredToken.Kind(rawValue: kind) else { return nil }
                return StoredToken(hash: hash, kind: kind, applicationID: applicationID, userID: userID, expiresAt: UnixTime(seconds: expiresAt))
            }
            return nil
        }
    }

    public func deleteToken(hash: String) async throws -> Bool {
        // One statement: of two requests racing with the same refresh token, one deletes the row.
        try await write { connection in
            try await connection.query("DELETE FROM token WHERE hash = \(hash) RETURNING 1", logger: logger).count() == 1
        }
    }

    public func deleteTokens(expiredBefore instant: UnixTime) async throws {
        try await write { connection in
            _ = try await connection.query("DELETE FROM token WHERE expires_at < \(instant.seconds)", logger: logger)
        }
    }

    // MARK: Extensions

    public func extensions(clientID: Int64) async throws -> [Extension] {
        try await read { connection in
            try await Self.extensions(from: connection.query(
                "SELECT \(unescaped: Self.extensionColumns) FROM extension WHERE client_id = \(clientID) ORDER BY id", logger: logger))
        }
    }

    static let extensionColumns = "id, client_id, name, type, label, status, created_at"

    /// The extensions of `rows`, selected as `extensionColumns`; one of a kind this version does
    /// not know is left out, as on SQLite.
    static func extensions(from rows: PostgresRowSequence) async throws -> [Extension] {
        var extensions: [Extension] = []
        for try await (id, clientID, name, type, label, status, createdAt) in rows.decode(
            (Int64, Int64, String, String, String, String, Int64).self)
        {
            guard let kind = Extension.Kind(rawValue: type) else { continue }
            extensions.append(Extension(
                id: id, clientID: clientID, name: name, kind: kind, label: label, status: status, createdAt: UnixTime(seconds: createdAt)))
        }
        return extensions
    }
}
