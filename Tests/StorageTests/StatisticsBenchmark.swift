import Domain
import Foundation
@testable import Storage
import Testing
import TestSupport

/// A measurement, not a check (no timed assertion), skipped unless `QR_BENCH_STATISTICS` is set:
/// `QR_BENCH_STATISTICS=1 [BENCH_N=1000000] swift test --skip-build --filter StatisticsBenchmark`
/// loads BENCH_N ratings spread evenly over 2025 (4 extensions, 20 agents, max_rate 5 or 9) and
/// prints the time of a year's statistics from the rollups (median of 5) against a bare SQL scan
/// of the ratings. Figures: docs/API.md, "Statistics".
@Suite(.enabled(if: ProcessInfo.processInfo.environment["QR_BENCH_STATISTICS"] != nil))
struct StatisticsBenchmark {
    @Test func statisticsOfAYear() async throws {
        let database = try TemporaryDatabase()
        let store = try SQLiteStore(path: database.path)
        let client = try await store.createClient(name: "Bench", timezone: "Europe/Berlin", domain: "bench.local")
        var state: UInt64 = 42
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let start: Int64 = 1_735_689_600
        let total = Int(ProcessInfo.processInfo.environment["BENCH_N"] ?? "1000000")!
        let step = 31_536_000 / Int64(total)
        var clock = ContinuousClock.now
        for batch in stride(from: 0, to: total, by: 10_000) {
            let ratings = (batch..<min(batch + 10_000, total)).map { index -> NewRating in
                let maxRate: Int64 = next() % 2 == 0 ? 5 : 9
                return NewRating(
                    clientID: client.id, callUUID: .random(), ratedAt: UnixTime(seconds: start + Int64(index) * step),
                    extensionID: Int64(next() % 4 + 1), rate: Int64(next() % UInt64(maxRate)) + 1, maxRate: maxRate,
                    agentUsername: String(100 + next() % 20))
            }
            try await store.insertRatings(ratings)
        }
        print("loaded \(total) ratings in \(ContinuousClock.now - clock)")
        let rollupRows = try await store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rating_rollup")! }
        print("rollup rows: \(rollupRows)")
        let zone = ClientTimeZone(identifier: "Europe/Berlin")!
        let from = zone.instant(of: LocalDateTime(parsing: "2025-01-01 00:00:00")!)
        let through = zone.instant(of: LocalDateTime(parsing: "2025-12-31 23:59:59")!)
        for (interval, group) in [(StatisticsInterval?.none, StatisticsGrouping?.none), (.month, .agent), (.day, .agent), (.week, .extension)] {
            var times: [Duration] = []
            for _ in 0..<5 {
                let began = ContinuousClock.now
                let buckets = RatingStatistics.buckets(
                    try await store.ratingTallies(StatisticsQuery(clientID: client.id, from: from, through: through)),
                    zone: zone, interval: interval, groupBy: group)
                times.append(ContinuousClock.now - began)
                #expect(!buckets.isEmpty)
            }
            print("interval \(interval?.rawValue ?? "none"), group_by \(group?.rawValue ?? "none"): \(times.sorted()[2]) (median of 5)")
        }
        clock = ContinuousClock.now
        let scanned = try await store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) + SUM(rate) FROM rating WHERE client_id = ? AND rated_at BETWEEN ? AND ?",
                             arguments: [client.id, from.seconds, through.seconds])!
        }
        print("bare SQL scan of the ratings (COUNT + SUM only): \(ContinuousClock.now - clock) (\(scanned))")
    }
}
