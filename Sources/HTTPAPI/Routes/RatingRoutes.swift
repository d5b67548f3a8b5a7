import Domain
import Hummingbird
import Storage

/// `GET /client/{client_id}/quality_rate/` and `…/{id}` (SPEC §3).
struct RatingRoutes {
    let store: any Store
    /// Rows fetched per database round trip while streaming; bounds the server's memory per list.
    static let pageSize = 1000

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/quality_rate", list)
        routes.get("client/:client_id/quality_rate/:id", one)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let parameters = try QueryParameters(request.uri.query)
        let format = try ResponseFormat.requested(by: request, parameters)
        // A CSV export is read by people, who want to know whose rating it is: it has the agent
        // columns unless `with_agent=false` (docs/API.md, "CSV downloads"); JSON keeps SPEC §3's seven fields.
        let withAgent = try parameters.flag("with_agent", default: format == .csv)
        var (query, limit): (RatingQuery, Int?) = try parameters.listQuery(clientID: clientID, zone: zone)
        if let afterID = try parameters.positiveID("after_id") {
            guard let previous = try await store.rating(clientID: clientID, id: afterID) else {
                throw APIError.badParameter(
                    "after_id", "no rating \(afterID) for this client; pass the id of the last rating of the previous page")
            }
            query.after = RatingCursor(after: previous)
        }
        let store = self.store
        let fetch: @Sendable (RatingQuery) async throws -> [Rating] = { try await store.ratings($0) }
        switch format {
        case .json:
            return PagedList.response(
                first: query, limit: limit, pageSize: Self.pageSize,
                encoder: RatingListEncoder(zone: zone, withAgent: withAgent, expectedRows: Self.pageSize), fetch: fetch)
        case .csv:
            return PagedList.response(
                first: query, limit: limit, pageSize: Self.pageSize,
                encoder: CSVListEncoder(RatingCSVRecords(zone: zone, withAgent: withAgent)),
                headers: CSVDownload.headers(clientID: clientID, what: "ratings", parameters: parameters), fetch: fetch)
        }
    }

    @Sendable func one(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        let withAgent = try QueryParameters(request.uri.query).flag("with_agent")
        let zone = try await store.clientTimeZone(clientID)
        guard let rating = try await store.rating(clientID: clientID, id: id) else { throw APIError.notFound("rating \(id)") }
        var json = JSONBytes()
        json.rating(rating, local: zone.localTime(of: rating.ratedAt), withAgent: withAgent)
        return .json(json)
    }
}

extension Store {
    func clientTimeZone(_ clientID: Int64) async throws -> ClientTimeZone {
        guard let client = try await client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        return client.zone
    }
}

extension Response {
    static func json(_ json: JSONBytes, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
