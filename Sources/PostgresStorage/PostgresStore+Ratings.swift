public import Domain
import PostgresNIO
public import Storage

/// Ratings on PostgreSQL: stored with their rollups and notifications in one transaction, listed
/// as on SQLite.
extension PostgresStore {
    /// The advisory lock every transaction that inserts ratings takes first ("qrrating" as a
    /// 64-bit integer). Ids come from a sequence, drawn when a row is inserted, but transactions
    /// commit in their own order: without the lock a rating with id 11 could commit after one
    /// with id 12, and a live event stream that already sent 12 (it asks for ids after the last
    /// it sent, `ratings(clientID:afterID:limit:)`) would never send 11. Holding the lock from
    /// before the first id is drawn until the commit, the rating writes of every node commit one
    /// after the other, in id order (issue 12). They are a few short statements per call.
    static let ratingWriteLock: Int64 = 0x7172_7261_7469_6E67

    @discardableResult
    public func insertRatings(_ ratings: [NewRating]) async throws -> [Rating] {
        guard !ratings.isEmpty else { return [] }
        let (stored, notifies) = try await write { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.ratingWriteLock))", logger: logger)
            var counts = RollupCounts()
            var notifies = false
            var stored: [Rating] = []
            for new in ratings {
                let client = try await counts.client(new.clientID, connection: connection, logger: logger)
                let id = try await connection.query("""
                    INSERT INTO rating (client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username, is_sample)
                    VALUES (\(new.clientID), \(new.callUUID.value), \(new.ratedAt.seconds), \(new.extensionID), \(new.rate),
                        \(new.maxRate), \(new.agentUsername), \(new.isSample))
                    RETURNING id
                    """, logger: logger).decodeOne(Int64.self)
                let rating = Rating(
                    id: id, clientID: new.clientID, callUUID: new.callUUID, ratedAt: new.ratedAt, extensionID: new.extensionID,
                    rate: new.rate, maxRate: new.maxRate, agentUsername: new.agentUsername)
                counts.countRating(new)
                if let offeredAt = new.offeredAt {
                    let answered = try await connection.query("""
                        UPDATE rating_offer SET rating_id = \(id)
                        WHERE call_uuid = \(new.callUUID.value) AND offered_at = \(offeredAt.seconds) AND client_id = \(new.clientID)
                            AND extension_id = \(new.extensionID) AND rating_id IS NULL
                        RETURNING 1
                        """, logger: logger).count()
                    // No offer row (its write failed): the offer was never counted, so neither is its answer.
                    if answered == 1 { counts.countAnswer(new, offeredAt: offeredAt) }
                }
                if !new.isSample, try await Self.enqueueNotification(of: rating, client: client, connection: connection, logger: logger) {
                    notifies = true
                }
                stored.append(rating)
            }
            try await counts.write(connection: connection, logger: logger)
            // The other nodes' live streams and delivery services hear of them at the commit.
            try await announce(.ratings, on: connection)
            if notifies { try await announce(.notifications, on: connection) }
            return (stored, notifies)
        }
        if notifies { notificationDoorbell.ring() }
        ratingBroadcast.ring()
        return stored
    }

    /// Writes the outbox rows of `rating`, in the rating's transaction: one for the client's
    /// notification URL, and for an alert one for its alert URL (once when both are the same);
    /// answers whether it wrote any. The call's caller and DID are those of its record as saved so
    /// far, nil when there is none yet. As `SQLiteStore.enqueueNotification(of:db:)`.
    private static func enqueueNotification(
        of rating: Rating, client: RollupCounts.Client?, connection: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        guard let client else { return false }
        let isAlert = RatingNotification.isAlert(rate: rating.rate, maxRate: rating.maxRate, threshold: client.alertThreshold)
        var urls: [String] = []
        if let url = client.notificationURL { urls.append(url) }
        if isAlert, let url = client.alertURL, !urls.contains(url) { urls.append(url) }
        guard !urls.isEmpty else { return false }
        var fromUsername: String?
        var didNumber: String?
        for try await (from, did) in try await connection.query(
            "SELECT from_username, did_number FROM call WHERE call_uuid = \(rating.callUUID.value) AND client_id = \(rating.clientID)",
            logger: logger
        ).decode((String?, String?).self) {
            (fromUsername, didNumber) = (from, did)
        }
        for url in urls {
            try await connection.query("""
                INSERT INTO rating_notification (rating_id, client_id, url, from_username, did_number, is_alert, created_at, next_attempt_at)
                VALUES (\(rating.id), \(rating.clientID), \(url), \(fromUsername), \(didNumber), \(isAlert), \(rating.ratedAt.seconds),
                    \(rating.ratedAt.seconds))
                """, logger: logger)
        }
        return true
    }

    private static let ratingColumns = "id, client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username"

    public func rating(clientID: Int64, id: Int64) async throws -> Rating? {
        try await read { connection in
            try await Self.ratings(from: connection.query(
                "SELECT \(unescaped: Self.ratingColumns) FROM rating WHERE client_id = \(clientID) AND id = \(id)", logger: logger)
            ).first
        }
    }

    public func ratings(_ query: RatingQuery) async throws -> [Rating] {
        let statement = Self.listQuery(
            select: "SELECT \(Self.ratingColumns) FROM rating", query: query, time: "rated_at", tieBreaker: "id",
            cursor: query.after.map { ($0.ratedAt, $0.id) })
        return try await read { connection in try await Self.ratings(from: connection.query(statement, logger: logger)) }
    }

    public func ratings(clientID: Int64, afterID: Int64, limit: Int) async throws -> [Rating] {
        try await read { connection in
            // The primary key from `afterID` on: the ratings since the stream's last event, few.
            try await Self.ratings(from: connection.query(
                "SELECT \(unescaped: Self.ratingColumns) FROM rating WHERE client_id = \(clientID) AND id > \(afterID) ORDER BY id LIMIT \(limit)",
                logger: logger))
        }
    }

    public func newestRatingID() async throws -> Int64 {
        try await read { connection in
            try await connection.query("SELECT COALESCE(MAX(id), 0) FROM rating", logger: logger).decodeOne(Int64.self)
        }
    }

    /// The ratings of `rows`, selected as `ratingColumns`, by position (lists run to a million
    /// rows); one whose `call_uuid` is not canonical is left out, as on SQLite.
    private static func ratings(from rows: PostgresRowSequence) async throws -> [Rating] {
        var ratings: [Rating] = []
        for try await (id, clientID, callUUID, ratedAt, extensionID, rate, maxRate, agent) in rows.decode(
            (Int64, Int64, String, Int64, Int64, Int64, Int64, String?).self)
        {
            guard let uuid = CallUUID(callUUID) else { continue }
            ratings.append(Rating(
                id: id, clientID: clientID, callUUID: uuid, ratedAt: UnixTime(seconds: ratedAt), extensionID: extensionID,
                rate: rate, maxRate: maxRate, agentUsername: agent))
        }
        return ratings
    }

    /// One page of a client's list: the filters, then keyset paging on (`time`, `tieBreaker`),
    /// which the (client_id, [extension_id,] time, tie-breaker) indexes serve; as
    /// `SQLiteStore.listSQL`. `onlyClosed`: leave out the records of calls still up (call history
    /// lists ended calls).
    static func listQuery<Cursor, Tie: PostgresDynamicTypeEncodable>(
        select: String, query: ListQuery<Cursor>, time: String, tieBreaker: String, onlyClosed: Bool = false,
        cursor: (UnixTime, Tie)?
    ) -> PostgresQuery {
        var statement = ComposedQuery(select)
        statement.append(" WHERE client_id = ", binding: query.clientID)
        if onlyClosed { statement.sql += " AND open_run IS NULL" }
        if let extensionID = query.extensionID { statement.append(" AND extension_id = ", binding: extensionID) }
        if let from = query.from { statement.append(" AND \(time) >= ", binding: from.seconds) }
        if let through = query.through { statement.append(" AND \(time) <= ", binding: through.seconds) }
        if let (instant, tie) = cursor {
            statement.append(" AND (\(time), \(tieBreaker)) > (", binding: instant.seconds)
            statement.append(", ", binding: tie)
            statement.sql += ")"
        }
        statement.append(" ORDER BY \(time), \(tieBreaker) LIMIT ", binding: Int64(query.limit))
        return statement.query
    }
}
