import Access
import ArgumentParser
import AsyncHTTPClient
import Domain
import Foundation
import GRDB
import NIOCore
import Storage

/// `scripts/bench-statistics` (issue 10): a year of statistics of a client with 1,000,000
/// ratings, from the rollups over HTTP, against the same figures computed by scanning the rows.
struct StatisticsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statistics",
        abstract: "Load a year of ratings for one client (once), then time its statistics over HTTP and by scanning the rows.")

    @Option var database: String
    @Option var credentials: String
    /// Set to measure (a server must run on the database); absent: load only.
    @Option var url: String?
    @Option var ratings = 1_000_000
    @Option var requests = 200

    /// 2025 in Berlin, through both of its daylight-saving changes.
    static let year = (from: "2025-01-01 00:00:00", through: "2025-12-31 23:59:59")
    static let zone = ClientTimeZone(identifier: "Europe/Berlin")!

    func run() async throws {
        if let url {
            try await measure(url: url)
        } else {
            try await load()
        }
    }

    /// Ratings spread evenly over the year across 4 extensions and 20 agents, each agent in every
    /// extension (a quarter of the ratings are of the whole call), max_rate 5 or 9; each answers a
    /// recorded offer, and one caller in four more was offered the prompt and did not rate.
    func load() async throws {
        if FileManager.default.fileExists(atPath: credentials), FileManager.default.fileExists(atPath: database) {
            print("data set already loaded: \(database)")
            return
        }
        let store = try SQLiteStore(path: database)
        let client = try await Provisioning(store: store).createClient(name: "Statistics bench", timezone: Self.zone, domain: nil)
        let start = Self.zone.instant(of: LocalDateTime(parsing: Self.year.from)!).seconds
        let span = Self.zone.instant(of: LocalDateTime(parsing: Self.year.through)!).seconds - start
        var generator = SystemRandomNumberGenerator()
        let began = ContinuousClock.now
        for batchStart in stride(from: 0, to: ratings, by: 50_000) {
            var offers: [RatingOffer] = []
            var batch: [NewRating] = []
            for index in batchStart..<min(batchStart + 50_000, ratings) {
                let ratedAt = UnixTime(seconds: start + Int64(index) * span / Int64(ratings))
                let maxRate: Int64 = index % 2 == 0 ? 5 : 9
                let agent: String? = index % 4 == 0 ? nil : String(100 + index % 20)
                let offer = RatingOffer(
                    clientID: client.clientID, callUUID: .random(using: &generator), offeredAt: ratedAt.adding(seconds: -8),
                    extensionID: Int64(1 + index / 3 % 4), agentUsername: agent)
                offers.append(offer)
                if index % 4 == 1 {
                    offers.append(RatingOffer(
                        clientID: client.clientID, callUUID: .random(using: &generator), offeredAt: ratedAt.adding(seconds: 30),
                        extensionID: offer.extensionID, agentUsername: agent))
                }
                batch.append(NewRating(
                    clientID: client.clientID, callUUID: offer.callUUID, ratedAt: ratedAt, extensionID: offer.extensionID,
                    rate: Int64.random(in: 1...maxRate, using: &generator), maxRate: maxRate, agentUsername: agent,
                    offeredAt: offer.offeredAt))
            }
            try await store.recordRatingOffers(offers)
            try await store.insertRatings(batch)
        }
        let seconds = (ContinuousClock.now - began).seconds
        print(String(format: "loaded %d ratings with their offers in %.1f s (%.0f ratings/s)", ratings, seconds, Double(ratings) / seconds))
        let app: [String: Any] = ["client_id": client.clientID, "app_id": client.appID, "app_secret": client.appSecret]
        try JSONSerialization.data(withJSONObject: app).write(to: URL(fileURLWithPath: credentials))
    }

    func measure(url: String) async throws {
        let app = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials))) as! [String: Any]
        let clientID = app["client_id"] as! Int64
        let http = HTTPClient.shared
        let token = try await Measure.token(http, url: url, app)
        let store = try SQLiteStore(path: database)
        // The rows are read beside the store, as any SQLite client could.
        var readOnly = Configuration()
        readOnly.readonly = true
        let rows = try DatabaseQueue(path: database, configuration: readOnly)
        let query = StatisticsQuery(
            clientID: clientID, from: Self.zone.instant(of: LocalDateTime(parsing: Self.year.from)!),
            through: Self.zone.instant(of: LocalDateTime(parsing: Self.year.through)!))
        let rollupRows = try await rows.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rating_day_rollup WHERE client_id = ?", arguments: [clientID]) ?? 0
        }
        print("== statistics of a year (2025, Europe/Berlin) of one client with \(ratings) ratings; \(rollupRows) local-day rollup rows")
        let cases: [(StatisticsInterval?, StatisticsGrouping?)] = [
            (nil, nil), (.day, nil), (.week, .extension), (.month, .agent), (.day, .agent),
        ]
        for (interval, groupBy) in cases {
            var parameters = "start_datetime=2025-01-01%2000:00:00&end_datetime=2025-12-31%2023:59:59"
            if let interval { parameters += "&interval=\(interval.rawValue)" }
            if let groupBy { parameters += "&group_by=\(groupBy.rawValue)" }
            let path = "\(url)/api/ver1.0/client/\(clientID)/quality_rate/statistics/?\(parameters)"
            _ = try await get(http, path, token: token)
            var latencies: [Duration] = []
            var bytes = 0
            for _ in 0..<requests {
                let began = ContinuousClock.now
                bytes = try await get(http, path, token: token)
                latencies.append(ContinuousClock.now - began)
            }
            // The same figures from every rating and offer row of the year, bucketed in Swift:
            // what answering without rollups costs, and a check that the rollups agree.
            let scanBegan = ContinuousClock.now
            let scanned = try await scan(rows, query, interval: interval, groupBy: groupBy)
            let scanTime = ContinuousClock.now - scanBegan
            var direct: [Duration] = []
            var fromRollups: [StatisticsBucket] = []
            for _ in 0..<20 {
                let began = ContinuousClock.now
                fromRollups = try await store.ratingStatistics(query, zone: Self.zone, interval: interval, groupBy: groupBy)
                direct.append(ContinuousClock.now - began)
            }
            guard scanned == fromRollups else {
                throw ValidationError("interval \(interval?.rawValue ?? "none"), group_by \(groupBy?.rawValue ?? "none"): the rollups disagree with the rows")
            }
            print(String(
                format: "  interval %@, group_by %@: %d buckets, %d bytes; HTTP p50 %.2f ms, p99 %.2f ms (%d requests); the store alone p50 %.2f ms; scanning the rows %.0f ms; figures equal",
                interval?.rawValue ?? "none", groupBy?.rawValue ?? "none", fromRollups.count, bytes,
                Measure.percentile(latencies, 0.5) * 1000, Measure.percentile(latencies, 0.99) * 1000, requests,
                Measure.percentile(direct, 0.5) * 1000, scanTime.seconds * 1000))
        }
        // Hour buckets read the rows (docs/API.md): a year of them is the slow case.
        let hourPath = "\(url)/api/ver1.0/client/\(clientID)/quality_rate/statistics/?start_datetime=2025-01-01%2000:00:00&end_datetime=2025-12-31%2023:59:59&interval=hour"
        var hours: [Duration] = []
        for _ in 0..<3 {
            let began = ContinuousClock.now
            _ = try await get(http, hourPath, token: token)
            hours.append(ContinuousClock.now - began)
        }
        print(String(format: "  interval hour over the year (read from the rows): median %.0f ms of 3", Measure.percentile(hours, 0.5) * 1000))
        let dayPath = "\(url)/api/ver1.0/client/\(clientID)/quality_rate/statistics/?start_datetime=2025-06-02%2000:00:00&end_datetime=2025-06-02%2023:59:59&interval=hour&group_by=agent"
        var day: [Duration] = []
        for _ in 0..<requests {
            let began = ContinuousClock.now
            _ = try await get(http, dayPath, token: token)
            day.append(ContinuousClock.now - began)
        }
        print(String(format: "  interval hour, group_by agent, one day: HTTP p50 %.2f ms, p99 %.2f ms", Measure.percentile(day, 0.5) * 1000,
                     Measure.percentile(day, 0.99) * 1000))
    }

    private func scan(
        _ rows: DatabaseQueue, _ query: StatisticsQuery, interval: StatisticsInterval?, groupBy: StatisticsGrouping?
    ) async throws -> [StatisticsBucket] {
        let facts = try await rows.read { db -> [StatisticsFact] in
            var facts: [StatisticsFact] = []
            let ratings = try Row.fetchCursor(
                db, sql: "SELECT rated_at, extension_id, agent_username, rate, max_rate FROM rating WHERE client_id = ? AND rated_at BETWEEN ? AND ?",
                arguments: [query.clientID, query.from!.seconds, query.through!.seconds])
            while let row = try ratings.next() {
                facts.append(StatisticsFact(
                    at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], kind: .rating(rate: row[3], maxRate: row[4])))
            }
            let offers = try Row.fetchCursor(
                db, sql: """
                    SELECT offered_at, extension_id, agent_username, rating_id IS NOT NULL FROM rating_offer
                    WHERE client_id = ? AND offered_at BETWEEN ? AND ?
                    """,
                arguments: [query.clientID, query.from!.seconds, query.through!.seconds])
            while let row = try offers.next() {
                facts.append(StatisticsFact(at: UnixTime(seconds: row[0]), extensionID: row[1], agentUsername: row[2], kind: .offer(rated: row[3])))
            }
            return facts.sorted { $0.at < $1.at }
        }
        return RatingStatistics.buckets(days: [], facts: facts, zone: Self.zone, interval: interval, groupBy: groupBy)
    }

    private func get(_ http: HTTPClient, _ url: String, token: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await http.execute(request, timeout: .seconds(120))
        guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code) for \(url)") }
        return try await response.body.collect(upTo: 1 << 26).readableBytes
    }
}
