public import Domain
import Foundation
import GRDB
import Synchronization
public import Logging

/// The embedded default store: one SQLite file in WAL mode, one writer and a pool of readers,
/// so that API reads never wait behind the calls that write ratings.
public final class SQLiteStore: Store {
    private let pool: DatabasePool
    /// Ratings and call histories, the writes every call makes, are committed in groups.
    let callWrites: GroupCommit
    /// The folder of the database file, whose free space `probeWrites` checks.
    let directory: String
    /// The outcome of the last `probeWrites`; writes are taken to work until one has run.
    let health = Mutex(WriteHealth.ok)
    /// This run of the server (one store per process): the open records it saves and its
    /// heartbeat are marked with it, so that a later run knows which records a crash left open.
    let run = UUID().uuidString
    /// Rung when ratings with notifications are committed (issue 10).
    public let notificationDoorbell = Doorbell()
    /// Rung when any ratings are committed (issue 10): the live event streams.
    public let ratingBroadcast = Broadcast()
    /// Rung when a trunk's configuration is committed (issue 11): the trunk registration.
    public let trunkBroadcast = Broadcast()
    /// One server per SQLite file (SPEC §8): the queues' state is this process's.
    public let queueState: any QueueState = LocalQueueState()
    public let registrationState: any RegistrationState = LocalRegistrationState()
    public let trunkState: any TrunkState = LocalTrunkState()

    /// Opens (creating when needed) and migrates the database at `path`.
    public init(path: String, logger: Logger = Logger(label: "qualityrate.storage")) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 8
        configuration.foreignKeysEnabled = true
        pool = try DatabasePool(path: path, configuration: configuration)
        directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        // A rating is answered as stored only once it is on disk (SPEC §2.1): WAL with
        // synchronous=FULL syncs every commit, where GRDB's WAL default (NORMAL) could lose the
        // last commits to a power cut. Only the one writer connection writes, so it is set there,
        // after GRDB's own WAL set-up.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        callWrites = GroupCommit(pool: pool)
        let migrator = Schema.migrator
        let wasCurrent = try pool.read { db in try migrator.hasCompletedMigrations(db) }
        try migrator.migrate(pool)
        if !wasCurrent {
            logger.info("database migrated", metadata: ["path": "\(path)", "schema": "\(migrator.migrations.last ?? "")"])
        }
    }

    /// A consistent copy of the whole database in a new file (SQLite's online backup), e.g. for
    /// a simulation that must not add to the real data.
    public func copy(to path: String) throws {
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
    }

    /// How commits reach the disk, as `journal_mode=…, synchronous=…` of the writer connection.
    public func durability() async throws -> String {
        try await pool.writeWithoutTransaction { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?"
            let level = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            let names = ["OFF", "NORMAL", "FULL", "EXTRA"]
            return "journal_mode=\(mode), synchronous=\(names.indices.contains(level) ? names[level] : String(level))"
        }
    }

    /// A read on the reader pool, for the extensions of this type in other files.
    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// A write transaction, committed when `body` returns.
    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await pool.write(body)
    }

    public func checkHealth() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Clients

    public func createClient(name: String, timezone: String, domain: String) async throws -> Client {
        try await pool.write { db in
            try Self.translatingConflicts(field: "domain") {
                try db.execute(
                    sql: "INSERT INTO client (name, timezone, domain, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [name, timezone, domain, UnixTime.now().seconds])
            }
            return Client(id: db.lastInsertedRowID, name: name, timezone: timezone, domain: domain)
        }
    }

    public func client(id: Int64) async throws -> Client? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM client WHERE id = ?", arguments: [id]).map(Self.client(from:))
        }
    }

    public func updateClient(_ client: Client) async throws {
        try await updateClient(client, replacingNotificationSecret: nil)
    }

    public func isDomainTaken(_ domain: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM client WHERE domain = ?)", arguments: [domain]) ?? false
        }
    }

    public func client(domain: String) async throws -> Client? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM client WHERE domain = ? COLLATE NOCASE", arguments: [domain]).map(Self.client(from:))
        }
    }

    static func client(from row: Row) -> Client {
        Client(
            id: row["id"], name: row["name"], timezone: row["timezone"], domain: row["domain"],
            ratingNotificationURL: row["rating_notification_url"], ratingAlertThreshold: row["rating_alert_threshold"],
            ratingAlertURL: row["rating_alert_url"])
    }

    // MARK: Users, applications, tokens

    public func createUser(_ user: NewUser) async throws -> User {
        try await pool.write { db in
            try Self.translatingConflicts(field: "username") {
                try db.execute(
                    sql: "INSERT INTO app_user (client_id, username, password_hash, is_admin) VALUES (?, ?, ?, ?)",
                    arguments: [user.clientID, user.username, user.passwordHash, user.isAdmin])
            }
            return User(
                id: db.lastInsertedRowID, clientID: user.clientID, username: user.username,
                passwordHash: user.passwordHash, isAdmin: user.isAdmin)
        }
    }

    public func user(id: Int64) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM app_user WHERE id = ?", arguments: [id]).map(Self.user(from:))
        }
    }

    public func user(username: String) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM app_user WHERE username = ?", arguments: [username]).map(Self.user(from:))
        }
    }

    private static func user(from row: Row) -> User {
        User(id: row["id"], clientID: row["client_id"], username: row["username"], passwordHash: row["password_hash"], isAdmin: row["is_admin"])
    }

    public func createApplication(_ application: NewApplication) async throws -> Application {
        try await pool.write { db in
            try Self.translatingConflicts(field: "app_id") {
                try db.execute(
                    sql: "INSERT INTO application (app_id, user_id, name, type, access, secret_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        application.appID, application.userID, application.name, application.type.rawValue,
                        application.access.rawValue, application.secretHash,
                    ])
            }
            return Application(
                id: db.lastInsertedRowID, appID: application.appID, userID: application.userID, name: application.name,
                type: application.type, access: application.access, secretHash: application.secretHash)
        }
    }

    public func application(appID: String) async throws -> Application? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM application WHERE app_id = ?", arguments: [appID]).flatMap(Self.application(from:))
        }
    }

    public func application(id: Int64) async throws -> Application? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM application WHERE id = ?", arguments: [id]).flatMap(Self.application(from:))
        }
    }

    private static func application(from row: Row) -> Application? {
        guard let type = ApplicationType(rawValue: row["type"]), let access = AccessLevel(rawValue: row["access"])
        else { return nil }
        return Application(
            id: row["id"], appID: row["app_id"], userID: row["user_id"], name: row["name"], type: type,
            access: access, secretHash: row["secret_hash"])
    }

    public func saveToken(_ token: StoredToken) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO token (hash, kind, application_id, user_id, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.hash, token.kind.rawValue, token.applicationID, token.userID, token.expiresAt.seconds])
        }
    }

    public func token(hash: String) async throws -> StoredToken? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM token WHERE hash = ?", arguments: [hash]),
                let kind = StoredToken.Kind(rawValue: row["kind"])
            else { return nil }
            return StoredToken(
                hash: row["hash"], kind: kind, applicationID: row["application_id"], userID: row["user_id"],
                expiresAt: UnixTime(seconds: row["expires_at"]))
        }
    }

    public func deleteToken(hash: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM token WHERE hash = ?", arguments: [hash])
            return db.changesCount == 1
        }
    }

    public func deleteTokens(expiredBefore instant: UnixTime) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM token WHERE expires_at < ?", arguments: [instant.seconds])
        }
    }

    // MARK: Extensions

    public func extensions(clientID: Int64) async throws -> [Extension] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM extension WHERE client_id = ? ORDER BY id", arguments: [clientID])
                .compactMap(Self.extension(from:))
        }
    }

    static func `extension`(from row: Row) -> Extension? {
        guard let kind = Extension.Kind(rawValue: row["type"]) else { return nil }
        return Extension(
            id: row["id"], clientID: row["client_id"], name: row["name"], kind: kind, label: row["label"],
            status: row["status"], createdAt: UnixTime(seconds: row["created_at"]))
    }

    // MARK: Ratings

    @discardableResult
    public func insertRatings(_ ratings: [NewRating]) async throws -> [Rating] {
        let stored = Mutex<([Rating], Bool)>(([], false))
        try await callWrites.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO rating (client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username, is_sample)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var notifies = false
            var zones = RatingRollups.Zones()
            let rows = try ratings.map { new in
                try statement.execute(arguments: [
                    new.clientID, new.callUUID.value, new.ratedAt.seconds, new.extensionID, new.rate, new.maxRate,
                    new.agentUsername, new.isSample,
                ])
                let rating = Rating(
                    id: db.lastInsertedRowID, clientID: new.clientID, callUUID: new.callUUID, ratedAt: new.ratedAt,
                    extensionID: new.extensionID, rate: new.rate, maxRate: new.maxRate, agentUsername: new.agentUsername)
                // After the id is read: the rollup's upsert is an insert of its own.
                try RatingRollups.count(new, ratingID: rating.id, zones: &zones, db: db)
                if !new.isSample, try Self.enqueueNotification(of: rating, db: db) { notifies = true }
                return rating
            }
            stored.withLock { $0 = (rows, notifies) }
        }
        let (rows, notifies) = stored.withLock { $0 }
        if notifies { notificationDoorbell.ring() }
        ratingBroadcast.ring()
        return rows
    }

    private static let ratingColumns = "id, client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username"

    public func rating(clientID: Int64, id: Int64) async throws -> Rating? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.ratingColumns) FROM rating WHERE client_id = ? AND id = ?", arguments: [clientID, id]
            ).flatMap(Self.rating(from:))
        }
    }

    public func ratings(_ query: RatingQuery) async throws -> [Rating] {
        let (sql, arguments) = Self.listSQL(
            select: "SELECT \(Self.ratingColumns) FROM rating", query: query, time: "rated_at", tieBreaker: "id",
            cursor: query.after.map { ($0.ratedAt, $0.id) })
        return try await pool.read { db in
            try Row.fetchCursor(db, sql: sql, arguments: arguments).compactMap(Self.rating(from:)).reduce(into: []) {
                $0.append($1)
            }
        }
    }

    public func ratings(clientID: Int64, afterID: Int64, limit: Int) async throws -> [Rating] {
        try await pool.read { db in
            // `id > ?` walks the rowid from there: the ratings since the stream's last event, few.
            // `+client_id` keeps the planner off the client's time index, which would read all
            // of a client's ratings and sort them.
            try Row.fetchAll(
                db, sql: "SELECT \(Self.ratingColumns) FROM rating WHERE id > ? AND +client_id = ? ORDER BY id LIMIT ?",
                arguments: [afterID, clientID, limit]
            ).compactMap(Self.rating(from:))
        }
    }

    public func newestRatingID() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM rating") ?? 0 }
    }

    /// The SQL of one page of a client's list: the filters, then keyset paging on
    /// (`time`, `tieBreaker`), which the (client_id, [extension_id,] time, tie-breaker) indexes serve.
    /// `onlyClosed`: leave out the records of calls still up (call history lists ended calls).
    private static func listSQL<Cursor>(
        select: String, query: ListQuery<Cursor>, time: String, tieBreaker: String, onlyClosed: Bool = false,
        cursor: (UnixTime, any DatabaseValueConvertible)?
    ) -> (String, StatementArguments) {
        var sql = select + " WHERE client_id = ?" + (onlyClosed ? " AND open_run IS NULL" : "")
        var arguments: StatementArguments = [query.clientID]
        if let extensionID = query.extensionID {
            sql += " AND extension_id = ?"
            arguments += [extensionID]
        }
        if let from = query.from {
            sql += " AND \(time) >= ?"
            arguments += [from.seconds]
        }
        if let through = query.through {
            sql += " AND \(time) <= ?"
            arguments += [through.seconds]
        }
        if let (instant, tie) = cursor {
            sql += " AND (\(time), \(tieBreaker)) > (?, ?)"
            arguments += [instant.seconds, tie]
        }
        sql += " ORDER BY \(time), \(tieBreaker) LIMIT ?"
        arguments += [query.limit]
        return (sql, arguments)
    }

    private static func rating(from row: Row) -> Rating? {
        // Columns by position: this runs once per row of lists a million rows long.
        guard let uuid = CallUUID(row[2] as String) else { return nil }
        return Rating(
            id: row[0], clientID: row[1], callUUID: uuid, ratedAt: UnixTime(seconds: row[3]), extensionID: row[4],
            rate: row[5], maxRate: row[6], agentUsername: row[7])
    }

    // MARK: Call history

    public func insertCalls(_ calls: [CallRecord], isSample: Bool) async throws {
        try await callWrites.write { db in
            for call in calls { try Self.upsert(call, isSample: isSample, open: nil, db: db) }
        }
    }

    public func call(clientID: Int64, uuid: CallUUID) async throws -> CallRecord? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM call WHERE client_id = ? AND call_uuid = ? AND open_run IS NULL", arguments: [clientID, uuid.value])
            else { return nil }
            return try Self.withLegs([row], db: db).first
        }
    }

    public func calls(_ query: CallQuery) async throws -> [CallRecord] {
        let (sql, arguments) = Self.listSQL(
            select: "SELECT * FROM call", query: query, time: "started_at", tieBreaker: "call_uuid", onlyClosed: true,
            cursor: query.after.map { ($0.startedAt, $0.callUUID.value) })
        return try await pool.read { db in
            try Self.withLegs(Row.fetchAll(db, sql: sql, arguments: arguments), db: db)
        }
    }

    /// Builds records for `rows` with their legs, fetching the legs of the whole page at once.
    private static func withLegs(_ rows: [Row], db: Database) throws -> [CallRecord] {
        guard !rows.isEmpty else { return [] }
        let uuids: [String] = rows.map { $0["call_uuid"] }
        let placeholders = Array(repeating: "?", count: uuids.count).joined(separator: ",")
        var legsByCall: [String: [CallLeg]] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT * FROM call_leg WHERE call_uuid IN (\(placeholders)) ORDER BY call_uuid, position",
            arguments: StatementArguments(uuids))
        {
            guard let role = CallLeg.Role(rawValue: row["role"]) else { continue }
            let leg = CallLeg(
                role: role, aniNumber: row["ani_number"], destNumber: row["dest_number"], destDomain: row["dest_domain"],
                application: (row["application"] as String?).flatMap(CallLeg.Application.init(rawValue:)),
                startedAt: UnixTime(seconds: row["started_at"]), duration: row["duration"],
                flow: CallRecord.Flow(rawValue: row["flow"]) ?? .inbound, trunkID: row["trunk_id"], trunkName: row["trunk_name"],
                sipStatus: row["sip_status"])
            legsByCall[row["call_uuid"], default: []].append(leg)
        }
        return rows.compactMap { row in
            guard let uuid = CallUUID(row["call_uuid"] as String),
                let flow = CallRecord.Flow(rawValue: row["flow"]),
                let disposition = CallRecord.HangupDisposition(rawValue: row["hangup_disposition"])
            else { return nil }
            return CallRecord(
                callUUID: uuid, clientID: row["client_id"], extensionID: row["extension_id"],
                extensionName: row["extension_name"],
                extensionType: (row["extension_type"] as String?).flatMap(Extension.Kind.init(rawValue:)), flow: flow,
                didNumber: row["did_number"], didDomain: row["did_domain"], fromUsername: row["from_username"],
                fromScreenName: row["from_screen_name"], fromDomain: row["from_domain"],
                bridgedUsername: row["bridged_username"], bridgedDomain: row["bridged_domain"],
                bridgedAt: (row["bridged_at"] as Int64?).map(UnixTime.init(seconds:)),
                bridgedDuration: row["bridged_duration"], duration: row["duration"], hangupDisposition: disposition,
                startedAt: UnixTime(seconds: row["started_at"]), legs: legsByCall[uuid.value] ?? [])
        }
    }

    // MARK: Errors

    static func translatingConflicts<T>(field: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw StorageError.conflict(field: field)
        }
    }
}
