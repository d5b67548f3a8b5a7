import Domain
import Foundation
public import Logging
import NIOCore
import PostgresNIO
public import ServiceLifecycle
public import Storage
import NIOSSL
import Synchronization

/// The `Store` on PostgreSQL (issue 12, SPEC §8): several nodes of the server share one
/// database. Every write is a transaction of its own on a pooled connection; the database, not
/// this process, keeps what the nodes must agree on.
///
/// The store is a `Service`: its `run` runs the connection pool and belongs to the service
/// group (`PostgresStore.withStore` runs it for a command's lifetime). Queries wait for a
/// connection until it runs; a database that goes away is reconnected to by the pool.
public final class PostgresStore: Service {
    let client: PostgresClient
    /// Set for a scratch store (`withScratchCopy`): every statement runs on this one connection,
    /// inside a transaction that is rolled back at the end, one store operation at a time.
    private let scratch: (connection: PostgresConnection, turns: Turns)?
    let logger: Logger
    /// This run of the server: the open records it saves and its heartbeat are marked with it,
    /// so that the runs still alive, on every node, are told from those that crashed.
    let run = UUID().uuidString
    /// The outcome of the last `probeWrites`; writes are taken to work until one has run.
    let health = Mutex(WriteHealth.ok)
    /// Claims this run's heartbeat must not renew, and since when: see `PostgresQueueState`.
    let unsureClaims = Mutex<[HeldClaim: ContinuousClock.Instant]>([:])
    /// Set as `run` starts.
    private let started = StartFlag()
    /// Set while the listener for other nodes' changes listens.
    private let listening = StartFlag()
    /// Rung when ratings with notifications are committed by this node.
    public let notificationDoorbell = Doorbell()
    /// Rung when ratings are committed by this node.
    public let ratingBroadcast = Broadcast()
    /// Rung when a trunk's configuration is committed by this node.
    public let trunkBroadcast = Broadcast()
    /// This node's rating and rating-offer writes, committed in batches (`insertRatings`,
    /// `recordRatingOffers`).
    let ratingWrites = BatchedWrites<[NewRating], [Rating]>()
    let offerWrites = BatchedWrites<[RatingOffer], Void>()

    public convenience init(
        location: PostgresLocation, maximumConnections: Int = 20, logger: Logger = Logger(label: "qualityrate.storage")
    ) {
        self.init(location: location, maximumConnections: maximumConnections, logger: logger, scratch: nil)
    }

    private init(
        location: PostgresLocation, maximumConnections: Int, logger: Logger, scratch: (connection: PostgresConnection, turns: Turns)?
    ) {
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: location.tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        // The default, but said: a server that restarts is noticed by its dead connections'
        // keep-alive and replaced, so nodes reconnect by themselves (issue 12).
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(15))
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.scratch = scratch
    }

    /// Runs the connection pool until the task is cancelled or the service group shuts the store
    /// down (list it first among the services: the group stops them in reverse order, so the
    /// database stays reachable while the calls and the API drain).
    public func run() async throws {
        started.flag.store(true, ordering: .releasing)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listenForChanges() }
            await client.run()
            // The pool is closed (cancelled, or the service group shuts the store down): the
            // listener has no connection left to listen on.
            group.cancelAll()
        }
    }

    /// Returns once `run` has started, for the code that started it in a task of its own: the
    /// pool warns of queries made before it runs (they wait for it meanwhile).
    public func untilRunning() async {
        while !started.flag.load(ordering: .acquiring) { await Task.yield() }
    }

    // MARK: Changes made by other nodes

    /// The channel nodes tell each other of changes on (LISTEN/NOTIFY); the payload names what
    /// changed.
    static let changeChannel = "qualityrate_changes"

    /// What a change notification can name, and what it rings here.
    enum Change: String {
        /// Ratings were committed: the live event streams (issue 10) look for them.
        case ratings
        /// Rating notifications were queued: the delivery service looks for them.
        case notifications
        /// A trunk's configuration changed: the trunk registration re-reads the trunks.
        case trunks
    }

    /// Tells the other nodes of `change`, when the transaction on `connection` commits. The
    /// payload names this run too: its own notifications come back to it, and it has rung its
    /// broadcasts already.
    func announce(_ change: Change, on connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_notify(\(Self.changeChannel), \(change.rawValue + " " + run))", logger: logger)
    }

    /// Whether this store listens to the other nodes' changes now.
    public var listensForChanges: Bool { listening.flag.load(ordering: .acquiring) }

    /// Rings this node's broadcasts when another node announces a change, so that what waits on
    /// them here (a live event stream, the trunk registration) hears of it at once. Notifications
    /// are a hint: they are lost while the listening connection is down (PostgreSQL restarted),
    /// so after every reconnection everything is rung once, and every waiter also re-reads on a
    /// timer of its own (event streams every 2 s, trunks every 30 s, routing caches after 2 s).
    private func listenForChanges() async {
        var connections = 0
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.changeChannel) { notifications in
                        connections += 1
                        listening.flag.store(true, ordering: .releasing)
                        if connections > 1 {
                            for change in [Change.ratings, .notifications, .trunks] { ring(change) }
                        }
                        for try await notification in notifications {
                            let words = notification.payload.split(separator: " ")
                            guard words.count == 2, words[1] != run, let change = Change(rawValue: String(words[0])) else { continue }
                            ring(change)
                        }
                    }
                }
            } catch {
                listening.flag.store(false, ordering: .releasing)
                // Closed by this side: the pool is shutting down, with the store.
                if Task.isCancelled || (error as? PSQLError)?.code == .clientClosedConnection { return }
                // The error of a LISTEN carries no value of the database's, only its code and
                // message (the connection lost, the server shutting down).
                logger.warning("listening for other nodes' changes failed; trying again", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func ring(_ change: Change) {
        switch change {
        case .ratings: ratingBroadcast.ring()
        case .notifications: notificationDoorbell.ring()
        case .trunks: trunkBroadcast.ring()
        }
    }

    /// Runs `body` with a store on `location`, migrated, its pool running for as long as `body`
    /// runs: for commands (`setup`, `demo`) and for migrating before a service group starts.
    public static func withStore<T: Sendable>(
        _ location: PostgresLocation, maximumConnections: Int = 4, logger: Logger, _ body: (PostgresStore) async throws -> T
    ) async throws -> T {
        let store = PostgresStore(location: location, maximumConnections: maximumConnections, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            await store.untilRunning()
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Runs `body` with a store on a copy of the database that no one else ever sees:
    /// `qualityrate simulate` (a scenario must not add to the real ratings). The copy is one
    /// transaction on one connection, rolled back when `body` returns: cheaper than copying a
    /// database, and possible while the nodes are connected (`CREATE DATABASE … TEMPLATE` needs
    /// the original to have no connections). Store operations take turns on that connection,
    /// each in a savepoint, as transactions of their own would behave.
    public static func withScratchCopy<T: Sendable>(
        _ location: PostgresLocation, logger: Logger, _ body: (PostgresStore) async throws -> T
    ) async throws -> T {
        // Two connections: the scratch copy's, and the one listening for other nodes' changes.
        try await withStore(location, maximumConnections: 2, logger: logger) { migrated in
            try await migrated.client.withConnection { connection in
                let store = PostgresStore(
                    location: location, maximumConnections: 1, logger: logger, scratch: (connection, Turns()))
                try await connection.query("BEGIN", logger: logger)
                do {
                    let result = try await body(store)
                    try await connection.query("ROLLBACK", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    // MARK: Migrations

    /// The migrations, in order: each an SQL file embedded in the binary.
    static let migrations: [(name: String, sql: [UInt8])] = [
        ("v01-schema", PackageResources.v01_schema_sql)
    ]

    /// Brings the schema forward. Nodes starting at once take turns on an advisory lock held by
    /// the migrating transaction, so each migration runs exactly once; DDL is transactional on
    /// PostgreSQL, so a failed migration leaves nothing half done. The pool must be running.
    public func migrate() async throws {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS schema_migration (name TEXT COLLATE "C" PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """, logger: logger)
                var applied: Set<String> = []
                for try await name in try await connection.query("SELECT name FROM schema_migration", logger: logger).decode(String.self) {
                    applied.insert(name)
                }
                for migration in Self.migrations where !applied.contains(migration.name) {
                    for statement in Self.statements(of: String(decoding: migration.sql, as: UTF8.self)) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_migration (name) VALUES (\(migration.name))", logger: logger)
                    logger.info("database migrated", metadata: ["schema": "\(migration.name)"])
                }
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// The statements of a migration file, one by one (PostgreSQL's extended protocol takes
    /// one at a time): each ends with `;` at the end of a line, outside a `$$`-quoted body.
    static func statements(of file: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in file.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.trimmingCharacters(in: .whitespaces)
            if code.hasPrefix("--") || (code.isEmpty && current.isEmpty) { continue }
            current += line + "\n"
            if code.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody, code.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        return statements
    }

    /// The advisory lock key of migrations (any constant; "qrmigrat" as a 64-bit integer).
    static let migrationLock: Int64 = 0x7172_6D69_6772_6174

    // MARK: Access for the extensions of this type

    /// A statement or several outside a transaction, on a pooled connection.
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        if let scratch {
            return try await scratch.turns.take { try await body(scratch.connection) }
        }
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            logFailure(error)
            throw error
        }
    }

    /// What the log says of a statement the database refused: its SQLSTATE and the table and
    /// constraint it names, never the server's message, which may quote the values (a caller's
    /// number, a name) — enough to tell a deadlock from a broken constraint or a lost connection.
    private func logFailure(_ error: any Error) {
        guard let failure = error as? PSQLError else { return }
        var metadata: Logger.Metadata = ["code": "\(failure.code)"]
        if let state = failure.serverInfo?[.sqlState] {
            // Refusals the callers answer themselves (a name taken) are theirs to report.
            guard state != "23505" else { return }
            metadata["sqlstate"] = "\(state)"
        }
        if let table = failure.serverInfo?[.tableName] { metadata["table"] = "\(table)" }
        if let constraint = failure.serverInfo?[.constraintName] { metadata["constraint"] = "\(constraint)" }
        logger.warning("database statement failed", metadata: metadata)
    }

    /// A transaction, committed when `body` returns, rolled back when it throws.
    func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        if let (connection, turns) = scratch {
            return try await turns.take {
                try await connection.query("SAVEPOINT store_write", logger: logger)
                do {
                    let result = try await body(connection)
                    try await connection.query("RELEASE SAVEPOINT store_write", logger: logger)
                    return result
                } catch {
                    try await connection.query("ROLLBACK TO SAVEPOINT store_write", logger: logger)
                    throw error
                }
            }
        }
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            // postgres-nio wraps what went wrong (a `StorageError` the body threw among others);
            // callers get it as it was thrown, as from every other store, or the database's own
            // error when BEGIN or COMMIT failed.
            let thrown = error.beginError ?? error.closureError ?? error.commitError ?? error
            logFailure(thrown)
            throw thrown
        }
    }

    /// Several statements that must see one state of the database, as one SQLite read does:
    /// `read` runs each statement on a snapshot of its own (READ COMMITTED). A scratch store's
    /// operations run one at a time in its one transaction, which nothing else changes.
    func snapshot<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        if scratch != nil { return try await read(body) }
        return try await write { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            return try await body(connection)
        }
    }

    /// A read within `probeDeadline`. With the database gone (a restart, a cut), the pool holds a
    /// statement waiting for a connection until its circuit breaker trips, a minute later: `/health`
    /// would hang that long instead of answering 503 (issue 12).
    public func checkHealth() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.read { connection in _ = try await connection.query("SELECT 1", logger: self.logger) } }
            group.addTask {
                try await Task.sleep(for: Self.probeDeadline)
                throw DatabaseNotAnswering()
            }
            // The first to finish decides; the other is cancelled (a connection lease waiting in
            // the pool gives up on cancellation).
            try await group.next()
            group.cancelAll()
        }
    }

    struct DatabaseNotAnswering: Error {}

    // MARK: Errors

    /// SQLSTATE 23505, unique_violation: a unique value already used.
    static func translatingConflicts<T>(field: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StorageError.conflict(field: field)
        }
    }
}

/// One at a time: store operations on a scratch store's single connection wait for their turn
/// (a savepoint of one must not interleave with another's statements).
final class Turns: Sendable {
    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func take<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
        defer {
            let next = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.busy = false
                    return nil as CheckedContinuation<Void, Never>?
                }
                return state.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}

/// A flag one task sets and others read.
private final class StartFlag: Sendable {
    let flag = Atomic(false)
}

/// Where the database is, read from a `postgres://user:password@host:port/database?sslmode=…`
/// URL (libpq's form). The password is never shown: `description` leaves it out, so the
/// location can be logged.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    var tls: PostgresClient.Configuration.TLS

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let reason): "--database: \(reason)" }
        }
    }

    public init(url text: String) throws {
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw ParseError.invalid("not a postgres://user:password@host:port/database URL")
        }
        guard let host = components.host, !host.isEmpty else { throw ParseError.invalid("the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw ParseError.invalid("the URL names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw ParseError.invalid("the URL names no database") }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        // URLComponents gives user and password percent-decoded.
        username = user
        password = components.password
        self.database = database
        switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        case let other: throw ParseError.invalid("sslmode \(other) is not one of disable, prefer, require")
        }
    }

    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(username)@\(host):\(port)/\(database)"
    }
}

extension PostgresStore: Store {}
