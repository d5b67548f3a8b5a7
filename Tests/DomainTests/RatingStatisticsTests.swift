import Domain
import Testing

@Suite struct RatingStatisticsTests {
    /// Local days are what the rollups count by; weeks and months are read from a day's number.
    @Test func aLocalDayKnowsItsWeekAndMonth() throws {
        let day = LocalDay(LocalDateTime(parsing: "2026-03-29 23:59:59")!)
        #expect(day.weekStart == LocalDay(LocalDateTime(parsing: "2026-03-23 00:00:00")!).number)
        #expect(day.monthStart == LocalDay(LocalDateTime(parsing: "2026-03-01 00:00:00")!).number)
        // 29 March 2026 starts at 00:00 CET; the next day at 00:00 CEST, 23 hours later.
        let berlin = try #require(ClientTimeZone(identifier: "Europe/Berlin"))
        #expect(LocalDay(number: day.number + 1).start(in: berlin).seconds - day.start(in: berlin).seconds == 23 * 3600)
        // Where midnight is skipped (Santiago springs forward at 00:00), the day starts at 01:00.
        let santiago = try #require(ClientTimeZone(identifier: "America/Santiago"))
        let skipped = LocalDay(LocalDateTime(parsing: "2026-09-06 12:00:00")!)
        #expect(santiago.localTime(of: skipped.start(in: santiago)).description == "2026-09-06 01:00:00")
    }

    @Test func weeksStartOnMondayAndMonthsOnTheFirst() {
        let sunday = LocalDateTime(parsing: "2026-03-29 23:59:59")!
        #expect(RatingStatistics.bucketStart(of: sunday, interval: .week).description == "2026-03-23 00:00:00")
        #expect(RatingStatistics.bucketStart(of: LocalDateTime(parsing: "2026-03-30 00:00:00")!, interval: .week).description
            == "2026-03-30 00:00:00")
        #expect(RatingStatistics.bucketStart(of: sunday, interval: .month).description == "2026-03-01 00:00:00")
        #expect(RatingStatistics.bucketStart(of: sunday, interval: .day).description == "2026-03-29 00:00:00")
        #expect(RatingStatistics.bucketStart(of: sunday, interval: .hour).description == "2026-03-29 23:00:00")
        // A week across a year's end starts in the year before.
        #expect(RatingStatistics.bucketStart(of: LocalDateTime(parsing: "2027-01-01 12:00:00")!, interval: .week).description
            == "2026-12-28 00:00:00")
    }

    @Test func figuresOfABucket() {
        var bucket = StatisticsMeasures()
        #expect(bucket.average == nil && bucket.scorePercent == nil && bucket.csatPercent == nil && bucket.responseRatePercent == nil)
        for (rate, maxRate) in [(4, 5), (4, 5), (7, 9), (8, 9)] as [(Int64, Int64)] { bucket.addRating(rate: rate, maxRate: maxRate) }
        for rated in [true, true, false] { bucket.addOffer(rated: rated) }
        #expect(bucket.rated == 4)
        #expect(bucket.countPerKey == [4: 2, 7: 1, 8: 1])
        #expect(bucket.average == 23.0 / 4)
        #expect(abs(bucket.scorePercent! - (0.8 + 0.8 + 7.0 / 9 + 8.0 / 9) / 4 * 100) < 1e-9)
        // 4/5 and 8/9 reach 0.8; 7/9 does not.
        #expect(bucket.csatPercent == 75)
        #expect(abs(bucket.responseRatePercent! - 200.0 / 3) < 1e-9)
        // Sums add up in any order: a day's rollup plus single rows is the same as all rows.
        var halves = StatisticsMeasures()
        var other = StatisticsMeasures()
        halves.addRating(rate: 8, maxRate: 9)
        halves.addOffer(rated: false)
        other.addRating(rate: 4, maxRate: 5)
        other.addRating(rate: 4, maxRate: 5)
        other.addRating(rate: 7, maxRate: 9)
        other.addOffer(rated: true)
        other.addOffer(rated: true)
        halves.add(other)
        #expect(halves == bucket)
    }

    /// Whole local days come from the rollups, the parts a bound cuts from the rows; hour buckets
    /// and periods inside one day read the rows only.
    @Test func aPeriodIsSplitIntoWholeDaysAndTheRowsAtItsEdges() throws {
        let berlin = try #require(ClientTimeZone(identifier: "Europe/Berlin"))
        func instant(_ text: String) -> UnixTime { berlin.instant(of: LocalDateTime(parsing: text)!) }
        func day(_ text: String) -> Int64 { LocalDay(LocalDateTime(parsing: text + " 00:00:00")!).number }
        typealias Span = StatisticsPlan.Span

        let cut = StatisticsPlan(from: instant("2026-03-27 10:07:13"), through: instant("2026-03-30 02:52:01"), zone: berlin, interval: .day)
        #expect(cut == StatisticsPlan(wholeDays: day("2026-03-28")...day("2026-03-29"), rows: [
            Span(from: instant("2026-03-27 10:07:13"), through: instant("2026-03-27 23:59:59")),
            Span(from: instant("2026-03-30 00:00:00"), through: instant("2026-03-30 02:52:01")),
        ]))
        // Whole days across the spring change (the 29th is 23 hours long): no rows.
        let whole = StatisticsPlan(from: instant("2026-03-29 00:00:00"), through: instant("2026-03-30 23:59:59"), zone: berlin, interval: nil)
        #expect(whole == StatisticsPlan(wholeDays: day("2026-03-29")...day("2026-03-30"), rows: []))
        #expect(StatisticsPlan(from: nil, through: nil, zone: berlin, interval: .month)
            == StatisticsPlan(wholeDays: Int64.min...Int64.max, rows: []))
        let inOneDay = StatisticsPlan(from: instant("2026-03-29 03:00:01"), through: instant("2026-03-29 03:14:59"), zone: berlin, interval: .week)
        #expect(inOneDay == StatisticsPlan(wholeDays: nil, rows: [Span(from: instant("2026-03-29 03:00:01"), through: instant("2026-03-29 03:14:59"))]))
        #expect(StatisticsPlan(from: nil, through: nil, zone: berlin, interval: .hour) == StatisticsPlan(wholeDays: nil, rows: [Span(from: nil, through: nil)]))

        // Where midnight is skipped (Santiago, 6 September 2026), the day starts at 01:00: a bound
        // there is the day's start, not a cut.
        let santiago = try #require(ClientTimeZone(identifier: "America/Santiago"))
        let start = santiago.instant(of: LocalDateTime(parsing: "2026-09-06 01:00:00")!)
        let plan = StatisticsPlan(from: start, through: nil, zone: santiago, interval: .day)
        #expect(plan.rows.isEmpty && plan.wholeDays?.lowerBound == LocalDay(LocalDateTime(parsing: "2026-09-06 00:00:00")!).number)
    }
}
