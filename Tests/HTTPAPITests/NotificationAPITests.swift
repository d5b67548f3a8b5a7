import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

/// Issue 10: the notification settings of `PUT /client/{id}/` and the deliveries list.
@Suite struct NotificationAPITests {
    @Test func settingTheURLShowsANewSecretOnceAndTheThresholdMarksAlerts() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            let set = try await client.send(
                .put, path, token: token,
                body: #"{"rating_notification_url":"https://crm.example/hook","rating_alert_threshold":40}"#,
                contentType: "application/json")
            #expect(set.status == .ok)
            let secret = try #require(set.object["rating_notification_secret"] as? String)
            #expect(secret.hasPrefix("whsec_") && secret.count == 46)
            #expect(set.object["rating_alert_threshold"] as? Int == 40)
            let shown = try await client.get(path, token: token)
            #expect(shown.object["rating_notification_secret"] == nil)
            #expect(shown.object["rating_alert_threshold"] as? Int == 40)
            // The same URL again keeps the secret; asking rotates it.
            let same = try await client.send(
                .put, path, token: token, body: #"{"rating_notification_url":"https://crm.example/hook"}"#, contentType: "application/json")
            #expect(same.object["rating_notification_secret"] == nil)
            let rotated = try await client.send(
                .put, path, token: token, body: #"{"rotate_rating_notification_secret":true}"#, contentType: "application/json")
            let newSecret = try #require(rotated.object["rating_notification_secret"] as? String)
            #expect(newSecret != secret)

            let stored = try await fixture.addRatings(fixture.acme, [("2026-06-01 12:00:00", 2, nil), ("2026-06-01 12:01:00", 5, "101")])
            try await fixture.addRatings(fixture.other, [("2026-06-01 12:00:00", 1, nil)])
            let list = try await client.get(path + "quality_rate/notifications/", token: token)
            #expect(list.status == .ok, "\(list.text)")
            #expect(list.array.map { $0["rating_id"] as? Int64 } == [stored[1].id, stored[0].id])
            #expect(list.array.map { $0["alert"] as? Bool } == [false, true])
            #expect(list.array.allSatisfy { $0["state"] as? String == "pending" && $0["url"] as? String == "https://crm.example/hook" })
            let newestDelivery = try #require(list.array.first?["id"] as? Int64)
            let page = try await client.get(path + "quality_rate/notifications/?limit=1&before_id=\(newestDelivery)", token: token)
            #expect(page.array.map { $0["rating_id"] as? Int64 } == [stored[0].id])

            // Another client's deliveries are never visible: its path answers 404.
            let otherPath = "/api/ver1.0/client/\(fixture.other.clientID)/quality_rate/notifications/"
            try await client.get(otherPath, token: token).expectError(.notFound, code: "not_found")
            let otherToken = try await client.token(fixture.other)
            #expect(try await client.get(otherPath, token: otherToken).array.isEmpty)
            try await client.get(path + "quality_rate/notifications/?limit=0", token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "limit")
        }
    }

    @Test func invalidNotificationSettingsNameTheFieldAndChangeNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            for (body, status, code, field) in [
                (#"{"rating_alert_threshold":101,"name":"X"}"#, HTTPResponse.Status.unprocessableContent, "invalid_value", "rating_alert_threshold"),
                (#"{"rating_alert_threshold":-1}"#, .unprocessableContent, "invalid_value", "rating_alert_threshold"),
                (#"{"rating_alert_threshold":"low"}"#, .badRequest, "invalid_parameter", "rating_alert_threshold"),
                (#"{"rating_alert_threshold":true}"#, .badRequest, "invalid_parameter", "rating_alert_threshold"),
                (#"{"rating_alert_threshold":12.5}"#, .badRequest, "invalid_parameter", "rating_alert_threshold"),
                (#"{"name":null,"rating_alert_threshold":10}"#, .badRequest, "invalid_parameter", "name"),
                (#"{"rating_notification_url":7}"#, .badRequest, "invalid_parameter", "rating_notification_url"),
                (#"{"rating_notification_url":"/relative","rating_alert_threshold":10}"#, .unprocessableContent, "invalid_value", "rating_notification_url"),
                (#"{"rating_notification_url":"https://ok.example/","rotate_rating_notification_secret":"yes"}"#, .badRequest, "invalid_parameter", "rotate_rating_notification_secret"),
                (#"{"rating_alert_url":"ftp://pager.example/","rating_alert_threshold":10}"#, .unprocessableContent, "invalid_value", "rating_alert_url"),
                (#"{"rating_alert_url":false}"#, .badRequest, "invalid_parameter", "rating_alert_url"),
            ] {
                try await client.send(.put, path, token: token, body: body, contentType: "application/json")
                    .expectError(status, code: code, mentioning: field)
            }
            let shown = try await client.get(path, token: token).object
            #expect(shown["name"] as? String == "Acme")
            #expect(shown["rating_notification_url"] is NSNull && shown["rating_alert_threshold"] is NSNull)
            #expect(shown["rating_alert_url"] is NSNull)
            #expect(try await !fixture.store.hasNotificationSecret(clientID: fixture.acme.clientID))
        }
    }

    /// A second URL for alerts only: setting it alone makes the signing secret (shown once); an
    /// alert is then one delivery to each URL, listed with ids of their own.
    @Test func anAlertURLGetsTheAlertsAsDeliveriesOfTheirOwn() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            let alertsOnly = try await client.send(
                .put, path, token: token, body: #"{"rating_alert_url":"https://pager.example/qr","rating_alert_threshold":40}"#,
                contentType: "application/json")
            #expect(alertsOnly.status == .ok, "\(alertsOnly.text)")
            #expect(alertsOnly.object["rating_alert_url"] as? String == "https://pager.example/qr")
            #expect((alertsOnly.object["rating_notification_secret"] as? String)?.hasPrefix("whsec_") == true)
            let both = try await client.send(
                .put, path, token: token, body: #"{"rating_notification_url":"https://crm.example/hook"}"#, contentType: "application/json")
            #expect(both.object["rating_notification_secret"] is String, "a new URL: a new secret, shown once")
            #expect(try await client.get(path, token: token).object["rating_alert_url"] as? String == "https://pager.example/qr")

            let stored = try await fixture.addRatings(fixture.acme, [("2026-06-01 12:00:00", 1, nil), ("2026-06-01 12:01:00", 5, nil)])
            let list = try await client.get(path + "quality_rate/notifications/", token: token).array
            #expect(list.map { "\($0["rating_id"] as? Int64 ?? 0) \($0["url"] as? String ?? "")" } == [
                "\(stored[1].id) https://crm.example/hook", "\(stored[0].id) https://pager.example/qr", "\(stored[0].id) https://crm.example/hook",
            ])
            #expect(Set(list.compactMap { $0["id"] as? Int64 }).count == 3)
        }
    }
}
