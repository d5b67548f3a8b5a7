import Domain
import Foundation
import Testing

@Suite struct RatingsAPITests {
    static let sevenFields: Set<String> = ["id", "client_id", "call_uuid", "datetime", "extension_id", "rate", "max_rate"]

    @Test func answersExactlyTheSevenFieldsWithTheirTypes() async throws {
        let fixture = try await APIFixture()
        let stored = try await fixture.addRatings(fixture.acme, [("2026-03-01 10:00:00", 4, "101")])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/", token: token)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "application/json")
            let record = try #require(reply.array.first)
            #expect(Set(record.keys) == Self.sevenFields)
            #expect(record["id"] as? Int == Int(stored[0].id))
            #expect(record["client_id"] as? Int == Int(fixture.acme.clientID))
            #expect(record["call_uuid"] as? String == stored[0].callUUID.value)
            #expect(record["datetime"] as? String == "2026-03-01 10:00:00")
            #expect(record["extension_id"] as? Int == 50)
            #expect(record["rate"] as? Int == 4)
            #expect(record["max_rate"] as? Int == 5)

            let one = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/\(stored[0].id)", token: token)
            #expect(one.status == .ok)
            #expect(Set(one.object.keys) == Self.sevenFields)
            #expect(one.object["call_uuid"] as? String == stored[0].callUUID.value)
        }
    }

    @Test func ordersByDatetimeThenIdAndFiltersWithInclusiveBoundsInTheClientsZone() async throws {
        // Tokyo is UTC+9 all year: the client's wall clock, not UTC, must drive both output and filters.
        let fixture = try await APIFixture(acmeTimeZone: "Asia/Tokyo")
        let stored = try await fixture.addRatings(fixture.acme, [
            ("2026-01-02 09:00:00", 1, nil), ("2026-01-01 23:59:59", 2, nil), ("2026-01-02 09:00:00", 3, nil),
            ("2026-01-02 00:00:00", 4, nil), ("2026-01-03 00:00:00", 5, nil),
        ])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"
            let all = try await client.get(base, token: token).array
            #expect(all.map { $0["datetime"] as? String } == [
                "2026-01-01 23:59:59", "2026-01-02 00:00:00", "2026-01-02 09:00:00", "2026-01-02 09:00:00", "2026-01-03 00:00:00",
            ])
            #expect(all.map { $0["id"] as? Int } == [1, 3, 0, 2, 4].map { Int(stored[$0].id) })

            let day = try await client.get(
                base + "?start_datetime=2026-01-02%2000:00:00&end_datetime=2026-01-02+09:00:00", token: token).array
            #expect(day.map { $0["rate"] as? Int } == [4, 1, 3])

            let later = try await client.get(base + "?start_datetime=2026-01-02%2009:00:01", token: token).array
            #expect(later.map { $0["rate"] as? Int } == [5])
        }
    }

    @Test func filtersByExtension() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-01-01 10:00:00", 1, nil)], extensionID: 7)
        try await fixture.addRatings(fixture.acme, [("2026-01-01 11:00:00", 2, nil)], extensionID: 8)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?extension_id=8", token: token)
            #expect(reply.array.map { $0["extension_id"] as? Int } == [8])
        }
    }

    @Test func pagesThroughTheWholeListWithLimitAndAfterId() async throws {
        let fixture = try await APIFixture()
        // More than one streaming page (1000 rows), many sharing a second, so ties are broken by id.
        var ratings: [(local: String, rate: Int64, agent: String?)] = []
        for index in 0..<2345 {
            let day: Int = 1 + index % 20
            let hour: Int = index % 3
            ratings.append((String(format: "2026-02-%02d %02d:00:00", day, hour), 3, nil))
        }
        try await fixture.addRatings(fixture.acme, ratings)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"
            let whole = try await client.get(base, token: token).array.map { $0["id"] as! Int }
            #expect(whole.count == 2345)

            var paged: [Int] = []
            var query = "?limit=500"
            while true {
                let page = try await client.get(base + query, token: token).array.map { $0["id"] as! Int }
                #expect(page.count <= 500)
                paged += page
                guard let last = page.last, page.count == 500 else { break }
                query = "?limit=500&after_id=\(last)"
            }
            #expect(paged == whole)
        }
    }

    @Test func withAgentAddsTheAgentAndTheTarget() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-01-01 10:00:00", 5, "101"), ("2026-01-01 11:00:00", 2, nil)])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let records = try await client.get(
                "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?with_agent=true", token: token
            ).array
            #expect(Set(records[0].keys) == Self.sevenFields.union(["agent_username", "target"]))
            #expect(records[0]["agent_username"] as? String == "101")
            #expect(records[0]["target"] as? String == "agent")
            #expect(records[1]["agent_username"] is NSNull)
            #expect(records[1]["target"] as? String == "call")
        }
    }

    @Test(arguments: [
        ("start_datetime=2026-02-30%2000:00:00", "start_datetime"),
        ("end_datetime=2026-01-01T00:00:00", "end_datetime"),
        ("start_datetime=yesterday", "start_datetime"),
        ("extension_id=abc", "extension_id"),
        ("extension_id=-4", "extension_id"),
        ("limit=0", "limit"),
        ("limit=100001", "limit"),
        ("limit=ten", "limit"),
        ("limit=%2B5", "limit"),
        ("after_id=0", "after_id"),
        ("after_id=999999", "after_id"),
        ("with_agent=yes", "with_agent"),
        ("start_datetime=2026-01-01%0000:00:00", "start_datetime"),
        ("extension_id=1%00", "extension_id"),
        ("start_datetime=%ZZ", "start_datetime"),
    ])
    func refusesBadParametersNamingThem(query: String, parameter: String) async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-01-01 10:00:00", 5, nil)])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?\(query)", token: token)
            reply.expectError(.badRequest, code: "invalid_parameter", mentioning: parameter)
            #expect(!reply.text.contains("\u{0}"))
        }
    }

    @Test(arguments: ["abc", "-1", "0", "1.5", "+1", "99999999999999999999"])
    func refusesMalformedIdsInThePath(id: String) async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let asClient = try await client.get("/api/ver1.0/client/\(id)/quality_rate/", token: token)
            asClient.expectError(.badRequest, code: "invalid_parameter", mentioning: "client_id")
            let asRating = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/\(id)", token: token)
            asRating.expectError(.badRequest, code: "invalid_parameter", mentioning: "id")
        }
    }

    @Test func answersAnUnknownRatingWith404() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/424242", token: token)
            reply.expectError(.notFound, code: "not_found")
        }
    }
}
