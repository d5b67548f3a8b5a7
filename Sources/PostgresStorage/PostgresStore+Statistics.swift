public import Domain
import PostgresNIO
public import Storage

/// Statistics on PostgreSQL (issue 10), from the same rollups per local day as on SQLite
/// (`RatingRollups`): whole days from `rating_day_rollup`, the rest from the rating and offer
/// rows, grouped by `RatingStatistics.buckets`. The sums are columns here, added to by an upsert
/// that nodes counting the same day at once cannot lose a count to.
extension PostgresStore {
    public func ratingStatistics(
        _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping?
    ) async throws -> [StatisticsBucket] {
        let plan = StatisticsPlan(from: query.from, through: query.through, zone: zone, interval: interval)
        // One snapshot for the whole read, so rollups and rows agree with each other.
        return try await snapshot { connection in
            var days: [LocalDayTotals] = []
            if let wholeDays = plan.wholeDays {
                days = try await Self.dayTotals(query, days: wholeDays, interval: interval, groupBy: groupBy, connection: connection, logger: logger)
            }
            var facts: [StatisticsFact] = []
            for span in plan.rows {
                try await Self.appendFacts(query, from: span.from, through: span.through, to: &facts, connection: connection, logger: logger)
            }
            return RatingStatistics.buckets(days: days, facts: facts, zone: zone, interval: interval, groupBy: groupBy)
        }
    }

    /// Committed in batches (`BatchedWrites`), as the ratings: every offer of an agent or menu
    /// on a day adds to the same rollup row, which each transaction holds to its commit, so one
    /// transaction per call queued every node's calls on that row (docs/BENCHMARKS.md).
    public func recordRatingOffers(_ offers: [RatingOffer]) async throws {
        guard !offers.isEmpty else { return }
        try await offerWrites.write(offers, committingTogether: { batch in
            try await self.insertOffersTogether(batch.flatMap { $0 })
            return batch.map { _ in () }
        })
    }

    /// `offers` in one transaction, with their rollups.
    private func insertOffersTogether(_ offers: [RatingOffer]) async throws {
        try await write { connection in
            var counts = RollupCounts()
            for offer in offers {
                _ = try await counts.client(offer.clientID, connection: connection, logger: logger)
                try await connection.query("""
                    INSERT INTO rating_offer (client_id, call_uuid, offered_at, extension_id, agent_username)
                    VALUES (\(offer.clientID), \(offer.callUUID.value), \(offer.offeredAt.seconds), \(offer.extensionID), \(offer.agentUsername))
                    """, logger: logger)
                counts.countOffer(offer)
            }
            try await counts.write(connection: connection, logger: logger)
        }
    }

    public func ratingOfferCounts(clientID: Int64, callUUID: CallUUID) async throws -> (offered: Int64, rated: Int64) {
        try await read { connection in
            for try await counts in try await connection.query(
                "SELECT COUNT(*), COUNT(rating_id) FROM rating_offer WHERE call_uuid = \(callUUID.value) AND client_id = \(clientID)",
                logger: logger
            ).decode((Int64, Int64).self) {
                return counts
            }
            return (0, 0)
        }
    }

    /// Recounts a client's rollups from its rating and offer rows, in `zone`'s local days: for a
    /// change of the client's zone, which changes its days (`updateClient`). Call it in the
    /// transaction that updates the client's row, after the update: the row's lock keeps the
    /// transactions that count ratings and offers of the client waiting until it commits
    /// (`RollupCounts.client`), so none counts by the zone it replaces.
    static func rebuildRollups(clientID: Int64, zone: ClientTimeZone, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM rating_day_rollup WHERE client_id = \(clientID)", logger: logger)
        var tally = RollupTally(zone: zone)
        for try await (ratedAt, extensionID, agent, rate, maxRate) in try await connection.query(
            "SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating WHERE client_id = \(clientID) ORDER BY rated_at",
            logger: logger
        ).decode((Int64, Int64, String?, Int64, Int64).self) {
            tally.countRating(at: UnixTime(seconds: ratedAt), extensionID: extensionID, agentUsername: agent, rate: rate, maxRate: maxRate)
        }
        for try await (offeredAt, extensionID, agent, rated) in try await connection.query("""
            SELECT offered_at, extension_id, agent_username, rating_id IS NOT NULL FROM rating_offer
            WHERE client_id = \(clientID) ORDER BY offered_at
            """, logger: logger
        ).decode((Int64, Int64, String?, Bool).self) {
            tally.countOffer(at: UnixTime(seconds: offeredAt), extensionID: extensionID, agentUsername: agent, rated: rated)
        }
        try await addRollups(tally, clientID: clientID, connection: connection, logger: logger)
    }

    /// The sum columns of `rating_day_rollup`, in `PackedMeasures.sums` order.
    static let rollupSumColumns =
        ["rated", "rate_sum", "score_units", "satisfied"] + StatisticsMeasures.keys.map { "key_\($0)" } + ["offered", "offers_rated"]

    /// Adds a row's sums to what it holds, creating it: one statement, so rows that several
    /// transactions count at once (nodes storing ratings of the same day) get every count.
    private static let rollupUpsert: String = {
        let columns = rollupSumColumns
        let placeholders = (1...(4 + columns.count)).map { "$\($0)" }.joined(separator: ", ")
        return """
            INSERT INTO rating_day_rollup (client_id, day, extension_id, agent_username, \(columns.joined(separator: ", ")))
            VALUES (\(placeholders))
            ON CONFLICT (client_id, day, extension_id, agent_username) DO UPDATE SET
                \(columns.map { "\($0) = rating_day_rollup.\($0) + excluded.\($0)" }.joined(separator: ", "))
            """
    }()

    /// Adds a client's tally to its rollup rows, in key order (`RollupTally.rows`).
    static func addRollups(_ tally: RollupTally, clientID: Int64, connection: PostgresConnection, logger: Logger) async throws {
        for (key, measures) in tally.rows {
            var bindings = PostgresBindings(capacity: 4 + PackedMeasures.count)
            bindings.append(clientID)
            bindings.append(key.day)
            bindings.append(key.extensionID)
            bindings.append(key.agentUsername)
            for sum in PackedMeasures(measures).sums { bindings.append(sum) }
            try await connection.query(PostgresQuery(unsafeSQL: rollupUpsert, binds: bindings), logger: logger)
        }
    }

    /// The rollup rows of `days`, summed by the database per day and by the grouping's column
    /// (a year of a client is then a few hundred rows per agent or extension, not every row of
    /// every extension and agent); `RatingStatistics.buckets` adds the days of a week or month.
    private static func dayTotals(
        _ query: StatisticsQuery, days: ClosedRange<Int64>, interval: StatisticsInterval?, groupBy: StatisticsGrouping?,
        connection: PostgresConnection, logger: Logger
    ) async throws -> [LocalDayTotals] {
        let group = switch groupBy {
        case nil: (select: "0::BIGINT, ''::TEXT", columns: "day")
        case .agent: (select: "0::BIGINT, agent_username", columns: "day, agent_username")
        case .extension: (select: "extension_id, ''::TEXT", columns: "day, extension_id")
        }
        let sums = rollupSumColumns.map { "sum(\($0))::BIGINT" }.joined(separator: ", ")
        var statement = ComposedQuery("SELECT day, \(group.select), \(sums) FROM rating_day_rollup")
        statement.append(" WHERE client_id = ", binding: query.clientID)
        statement.append(" AND day BETWEEN ", binding: days.lowerBound)
        statement.append(" AND ", binding: days.upperBound)
        appendFilters(query, to: &statement)
        statement.sql += " GROUP BY \(group.columns)"
        var totals: [LocalDayTotals] = []
        for try await row in try await connection.query(statement.query, logger: logger) {
            let cells = row.makeRandomAccess()
            let day = try cells[0].decode(Int64.self)
            let agent = try cells[2].decode(String.self)
            let sums = try (3..<cells.count).map { try cells[$0].decode(Int64.self) }
            totals.append(LocalDayTotals(
                firstDay: interval.map { LocalDay(number: day).firstDay(of: $0) },
                key: StatisticsKey(groupBy: groupBy, extensionID: try cells[1].decode(Int64.self), agentUsername: agent.isEmpty ? nil : agent),
                measures: PackedMeasures(sums: sums).measures))
        }
        return totals
    }

    /// The ratings and offers of a span, each read from its row.
    private static func appendFacts(
        _ query: StatisticsQuery, from: UnixTime?, through: UnixTime?, to facts: inout [StatisticsFact],
        connection: PostgresConnection, logger: Logger
    ) async throws {
        let ratings = factsQuery(
            "SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating", time: "rated_at", query, from: from,
            through: through)
        for try await (at, extensionID, agent, rate, maxRate) in try await connection.query(ratings.query, logger: logger)
            .decode((Int64, Int64, String?, Int64, Int64).self)
        {
            facts.append(StatisticsFact(
                at: UnixTime(seconds: at), extensionID: extensionID, agentUsername: agent, kind: .rating(rate: rate, maxRate: maxRate)))
        }
        let offers = factsQuery(
            "SELECT offered_at, extension_id, agent_username, rating_id IS NOT NULL FROM rating_offer", time: "offered_at", query,
            from: from, through: through)
        for try await (at, extensionID, agent, rated) in try await connection.query(offers.query, logger: logger)
            .decode((Int64, Int64, String?, Bool).self)
        {
            facts.append(StatisticsFact(at: UnixTime(seconds: at), extensionID: extensionID, agentUsername: agent, kind: .offer(rated: rated)))
        }
    }

    /// `select` of the rows of a client and span, filtered, in `time` order.
    private static func factsQuery(
        _ select: String, time: String, _ query: StatisticsQuery, from: UnixTime?, through: UnixTime?
    ) -> ComposedQuery {
        var statement = ComposedQuery(select)
        statement.append(" WHERE client_id = ", binding: query.clientID)
        if let from { statement.append(" AND \(time) >= ", binding: from.seconds) }
        if let through { statement.append(" AND \(time) <= ", binding: through.seconds) }
        appendFilters(query, to: &statement)
        statement.sql += " ORDER BY \(time)"
        return statement
    }

    /// The extension and agent filters, the same on every table (an agent filter is a username,
    /// never the '' the rollups keep for no agent).
    private static func appendFilters(_ query: StatisticsQuery, to statement: inout ComposedQuery) {
        if let extensionID = query.extensionID { statement.append(" AND extension_id = ", binding: extensionID) }
        if let agent = query.agentUsername { statement.append(" AND agent_username = ", binding: agent) }
    }
}

/// What a transaction that stores ratings or offers counts into the rollups, per client, and
/// what it knows of those clients: each read once, `FOR SHARE`, which holds off a change of the
/// client's zone (`updateClient` rebuilding the rollups) until the transaction commits, so every
/// count is by the zone the rollups are in.
struct RollupCounts {
    /// What counting and notifying need of a client.
    struct Client {
        var tally: RollupTally
        var notificationURL: String?
        var alertThreshold: Int64?
        var alertURL: String?
    }

    private var clients: [Int64: Client] = [:]

    /// The client `id`, read and locked at its first use in the transaction; nil when there is no
    /// such client (the write fails on its foreign key).
    mutating func client(_ id: Int64, connection: PostgresConnection, logger: Logger) async throws -> Client? {
        if let client = clients[id] { return client }
        let rows = try await connection.query("""
            SELECT timezone, rating_notification_url, rating_alert_threshold, rating_alert_url FROM client WHERE id = \(id) FOR SHARE
            """, logger: logger)
        for try await (timezone, notificationURL, alertThreshold, alertURL) in rows.decode((String, String?, Int64?, String?).self) {
            let client = Client(
                tally: RollupTally(zone: ClientTimeZone(identifier: timezone) ?? .utc), notificationURL: notificationURL,
                alertThreshold: alertThreshold, alertURL: alertURL)
            clients[id] = client
            return client
        }
        return nil
    }

    mutating func countRating(_ rating: NewRating) {
        clients[rating.clientID]?.tally.countRating(
            at: rating.ratedAt, extensionID: rating.extensionID, agentUsername: rating.agentUsername, rate: rating.rate,
            maxRate: rating.maxRate)
    }

    mutating func countAnswer(_ rating: NewRating, offeredAt: UnixTime) {
        clients[rating.clientID]?.tally.countAnswer(
            toOfferAt: offeredAt, extensionID: rating.extensionID, agentUsername: rating.agentUsername)
    }

    mutating func countOffer(_ offer: RatingOffer) {
        clients[offer.clientID]?.tally.countOffer(
            at: offer.offeredAt, extensionID: offer.extensionID, agentUsername: offer.agentUsername, rated: false)
    }

    /// Adds the counts to the rollups, clients in id order and each client's rows in key order.
    func write(connection: PostgresConnection, logger: Logger) async throws {
        for (id, client) in clients.sorted(by: { $0.key < $1.key }) {
            try await PostgresStore.addRollups(client.tally, clientID: id, connection: connection, logger: logger)
        }
    }
}
