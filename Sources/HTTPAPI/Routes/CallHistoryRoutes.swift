import Domain
import Hummingbird
import Storage

/// `GET /client/{client_id}/call_history/` and `…/{call_uuid}` (SPEC §4.3).
struct CallHistoryRoutes {
    let store: any Store
    static let pageSize = 500

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/call_history", list)
        routes.get("client/:client_id/call_history/:call_uuid", one)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let query = try QueryParameters(request.uri.query)
        let limit = try query.limit(range: RatingRoutes.limitRange)
        var filter = CallQuery(
            clientID: clientID, from: try query.localDateTime("start_datetime", in: zone),
            through: try query.localDateTime("end_datetime", in: zone), extensionID: try query.positiveID("extension_id"),
            limit: Self.pageSize)
        if let afterUUID = try query.callUUID("after_call_uuid") {
            guard let previous = try await store.call(clientID: clientID, uuid: afterUUID) else {
                throw APIError.badParameter(
                    "after_call_uuid", "no call \(afterUUID) for this client; pass the call_uuid of the last record of the previous page")
            }
            filter.after = CallCursor(startedAt: previous.startedAt, callUUID: previous.callUUID)
        }
        let store = self.store
        let firstPage = filter
        let body = ResponseBody { writer in
            var filter = firstPage
            var remaining = limit ?? .max
            var json = JSONBytes(capacity: 600 * Self.pageSize)
            json.beginArray()
            while remaining > 0 {
                filter.limit = min(Self.pageSize, remaining)
                let page = try await store.calls(filter)
                for call in page { json.callRecord(call, zone: zone) }
                remaining -= page.count
                guard page.count == filter.limit, let last = page.last else { break }
                filter.after = CallCursor(startedAt: last.startedAt, callUUID: last.callUUID)
                try await writer.write(ByteBuffer(bytes: json.bytes))
                json.clearContinuingArray()
            }
            json.endArray()
            try await writer.write(ByteBuffer(bytes: json.bytes))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
    }

    @Sendable func one(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let raw = context.parameters.get("call_uuid") ?? ""
        guard let uuid = CallUUID(raw) else {
            throw APIError.badParameter("call_uuid", expected: "32 upper-case hexadecimal digits", got: raw)
        }
        let zone = try await store.clientTimeZone(clientID)
        guard let call = try await store.call(clientID: clientID, uuid: uuid) else { throw APIError.notFound("call \(uuid)") }
        var json = JSONBytes()
        json.callRecord(call, zone: zone)
        return .json(json)
    }
}
