import Access
import Domain
import Foundation
import Hummingbird
import Storage

/// `/client/{client_id}/extension/` and `…/extension/{id}` (SPEC §1, §4): the client's internal
/// numbers. A phone's SIP password is write-only: only its digest HA1 values are stored.
struct ExtensionRoutes {
    let store: any Store

    static let passwordLength = 8...64
    static let labelLength = 0...200

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/extension", list)
        routes.post("client/:client_id/extension", create)
        routes.get("client/:client_id/extension/:id", show)
        routes.put("client/:client_id/extension/:id", update)
        routes.delete("client/:client_id/extension/:id", delete)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        let zone = client.zone
        var json = JSONBytes()
        json.beginArray()
        for found in try await store.extensions(clientID: client.id) {
            json.extensionRecord(found, client: client, zone: zone)
        }
        json.endArray()
        return .json(json)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        return Self.response(try await owned(context, client: client), client: client)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        let body = try await JSONFields(
            request, context, accepting: ["name", "type", "label", "status", "password"], of: "an extension")
        guard let name = try body.string("name") else { throw APIError.invalidValue("name", "required: 1 to 15 digits") }
        guard ExtensionName.isValid(name) else {
            throw APIError.invalidValue("name", "expected 1 to 15 digits (the number dialled inside the client), got '\(APIError.printable(name))'")
        }
        guard let typeText = try body.string("type") else { throw APIError.invalidValue("type", "required: phone, queue or ivr") }
        guard let kind = Extension.Kind(rawValue: typeText) else {
            throw APIError.invalidValue("type", "expected phone, queue or ivr, got '\(APIError.printable(typeText))'")
        }
        let label = try Self.label(in: body) ?? ""
        let status = try Self.status(in: body) ?? .active
        let password = try Self.password(in: body, kind: kind)
        if kind == .phone, password == nil {
            throw APIError.invalidValue("password", "required for a phone: 8 to 64 printable ASCII characters without spaces")
        }
        let credentials = password.map { SIPDigest.ha1(username: name, realm: client.domain, password: $0) }
        let created: Extension
        do {
            created = try await store.createExtension(
                NewExtension(clientID: client.id, name: name, kind: kind, label: label), status: status, credentials: credentials)
        } catch StorageError.conflict {
            throw ConfigurationAPI.conflict("name", "the client already has an extension named \(name)")
        }
        return Self.response(created, client: client, status: .created)
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        var changed = try await owned(context, client: client)
        let body = try await JSONFields(
            request, context, accepting: ["name", "type", "label", "status", "password"], of: "an extension")
        if let name = try body.string("name"), name != changed.name {
            throw APIError.invalidValue("name", "an extension's name cannot change (it is \(changed.name)); create a new extension instead")
        }
        if let type = try body.string("type"), type != changed.kind.rawValue {
            throw APIError.invalidValue("type", "an extension's type cannot change (it is \(changed.kind.rawValue)); create a new extension instead")
        }
        if let label = try Self.label(in: body) { changed.label = label }
        if let status = try Self.status(in: body) { changed.status = status.rawValue }
        let credentials = try Self.password(in: body, kind: changed.kind).map {
            SIPDigest.ha1(username: changed.name, realm: client.domain, password: $0)
        }
        try await ConfigurationAPI.translatingStoreErrors {
            try await store.updateExtension(changed, credentials: credentials)
        }
        return Self.response(changed, client: client)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        let id = try context.pathID("id")
        try await ConfigurationAPI.translatingStoreErrors {
            try await store.deleteExtension(clientID: client.id, id: id)
        }
        return Response(status: .noContent)
    }

    private func owned(_ context: APIRequestContext, client: Client) async throws -> Extension {
        let id = try context.pathID("id")
        guard let found = try await store.ownedExtension(clientID: client.id, id: id) else { throw APIError.notFound("extension \(id)") }
        return found
    }

    private static func label(in body: JSONFields) throws -> String? {
        guard let label = try body.string("label") else { return nil }
        guard labelLength.contains(label.unicodeScalars.count), !label.containsControlCharacters else {
            throw APIError.invalidValue("label", "expected at most 200 characters without control characters")
        }
        return label
    }

    private static func status(in body: JSONFields) throws -> ExtensionStatus? {
        guard let text = try body.string("status") else { return nil }
        guard let status = ExtensionStatus(rawValue: text) else {
            throw APIError.invalidValue("status", "expected active or disabled, got '\(APIError.printable(text))'")
        }
        return status
    }

    /// The password when one is given, checked; only a phone has one.
    private static func password(in body: JSONFields, kind: Extension.Kind) throws -> String? {
        guard let password = try body.string("password") else { return nil }
        guard kind == .phone else {
            throw APIError.invalidValue("password", "only phone extensions have a SIP password; leave it out for a \(kind.rawValue)")
        }
        // Visible ASCII only: what every SIP phone's keypad and settings page can enter.
        guard passwordLength.contains(password.utf8.count), password.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.invalidValue("password", "expected 8 to 64 printable ASCII characters without spaces")
        }
        return password
    }

    private static func response(_ found: Extension, client: Client, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONBytes()
        json.extensionRecord(found, client: client, zone: client.zone)
        return .json(json, status: status)
    }
}

extension JSONBytes {
    /// An extension as the API shows it; the SIP password is never part of it.
    mutating func extensionRecord(_ found: Extension, client: Client, zone: ClientTimeZone) {
        beginObject()
        field("id", found.id)
        field("client_id", found.clientID)
        field("name", found.name)
        field("type", found.kind.rawValue)
        field("label", found.label)
        field("status", found.status)
        field("domain", client.domain)
        field("create_date", zone.localTime(of: found.createdAt))
        endObject()
    }
}

/// What the configuration routes (extensions, DIDs, queues) share: access, error translation
/// and the JSON body reader.
enum ConfigurationAPI {
    /// The path's client, which must be the token's (else 404).
    static func ownedClient(_ context: APIRequestContext, _ store: any Store) async throws -> Client {
        let clientID = try context.ownedClientID()
        guard let client = try await store.client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        return client
    }

    static func requireConfigurationAccess(_ context: APIRequestContext) throws {
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
    }

    static func conflict(_ field: String, _ problem: String) -> APIError {
        APIError(status: .conflict, code: "conflict", description: "\(field): \(problem)")
    }

    /// Runs a store write, answering its refusals: unknown → 404, a bad reference → 422, in use → 409.
    static func translatingStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch StorageError.notFound(let what) {
            throw APIError.notFound(what)
        } catch ConfigurationStoreError.invalidReference(let field, let problem) {
            throw APIError.invalidValue(field, problem)
        } catch ConfigurationStoreError.inUse(let usedBy) {
            throw APIError(
                status: .conflict, code: "conflict",
                description: "still in use by \(usedBy); change or remove those first")
        }
    }
}
