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
}
