import Domain
import Foundation
import Hummingbird
import Storage
import Access

/// `GET` and `PUT /client/{client_id}/`: the client's own settings (SPEC §4).
struct ClientRoutes {
    let store: any Store

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id", show)
        routes.put("client/:client_id", update)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        guard let client = try await store.client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        var json = JSONBytes()
        json.client(client)
        return .json(json)
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
        let fields = try await JSONBody.object(of: request, context: context)
        guard var client = try await store.client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        let previousURL = client.ratingNotificationURL
        var rotateSecret = false
        for (key, value) in fields {
            switch key {
            case "name":
                guard let name = value as? String else { throw APIError.badParameter("name", "expected a string") }
                let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty, trimmed.unicodeScalars.count <= 200, !trimmed.containsControlCharacters
                else { throw APIError.invalidValue("name", "must be 1 to 200 printable characters") }
                client.name = trimmed
            case "timezone":
                guard let identifier = value as? String else { throw APIError.badParameter("timezone", "expected a string") }
                guard ClientTimeZone(identifier: identifier) != nil else {
                    throw APIError.invalidValue("timezone", "'\(APIError.printable(identifier))' is not an IANA time zone name such as Europe/Berlin or UTC")
                }
                client.timezone = identifier
            case "rating_notification_url":
                if value is NSNull {
                    client.ratingNotificationURL = nil
                } else {
                    guard let text = value as? String else {
                        throw APIError.badParameter("rating_notification_url", "expected a string or null")
                    }
                    guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                        let host = url.host, !host.isEmpty, text.unicodeScalars.count <= 2000
                    else {
                        throw APIError.invalidValue("rating_notification_url", "expected an http:// or https:// URL with a host")
                    }
                    client.ratingNotificationURL = text
                }
            case "rating_alert_threshold":
                client.ratingAlertThreshold = try JSONFields(fields).integer(
                    key, in: 0...100, expected: "an integer 0 to 100 (percent of max_rate) or null", nullable: true)
            case "rotate_rating_notification_secret":
                rotateSecret = try JSONFields(fields).boolean(key) ?? false
            default:
                throw APIError.badParameter(
                    APIError.printable(key),
                    "unknown field; the client accepts name, timezone, rating_notification_url, rating_alert_threshold and rotate_rating_notification_secret")
            }
        }
        // A new signing secret when a new URL is set, when asked, or when a URL has none yet; it
        // is shown in this answer only (issue 10, docs/API.md).
        if client.ratingNotificationURL != nil, client.ratingNotificationURL != previousURL {
            rotateSecret = true
        }
        if client.ratingNotificationURL != nil, !rotateSecret, try await !store.hasNotificationSecret(clientID: clientID) {
            rotateSecret = true
        }
        let secret = rotateSecret ? "whsec_" + Secrets.random(length: 40) : nil
        try await store.updateClient(client, replacingNotificationSecret: secret)
        var json = JSONBytes()
        json.client(client, notificationSecret: secret)
        return .json(json)
    }
}

/// Reading a JSON object body with errors that name what is wrong.
enum JSONBody {
    static func object(of request: Request, context: APIRequestContext) async throws -> [String: Any] {
        try request.requireContentType("application/json", sentAs: "JSON")
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)),
            let fields = object as? [String: Any]
        else {
            throw APIError.badParameter("body", "expected a JSON object")
        }
        return fields
    }
}
