import Access
import Domain
import Foundation
import HTTPAPI
import Storage
import Testing

@Suite struct AccessTests {
    @Test func clientCredentialsGiveABearerTokenWithoutRefresh() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let reply = try await client.postForm("/oauth/token", [
                "grant_type": "client_credentials", "client_id": fixture.acme.appID, "client_secret": fixture.acme.appSecret,
            ])
            #expect(reply.status == .ok)
            #expect(reply.headers[.cacheControl] == "no-store")
            #expect(Set(reply.object.keys) == ["access_token", "token_type", "expires_in", "scope"])
            #expect(reply.object["token_type"] as? String == "Bearer")
            #expect(reply.object["scope"] as? String == "all")
            #expect(reply.object["expires_in"] as? Int == 3600)
        }
    }

    @Test func noTokenAWrongSecretAndAForgedTokenAnswer401() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"
            let none = try await client.get(path, token: nil)
            none.expectError(.unauthorized, code: "invalid_token")
            #expect(none.headers[.wwwAuthenticate] != nil)

            let basic = try await client.send(.get, path, body: nil)
            basic.expectError(.unauthorized, code: "invalid_token")

            let forged = try await client.get(path, token: String(repeating: "A", count: 40))
            forged.expectError(.unauthorized, code: "invalid_token")

            let wrongSecret = try await client.postForm("/oauth/token", [
                "grant_type": "client_credentials", "client_id": fixture.acme.appID, "client_secret": "not-the-secret",
            ])
            wrongSecret.expectError(.unauthorized, code: "invalid_client")

            let unknownApp = try await client.postForm("/oauth/token", [
                "grant_type": "client_credentials", "client_id": "nope", "client_secret": fixture.acme.appSecret,
            ])
            unknownApp.expectError(.unauthorized, code: "invalid_client")
        }
    }

    @Test func anExpiredTokenAnswers401() async throws {
        let fixture = try await APIFixture()
        let application = try #require(try await fixture.store.application(appID: fixture.acme.appID))
        let expired = Secrets.random(length: 40)
        try await fixture.store.saveToken(StoredToken(
            hash: Secrets.sha256Hex(expired), kind: .access, applicationID: application.id, userID: application.userID,
            expiresAt: UnixTime.now().adding(seconds: -1)))
        try await fixture.withServer { client in
            let reply = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/", token: expired)
            reply.expectError(.unauthorized, code: "invalid_token")
        }
    }

    @Test func passwordGrantRefreshesOnceAndARefusedRefreshIsInvalidGrant() async throws {
        let fixture = try await APIFixture()
        let admin = try #require(try await fixture.store.user(username: fixture.acme.username))
        let app = try await Provisioning(store: fixture.store).registerApplication(
            userID: admin.id, name: "wallboard", type: .passwordCredentials, access: .callAPI)
        try await fixture.withServer { client in
            let wrongPassword = try await client.postForm("/oauth/token", [
                "grant_type": "password", "client_id": app.appID, "client_secret": app.appSecret,
                "username": fixture.acme.username, "password": "wrong",
            ])
            wrongPassword.expectError(.unauthorized, code: "invalid_grant")

            let granted = try await client.postForm("/oauth/token", [
                "grant_type": "password", "client_id": app.appID, "client_secret": app.appSecret,
                "username": fixture.acme.username, "password": fixture.acme.password,
            ])
            #expect(granted.status == .ok)
            let refresh = try #require(granted.object["refresh_token"] as? String)
            let access = try #require(granted.object["access_token"] as? String)
            #expect(try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/", token: access).status == .ok)

            let refreshed = try await client.postForm("/oauth/token", [
                "grant_type": "refresh_token", "client_id": app.appID, "client_secret": app.appSecret, "refresh_token": refresh,
            ])
            #expect(refreshed.status == .ok)
            #expect(refreshed.object["refresh_token"] as? String != refresh)

            let reused = try await client.postForm("/oauth/token", [
                "grant_type": "refresh_token", "client_id": app.appID, "client_secret": app.appSecret, "refresh_token": refresh,
            ])
            reused.expectError(.unauthorized, code: "invalid_grant")

            let garbage = try await client.postForm("/oauth/token", [
                "grant_type": "refresh_token", "client_id": app.appID, "client_secret": app.appSecret, "refresh_token": "garbage",
            ])
            garbage.expectError(.unauthorized, code: "invalid_grant")

            // A trusted application has no refresh tokens and may not use the password grant.
            let trustedPassword = try await client.postForm("/oauth/token", [
                "grant_type": "password", "client_id": fixture.acme.appID, "client_secret": fixture.acme.appSecret,
                "username": fixture.acme.username, "password": fixture.acme.password,
            ])
            trustedPassword.expectError(.badRequest, code: "unauthorized_client")
        }
    }

    /// Password guessing on the password grant: past `--ban-after` failures the address is
    /// answered 429 with Retry-After — even with the right password — before any hash is checked.
    @Test func aPasswordGuesserIsAnswered429UntilItsBanEnds() async throws {
        let fixture = try await APIFixture()
        let admin = try #require(try await fixture.store.user(username: fixture.acme.username))
        let app = try await Provisioning(store: fixture.store).registerApplication(
            userID: admin.id, name: "wallboard", type: .passwordCredentials, access: .callAPI)
        let limits = HTTPLimits(loginBans: .init(sourceFailures: 3, accountFailures: 100, window: 60, firstBan: 120, longestBan: 120))
        try await fixture.withServer(limits: limits) { client in
            func signIn(_ password: String) async throws -> APIFixture.Reply {
                try await client.postForm("/oauth/token", [
                    "grant_type": "password", "client_id": app.appID, "client_secret": app.appSecret,
                    "username": fixture.acme.username, "password": password,
                ])
            }
            for guess in ["a", "b", "c"] { try await signIn(guess).expectError(.unauthorized, code: "invalid_grant") }
            let banned = try await signIn(fixture.acme.password)
            banned.expectError(.tooManyRequests, code: "temporarily_unavailable", mentioning: "try again in")
            #expect(banned.headers[.retryAfter].flatMap { Int($0) }.map { (110...120).contains($0) } == true)
            // The client-credentials grant from the same address is refused alike.
            let trusted = try await client.postForm("/oauth/token", [
                "grant_type": "client_credentials", "client_id": fixture.acme.appID, "client_secret": fixture.acme.appSecret,
            ])
            #expect(trusted.status == .tooManyRequests)
        }
    }

    @Test func malformedTokenRequestsAreRefusedClearly() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            try await client.postForm("/oauth/token", ["grant_type": "implicit", "client_id": "x", "client_secret": "y"])
                .expectError(.badRequest, code: "unsupported_grant_type")
            try await client.postForm("/oauth/token", ["client_id": "x", "client_secret": "y"])
                .expectError(.badRequest, code: "invalid_request", mentioning: "grant_type")
            try await client.postForm("/oauth/token", ["grant_type": "client_credentials"])
                .expectError(.badRequest, code: "invalid_request", mentioning: "client_secret")
            try await client.send(.post, "/oauth/token", body: "{\"grant_type\":\"client_credentials\"}", contentType: "application/json")
                .expectError(.unsupportedMediaType, code: "unsupported_media_type")
            try await client.send(.post, "/oauth/token", body: "grant_type=%G1", contentType: "application/x-www-form-urlencoded")
                .expectError(.badRequest, code: "invalid_request")
        }
    }

    @Test func aCallAPITokenMayReadButNotChangeConfiguration() async throws {
        let fixture = try await APIFixture()
        let admin = try #require(try await fixture.store.user(username: fixture.acme.username))
        let readOnly = try await Provisioning(store: fixture.store).registerApplication(
            userID: admin.id, name: "reports", type: .trusted, access: .callAPI)
        try await fixture.withServer { client in
            let token = try await client.token(appID: readOnly.appID, secret: readOnly.appSecret)
            let path = "/api/ver1.0/client/\(fixture.acme.clientID)/"
            #expect(try await client.get(path, token: token).status == .ok)
            #expect(try await client.get(path + "quality_rate/", token: token).status == .ok)
            let change = try await client.send(.put, path, token: token, body: "{\"timezone\":\"Asia/Tokyo\"}", contentType: "application/json")
            change.expectError(.forbidden, code: "insufficient_access")
            #expect(try await fixture.store.client(id: fixture.acme.clientID)?.timezone == "UTC")
        }
    }

    @Test func anotherClientsResourcesAnswer404AndNeverTheirData() async throws {
        let fixture = try await APIFixture()
        let theirs = try await fixture.addRatings(fixture.other, [("2026-01-01 10:00:00", 1, "201")])
        let uuid = CallUUID.random()
        try await fixture.store.insertCalls([CallRecord(
            callUUID: uuid, clientID: fixture.other.clientID, extensionID: nil, extensionName: nil, extensionType: nil,
            flow: .inbound, didNumber: nil, didDomain: nil, fromUsername: "1", fromScreenName: nil, fromDomain: nil,
            bridgedUsername: nil, bridgedDomain: nil, bridgedAt: nil, bridgedDuration: nil, duration: 1,
            hangupDisposition: .callerHangup, startedAt: UnixTime(seconds: 1_767_261_600), legs: [])], isSample: false)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let other = fixture.other.clientID
            for path in [
                "/api/ver1.0/client/\(other)/", "/api/ver1.0/client/\(other)/quality_rate/",
                "/api/ver1.0/client/\(other)/quality_rate/\(theirs[0].id)", "/api/ver1.0/client/\(other)/call_history/",
                "/api/ver1.0/client/\(other)/call_history/\(uuid.value)",
            ] {
                let reply = try await client.get(path, token: token)
                reply.expectError(.notFound, code: "not_found")
                #expect(!reply.text.contains("201") && !reply.text.contains(uuid.value) && !reply.text.contains("Other"))
            }
            let own = fixture.acme.clientID
            try await client.get("/api/ver1.0/client/\(own)/quality_rate/\(theirs[0].id)", token: token)
                .expectError(.notFound, code: "not_found")
            try await client.get("/api/ver1.0/client/\(own)/call_history/\(uuid.value)", token: token)
                .expectError(.notFound, code: "not_found")
            let put = try await client.send(.put, "/api/ver1.0/client/\(other)/", token: token, body: "{\"name\":\"Mine\"}", contentType: "application/json")
            put.expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.client(id: other)?.name == "Other")
        }
    }
}
