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
        let parameters = try QueryParameters(request.uri.query)
        let format = try ResponseFormat.requested(by: request, parameters)
        var (query, limit): (CallQuery, Int?) = try parameters.listQuery(clientID: clientID, zone: zone)
        if let afterUUID = try parameters.callUUID("after_call_uuid") {
            guard let previous = try await store.call(clientID: clientID, uuid: afterUUID) else {
                throw APIError.badParameter(
                    "after_call_uuid", "no call \(afterUUID) for this client; pass the call_uuid of the last record of the previous page")
            }
            query.after = CallCursor(after: previous)
        }
        let store = self.store
        let fetch: @Sendable (CallQuery) async throws -> [CallRecord] = { try await store.calls($0) }
        switch format {
        case .json:
            return PagedList.response(
                first: query, limit: limit, pageSize: Self.pageSize, encoder: CallListEncoder(zone: zone), fetch: fetch)
        case .csv:
            return PagedList.response(
                first: query, limit: limit, pageSize: Self.pageSize, encoder: CSVListEncoder(CallCSVRecords(zone: zone)),
                headers: CSVDownload.headers(clientID: clientID, what: "call-history", parameters: parameters), fetch: fetch)
        }
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

struct CallListEncoder: ListEncoder {
    private var json = JSONBytes(capacity: 600 * CallHistoryRoutes.pageSize)
    private let zone: ClientTimeZone

    init(zone: ClientTimeZone) {
        self.zone = zone
        json.beginArray()
    }

    mutating func append(_ calls: [CallRecord]) {
        for call in calls { json.callRecord(call, zone: zone) }
    }

    mutating func takeBytes() -> [UInt8] {
        let bytes = json.bytes
        json.clearContinuingArray()
        return bytes
    }

    mutating func finish() -> [UInt8] {
        json.endArray()
        return json.bytes
    }
}
