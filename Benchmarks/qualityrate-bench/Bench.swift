import Access
import ArgumentParser
import AsyncHTTPClient
import Domain
import Foundation
import HTTPAPI
import Logging
import NIOCore
import PostgresNIO
import PostgresStorage
import Storage

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qualityrate-bench",
        abstract: "API benchmark: load ratings, then measure the ratings list over HTTP and directly.",
        subcommands: [Load.self, Measure.self, StatisticsBench.self])
}

/// The data set: client 1 has `largeClientRatings`; the other clients share the rest evenly,
/// so one day of one of them is about `total / clients / 90` ratings.
struct DataSet {
    static let days: Int64 = 90
    /// 2026-07-01 00:00:00 UTC: fixed, so runs are comparable.
    static let start = UnixTime(seconds: 1_782_864_000)
    static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]

    /// How many ratings the client at `index` (0 for client 1) gets.
    static func count(ofClient index: Int, total: Int, clients: Int, largeClientRatings: Int) -> Int {
        index == 0 ? largeClientRatings : (total - largeClientRatings) / (clients - 1)
    }

    /// The `row`-th of a client's `count` ratings: spread evenly over the days (a few seconds of
    /// jitter), three extensions, a quarter of them of the whole call and the rest of 20 agents.
    static func rating(
        row: Int, of count: Int, clientID: Int64, using generator: inout some RandomNumberGenerator
    ) -> NewRating {
        let ratedAt = start.adding(seconds: Int64(row) * days * 86_400 / Int64(count) + Int64.random(in: 0..<5, using: &generator))
        let agent: String? = row % 4 == 0 ? nil : "1\(String(format: "%02d", row % 20))"
        return NewRating(
            clientID: clientID, callUUID: .random(using: &generator), ratedAt: ratedAt,
            extensionID: Int64(1000 + row % 3), rate: Int64(1 + row % 5), maxRate: 5, agentUsername: agent)
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the clients and their ratings (skipped when already loaded).",
        discussion: """
            --database is a SQLite file, or a postgres:// URL of an empty database (reached without TLS). \
            On SQLite the ratings go through the store (with their statistics rollups); on PostgreSQL \
            the same rows are copied straight into the rating table (COPY, no rollups: only the \
            ratings list is measured), then the table is vacuumed and analyzed.
            """)

    @Option var database: String
    @Option var credentials: String
    @Option var clients = 100
    @Option var total = 10_000_000
    @Option(name: .customLong("large-client")) var largeClientRatings = 1_000_000

    func run() async throws {
        let isPostgres = PostgresLocation.isURL(database)
        if FileManager.default.fileExists(atPath: credentials), isPostgres || FileManager.default.fileExists(atPath: database) {
            print("data set already loaded: \(database)")
            return
        }
        let logger = Logger(label: "qualityrate-bench")
        let apps = try await DatabaseArgument.withStore(database, maximumConnections: 4, logger: logger) { store in
            let provisioning = Provisioning(store: store)
            var apps: [[String: any Sendable]] = []
            for index in 0..<clients {
                let zone = ClientTimeZone(identifier: DataSet.zones[index % DataSet.zones.count])!
                let client = try await provisioning.createClient(name: "Bench \(index + 1)", timezone: zone, domain: nil)
                apps.append(["client_id": client.clientID, "app_id": client.appID, "app_secret": client.appSecret, "timezone": zone.identifier])
            }
            guard !isPostgres else { return apps }
            try await insertRatings(into: store, clientIDs: apps.map { $0["client_id"] as! Int64 })
            return apps
        }
        if isPostgres {
            try await copyRatings(into: try PostgresLocation(url: database), clientIDs: apps.map { $0["client_id"] as! Int64 }, logger: logger)
        }
        let data = try JSONSerialization.data(withJSONObject: apps)
        try data.write(to: URL(fileURLWithPath: credentials))
    }

    /// Through `Store.insertRatings`, 100,000 to a transaction.
    private func insertRatings(into store: any Store, clientIDs: [Int64]) async throws {
        let began = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        var loaded = 0
        for (index, clientID) in clientIDs.enumerated() {
            let count = DataSet.count(ofClient: index, total: total, clients: clients, largeClientRatings: largeClientRatings)
            var batch: [NewRating] = []
            batch.reserveCapacity(100_000)
            for row in 0..<count {
                batch.append(DataSet.rating(row: row, of: count, clientID: clientID, using: &generator))
                if batch.count == 100_000 {
                    try await store.insertRatings(batch)
                    loaded += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try await store.insertRatings(batch)
            loaded += batch.count
            if index % 10 == 0 { print("loaded \(loaded) ratings") }
        }
        printLoaded(loaded, since: began)
    }

    /// The same rows as `insertRatings` makes, by `COPY rating FROM STDIN` on one connection: the
    /// store's `insertRatings` makes several round trips per rating (the row, its rollup), far too
    /// many for 10 million. One COPY per client (a transaction each), then `VACUUM ANALYZE`: the
    /// planner's statistics, and the visibility map and hint bits set now rather than by the
    /// first queries measured.
    private func copyRatings(into location: PostgresLocation, clientIDs: [Int64], logger: Logger) async throws {
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await copyRatings(on: connection, clientIDs: clientIDs, logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func copyRatings(on connection: PostgresConnection, clientIDs: [Int64], logger: Logger) async throws {
        let began = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        var loaded = 0
        for (index, clientID) in clientIDs.enumerated() {
            let count = DataSet.count(ofClient: index, total: total, clients: clients, largeClientRatings: largeClientRatings)
            try await connection.copyFrom(
                table: "rating", columns: ["client_id", "call_uuid", "rated_at", "extension_id", "rate", "max_rate", "agent_username"],
                logger: logger
            ) { writer in
                var lines = ByteBuffer()
                lines.reserveCapacity(1 << 20)
                for row in 0..<count {
                    let rating = DataSet.rating(row: row, of: count, clientID: clientID, using: &generator)
                    // COPY's text format: tab-separated, \N for NULL.
                    lines.writeString("""
                        \(rating.clientID)\t\(rating.callUUID.value)\t\(rating.ratedAt.seconds)\t\(rating.extensionID)\t\
                        \(rating.rate)\t\(rating.maxRate)\t\(rating.agentUsername ?? "\\N")\n
                        """)
                    if lines.readableBytes >= 1 << 20 {
                        try await writer.write(lines)
                        lines.clear()
                    }
                }
                try await writer.write(lines)
            }
            loaded += count
            if index % 10 == 0 { print("loaded \(loaded) ratings") }
        }
        printLoaded(loaded, since: began)
        let vacuumStart = ContinuousClock.now
        try await connection.query("VACUUM ANALYZE rating", logger: logger)
        print(String(format: "VACUUM ANALYZE rating: %.1f s", (ContinuousClock.now - vacuumStart).seconds))
    }

    private func printLoaded(_ loaded: Int, since began: ContinuousClock.Instant) {
        let seconds = (ContinuousClock.now - began).seconds
        print(String(format: "loaded %d ratings for %d clients in %.1f s (%.0f rows/s)", loaded, clients, seconds, Double(loaded) / seconds))
    }
}

struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure against a running server on the loaded database.")

    @Option var database: String
    @Option var credentials: String
    @Option var url: String
    @Option(name: .customLong("server-pid")) var serverPID: Int32
    @Option var requests = 2000
    @Option var concurrency = 4

    func run() async throws {
        let apps = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials))) as! [[String: Any]]
        let http = HTTPClient.shared
        var tokens: [Int64: String] = [:]
        for app in apps {
            tokens[app["client_id"] as! Int64] = try await token(http, app)
        }
        var generator = SystemRandomNumberGenerator()
        // The same (client, day) pairs for every measurement; client 1 (1M ratings) is left out.
        let queries: [DayQuery] = (0..<requests).map { _ in
            let app = apps[Int.random(in: 1..<apps.count, using: &generator)]
            let zone = ClientTimeZone(identifier: app["timezone"] as! String)!
            let day = zone.localTime(of: DataSet.start.adding(seconds: 86_400 * Int64.random(in: 1..<(DataSet.days - 1), using: &generator)))
            let date = String(format: "%04d-%02d-%02d", day.year, day.month, day.day)
            return DayQuery(clientID: app["client_id"] as! Int64, zone: zone, date: date)
        }

        print("== one-day ratings list of one client (\(requests) requests)")
        let (direct, rows) = try await DatabaseArgument.withStore(
            database, maximumConnections: 4, logger: Logger(label: "qualityrate-bench")
        ) { store in
            var rows = 0
            var direct: [Duration] = []
            for query in queries {
                let began = ContinuousClock.now
                rows += try await query.runDirect(store)
                direct.append(ContinuousClock.now - began)
            }
            return (direct, rows)
        }
        report("direct \(PostgresLocation.isURL(database) ? "PostgreSQL" : "SQLite") + JSON encoding, sequential", direct, rows: rows)

        _ = try await query(http, queries[0], token: tokens[queries[0].clientID]!)
        var sequential: [Duration] = []
        for query in queries {
            let began = ContinuousClock.now
            _ = try await self.query(http, query, token: tokens[query.clientID]!)
            sequential.append(ContinuousClock.now - began)
        }
        report("HTTP on loopback, sequential", sequential, rows: rows)
        print(String(format: "  ratio HTTP / direct: p50 %.2fx, p99 %.2fx",
                     percentile(sequential, 0.5) / percentile(direct, 0.5), percentile(sequential, 0.99) / percentile(direct, 0.99)))

        let began = ContinuousClock.now
        let allTokens = tokens
        let measure = self
        let concurrent = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<concurrency {
                let share = stride(from: worker, to: queries.count, by: concurrency).map { queries[$0] }
                group.addTask {
                    var latencies: [Duration] = []
                    for query in share {
                        let start = ContinuousClock.now
                        _ = try await measure.query(http, query, token: allTokens[query.clientID]!)
                        latencies.append(ContinuousClock.now - start)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let wall = (ContinuousClock.now - began).seconds
        report("HTTP on loopback, \(concurrency) concurrent clients", concurrent, rows: rows, wall: wall)

        let largeClient = apps[0]["client_id"] as! Int64
        for format in ["json", "csv"] {
            print("== unfiltered list of client 1 as \(format.uppercased())")
            let baseline = memory(of: serverPID)
            try? "5".write(toFile: "/proc/\(serverPID)/clear_refs", atomically: false, encoding: .utf8)
            let listStart = ContinuousClock.now
            let (bytes, count) = try await streamAll(http, clientID: largeClient, token: tokens[largeClient]!, format: format)
            let listSeconds = (ContinuousClock.now - listStart).seconds
            let after = memory(of: serverPID)
            print(String(format: "  %d ratings, %.1f MB of %@ in %.2f s (%.0f rows/s, %.1f MB/s)", count, Double(bytes) / 1e6,
                         format.uppercased(), listSeconds, Double(count) / listSeconds, Double(bytes) / 1e6 / listSeconds))
            print("  server memory: RSS before \(baseline.rss / 1024) MB, peak during the list \(after.peak / 1024) MB")
        }
    }

    struct DayQuery: Sendable {
        var clientID: Int64
        var zone: ClientTimeZone
        var date: String

        func runDirect(_ store: any Store) async throws -> Int {
            var filter = RatingQuery(
                clientID: clientID, from: zone.instant(of: LocalDateTime(parsing: "\(date) 00:00:00")!),
                through: zone.instant(of: LocalDateTime(parsing: "\(date) 23:59:59")!), limit: 1000)
            var encoder = RatingListEncoder(zone: zone, withAgent: false, expectedRows: 1000)
            var rows = 0
            var bytes = 0
            while true {
                let page = try await store.ratings(filter)
                encoder.append(page)
                rows += page.count
                guard page.count == filter.limit, let last = page.last else { break }
                filter.after = RatingCursor(after: last)
                bytes += encoder.takeBytes().count
            }
            bytes += encoder.finish().count
            precondition(bytes > 0)
            return rows
        }
    }

    func token(_ http: HTTPClient, _ app: [String: Any]) async throws -> String {
        try await Self.token(http, url: url, app)
    }

    static func token(_ http: HTTPClient, url: String, _ app: [String: Any]) async throws -> String {
        var request = HTTPClientRequest(url: "\(url)/oauth/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials&client_id=\(app["app_id"]!)&client_secret=\(app["app_secret"]!)"))
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 16)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as! [String: Any]
        return object["access_token"] as! String
    }

    func query(_ http: HTTPClient, _ query: DayQuery, token: String) async throws -> Int {
        var request = HTTPClientRequest(
            url: "\(url)/api/ver1.0/client/\(query.clientID)/quality_rate/?start_datetime=\(query.date)%2000:00:00&end_datetime=\(query.date)%2023:59:59")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await http.execute(request, timeout: .seconds(30))
        guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code) for \(request.url)") }
        return try await response.body.collect(upTo: 1 << 24).readableBytes
    }

    /// Streams the client's whole ratings list: JSON counts a row per object, CSV (`format=csv`,
    /// the agent columns included) a row per CRLF after the header.
    func streamAll(_ http: HTTPClient, clientID: Int64, token: String, format: String) async throws -> (bytes: Int, rows: Int) {
        var request = HTTPClientRequest(url: "\(url)/api/ver1.0/client/\(clientID)/quality_rate/?format=\(format)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await http.execute(request, timeout: .seconds(600))
        guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code) for \(request.url)") }
        let rowStart = format == "csv" ? UInt8(ascii: "\n") : UInt8(ascii: "{")
        var bytes = 0
        var rows = format == "csv" ? -1 : 0
        for try await chunk in response.body {
            bytes += chunk.readableBytes
            rows += chunk.readableBytesView.lazy.filter { $0 == rowStart }.count
        }
        return (bytes, rows)
    }

    func report(_ title: String, _ latencies: [Duration], rows: Int, wall: Double? = nil) {
        let total = wall ?? latencies.reduce(Duration.zero, +).seconds
        print(String(format: "  %@: p50 %.2f ms, p99 %.2f ms, %.0f requests/s, %.0f rows per request",
                     title, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000,
                     Double(latencies.count) / total, Double(rows) / Double(latencies.count)))
    }

    func percentile(_ latencies: [Duration], _ fraction: Double) -> Double { Self.percentile(latencies, fraction) }

    static func percentile(_ latencies: [Duration], _ fraction: Double) -> Double {
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))].seconds
    }

    /// Resident and peak resident memory of a process, in KiB, from /proc.
    func memory(of pid: Int32) -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
