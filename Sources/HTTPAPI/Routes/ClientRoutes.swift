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
        try request.requireContentType("application/json", sentAs: "JSON")
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let update = try ClientUpdate.decode(Data(buffer.readableBytesView))
        guard var client = try await store.client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        let previousURLs = [client.ratingNotificationURL, client.ratingAlertURL]
        try update.apply(to: &client)
        // A new signing secret (one for both URLs) when a new URL is set, when asked, or when a
        // URL has none yet; it is shown in this answer only (issue 10, docs/API.md).
        let urls = [client.ratingNotificationURL, client.ratingAlertURL]
        var rotateSecret = update.rotateNotificationSecret
        if zip(urls, previousURLs).contains(where: { url, previous in url != nil && url != previous }) {
            rotateSecret = true
        }
        if urls.contains(where: { $0 != nil }), !rotateSecret, try await !store.hasNotificationSecret(clientID: clientID) {
            rotateSecret = true
        }
        let secret = rotateSecret ? "whsec_" + Secrets.random(length: 40) : nil
        try await store.updateClient(client, replacingNotificationSecret: secret)
        var json = JSONBytes()
        json.client(client, notificationSecret: secret)
        return .json(json)
    }
}

/// The body of `PUT /client/{client_id}/`: only the fields given change; null clears the
/// nullable ones. A field of the wrong JSON type or an unknown field is a 400 naming it; an
/// unacceptable value a 422 naming it.
struct ClientUpdate: Decodable {
    var name: String?
    var timezone: String?
    /// The nullable fields: absent (`nil`), or set to a value or to null (`.some(nil)`).
    var ratingNotificationURL: String??
    var ratingAlertThreshold: Int64??
    var ratingAlertURL: String??
    var rotateNotificationSecret = false

    static let fields = [
        "name", "timezone", "rating_notification_url", "rating_alert_threshold", "rating_alert_url",
        "rotate_rating_notification_secret",
    ]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func decode(_ data: Data) throws -> ClientUpdate {
        if let fields = try? JSONSerialization.jsonObject(with: data) as? [String: Any] { try JSONBody.refuseNUL(in: fields) }
        do {
            return try JSONDecoder().decode(ClientUpdate.self, from: data)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.badParameter("body", "expected a JSON object")
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys.map(\.stringValue).sorted() where !Self.fields.contains(key) {
            throw APIError.badParameter(
                APIError.printable(key), "unknown field; the client accepts " + Self.fields.joined(separator: ", "))
        }
        name = try Self.field("name", String.self, expected: "a string", in: container)
        timezone = try Self.field("timezone", String.self, expected: "a string", in: container)
        ratingNotificationURL = try Self.nullable("rating_notification_url", String.self, expected: "a string or null", in: container)
        ratingAlertThreshold = try Self.nullable(
            "rating_alert_threshold", Int64.self, expected: "an integer 0 to 100 (percent of max_rate) or null", in: container)
        ratingAlertURL = try Self.nullable("rating_alert_url", String.self, expected: "a string or null", in: container)
        rotateNotificationSecret =
            try Self.field("rotate_rating_notification_secret", Bool.self, expected: "true or false", in: container) ?? false
    }

    /// A non-nullable field: nil when absent; null or another JSON type is a 400 naming it.
    private static func field<Value: Decodable>(
        _ name: String, _: Value.Type, expected: String, in container: KeyedDecodingContainer<Key>
    ) throws -> Value? {
        let key = Key(stringValue: name)
        guard container.contains(key) else { return nil }
        guard let value = try? container.decode(Value.self, forKey: key) else {
            throw APIError.badParameter(name, "expected \(expected)")
        }
        return value
    }

    private static func nullable<Value: Decodable>(
        _ name: String, _: Value.Type, expected: String, in container: KeyedDecodingContainer<Key>
    ) throws -> Value?? {
        let key = Key(stringValue: name)
        guard container.contains(key) else { return nil }
        if try container.decodeNil(forKey: key) { return .some(nil) }
        return .some(try field(name, Value.self, expected: expected, in: container))
    }

    /// Checks every value and changes `client` only if all are acceptable.
    func apply(to client: inout Client) throws {
        var changed = client
        if let name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.unicodeScalars.count <= 200, !trimmed.containsControlCharacters
            else { throw APIError.invalidValue("name", "must be 1 to 200 printable characters") }
            changed.name = trimmed
        }
        if let timezone {
            guard ClientTimeZone(identifier: timezone) != nil else {
                throw APIError.invalidValue(
                    "timezone", "'\(APIError.printable(timezone))' is not an IANA time zone name such as Europe/Berlin or UTC")
            }
            changed.timezone = timezone
        }
        if let ratingNotificationURL {
            try ratingNotificationURL.map { try Self.checkURL($0, field: "rating_notification_url") }
            changed.ratingNotificationURL = ratingNotificationURL
        }
        if let ratingAlertURL {
            try ratingAlertURL.map { try Self.checkURL($0, field: "rating_alert_url") }
            changed.ratingAlertURL = ratingAlertURL
        }
        if let ratingAlertThreshold {
            if let threshold = ratingAlertThreshold, !(0...100).contains(threshold) {
                throw APIError.invalidValue(
                    "rating_alert_threshold", "expected an integer 0 to 100 (percent of max_rate) or null, got \(threshold)")
            }
            changed.ratingAlertThreshold = ratingAlertThreshold
        }
        client = changed
    }

    private static func checkURL(_ text: String, field: String) throws {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            let host = url.host, !host.isEmpty, text.unicodeScalars.count <= 2000
        else {
            throw APIError.invalidValue(field, "expected an http:// or https:// URL with a host")
        }
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
        try refuseNUL(in: fields)
        return fields
    }

    /// A NUL character (`\u0000`) anywhere in a field is refused, naming the field: no name,
    /// number, URL or password holds one, and PostgreSQL's text cannot store it (SQLite's can),
    /// so it is refused the same on both databases rather than failing on one.
    static func refuseNUL(in fields: [String: Any]) throws {
        func holdsNUL(_ value: Any) -> Bool {
            switch value {
            case let text as String: text.unicodeScalars.contains("\u{0}")
            case let items as [Any]: items.contains(where: holdsNUL)
            case let object as [String: Any]: object.contains { holdsNUL($0.key) || holdsNUL($0.value) }
            default: false
            }
        }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) where holdsNUL(name) || holdsNUL(value) {
            throw APIError.invalidValue(APIError.printable(name), "must not contain the NUL character (U+0000)")
        }
    }
}
