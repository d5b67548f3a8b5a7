import Domain
import Hummingbird
import Storage

/// `/client/{client_id}/did/` and `…/did/{id}` (SPEC §1, §4): the client's external numbers and
/// the extension each one rings.
struct DIDRoutes {
    let store: any Store

    static let commentLength = 0...500

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/did", list)
        routes.post("client/:client_id/did", create)
        routes.get("client/:client_id/did/:id", show)
        routes.put("client/:client_id/did/:id", update)
        routes.delete("client/:client_id/did/:id", delete)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        let zone = client.zone
        var json = JSONBytes()
        json.beginArray()
        for did in try await store.dids(clientID: client.id) {
            json.did(did, zone: zone)
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
        let body = try await JSONFields(request, context, accepting: ["name", "extension_id", "comment"], of: "a DID")
        guard let text = try body.string("name") else {
            throw APIError.invalidValue("name", "required: the external number, 3 to 20 digits with an optional leading +")
        }
        let number = try Self.number(text)
        let new = NewDID(
            clientID: client.id, number: number, extensionID: try body.nullableInteger("extension_id"),
            comment: try Self.comment(in: body) ?? "")
        let created: DID
        do {
            created = try await ConfigurationAPI.translatingStoreErrors { try await store.createDID(new) }
        } catch StorageError.conflict {
            throw ConfigurationAPI.conflict("name", "the number \(number) is already taken")
        }
        return Self.response(created, client: client, status: .created)
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        var changed = try await owned(context, client: client)
        let body = try await JSONFields(request, context, accepting: ["name", "extension_id", "comment"], of: "a DID")
        if let text = try body.string("name"), try Self.number(text) != changed.number {
            throw APIError.invalidValue("name", "a DID's number cannot change (it is \(changed.number)); create a new DID instead")
        }
        if body.isNull("extension_id") {
            changed.extensionID = nil
        } else if let extensionID = try body.nullableInteger("extension_id") {
            changed.extensionID = extensionID
        }
        if let comment = try Self.comment(in: body) { changed.comment = comment }
        try await ConfigurationAPI.translatingStoreErrors { try await store.updateDID(changed) }
        return Self.response(changed, client: client)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        let id = try context.pathID("id")
        try await ConfigurationAPI.translatingStoreErrors { try await store.deleteDID(clientID: client.id, id: id) }
        return Response(status: .noContent)
    }

    private func owned(_ context: APIRequestContext, client: Client) async throws -> DID {
        let id = try context.pathID("id")
        guard let found = try await store.did(clientID: client.id, id: id) else { throw APIError.notFound("DID \(id)") }
        return found
    }

    private static func number(_ text: String) throws -> String {
        guard let number = DIDNumber.normalized(text) else {
            throw APIError.invalidValue(
                "name", "expected the external number as 3 to 20 digits with an optional leading +, got '\(APIError.printable(text))'")
        }
        return number
    }

    private static func comment(in body: JSONFields) throws -> String? {
        guard let comment = try body.string("comment") else { return nil }
        guard commentLength.contains(comment.unicodeScalars.count) else {
            throw APIError.invalidValue("comment", "expected at most 500 characters")
        }
        return comment
    }

    private static func response(_ did: DID, client: Client, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONBytes()
        json.did(did, zone: client.zone)
        return .json(json, status: status)
    }
}

extension JSONBytes {
    mutating func did(_ did: DID, zone: ClientTimeZone) {
        beginObject()
        field("id", did.id)
        field("client_id", did.clientID)
        field("name", did.number)
        field("extension_id", did.extensionID)
        field("comment", did.comment)
        field("create_date", zone.localTime(of: did.createdAt))
        endObject()
    }
}
