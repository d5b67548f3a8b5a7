/// Statistics of a client's ratings (issue 10): buckets of a period — per local hour, day, week
/// or month, or the whole period — optionally one per agent or extension, with the figures of
/// `StatisticsBucket`. Pure values: storage hands over `RatingTally`s, this groups them.

/// The length of the interval a bucket covers, in the client's time zone.
public enum StatisticsInterval: String, Sendable, CaseIterable {
    case hour, day, week, month
}

/// What a period's ratings are split by within each interval.
public enum StatisticsGrouping: String, Sendable, CaseIterable {
    case agent, `extension`
}

/// How many ratings of one kind (extension, agent, rate, max_rate) fell in one UTC quarter-hour.
///
/// Statistics are built from quarter-hours because every UTC offset in use (since 1972) is a
/// whole number of quarter-hours — +05:30, +05:45, +12:45 included — and daylight-saving changes
/// happen on quarter-hour boundaries: a UTC quarter-hour therefore lies inside one local hour of
/// any zone, so it falls in exactly one local hour, day, week and month, and the counts do not
/// depend on the client's zone (changing it needs no rebuild).
public struct RatingTally: Sendable, Equatable {
    /// Seconds in the unit of the rollups.
    public static let slotSeconds: Int64 = 900

    /// An instant inside the quarter-hour: the ratings' common local bucket is read from it.
    public var at: UnixTime
    public var extensionID: Int64
    public var agentUsername: String?
    public var rate: Int64
    public var maxRate: Int64
    public var count: Int64

    public init(at: UnixTime, extensionID: Int64, agentUsername: String?, rate: Int64, maxRate: Int64, count: Int64) {
        self.at = at
        self.extensionID = extensionID
        self.agentUsername = agentUsername
        self.rate = rate
        self.maxRate = maxRate
        self.count = count
    }

    /// The start of the UTC quarter-hour `instant` is in.
    public static func slot(of instant: UnixTime) -> UnixTime {
        UnixTime(seconds: floorDivide(instant.seconds, slotSeconds) * slotSeconds)
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}

/// Which agent or extension a bucket is of, when the statistics are grouped.
public enum StatisticsKey: Hashable, Sendable, Comparable {
    case all
    /// nil: ratings of the whole call, of no agent.
    case agent(String?)
    case `extension`(Int64)

    public static func < (lhs: StatisticsKey, rhs: StatisticsKey) -> Bool {
        switch (lhs, rhs) {
        case (.agent(let left), .agent(let right)):
            switch (left, right) {
            case (nil, .some): true
            case (.some(let left), .some(let right)): left < right
            default: false
            }
        case (.extension(let left), .extension(let right)): left < right
        default: false
        }
    }
}

/// The figures of one bucket. A bucket exists only when it holds at least one rating, so the
/// averages are always defined.
public struct StatisticsBucket: Sendable, Equatable {
    /// The local wall-clock time the interval starts at (nil: the whole period, no interval).
    public var start: LocalDateTime?
    public var key: StatisticsKey
    public var count: Int64 = 0
    /// How many ratings had each rate (the key pressed).
    public var countPerKey: [Int64: Int64] = [:]
    var rateSum: Int64 = 0
    var scoreSum: Double = 0
    var satisfied: Int64 = 0

    public init(start: LocalDateTime?, key: StatisticsKey) {
        self.start = start
        self.key = key
    }

    /// The mean rate (key pressed), whatever the rules' `max_rate`.
    public var average: Double { Double(rateSum) / Double(count) }
    /// The mean of `rate / max_rate`, as a percentage: comparable across rules.
    public var scorePercent: Double { scoreSum / Double(count) * 100 }
    /// The share of ratings with `rate / max_rate >= 0.8`, as a percentage.
    public var csatPercent: Double { Double(satisfied) / Double(count) * 100 }

    /// Counts `count` ratings of `rate` out of `maxRate`.
    public mutating func add(rate: Int64, maxRate: Int64, count: Int64) {
        self.count += count
        countPerKey[rate, default: 0] += count
        rateSum += rate * count
        scoreSum += Double(rate * count) / Double(maxRate)
        // rate / max_rate >= 0.8, in integers.
        if rate * 5 >= maxRate * 4 { satisfied += count }
    }
}

public enum RatingStatistics {
    private struct Identity: Hashable {
        var start: LocalDateTime?
        var key: StatisticsKey
    }

    /// The buckets of `tallies`, ordered by start, then key (ratings of no agent first, then by
    /// username; extensions by id).
    public static func buckets(
        _ tallies: some Sequence<RatingTally>, zone: ClientTimeZone, interval: StatisticsInterval?,
        groupBy: StatisticsGrouping?
    ) -> [StatisticsBucket] {
        var formatter = zone.makeFormatter()
        var buckets: [Identity: StatisticsBucket] = [:]
        for tally in tallies {
            let start = interval.map { bucketStart(of: formatter.localTime(of: tally.at), interval: $0) }
            let key: StatisticsKey =
                switch groupBy {
                case nil: .all
                case .agent: .agent(tally.agentUsername)
                case .extension: .extension(tally.extensionID)
                }
            let identity = Identity(start: start, key: key)
            buckets[identity, default: StatisticsBucket(start: start, key: key)]
                .add(rate: tally.rate, maxRate: tally.maxRate, count: tally.count)
        }
        return buckets.values.sorted { left, right in
            let (leftStart, rightStart) = (left.start?.secondsAsIfUTC ?? 0, right.start?.secondsAsIfUTC ?? 0)
            return leftStart != rightStart ? leftStart < rightStart : left.key < right.key
        }
    }

    /// The local wall-clock start of the interval `local` is in: the hour, the day, the week
    /// (ISO: from Monday) or the month. Labels, not instants: in an autumn change's repeated
    /// hour both passes fall in one hour bucket (two hours long), as the day is 25 hours long.
    public static func bucketStart(of local: LocalDateTime, interval: StatisticsInterval) -> LocalDateTime {
        switch interval {
        case .hour:
            return LocalDateTime(year: local.year, month: local.month, day: local.day, hour: local.hour, minute: 0, second: 0)
        case .day:
            return LocalDateTime(year: local.year, month: local.month, day: local.day, hour: 0, minute: 0, second: 0)
        case .week:
            let days = CivilCalendar.days(year: local.year, month: local.month, day: local.day)
            // 1970-01-01 was a Thursday: (days + 3) mod 7 is 0 on Mondays.
            let sinceMonday = ((days + 3) % 7 + 7) % 7
            return LocalDateTime(secondsAsIfUTC: (days - sinceMonday) * 86_400)
        case .month:
            return LocalDateTime(year: local.year, month: local.month, day: 1, hour: 0, minute: 0, second: 0)
        }
    }
}
