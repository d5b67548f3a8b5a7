import Domain
import Foundation
import Storage
import Testing

/// `GET …/quality_rate/statistics/` (issue 10): every figure equals the one computed from the
/// raw ratings, bucketed here with Foundation's calendar in the client's zone.
@Suite struct StatisticsAPITests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!

    /// Ratings every 37 min 13 s from 27 to 31 March 2026 (Berlin springs forward on the 29th)
    /// and around 25 October 2026 (falls back): three extensions, two agents and none, max_rate 5, 9 and 3.
    static func varied(_ clientID: Int64) -> [NewRating] {
        let extensions: [Int64] = [50, 51, 52]
        let agents: [String?] = [nil, "101", "102", "101"]
        let maxRates: [Int64] = [5, 9, 3]
        var ratings: [NewRating] = []
        for (start, end) in [(1_774_569_600, 1_774_915_200), (1_792_800_000, 1_793_059_200)] {
            for (index, instant) in stride(from: Int64(start), to: Int64(end), by: 2233).enumerated() {
                let maxRate = maxRates[index % 3]
                ratings.append(NewRating(
                    clientID: clientID, callUUID: .random(), ratedAt: UnixTime(seconds: instant),
                    extensionID: extensions[index / 3 % 3], rate: 1 + Int64(index * 7) % maxRate, maxRate: maxRate,
                    agentUsername: agents[index % 4]))
            }
        }
        return ratings
    }

    /// Ratings with the rating prompts they answer, offered 25 s before (so some offers fall on the
    /// day or hour before their rating), and every third rating's call offered a second time
    /// without an answer: the offers stored through the store, the ratings marking theirs rated.
    static func offered(_ ratings: [NewRating], store: any Store) async throws -> ([NewRating], [(RatingOffer, Bool)]) {
        var answered: [NewRating] = []
        var offers: [(RatingOffer, Bool)] = []
        for (index, rating) in ratings.enumerated() {
            let offer = RatingOffer(
                clientID: rating.clientID, callUUID: rating.callUUID, offeredAt: rating.ratedAt.adding(seconds: -25),
                extensionID: rating.extensionID, agentUsername: rating.agentUsername)
            try await store.recordRatingOffers([offer])
            var rated = rating
            rated.offeredAt = offer.offeredAt
            answered.append(rated)
            offers.append((offer, true))
            if index % 3 == 0 {
                var unanswered = offer
                unanswered.offeredAt = rating.ratedAt.adding(seconds: 40)
                try await store.recordRatingOffers([unanswered])
                offers.append((unanswered, false))
            }
        }
        return (answered, offers)
    }

    struct Expected {
        var count = 0
        var rateSum = 0
        var perKey: [String: Int] = [:]
        var score = 0.0
        var satisfied = 0
        var offered = 0
        var offersRated = 0
    }

    static func label(_ date: Date, _ component: Calendar.Component?) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = berlin
        calendar.firstWeekday = 2
        guard let component else { return "null" }
        let start = calendar.dateInterval(of: component, for: date)!.start
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = berlin
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: start)
    }

    @Test(arguments: ["", "hour", "day", "week", "month"])
    func everyFigureEqualsTheOneComputedFromTheRawRatings(interval: String) async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        let (ratings, offers) = try await Self.offered(Self.varied(fixture.acme.clientID), store: fixture.store)
        try await fixture.store.insertRatings(ratings)
        let component: Calendar.Component? = ["hour": .hour, "day": .day, "week": .weekOfYear, "month": .month][interval]
        let zone = ClientTimeZone(identifier: "Europe/Berlin")!
        // Bounds inside days, so the edges come from the rows and the rest from the day rollups;
        // then an open period, whole days across the spring change, and a period inside one hour.
        let periods: [(String?, String?)] = [
            ("2026-03-27 10:07:13", "2026-10-25 02:52:01"), (nil, nil), ("2026-03-29 00:00:00", "2026-03-30 23:59:59"),
            ("2026-03-29 03:00:01", "2026-03-29 03:14:59"),
        ]
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            for (start, end) in periods {
                for groupBy in ["", "agent", "extension"] {
                    var items: [String] = []
                    if !interval.isEmpty { items.append("interval=\(interval)") }
                    if !groupBy.isEmpty { items.append("group_by=\(groupBy)") }
                    if let start { items.append("start_datetime=" + start.replacingOccurrences(of: " ", with: "%20")) }
                    if let end { items.append("end_datetime=" + end.replacingOccurrences(of: " ", with: "%20")) }
                    let path = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/?" + items.joined(separator: "&")
                    let reply = try await client.get(path, token: token)
                    #expect(reply.status == .ok, "\(reply.text)")

                    let from = start.map { zone.instant(of: LocalDateTime(parsing: $0)!) }
                    let through = end.map { zone.instant(of: LocalDateTime(parsing: $0)!) }
                    let raw = try await fixture.store.ratings(RatingQuery(
                        clientID: fixture.acme.clientID, from: from, through: through, limit: 1_000_000))
                    #expect(!raw.isEmpty)
                    func key(_ extensionID: Int64, _ agent: String?) -> String {
                        switch groupBy {
                        case "agent": agent ?? "null"
                        case "extension": String(extensionID)
                        default: ""
                        }
                    }
                    var expected: [String: Expected] = [:]
                    for (offer, rated) in offers
                    where from.map({ offer.offeredAt >= $0 }) ?? true && through.map({ offer.offeredAt <= $0 }) ?? true {
                        let date = Date(timeIntervalSince1970: TimeInterval(offer.offeredAt.seconds))
                        let bucket = Self.label(date, component) + "|" + key(offer.extensionID, offer.agentUsername)
                        expected[bucket, default: Expected()].offered += 1
                        if rated { expected[bucket]!.offersRated += 1 }
                    }
                    for rating in raw {
                        let key = key(rating.extensionID, rating.agentUsername)
                        let date = Date(timeIntervalSince1970: TimeInterval(rating.ratedAt.seconds))
                        let bucket = Self.label(date, component) + "|" + key
                        expected[bucket, default: Expected()].count += 1
                        expected[bucket]!.rateSum += Int(rating.rate)
                        expected[bucket]!.perKey[String(rating.rate), default: 0] += 1
                        expected[bucket]!.score += Double(rating.rate) / Double(rating.maxRate)
                        if Double(rating.rate) / Double(rating.maxRate) >= 0.8 { expected[bucket]!.satisfied += 1 }
                    }

                    let buckets = try #require(reply.object["buckets"] as? [[String: Any]])
                    #expect(buckets.count == expected.count, "\(path)")
                    for bucket in buckets {
                        let key =
                            switch groupBy {
                            case "agent": bucket["agent_username"] as? String ?? "null"
                            case "extension": String(bucket["extension_id"] as! Int)
                            default: ""
                            }
                        let name = (bucket["start"] as? String ?? "null") + "|" + key
                        let want = try #require(expected[name], "\(name) in \(path)")
                        #expect(bucket["count"] as? Int == want.count, "\(name)")
                        #expect(bucket["count_per_key"] as? [String: Int] == want.perKey, "\(name)")
                        #expect(bucket["offered"] as? Int == want.offered, "\(name)")
                        if want.offered == 0 {
                            #expect(bucket["response_rate_percent"] is NSNull)
                        } else {
                            let rate = try #require(bucket["response_rate_percent"] as? Double)
                            #expect(abs(rate - Double(want.offersRated) / Double(want.offered) * 100) < 1e-9, "\(name)")
                        }
                        if want.count == 0 {
                            #expect(bucket["average"] is NSNull && bucket["score_percent"] is NSNull && bucket["csat_percent"] is NSNull)
                            continue
                        }
                        #expect(abs((bucket["average"] as! Double) - Double(want.rateSum) / Double(want.count)) < 1e-9)
                        #expect(abs((bucket["score_percent"] as! Double) - want.score / Double(want.count) * 100) < 1e-9)
                        #expect(abs((bucket["csat_percent"] as! Double) - Double(want.satisfied) / Double(want.count) * 100) < 1e-9)
                    }
                    let starts = buckets.compactMap { $0["start"] as? String }
                    #expect(starts == starts.sorted(), "buckets in time order")
                }
            }
        }
    }

    @Test func localDaysAndHoursAcrossDaylightSavingChanges() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        // 29 March 2026 has no 02:xx and is 23 hours long; 25 October repeats 02:xx and is 25 hours long.
        try await fixture.addRatings(fixture.acme, [
            ("2026-03-28 23:59:59", 1, nil), ("2026-03-29 00:00:00", 2, nil), ("2026-03-29 01:59:59", 3, nil),
            ("2026-03-29 03:00:00", 4, nil), ("2026-03-29 23:59:59", 5, nil), ("2026-03-30 00:00:00", 1, nil),
        ])
        let zone = ClientTimeZone(identifier: "Europe/Berlin")!
        let overlap = zone.instant(of: LocalDateTime(parsing: "2026-10-25 02:30:00")!)
        try await fixture.store.insertRatings([overlap, overlap.adding(seconds: 3600)].map {
            NewRating(clientID: fixture.acme.clientID, callUUID: .random(), ratedAt: $0, extensionID: 50, rate: 5, maxRate: 5, agentUsername: nil)
        })
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/"
            let days = try await client.get(base + "?interval=day", token: token).object["buckets"] as? [[String: Any]] ?? []
            #expect(days.map { $0["start"] as? String } == ["2026-03-28 00:00:00", "2026-03-29 00:00:00", "2026-03-30 00:00:00", "2026-10-25 00:00:00"])
            #expect(days.map { $0["count"] as? Int } == [1, 4, 1, 2])
            let hours = try await client.get(base + "?interval=hour&start_datetime=2026-10-25%2000:00:00", token: token)
            // Both passes through 02:30 fall in the one 02:00 bucket of that day.
            let hourBuckets = hours.object["buckets"] as? [[String: Any]] ?? []
            #expect(hourBuckets.map { $0["start"] as? String } == ["2026-10-25 02:00:00"])
            #expect(hourBuckets.first?["count"] as? Int == 2)
            let weeks = try await client.get(base + "?interval=week&end_datetime=2026-03-30%2000:00:00", token: token)
            let weekBuckets = weeks.object["buckets"] as? [[String: Any]] ?? []
            #expect(weekBuckets.map { $0["start"] as? String } == ["2026-03-23 00:00:00", "2026-03-30 00:00:00"])
            #expect(weekBuckets.map { $0["count"] as? Int } == [5, 1])
        }
    }

    @Test func refusesBadParametersByNameAndAnswersOtherClientsWith404() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/"
            for (query, parameter) in [
                ("interval=fortnight", "interval"), ("group_by=queue", "group_by"), ("start_datetime=2026-02-30%2000:00:00", "start_datetime"),
                ("end_datetime=yesterday", "end_datetime"), ("extension_id=0", "extension_id"), ("agent_username=", "agent_username"),
            ] {
                try await client.get(base + "?" + query, token: token).expectError(.badRequest, code: "invalid_parameter", mentioning: parameter)
            }
            try await client.get("/api/ver1.0/client/\(fixture.other.clientID)/quality_rate/statistics/", token: token)
                .expectError(.notFound, code: "not_found")
        }
    }

    @Test func anEmptyPeriodHasNoBuckets() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-03-01 10:00:00", 4, "101")])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get(
                "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/?start_datetime=2026-04-01%2000:00:00&interval=day",
                token: token)
            #expect(reply.status == .ok)
            #expect(reply.object["interval"] as? String == "day")
            #expect(reply.object["group_by"] is NSNull)
            #expect((reply.object["buckets"] as? [Any])?.isEmpty == true)
            let whole = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/", token: token)
            let bucket = try #require((whole.object["buckets"] as? [[String: Any]])?.first)
            #expect(bucket["start"] is NSNull)
            #expect(bucket["count"] as? Int == 1)
            #expect(Set(bucket.keys) == [
                "start", "count", "average", "count_per_key", "score_percent", "csat_percent", "offered", "response_rate_percent",
            ])
            #expect(bucket["offered"] as? Int == 0, "a rating added without an offer (sample data)")
            #expect(bucket["response_rate_percent"] is NSNull)
        }
    }
}
