/// Statistics of a client's ratings (issue 10): buckets of a period — per local hour, day, week
/// or month, or the whole period — optionally one per agent or extension, with the figures of
/// `StatisticsMeasures`. Pure values: storage hands over what it counted (`LocalDayTotals` from
/// its rollups, `StatisticsFact`s from single rows), this groups them.

/// The length of the interval a bucket covers, in the client's time zone.
public enum StatisticsInterval: String, Sendable, CaseIterable {
    case hour, day, week, month
}

/// What a period's ratings are split by within each interval.
public enum StatisticsGrouping: String, Sendable, CaseIterable {
    case agent, `extension`
}

/// What is counted of a client's ratings and of the rating prompts its callers were offered.
/// Sums only, so that counts of days, rows and rollups add up to the same figures.
public struct StatisticsMeasures: Sendable, Equatable {
    /// `rate / max_rate` is kept as a whole number of 1/2520ths: 2520 = lcm(1…9), and every rule
    /// allows `max_rate` 1…9 (QueueOptions.qualityRateMaxRange, a menu rule's `max_rate`), so
    /// sums of scores are exact and do not depend on the order they are added in.
    public static let scoreDenominator: Int64 = 2520
    public static let keys: ClosedRange<Int64> = 1...9

    public var rated: Int64 = 0
    public var rateSum: Int64 = 0
    public var scoreUnits: Int64 = 0
    /// Ratings with `rate / max_rate >= 0.8` (CSAT's "satisfied").
    public var satisfied: Int64 = 0
    /// How many ratings had each rate (the key pressed).
    public var countPerKey: [Int64: Int64] = [:]
    /// Rating prompts played to callers (a call that reached a rating prompt: `RatingOffer`).
    public var offered: Int64 = 0
    /// Those prompts answered with a valid key.
    public var offersRated: Int64 = 0

    public init() {}

    public init(
        rated: Int64, rateSum: Int64, scoreUnits: Int64, satisfied: Int64, countPerKey: [Int64: Int64], offered: Int64,
        offersRated: Int64
    ) {
        self.rated = rated
        self.rateSum = rateSum
        self.scoreUnits = scoreUnits
        self.satisfied = satisfied
        self.countPerKey = countPerKey
        self.offered = offered
        self.offersRated = offersRated
    }

    /// Counts one rating of `rate` out of `maxRate`.
    public mutating func addRating(rate: Int64, maxRate: Int64) {
        rated += 1
        rateSum += rate
        scoreUnits += Self.scoreUnits(rate: rate, maxRate: maxRate)
        if Self.isSatisfied(rate: rate, maxRate: maxRate) { satisfied += 1 }
        countPerKey[rate, default: 0] += 1
    }

    /// Counts one offered rating prompt, and whether the caller rated.
    public mutating func addOffer(rated: Bool) {
        offered += 1
        if rated { offersRated += 1 }
    }

    public mutating func add(_ other: StatisticsMeasures) {
        rated += other.rated
        rateSum += other.rateSum
        scoreUnits += other.scoreUnits
        satisfied += other.satisfied
        countPerKey.merge(other.countPerKey, uniquingKeysWith: +)
        offered += other.offered
        offersRated += other.offersRated
    }

    public static func scoreUnits(rate: Int64, maxRate: Int64) -> Int64 { rate * scoreDenominator / maxRate }

    /// `rate / max_rate >= 0.8`, in integers.
    public static func isSatisfied(rate: Int64, maxRate: Int64) -> Bool { rate * 5 >= maxRate * 4 }

    /// The mean rate (key pressed), whatever the rules' `max_rate`; nil without ratings.
    public var average: Double? { rated == 0 ? nil : Double(rateSum) / Double(rated) }
    /// The mean of `rate / max_rate`, as a percentage: comparable across rules.
    public var scorePercent: Double? {
        rated == 0 ? nil : Double(scoreUnits) / Double(Self.scoreDenominator) / Double(rated) * 100
    }
    /// The share of ratings with `rate / max_rate >= 0.8`, as a percentage.
    public var csatPercent: Double? { rated == 0 ? nil : Double(satisfied) / Double(rated) * 100 }
    /// The share of offered rating prompts that were answered, as a percentage; nil without offers.
    public var responseRatePercent: Double? { offered == 0 ? nil : Double(offersRated) / Double(offered) * 100 }
    public var isEmpty: Bool { rated == 0 && offered == 0 }
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

    public init(groupBy: StatisticsGrouping?, extensionID: Int64, agentUsername: String?) {
        switch groupBy {
        case nil: self = .all
        case .agent: self = .agent(agentUsername)
        case .extension: self = .extension(extensionID)
        }
    }
}

/// One rating or one offered rating prompt, read from its own row: the edges of a period that
/// cut a local day, and hour buckets, are counted from these.
public struct StatisticsFact: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case rating(rate: Int64, maxRate: Int64)
        case offer(rated: Bool)
    }

    public var at: UnixTime
    public var extensionID: Int64
    public var agentUsername: String?
    public var kind: Kind

    public init(at: UnixTime, extensionID: Int64, agentUsername: String?, kind: Kind) {
        self.at = at
        self.extensionID = extensionID
        self.agentUsername = agentUsername
        self.kind = kind
    }
}

/// The sums of whole local days, already grouped by storage: `firstDay` is the local day (days
/// since 1970-01-01 on the client's wall clock) the bucket starts on, nil without interval.
public struct LocalDayTotals: Sendable, Equatable {
    public var firstDay: Int64?
    public var key: StatisticsKey
    public var measures: StatisticsMeasures

    public init(firstDay: Int64?, key: StatisticsKey, measures: StatisticsMeasures) {
        self.firstDay = firstDay
        self.key = key
        self.measures = measures
    }
}

/// The figures of one bucket. A bucket exists only when it holds a rating or an offered prompt.
public struct StatisticsBucket: Sendable, Equatable {
    /// The local wall-clock time the interval starts at (nil: the whole period, no interval).
    public var start: LocalDateTime?
    public var key: StatisticsKey
    public var measures = StatisticsMeasures()

    public init(start: LocalDateTime?, key: StatisticsKey) {
        self.start = start
        self.key = key
    }
}

/// How a period is read (issue 10): its whole local days from the rollups per local day, and the
/// rest — the parts of days a bound cuts, or everything for hour buckets — from the rows. One rule
/// for every store, so each database answers with the same figures.
public struct StatisticsPlan: Sendable, Equatable {
    /// An inclusive span of instants; nil: unbounded on that side.
    public struct Span: Sendable, Equatable {
        public var from: UnixTime?
        public var through: UnixTime?

        public init(from: UnixTime?, through: UnixTime?) {
            self.from = from
            self.through = through
        }
    }

    /// Local day numbers read from the rollups (`Int64.min`/`.max`: unbounded), or nil.
    public var wholeDays: ClosedRange<Int64>?
    /// What is read from the rating and offer rows, in time order.
    public var rows: [Span]

    public init(wholeDays: ClosedRange<Int64>?, rows: [Span]) {
        self.wholeDays = wholeDays
        self.rows = rows
    }

    public init(from: UnixTime?, through: UnixTime?, zone: ClientTimeZone, interval: StatisticsInterval?) {
        // A local hour is not a unit of the rollups.
        guard interval != .hour else {
            self.init(wholeDays: nil, rows: [Span(from: from, through: through)])
            return
        }
        var formatter = zone.makeFormatter()
        let firstWhole = from.map { from in
            let day = LocalDay(formatter.localTime(of: from))
            return day.start(in: zone) == from ? day.number : day.number + 1
        } ?? .min
        let lastWhole = through.map { through in
            let day = LocalDay(formatter.localTime(of: through))
            return LocalDay(number: day.number + 1).start(in: zone) == through.adding(seconds: 1) ? day.number : day.number - 1
        } ?? .max
        guard firstWhole <= lastWhole else {
            self.init(wholeDays: nil, rows: [Span(from: from, through: through)])
            return
        }
        var rows: [Span] = []
        if let from, firstWhole != .min, case let start = LocalDay(number: firstWhole).start(in: zone), from < start {
            rows.append(Span(from: from, through: start.adding(seconds: -1)))
        }
        if let through, lastWhole != .max, case let next = LocalDay(number: lastWhole + 1).start(in: zone), next <= through {
            rows.append(Span(from: next, through: through))
        }
        self.init(wholeDays: firstWhole...lastWhole, rows: rows)
    }
}

public enum RatingStatistics {
    private struct Identity: Hashable {
        var start: LocalDateTime?
        var key: StatisticsKey
    }

    /// The buckets of `days` (whole local days, from rollups) and `facts` (single rows), ordered
    /// by start, then key (ratings of no agent first, then by username; extensions by id).
    public static func buckets(
        days: [LocalDayTotals], facts: some Sequence<StatisticsFact>, zone: ClientTimeZone, interval: StatisticsInterval?,
        groupBy: StatisticsGrouping?
    ) -> [StatisticsBucket] {
        var buckets: [Identity: StatisticsBucket] = [:]
        for total in days {
            let start = total.firstDay.map { LocalDateTime(secondsAsIfUTC: $0 * 86_400) }
            buckets[Identity(start: start, key: total.key), default: StatisticsBucket(start: start, key: total.key)]
                .measures.add(total.measures)
        }
        var formatter = zone.makeFormatter()
        for fact in facts {
            let start = interval.map { bucketStart(of: formatter.localTime(of: fact.at), interval: $0) }
            let key = StatisticsKey(groupBy: groupBy, extensionID: fact.extensionID, agentUsername: fact.agentUsername)
            let identity = Identity(start: start, key: key)
            switch fact.kind {
            case .rating(let rate, let maxRate):
                buckets[identity, default: StatisticsBucket(start: start, key: key)].measures.addRating(rate: rate, maxRate: maxRate)
            case .offer(let rated):
                buckets[identity, default: StatisticsBucket(start: start, key: key)].measures.addOffer(rated: rated)
            }
        }
        return buckets.values.filter { !$0.measures.isEmpty }.sorted { left, right in
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
        case .day, .week, .month:
            let day = LocalDay(local)
            return LocalDateTime(secondsAsIfUTC: day.firstDay(of: interval) * 86_400)
        }
    }
}

/// A day of a client's wall clock, as days since 1970-01-01: the unit of the statistics' rollups.
/// Rollups per local day are what make a year's statistics cheap (a few hundred rows per
/// extension and agent instead of every rating); they depend on the client's zone, so a change
/// of zone rebuilds them (Storage, `RatingRollups`).
public struct LocalDay: Sendable, Hashable {
    public var number: Int64

    public init(number: Int64) { self.number = number }

    public init(_ local: LocalDateTime) {
        number = CivilCalendar.days(year: local.year, month: local.month, day: local.day)
    }

    /// 1970-01-01 was a Thursday: (number + 3) mod 7 is 0 on Mondays.
    public var weekStart: Int64 { number - ((number + 3) % 7 + 7) % 7 }

    public var monthStart: Int64 {
        let (year, month, _) = CivilCalendar.date(days: number)
        return CivilCalendar.days(year: year, month: month, day: 1)
    }

    /// The first day of the day's, week's (from Monday) or month's bucket; an hour has none.
    public func firstDay(of interval: StatisticsInterval) -> Int64 {
        switch interval {
        case .hour, .day: number
        case .week: weekStart
        case .month: monthStart
        }
    }

    /// The instant this day starts at in `zone` (midnight, or the first minute that exists).
    public func start(in zone: ClientTimeZone) -> UnixTime {
        zone.instant(of: LocalDateTime(secondsAsIfUTC: number * 86_400))
    }
}
