public import Domain
import Foundation
import GRDB
import GRDBSQLite

/// The filters of a statistics request (issue 10): an inclusive period, an extension, an agent.
public struct StatisticsQuery: Sendable, Equatable {
    public var clientID: Int64
    public var from: UnixTime?
    public var through: UnixTime?
    public var extensionID: Int64?
    public var agentUsername: String?

    public init(
        clientID: Int64, from: UnixTime? = nil, through: UnixTime? = nil, extensionID: Int64? = nil,
        agentUsername: String? = nil
    ) {
        self.clientID = clientID
        self.from = from
        self.through = through
        self.extensionID = extensionID
        self.agentUsername = agentUsername
    }
}

/// What statistics are read from (issue 10):
/// - `rating_offer`: one row per rating prompt offered to a caller, marked with the rating that
///   answered it — the facts behind the response rate, as `rating` rows are behind the rest.
/// - `rating_day_rollup`: the sums of `StatisticsMeasures` per local day of the client, extension
///   and agent ('' for ratings of the whole call: a key column cannot be NULL and stay unique),
///   kept in the same transaction as the ratings and offers they count. A year of a client with a
///   million ratings is then some ten thousand rows, summed as they are read. Offers and the ratings that
///   answer them count on the offer's day, so a day's response rate never exceeds 100 %.
///   The 15 sums of a row are one BLOB (`PackedMeasures`), not 15 columns: reading a column
///   through SQLite's API costs ~35 ns, and a year's 17,500 rows of 15 columns spent most of
///   their time there (docs/BENCHMARKS.md).
/// Local days depend on the client's zone: changing it rebuilds the client's rollups in the
/// same transaction (`rebuild`). Periods that cut a day, and hour buckets, read the rows.
enum RatingRollups {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            DROP TABLE rating_rollup;
            CREATE TABLE rating_offer (
                id INTEGER PRIMARY KEY,
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                call_uuid TEXT NOT NULL,
                offered_at INTEGER NOT NULL,
                extension_id INTEGER NOT NULL,
                agent_username TEXT,
                rating_id INTEGER
            );
            CREATE INDEX rating_offer_time ON rating_offer(client_id, offered_at);
            CREATE INDEX rating_offer_call ON rating_offer(call_uuid, offered_at);
            CREATE TABLE rating_day_rollup (
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                day INTEGER NOT NULL,
                extension_id INTEGER NOT NULL,
                agent_username TEXT NOT NULL,
                measures BLOB NOT NULL,
                PRIMARY KEY (client_id, day, extension_id, agent_username)
            ) WITHOUT ROWID;
            """)
        for row in try Row.fetchAll(db, sql: "SELECT id, timezone FROM client") {
            try rebuild(clientID: row["id"], zone: ClientTimeZone(identifier: row["timezone"]) ?? .utc, db: db)
        }
    }

    /// Recounts a client's rollups from its rating and offer rows, in `zone`'s local days.
    static func rebuild(clientID: Int64, zone: ClientTimeZone, db: Database) throws {
        try db.execute(sql: "DELETE FROM rating_day_rollup WHERE client_id = ?", arguments: [clientID])
        var tally = RollupTally(zone: zone)
        let ratings = try Row.fetchCursor(
            db, sql: "SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating WHERE client_id = ? ORDER BY rated_at",
            arguments: [clientID])
        while let row = try ratings.next() {
            tally.countRating(at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], rate: row[3], maxRate: row[4])
        }
        let offers = try Row.fetchCursor(
            db, sql: """
                SELECT offered_at, extension_id, agent_username, rating_id IS NOT NULL FROM rating_offer
                WHERE client_id = ? ORDER BY offered_at
                """, arguments: [clientID])
        while let row = try offers.next() {
            tally.countOffer(at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], rated: row[3])
        }
        for (key, measures) in tally.rows {
            try add(
                measures, clientID: clientID, on: LocalDay(number: key.day), extensionID: key.extensionID,
                agentUsername: key.agentUsername, db: db)
        }
    }

    /// Adds `measures` to a day's row, creating it.
    private static func add(
        _ measures: StatisticsMeasures, clientID: Int64, on day: LocalDay, extensionID: Int64, agentUsername: String?, db: Database
    ) throws {
        let key: StatementArguments = [clientID, day.number, extensionID, agentUsername ?? ""]
        var sums = PackedMeasures(measures)
        if let stored = try Data.fetchOne(
            db.cachedStatement(sql: """
                SELECT measures FROM rating_day_rollup WHERE client_id = ? AND day = ? AND extension_id = ? AND agent_username = ?
                """), arguments: key) {
            stored.withUnsafeBytes { sums.add($0) }
        }
        try db.cachedStatement(sql: """
            INSERT INTO rating_day_rollup (client_id, day, extension_id, agent_username, measures) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (client_id, day, extension_id, agent_username) DO UPDATE SET measures = excluded.measures
            """
        ).execute(arguments: key + [sums.data])
    }

    /// The zones of the clients a batch of writes is of, read once per client and transaction (a
    /// zone is a lookup in the time-zone database).
    struct Zones {
        private var zones: [Int64: ClientTimeZone] = [:]

        mutating func zone(of clientID: Int64, db: Database) throws -> ClientTimeZone {
            if let zone = zones[clientID] { return zone }
            let name = try String.fetchOne(db.cachedStatement(sql: "SELECT timezone FROM client WHERE id = ?"), arguments: [clientID])
            let zone = name.flatMap(ClientTimeZone.init(identifier:)) ?? .utc
            zones[clientID] = zone
            return zone
        }
    }

    /// Counts a rating being inserted (with id `ratingID`), in the inserting transaction; when it
    /// answers a recorded offer, marks the offer rated and counts that on the offer's day.
    static func count(_ rating: NewRating, ratingID: Int64, zones: inout Zones, db: Database) throws {
        let zone = try zones.zone(of: rating.clientID, db: db)
        var measures = StatisticsMeasures()
        measures.addRating(rate: rating.rate, maxRate: rating.maxRate)
        try add(
            measures, clientID: rating.clientID, on: LocalDay(zone.localTime(of: rating.ratedAt)), extensionID: rating.extensionID,
            agentUsername: rating.agentUsername, db: db)
        guard let offeredAt = rating.offeredAt else { return }
        try db.cachedStatement(sql: """
            UPDATE rating_offer SET rating_id = ?
            WHERE call_uuid = ? AND offered_at = ? AND client_id = ? AND extension_id = ? AND rating_id IS NULL
            """
        ).execute(arguments: [ratingID, rating.callUUID.value, offeredAt.seconds, rating.clientID, rating.extensionID])
        // No offer row (its write failed): the offer was never counted, so neither is its answer.
        guard db.changesCount == 1 else { return }
        var answered = StatisticsMeasures()
        answered.offersRated = 1
        try add(
            answered, clientID: rating.clientID, on: LocalDay(zone.localTime(of: offeredAt)), extensionID: rating.extensionID,
            agentUsername: rating.agentUsername, db: db)
    }

    static func record(_ offer: RatingOffer, zones: inout Zones, db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO rating_offer (client_id, call_uuid, offered_at, extension_id, agent_username) VALUES (?, ?, ?, ?, ?)
            """
        ).execute(arguments: [offer.clientID, offer.callUUID.value, offer.offeredAt.seconds, offer.extensionID, offer.agentUsername])
        var measures = StatisticsMeasures()
        measures.addOffer(rated: false)
        try add(
            measures, clientID: offer.clientID, on: LocalDay(try zones.zone(of: offer.clientID, db: db).localTime(of: offer.offeredAt)),
            extensionID: offer.extensionID, agentUsername: offer.agentUsername, db: db)
    }

    /// The buckets of a period: its whole local days from the rollups (`dayTotals`); the rest (a
    /// bound such as 10:07:13 cuts its day; hour buckets) from the rows.
    static func statistics(
        _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping?, db: Database
    ) throws -> [StatisticsBucket] {
        let plan = StatisticsPlan(from: query.from, through: query.through, zone: zone, interval: interval)
        let days = try plan.wholeDays.map { try dayTotals(query, days: $0, interval: interval, groupBy: groupBy, db: db) } ?? []
        var facts: [StatisticsFact] = []
        for span in plan.rows {
            try appendFacts(query, from: span.from, through: span.through, to: &facts, db: db)
        }
        return RatingStatistics.buckets(days: days, facts: facts, zone: zone, interval: interval, groupBy: groupBy)
    }

    /// The rollup rows of `days`, read in key order and summed here rather than by SQLite (its
    /// aggregate functions and GROUP BY sorter cost several times more). The packed sums are read
    /// with SQLite's C API from the row the cursor stands on, without a copy.
    private static func dayTotals(
        _ query: StatisticsQuery, days: ClosedRange<Int64>, interval: StatisticsInterval?, groupBy: StatisticsGrouping?, db: Database
    ) throws -> [LocalDayTotals] {
        struct Identity: Hashable {
            var firstDay: Int64?
            var key: StatisticsKey
        }
        var sql = "SELECT day, extension_id, agent_username, measures FROM rating_day_rollup WHERE client_id = ? AND day BETWEEN ? AND ?"
        var arguments: StatementArguments = [query.clientID, days.lowerBound, days.upperBound]
        appendFilters(query, to: &sql, &arguments)
        var index: [Identity: Int] = [:]
        var sums: [(identity: Identity, measures: PackedMeasures)] = []
        // Rows come in day order: a day's bucket start is worked out once.
        var lastDay: Int64?
        var firstDay: Int64?
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let columns = statement.sqliteStatement
            let day = sqlite3_column_int64(columns, 0)
            if day != lastDay {
                lastDay = day
                firstDay = interval.map { LocalDay(number: day).firstDay(of: $0) }
            }
            let agent: String = row[2]
            let identity = Identity(
                firstDay: firstDay,
                key: StatisticsKey(
                    groupBy: groupBy, extensionID: sqlite3_column_int64(columns, 1), agentUsername: agent.isEmpty ? nil : agent))
            let slot: Int
            if let known = index[identity] {
                slot = known
            } else {
                slot = sums.count
                index[identity] = slot
                sums.append((identity, PackedMeasures()))
            }
            let blob = UnsafeRawBufferPointer(
                start: sqlite3_column_blob(columns, 3), count: Int(sqlite3_column_bytes(columns, 3)))
            sums[slot].measures.add(blob)
        }
        return sums.map { LocalDayTotals(firstDay: $0.identity.firstDay, key: $0.identity.key, measures: $0.measures.measures) }
    }

    private static func appendFacts(
        _ query: StatisticsQuery, from: UnixTime?, through: UnixTime?, to facts: inout [StatisticsFact], db: Database
    ) throws {
        for (sql, time, areRatings) in [
            ("SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating WHERE client_id = ?", "rated_at", true),
            ("SELECT offered_at, extension_id, agent_username, rating_id IS NOT NULL FROM rating_offer WHERE client_id = ?", "offered_at", false),
        ] {
            var sql = sql
            var arguments: StatementArguments = [query.clientID]
            if let from {
                sql += " AND \(time) >= ?"
                arguments += [from.seconds]
            }
            if let through {
                sql += " AND \(time) <= ?"
                arguments += [through.seconds]
            }
            appendFilters(query, to: &sql, &arguments)
            sql += " ORDER BY \(time)"
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                let kind: StatisticsFact.Kind = areRatings ? .rating(rate: row[3], maxRate: row[4]) : .offer(rated: row[3])
                facts.append(StatisticsFact(at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], kind: kind))
            }
        }
    }

    /// The extension and agent filters, the same on every table (an agent filter is a username,
    /// never the '' the rollups keep for no agent).
    private static func appendFilters(_ query: StatisticsQuery, to sql: inout String, _ arguments: inout StatementArguments) {
        if let extensionID = query.extensionID {
            sql += " AND extension_id = ?"
            arguments += [extensionID]
        }
        if let agent = query.agentUsername {
            sql += " AND agent_username = ?"
            arguments += [agent]
        }
    }
}

extension SQLiteStore {
    public func ratingStatistics(
        _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping?
    ) async throws -> [StatisticsBucket] {
        try await read { db in try RatingRollups.statistics(query, zone: zone, interval: interval, groupBy: groupBy, db: db) }
    }

    public func recordRatingOffers(_ offers: [RatingOffer]) async throws {
        try await callWrites.write { db in
            var zones = RatingRollups.Zones()
            for offer in offers { try RatingRollups.record(offer, zones: &zones, db: db) }
        }
    }

    public func ratingOfferCounts(clientID: Int64, callUUID: CallUUID) async throws -> (offered: Int64, rated: Int64) {
        try await read { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT COUNT(*), COUNT(rating_id) FROM rating_offer WHERE call_uuid = ? AND client_id = ?",
                arguments: [callUUID.value, clientID])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }
}

/// The 15 sums of `StatisticsMeasures` as a rollup row keeps them: one BLOB of little-endian
/// 64-bit integers — rated, rate sum, score units, satisfied, keys 1…9, offered, offers rated.
/// (PostgreSQL keeps the same sums, in the same order, as 15 columns.)
package struct PackedMeasures: Equatable {
    package static let count = 4 + StatisticsMeasures.keys.count + 2
    package private(set) var sums: [Int64]

    init() { sums = Array(repeating: 0, count: Self.count) }

    /// Sums in the order above, `count` of them.
    package init(sums: [Int64]) {
        precondition(sums.count == Self.count, "a rollup row has \(Self.count) sums")
        self.sums = sums
    }

    package init(_ measures: StatisticsMeasures) {
        sums = [measures.rated, measures.rateSum, measures.scoreUnits, measures.satisfied]
            + StatisticsMeasures.keys.map { measures.countPerKey[$0] ?? 0 } + [measures.offered, measures.offersRated]
    }

    /// Adds a stored BLOB's sums; one of another size (none written so) is a broken row, left out.
    mutating func add(_ blob: UnsafeRawBufferPointer) {
        guard blob.count == Self.count * 8 else { return }
        for index in 0..<Self.count {
            sums[index] &+= Int64(littleEndian: blob.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
        }
    }

    var data: Data {
        var data = Data(capacity: Self.count * 8)
        for sum in sums { withUnsafeBytes(of: sum.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    package var measures: StatisticsMeasures {
        let keys = StatisticsMeasures.keys
        var perKey: [Int64: Int64] = [:]
        for (offset, key) in keys.enumerated() where sums[4 + offset] > 0 { perKey[key] = sums[4 + offset] }
        return StatisticsMeasures(
            rated: sums[0], rateSum: sums[1], scoreUnits: sums[2], satisfied: sums[3], countPerKey: perKey,
            offered: sums[4 + keys.count], offersRated: sums[5 + keys.count])
    }
}
