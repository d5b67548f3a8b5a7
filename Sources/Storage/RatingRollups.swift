public import Domain
import GRDB

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

/// Rollups of ratings per UTC quarter-hour (`RatingTally` says why quarter-hours): one row per
/// (client, quarter-hour, extension, agent, rate, max_rate) with its count, kept in the same
/// transaction as the ratings, so statistics over a year read tens of thousands of rows instead
/// of a million ratings. `agent_username` is '' for ratings of the whole call (a key column
/// cannot be NULL and still make the row unique).
enum RatingRollups {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE rating_rollup (
                client_id INTEGER NOT NULL REFERENCES client(id) ON DELETE CASCADE,
                slot INTEGER NOT NULL,
                extension_id INTEGER NOT NULL,
                agent_username TEXT NOT NULL,
                rate INTEGER NOT NULL,
                max_rate INTEGER NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (client_id, slot, extension_id, agent_username, rate, max_rate)
            ) WITHOUT ROWID;
            INSERT INTO rating_rollup (client_id, slot, extension_id, agent_username, rate, max_rate, count)
                SELECT client_id, rated_at - ((rated_at % \(RatingTally.slotSeconds)) + \(RatingTally.slotSeconds)) % \(RatingTally.slotSeconds),
                       extension_id, COALESCE(agent_username, ''), rate, max_rate, COUNT(*)
                FROM rating GROUP BY 1, 2, 3, 4, 5, 6;
            """)
    }

    /// Counts a rating being inserted, in the inserting transaction.
    static func count(_ rating: NewRating, db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO rating_rollup (client_id, slot, extension_id, agent_username, rate, max_rate, count)
            VALUES (?, ?, ?, ?, ?, ?, 1)
            ON CONFLICT (client_id, slot, extension_id, agent_username, rate, max_rate) DO UPDATE SET count = count + 1
            """
        ).execute(arguments: [
            rating.clientID, RatingTally.slot(of: rating.ratedAt).seconds, rating.extensionID, rating.agentUsername ?? "",
            rating.rate, rating.maxRate,
        ])
    }

    /// The tallies of a period, in time order: the quarter-hours wholly inside it from the
    /// rollups, and the ratings of the partial quarter-hours at its edges (a bound such as
    /// 10:07:13) from the rating rows themselves, one tally each.
    static func tallies(_ query: StatisticsQuery, db: Database) throws -> [RatingTally] {
        let slot = RatingTally.slotSeconds
        // Whole quarter-hours: [firstWhole, endOfWhole).
        let firstWhole = query.from.map { RatingTally.slot(of: $0.adding(seconds: slot - 1)).seconds } ?? .min
        let endOfWhole = query.through.map { RatingTally.slot(of: $0.adding(seconds: 1)).seconds } ?? .max
        var tallies: [RatingTally] = []
        guard firstWhole < endOfWhole else {
            try appendRatings(query, from: query.from, through: query.through, to: &tallies, db: db)
            return tallies
        }
        if let from = query.from, from.seconds < firstWhole {
            try appendRatings(query, from: from, through: UnixTime(seconds: firstWhole - 1), to: &tallies, db: db)
        }
        var sql = "SELECT slot, extension_id, agent_username, rate, max_rate, count FROM rating_rollup WHERE client_id = ?"
        var arguments: StatementArguments = [query.clientID]
        if query.from != nil {
            sql += " AND slot >= ?"
            arguments += [firstWhole]
        }
        if query.through != nil {
            sql += " AND slot < ?"
            arguments += [endOfWhole]
        }
        appendFilters(query, to: &sql, &arguments)
        sql += " ORDER BY slot"
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            let agent: String = row[2]
            tallies.append(RatingTally(
                at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: agent.isEmpty ? nil : agent, rate: row[3],
                maxRate: row[4], count: row[5]))
        }
        if let through = query.through, through.seconds >= endOfWhole {
            try appendRatings(query, from: UnixTime(seconds: endOfWhole), through: through, to: &tallies, db: db)
        }
        return tallies
    }

    private static func appendRatings(
        _ query: StatisticsQuery, from: UnixTime?, through: UnixTime?, to tallies: inout [RatingTally], db: Database
    ) throws {
        var sql = "SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating WHERE client_id = ?"
        var arguments: StatementArguments = [query.clientID]
        if let from {
            sql += " AND rated_at >= ?"
            arguments += [from.seconds]
        }
        if let through {
            sql += " AND rated_at <= ?"
            arguments += [through.seconds]
        }
        appendFilters(query, to: &sql, &arguments)
        sql += " ORDER BY rated_at, id"
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            tallies.append(RatingTally(
                at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], rate: row[3], maxRate: row[4],
                count: 1))
        }
    }

    /// The extension and agent filters, the same on both tables (an agent filter is a username,
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
    public func ratingTallies(_ query: StatisticsQuery) async throws -> [RatingTally] {
        try await read { db in try RatingRollups.tallies(query, db: db) }
    }
}
