public import Domain
import PostgresNIO
public import Storage

/// Ratings on PostgreSQL: stored with their rollups and notifications in one transaction, listed
/// as on SQLite.
extension PostgresStore {
    /// The advisory lock every transaction that inserts ratings takes just before it draws ids
    /// ("qrrating" as a 64-bit integer). Ids come from a sequence, drawn when a row is inserted,
    /// but transactions commit in their own order: without the lock a rating with id 11 could
    /// commit after one with id 12, and a live event stream that already sent 12 (it asks for
    /// ids after the last it sent, `ratings(clientID:afterID:limit:)`) would never send 11.
    /// Holding the lock from before the first id is drawn until the commit, the rating writes of
    /// every node commit one after the other, in id order (issue 12).
    static let ratingWriteLock: Int64 = 0x7172_7261_7469_6E67

    /// Everything a rating's write reads comes before the lock; under it, one statement per
    /// rating (`lockedInsert`), the rollups and the commit. The rating writes of all
    /// nodes queue for the lock, so each round trip held under it is one for all of them: with
    /// every step under it, 17 of a node's 20 connections waited there at 150 calls/s
    /// (docs/BENCHMARKS.md). What is read before is locked first, so it cannot change before the
    /// commit: the client's row (`FOR SHARE`), the offer a rating answers (`FOR UPDATE`).
    ///
    /// The ratings of calls that end at the same time on this node are committed together
    /// (`BatchedWrites`), so the lock is taken once per batch.
    @discardableResult
    public func insertRatings(_ ratings: [NewRating]) async throws -> [Rating] {
        guard !ratings.isEmpty else { return [] }
        return try await ratingWrites.write(ratings, committingTogether: { batch in try await self.commitRatings(batch) })
    }

    /// A batch of `insertRatings` writes in one transaction, each answered its own ratings.
    private func commitRatings(_ batch: [[NewRating]]) async throws -> [[Rating]] {
        var stored = try await insertTogether(batch.flatMap { $0 })[...]
        return batch.map { ratings in
            defer { stored = stored.dropFirst(ratings.count) }
            return Array(stored.prefix(ratings.count))
        }
    }

    /// `ratings` in one transaction, answered in their order.
    private func insertTogether(_ ratings: [NewRating]) async throws -> [Rating] {
        let (stored, notifies) = try await write { connection in
            var counts = RollupCounts()
            var writes: [LockedInsert] = []
            var answeredOffers: Set<OfferKey> = []
            for new in ratings {
                let client = try await counts.client(new.clientID, connection: connection, logger: logger)
                counts.countRating(new)
                var answers: OfferKey?
                if let offeredAt = new.offeredAt {
                    let offer = OfferKey(rating: new, offeredAt: offeredAt)
                    // No offer row (its write failed): the offer was never counted, so neither is its answer.
                    if !answeredOffers.contains(offer), try await connection.query("""
                        SELECT 1 FROM rating_offer
                        WHERE call_uuid = \(new.callUUID.value) AND offered_at = \(offeredAt.seconds) AND client_id = \(new.clientID)
                            AND extension_id = \(new.extensionID) AND rating_id IS NULL
                        FOR UPDATE
                        """, logger: logger).count() == 1
                    {
                        answeredOffers.insert(offer)
                        counts.countAnswer(new, offeredAt: offeredAt)
                        answers = offer
                    }
                }
                let notification = new.isSample ? nil : try await Self.notification(of: new, client: client, connection: connection, logger: logger)
                writes.append(LockedInsert(rating: new, answers: answers, notification: notification))
            }
            let notifies = writes.contains { $0.notification != nil }
            // Sent at the commit, wherever in the transaction they are: the other nodes' live
            // streams and delivery services hear of the ratings then.
            try await announce(.ratings, on: connection)
            if notifies { try await announce(.notifications, on: connection) }
            var stored: [Rating] = []
            for write in writes {
                let new = write.rating
                let id = try await connection.query(Self.lockedInsert(write), logger: logger).decodeOne(Int64.self)
                stored.append(Rating(
                    id: id, clientID: new.clientID, callUUID: new.callUUID, ratedAt: new.ratedAt, extensionID: new.extensionID,
                    rate: new.rate, maxRate: new.maxRate, agentUsername: new.agentUsername))
            }
            // Last, so that the day's rollup row, which every rating and offer of an agent adds
            // to, is held only for this and the commit. Taken under the lock it cannot deadlock:
            // no transaction waits for the lock while it holds a rollup row (an offer's write
            // never takes the lock).
            try await counts.write(connection: connection, logger: logger)
            return (stored, notifies)
        }
        if notifies { notificationDoorbell.ring() }
        ratingBroadcast.ring()
        return stored
    }

    /// The offer a rating answers: the call's offer to rate one extension at one time.
    private struct OfferKey: Hashable {
        var callUUID: String, clientID: Int64, extensionID: Int64, offeredAt: Int64

        init(rating: NewRating, offeredAt: UnixTime) {
            (callUUID, clientID, extensionID, self.offeredAt) = (rating.callUUID.value, rating.clientID, rating.extensionID, offeredAt.seconds)
        }
    }

    /// The outbox rows a rating adds: one per URL.
    private struct PendingNotification {
        var urls: [String], isAlert: Bool, fromUsername: String?, didNumber: String?
    }

    /// What one rating's statement under the lock writes.
    private struct LockedInsert {
        var rating: NewRating
        var answers: OfferKey?
        var notification: PendingNotification?
    }

    /// The outbox rows `rating` will have: one for the client's notification URL, and for an
    /// alert one for its alert URL (once when both are the same); nil when none. The call's
    /// caller and DID are those of its record as saved so far, nil when there is none yet. As
    /// `SQLiteStore.enqueueNotification(of:db:)`.
    private static func notification(
        of rating: NewRating, client: RollupCounts.Client?, connection: PostgresConnection, logger: Logger
    ) async throws -> PendingNotification? {
        guard let client else { return nil }
        let isAlert = RatingNotification.isAlert(rate: rating.rate, maxRate: rating.maxRate, threshold: client.alertThreshold)
        var urls: [String] = []
        if let url = client.notificationURL { urls.append(url) }
        if isAlert, let url = client.alertURL, !urls.contains(url) { urls.append(url) }
        guard !urls.isEmpty else { return nil }
        var notification = PendingNotification(urls: urls, isAlert: isAlert, fromUsername: nil, didNumber: nil)
        for try await (from, did) in try await connection.query(
            "SELECT from_username, did_number FROM call WHERE call_uuid = \(rating.callUUID.value) AND client_id = \(rating.clientID)",
            logger: logger
        ).decode((String?, String?).self) {
            (notification.fromUsername, notification.didNumber) = (from, did)
        }
        return notification
    }

    /// One statement: take the rating lock (`ratingWriteLock`, again for a batch's later ones:
    /// it is held once), insert the rating, mark the offer it answers and write its outbox rows;
    /// answers the rating's id. Data-modifying `WITH` parts all run, each exactly once; the
    /// insert reads its one row from `locked` (materialised: never folded into the insert)
    /// before it draws the id, so the lock is held first.
    private static func lockedInsert(_ write: LockedInsert) -> PostgresQuery {
        let new = write.rating
        let note = write.notification
        return """
            WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(\(ratingWriteLock))),
            rated AS (
                INSERT INTO rating (client_id, call_uuid, rated_at, extension_id, rate, max_rate, agent_username, is_sample)
                SELECT \(new.clientID), \(new.callUUID.value), \(new.ratedAt.seconds), \(new.extensionID), \(new.rate), \(new.maxRate),
                    \(new.agentUsername), \(new.isSample)
                FROM locked
                RETURNING id),
            answered AS (
                UPDATE rating_offer SET rating_id = rated.id FROM rated
                WHERE \(write.answers != nil) AND call_uuid = \(new.callUUID.value) AND offered_at = \(write.answers?.offeredAt)
                    AND client_id = \(new.clientID) AND extension_id = \(new.extensionID) AND rating_id IS NULL),
            notified AS (
                INSERT INTO rating_notification (rating_id, client_id, url, from_username, did_number, is_alert, created_at, next_attempt_at)
                SELECT rated.id, \(new.clientID), url, \(note?.fromUsername), \(note?.didNumber), \(note?.isAlert ?? false),
                    \(new.ratedAt.seconds), \(new.ratedAt.seconds)
                FROM rated, unnest(\(note?.urls ?? [])::TEXT[]) AS url)
            SELECT id FROM rated
            """
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

    /// The ratings of `rows`, selected as `ratingColumns`, cell by cell (lists run to a million
    /// rows: `SelectedCells`); one whose `call_uuid` is not canonical is left out, as on SQLite.
    private static func ratings(from rows: PostgresRowSequence) async throws -> [Rating] {
        var ratings: [Rating] = []
        for try await row in rows {
            var cells = SelectedCells(row)
            let id: Int64 = try cells.next(), clientID: Int64 = try cells.next()
            guard let uuid = CallUUID(try cells.next(String.self)) else { continue }
            ratings.append(Rating(
                id: id, clientID: clientID, callUUID: uuid, ratedAt: UnixTime(seconds: try cells.next()), extensionID: try cells.next(),
                rate: try cells.next(), maxRate: try cells.next(), agentUsername: try cells.next()))
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
