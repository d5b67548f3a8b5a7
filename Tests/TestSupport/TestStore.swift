import Foundation
import GRDB
import Logging
import PostgresNIO
public import PostgresStorage
public import Storage

/// A fresh, migrated store for one test, on the database the run is for (issue 12): SQLite in a
/// temporary file, or — when `QR_TEST_POSTGRES` holds the URL of a PostgreSQL server the tests may
/// create databases on (`scripts/test` starts one) — a new PostgreSQL database of its own, made
/// from a migrated template. The same tests then hold for both stores.
public final class TestStore: Sendable {
    public let store: any Store
    /// The database's location as `qualityrate --database` takes it.
    public let location: String
    private let sqliteFolder: TemporaryDatabase?
    private let pool: Task<Void, Never>?

    /// Whether this run's stores are on PostgreSQL.
    public static var isPostgres: Bool { postgresServer != nil }

    private static let postgresServer: String? = {
        guard let url = ProcessInfo.processInfo.environment["QR_TEST_POSTGRES"], !url.isEmpty else { return nil }
        return url
    }()

    /// A new database with nothing in it, not even the schema (PostgreSQL runs only): to
    /// test what migrating does.
    public static func emptyPostgresDatabase() async throws -> PostgresLocation {
        guard let server = postgresServer else { throw PostgresLocation.ParseError.invalid("QR_TEST_POSTGRES is not set") }
        let name = try await PostgresTemplate.shared.newDatabase(server: server, template: "template0")
        return try PostgresTemplate.location(server: server, database: name)
    }

    public init() async throws {
        if let server = Self.postgresServer {
            let name = try await PostgresTemplate.shared.newDatabase(server: server)
            let location = try PostgresTemplate.location(server: server, database: name)
            let store = PostgresStore(location: location, maximumConnections: 8, logger: Logger(label: "test.storage"))
            pool = Task<Void, Never> { try? await store.run() }
            await store.untilRunning()
            try await store.migrate()
            self.store = store
            self.location = try PostgresTemplate.url(server: server, database: name)
            sqliteFolder = nil
        } else {
            let folder = try TemporaryDatabase()
            store = try SQLiteStore(path: folder.path)
            location = folder.path
            sqliteFolder = folder
            pool = nil
        }
    }

    /// A second store on the same database, as another process (or node) would open it; its pool
    /// runs until `self` goes away.
    public func reopen() async throws -> any Store {
        guard let server = Self.postgresServer else { return try SQLiteStore(path: location) }
        let name = String(location.split(separator: "/").last?.split(separator: "?").first ?? "")
        let store = PostgresStore(
            location: try PostgresTemplate.location(server: server, database: name), maximumConnections: 4,
            logger: Logger(label: "test.storage"))
        let task = Task<Void, Never> { try? await store.run() }
        reopened.withLock { $0.append(task) }
        await store.untilRunning()
        try await store.migrate()
        return store
    }

    private let reopened = Mutex<[Task<Void, Never>]>([])

    /// Runs one SQL statement on the database behind the store's back, as an operator (or a
    /// failing disk) would: to break the database under a running server.
    public func execute(_ sql: String) async throws {
        guard let server = Self.postgresServer else {
            let queue = try DatabaseQueue(path: location)
            try await queue.write { db in try db.execute(sql: sql) }
            return
        }
        let name = String(location.split(separator: "/").last?.split(separator: "?").first ?? "")
        try await PostgresTemplate.connect(server: server, database: name) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test.storage"))
        }
    }

    deinit {
        // Ends the pools: their connections close, so the server's connection count stays bounded
        // over a run of many tests. The databases stay until the test server is removed.
        pool?.cancel()
        reopened.withLock { $0.forEach { $0.cancel() } }
    }
}

import Synchronization

/// Creating one database per test by copying a migrated template (`CREATE DATABASE … TEMPLATE`),
/// which is much faster than migrating each; the template is made once per test process.
actor PostgresTemplate {
    static let shared = PostgresTemplate()
    private var template: Task<String, any Error>?
    private var created = 0
    private let prefix = "qr_test_\(ProcessInfo.processInfo.processIdentifier)"

    static func url(server: String, database: String) throws -> String {
        guard var components = URLComponents(string: server) else { throw PostgresLocation.ParseError.invalid(server) }
        components.path = "/" + database
        return components.string ?? server
    }

    static func location(server: String, database: String) throws -> PostgresLocation {
        try PostgresLocation(url: url(server: server, database: database))
    }

    func newDatabase(server: String, template: String? = nil) async throws -> String {
        let template = if let template { template } else { try await templateName(server: server) }
        created += 1
        let name = "\(prefix)_\(created)"
        try await Self.connect(server: server) { connection in
            // A template may be read by no one while it is copied; the pool that migrated it
            // closes its connections just before, so the copy waits out that last moment.
            for attempt in 1...50 {
                do {
                    _ = try await connection.simpleQuery("CREATE DATABASE \(name) TEMPLATE \(template)").get()
                    return
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55006" && attempt < 50 {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        return name
    }

    /// The migrated template, made by the first test that asks; the others wait for that one
    /// making (a task, so that tests arriving while it is made do not make it again).
    private func templateName(server: String) async throws -> String {
        if let making = template { return try await making.value }
        let name = "\(prefix)_template"
        let making = Task {
            try await Self.connect(server: server) { connection in
                _ = try await connection.simpleQuery("DROP DATABASE IF EXISTS \(name)").get()
                _ = try await connection.simpleQuery("CREATE DATABASE \(name)").get()
            }
            try await PostgresStore.withStore(try Self.location(server: server, database: name), logger: Logger(label: "test.storage")) { _ in }
            return name
        }
        template = making
        return try await making.value
    }

    /// Runs `body` on a connection of its own to `database`, by default the server's
    /// administrative database (the one its URL names).
    static func connect(server: String, database: String? = nil, _ body: (PostgresConnection) async throws -> Void) async throws {
        let location = try database.map { try Self.location(server: server, database: $0) } ?? PostgresLocation(url: server)
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test.storage"))
        do {
            try await body(connection)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
