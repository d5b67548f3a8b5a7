import Domain
import Testing

@Suite struct RatingStatisticsTests {
    /// The rollups' premise (RatingTally): in zones with half- and quarter-hour offsets and
    /// daylight-saving changes, a UTC quarter-hour lies within one local hour all year.
    @Test(arguments: ["Europe/Berlin", "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Chatham", "America/St_Johns"])
    func everyUTCQuarterHourLiesInOneLocalHour(zoneName: String) throws {
        let zone = try #require(ClientTimeZone(identifier: zoneName))
        var first = zone.makeFormatter()
        var last = zone.makeFormatter()
        for slot in stride(from: Int64(1_767_225_600), to: Int64(1_798_761_600), by: Int(RatingTally.slotSeconds)) {
            let start = RatingStatistics.bucketStart(of: first.localTime(of: UnixTime(seconds: slot)), interval: .hour)
            let end = RatingStatistics.bucketStart(
                of: last.localTime(of: UnixTime(seconds: slot + RatingTally.slotSeconds - 1)), interval: .hour)
            #expect(start == end, "\(zoneName) slot \(slot)")
            if start != end { return }
        }
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
        var bucket = StatisticsBucket(start: nil, key: .all)
        bucket.add(rate: 4, maxRate: 5, count: 2)
        bucket.add(rate: 7, maxRate: 9, count: 1)
        bucket.add(rate: 8, maxRate: 9, count: 1)
        #expect(bucket.count == 4)
        #expect(bucket.countPerKey == [4: 2, 7: 1, 8: 1])
        #expect(bucket.average == 23.0 / 4)
        #expect(abs(bucket.scorePercent - (0.8 + 0.8 + 7.0 / 9 + 8.0 / 9) / 4 * 100) < 1e-9)
        // 4/5 and 8/9 reach 0.8; 7/9 does not.
        #expect(bucket.csatPercent == 75)
    }
}
