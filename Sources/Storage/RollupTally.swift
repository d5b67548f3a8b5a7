package import Domain

/// The sums a write adds to one client's rows of `rating_day_rollup` (issue 10), gathered before
/// they are written: per local day of the client's zone, extension and agent. Every store counts
/// with it where it recounts a client (`RatingRollups.rebuild` on SQLite), and PostgreSQL also
/// where it counts a batch of ratings or offers, so both databases key a rating to the same row.
package struct RollupTally {
    /// A rollup row's key within the client.
    package struct Key: Hashable, Comparable {
        /// The local day's number (`LocalDay.number`).
        package var day: Int64
        package var extensionID: Int64
        /// '' for ratings of the whole call: a key column cannot be NULL and stay unique.
        package var agentUsername: String

        package static func < (left: Key, right: Key) -> Bool {
            (left.day, left.extensionID, left.agentUsername) < (right.day, right.extensionID, right.agentUsername)
        }
    }

    package private(set) var sums: [Key: StatisticsMeasures] = [:]
    /// Cheapest for instants in ascending order, right for any.
    private var formatter: LocalTimeFormatter

    package init(zone: ClientTimeZone) {
        formatter = zone.makeFormatter()
    }

    /// Counts a rating given at `instant`.
    package mutating func countRating(at instant: UnixTime, extensionID: Int64, agentUsername: String?, rate: Int64, maxRate: Int64) {
        sums[key(at: instant, extensionID: extensionID, agentUsername: agentUsername), default: StatisticsMeasures()]
            .addRating(rate: rate, maxRate: maxRate)
    }

    /// Counts a rating prompt offered at `instant`, and whether it was answered.
    package mutating func countOffer(at instant: UnixTime, extensionID: Int64, agentUsername: String?, rated: Bool) {
        sums[key(at: instant, extensionID: extensionID, agentUsername: agentUsername), default: StatisticsMeasures()]
            .addOffer(rated: rated)
    }

    /// Counts the answer to a prompt offered at `offeredAt` and counted before, on the offer's day,
    /// so that a day's response rate never exceeds 100 %.
    package mutating func countAnswer(toOfferAt offeredAt: UnixTime, extensionID: Int64, agentUsername: String?) {
        sums[key(at: offeredAt, extensionID: extensionID, agentUsername: agentUsername), default: StatisticsMeasures()]
            .offersRated += 1
    }

    /// The rows' sums in key order: writers that lock rollup rows in one order never wait for
    /// each other in a circle.
    package var rows: [(key: Key, measures: StatisticsMeasures)] {
        sums.sorted { $0.key < $1.key }.map { (key: $0.key, measures: $0.value) }
    }

    private mutating func key(at instant: UnixTime, extensionID: Int64, agentUsername: String?) -> Key {
        Key(day: LocalDay(formatter.localTime(of: instant)).number, extensionID: extensionID, agentUsername: agentUsername ?? "")
    }
}
