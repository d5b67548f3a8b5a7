import Domain
import Storage
import Testing
import TestSupport

/// Ratings with the rating prompts they answer, and prompts no one answered (issue 10): around
/// both of Berlin's 2026 clock changes, three extensions, two agents and none, max_rate 5, 9, 3.
struct StatisticsSample {
    var offers: [RatingOffer] = []
    var ratings: [NewRating] = []

    init(clientID: Int64) {
        let extensions: [Int64] = [50, 51, 52]
        let agents: [String?] = [nil, "101", "102", "101"]
        let maxRates: [Int64] = [5, 9, 3]
        for (start, end) in [(1_774_569_600, 1_774_915_200), (1_792_800_000, 1_793_059_200)] {
            for (index, instant) in stride(from: Int64(start), to: Int64(end), by: 2233).enumerated() {
                let maxRate = maxRates[index % 3]
                let ratedAt = UnixTime(seconds: instant)
                // Offered 25 s before: some offers fall on the hour or day before their rating.
                let offer = RatingOffer(
                    clientID: clientID, callUUID: .random(), offeredAt: ratedAt.adding(seconds: -25),
                    extensionID: extensions[index / 3 % 3], agentUsername: agents[index % 4])
                offers.append(offer)
                if index % 5 == 4 { continue }  // not answered
                ratings.append(NewRating(
                    clientID: clientID, callUUID: offer.callUUID, ratedAt: ratedAt, extensionID: offer.extensionID,
                    rate: 1 + Int64(index * 7) % maxRate, maxRate: maxRate, agentUsername: offer.agentUsername,
                    offeredAt: offer.offeredAt))
            }
        }
    }

    func store(in store: any Store) async throws {
        try await store.recordRatingOffers(offers)
        try await store.insertRatings(ratings)
    }

    /// The statistics counted from every rating and offer alone, as single facts.
    func expected(
        _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping?
    ) -> [StatisticsBucket] {
        let answered = Set(ratings.map(\.callUUID))
        var facts = ratings.map {
            StatisticsFact(at: $0.ratedAt, extensionID: $0.extensionID, agentUsername: $0.agentUsername, kind: .rating(rate: $0.rate, maxRate: $0.maxRate))
        }
        facts += offers.map {
            StatisticsFact(at: $0.offeredAt, extensionID: $0.extensionID, agentUsername: $0.agentUsername, kind: .offer(rated: answered.contains($0.callUUID)))
        }
        let selected = facts.filter { fact in
            (query.from.map { fact.at >= $0 } ?? true) && (query.through.map { fact.at <= $0 } ?? true)
                && (query.extensionID.map { fact.extensionID == $0 } ?? true)
                && (query.agentUsername.map { fact.agentUsername == $0 } ?? true)
        }
        return RatingStatistics.buckets(
            days: [], facts: selected.sorted { $0.at < $1.at }, zone: zone, interval: interval, groupBy: groupBy)
    }

    /// Periods whole and cut, and filters: what a statistics request can ask.
    static func queries(clientID: Int64, zone: ClientTimeZone) -> [StatisticsQuery] {
        func instant(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64, _ minute: Int64, _ second: Int64) -> UnixTime {
            zone.instant(of: LocalDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
        }
        let cutFrom = instant(2026, 3, 28, 10, 7, 13)
        let cutThrough = instant(2026, 10, 25, 2, 30, 0)
        return [
            StatisticsQuery(clientID: clientID),
            StatisticsQuery(clientID: clientID, from: cutFrom, through: cutThrough),
            StatisticsQuery(clientID: clientID, from: instant(2026, 3, 28, 0, 0, 0), through: instant(2026, 3, 30, 23, 59, 59)),
            StatisticsQuery(clientID: clientID, from: cutFrom),
            StatisticsQuery(clientID: clientID, through: cutThrough, agentUsername: "101"),
            StatisticsQuery(clientID: clientID, from: cutFrom, extensionID: 51),
        ]
    }
}

/// Statistics from a store's rollups per local day and its rows (issue 10) are the figures
/// counted from the single ratings and offers, on either database.
@Suite struct RatingStatisticsStoreTests {
    static let berlin = ClientTimeZone(identifier: "Europe/Berlin")!

    @Test(arguments: [nil, StatisticsInterval.hour, .day, .week, .month])
    func rollupsAndRowsGiveTheFiguresOfTheSingleRatings(interval: StatisticsInterval?) async throws {
        let database = try await TestStore()
        let store = database.store
        let client = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
        let sample = StatisticsSample(clientID: client.id)
        try await sample.store(in: store)
        for query in StatisticsSample.queries(clientID: client.id, zone: Self.berlin) {
            for groupBy in [nil, StatisticsGrouping.agent, .extension] {
                let buckets = try await store.ratingStatistics(query, zone: Self.berlin, interval: interval, groupBy: groupBy)
                #expect(buckets == sample.expected(query, zone: Self.berlin, interval: interval, groupBy: groupBy), "\(query) \(String(describing: groupBy))")
            }
        }
    }

    @Test func aCallsOffersAndTheirAnswersAreCounted() async throws {
        let database = try await TestStore()
        let store = database.store
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let call = CallUUID.random()
        let offers = [100, 200].map {
            RatingOffer(clientID: client.id, callUUID: call, offeredAt: UnixTime(seconds: $0), extensionID: 5, agentUsername: "101")
        }
        try await store.recordRatingOffers(offers)
        var counts = try await store.ratingOfferCounts(clientID: client.id, callUUID: call)
        #expect(counts.offered == 2 && counts.rated == 0)
        try await store.insertRatings([NewRating(
            clientID: client.id, callUUID: call, ratedAt: UnixTime(seconds: 210), extensionID: 5, rate: 4, maxRate: 5,
            agentUsername: "101", offeredAt: UnixTime(seconds: 200))])
        counts = try await store.ratingOfferCounts(clientID: client.id, callUUID: call)
        #expect(counts.offered == 2 && counts.rated == 1)
        counts = try await store.ratingOfferCounts(clientID: client.id + 1, callUUID: call)
        #expect(counts.offered == 0 && counts.rated == 0)
    }
}
