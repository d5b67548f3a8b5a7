import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

@Suite struct ClientSettingsTests {
    @Test func changingTheTimeZoneChangesHowRatingsAreShown() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-06-01 12:00:00", 3, nil)])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            let updated = try await client.send(
                .put, path, token: token, body: "{\"timezone\":\"Europe/Berlin\",\"name\":\"Acme GmbH\"}", contentType: "application/json")
            #expect(updated.status == .ok)
            #expect(updated.object["timezone"] as? String == "Europe/Berlin")
            #expect(updated.object["name"] as? String == "Acme GmbH")
            let ratings = try await client.get(path + "quality_rate/", token: token).array
            #expect(ratings.first?["datetime"] as? String == "2026-06-01 14:00:00")
        }
    }

    @Test func invalidSettingsChangeNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            try await client.send(.put, path, token: token, body: "{\"timezone\":\"Mars/Base\",\"name\":\"X\"}", contentType: "application/json")
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "timezone")
            try await client.send(.put, path, token: token, body: "{\"rating_notification_url\":\"ftp://x\"}", contentType: "application/json")
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "rating_notification_url")
            // 150 letters each with a combining mark: 150 characters to a reader, 300 code points,
            // which is what JSON Schema's maxLength (200) counts.
            let marked = String(repeating: "e\u{0301}", count: 150)
            try await client.send(.put, path, token: token, body: "{\"name\":\"\(marked)\"}", contentType: "application/json")
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "name")
            try await client.send(.put, path, token: token, body: "{\"name\":7}", contentType: "application/json")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "name")
            try await client.send(.put, path, token: token, body: "{\"colour\":\"red\"}", contentType: "application/json")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "colour")
            try await client.send(.put, path, token: token, body: "{not json", contentType: "application/json")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "body")
            try await client.send(.put, path, token: token, body: "timezone=UTC", contentType: "application/x-www-form-urlencoded")
                .expectError(.unsupportedMediaType, code: "unsupported_media_type")
            try await client.send(.put, path, token: token, body: String(repeating: " ", count: 70_000), contentType: "application/json")
                .expectError(.contentTooLarge, code: "payload_too_large")
            let unchanged = try #require(try await fixture.store.client(id: fixture.acme.clientID))
            #expect(unchanged.timezone == "UTC")
            #expect(unchanged.name == "Acme")
            #expect(unchanged.ratingNotificationURL == nil)
        }
    }
}

@Suite struct CallHistoryAPITests {
    func call(_ fixture: APIFixture, startedAt: Int64, extensionID: Int64 = 9) -> CallRecord {
        CallRecord(
            callUUID: .random(), clientID: fixture.acme.clientID, extensionID: extensionID, extensionName: "200",
            extensionType: .queue, flow: .inbound, didNumber: "4930555", didDomain: "acme.local", fromUsername: "+4930111",
            fromScreenName: nil, fromDomain: nil, bridgedUsername: "101", bridgedDomain: "acme.local",
            bridgedAt: UnixTime(seconds: startedAt + 10), bridgedDuration: 50, duration: 75, hangupDisposition: .agentHangup,
            startedAt: UnixTime(seconds: startedAt),
            legs: [
                CallLeg(role: .caller, aniNumber: "+4930111", destNumber: "200", destDomain: "acme.local", application: .callcenter,
                        startedAt: UnixTime(seconds: startedAt), duration: 75),
                CallLeg(role: .agent, aniNumber: "+4930111", destNumber: "101", destDomain: "acme.local", application: .callcenter,
                        startedAt: UnixTime(seconds: startedAt + 10), duration: 50),
            ])
    }

    @Test func listsAndShowsCallsWithTheirLegsInTheClientsZone() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Asia/Tokyo")
        // 2026-01-01 00:00:00 UTC and one hour later.
        let first = call(fixture, startedAt: 1_767_225_600)
        let second = call(fixture, startedAt: 1_767_229_200, extensionID: 10)
        try await fixture.store.insertCalls([second, first], isSample: false)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/call_history/"
            let all = try await client.get(base, token: token).array
            #expect(all.map { $0["call_uuid"] as? String } == [first.callUUID.value, second.callUUID.value])
            let record = all[0]
            #expect(record["start_time"] as? String == "2026-01-01 09:00:00")
            #expect(record["start_time_gmt"] as? String == "2026-01-01 00:00:00")
            #expect(record["bridged_time_gmt"] as? String == "2026-01-01 00:00:10")
            #expect(record["bridged_username"] as? String == "101")
            #expect(record["hangup_disposition"] as? String == "agent_hangup")
            #expect(record["client_owner_id"] as? Int == Int(fixture.acme.clientID))
            let legs = try #require(record["cdr"] as? [[String: Any]])
            #expect(legs.map { $0["leg"] as? String } == ["caller", "agent"])
            #expect(legs[1]["dest_number"] as? String == "101")

            let filtered = try await client.get(base + "?start_datetime=2026-01-01%2009:30:00&extension_id=10", token: token).array
            #expect(filtered.map { $0["call_uuid"] as? String } == [second.callUUID.value])
            let paged = try await client.get(base + "?limit=1&after_call_uuid=\(first.callUUID.value)", token: token).array
            #expect(paged.map { $0["call_uuid"] as? String } == [second.callUUID.value])

            let one = try await client.get(base + first.callUUID.value, token: token)
            #expect(one.status == .ok)
            #expect(one.object["call_uuid"] as? String == first.callUUID.value)

            try await client.get(base + "bf4643a0b90d11e98da84b40f3df0459", token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "call_uuid")
            try await client.get(base + CallUUID.random().value, token: token).expectError(.notFound, code: "not_found")
            try await client.get(base + "?after_call_uuid=XYZ", token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "after_call_uuid")
        }
    }
}

@Suite struct ServiceRoutesTests {
    @Test func healthMetricsDocumentAndMethodErrors() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let health = try await client.get("/health", token: nil)
            #expect(health.status == .ok)
            #expect(health.object["status"] as? String == "ok")

            let token = try await client.token(fixture.acme)
            _ = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/", token: token)
            let metrics = try await client.get("/metrics", token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"qualityrate_http_requests_total{method="GET",route="/api/ver1.0/client/{client_id}/quality_rate",status="200"} 1"#))
            #expect(metrics.text.contains("qualityrate_http_request_duration_seconds_bucket"))

            let document = try await client.get("/api/ver1.0/openapi.json", token: nil)
            #expect(document.status == .ok)
            #expect((document.object["openapi"] as? String)?.hasPrefix("3.1") == true)
            let paths = try #require(document.object["paths"] as? [String: Any])
            #expect(paths["/api/ver1.0/client/{client_id}/quality_rate/"] != nil)

            let page = try await client.get("/api/browser", token: nil)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)

            let wrongMethod = try await client.send(.delete, "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/", token: token)
            wrongMethod.expectError(.methodNotAllowed, code: "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "GET, HEAD")
            try await client.get("/api/ver1.0/nowhere", token: token).expectError(.notFound, code: "not_found")

            for (method, path) in [(HTTPRequest.Method.get, "/oauth/token"), (.post, "/health"), (.trace, "/metrics"),
                                   (.options, "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"),
                                   (HTTPRequest.Method("QUERY")!, "/api/ver1.0/client/\(fixture.acme.clientID)/call_history/")] {
                let reply = try await client.send(method, path, token: token)
                reply.expectError(.methodNotAllowed, code: "method_not_allowed")
                #expect(reply.headers[.allow] != nil)
            }
            let head = try await client.send(.head, "/api/ver1.0/client/\(fixture.acme.clientID)/", token: token)
            #expect(head.status == .ok)
            #expect(head.body.isEmpty)
        }
    }
}
