import Domain
import Hummingbird
import Storage

/// `GET /client/{client_id}/quality_rate/` and `…/{id}` (SPEC §3).
struct RatingRoutes {
    let store: any Store
    /// Rows fetched per database round trip while streaming; bounds the server's memory per list.
    static let pageSize = 1000
    static let limitRange = 1...100_000

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/quality_rate", list)
        routes.get("client/:client_id/quality_rate/:id", one)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let query = try QueryParameters(request.uri.query)
        let withAgent = try query.flag("with_agent")
        let limit = try query.limit(range: Self.limitRange)
        var filter = RatingQuery(
            clientID: clientID, from: try query.localDateTime("start_datetime", in: zone),
            through: try query.localDateTime("end_datetime", in: zone), extensionID: try query.positiveID("extension_id"),
            limit: Self.pageSize)
        if let afterID = try query.positiveID("after_id") {
            guard let previous = try await store.rating(clientID: clientID, id: afterID) else {
                throw APIError.badParameter(
                    "after_id", "no rating \(afterID) for this client; pass the id of the last rating of the previous page")
            }
            filter.after = RatingCursor(ratedAt: previous.ratedAt, id: previous.id)
        }
        let store = self.store
        let firstPage = filter
        // Streams page by page: the server holds one page at a time whatever the list's length.
        let body = ResponseBody { writer in
            var filter = firstPage
            var remaining = limit ?? .max
            var encoder = RatingListEncoder(zone: zone, withAgent: withAgent, expectedRows: Self.pageSize)
            while remaining > 0 {
                filter.limit = min(Self.pageSize, remaining)
                let page = try await store.ratings(filter)
                encoder.append(page)
                remaining -= page.count
                guard page.count == filter.limit, let last = page.last else { break }
                filter.after = RatingCursor(ratedAt: last.ratedAt, id: last.id)
                try await writer.write(ByteBuffer(bytes: encoder.takeBytes()))
            }
            try await writer.write(ByteBuffer(bytes: encoder.finish()))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
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
    /// The client's zone; a zone name the tz database no longer knows falls back to UTC rather
    /// than failing every request of that client.
    func clientTimeZone(_ clientID: Int64) async throws -> ClientTimeZone {
        guard let client = try await client(id: clientID) else { throw APIError.notFound("client \(clientID)") }
        return ClientTimeZone(identifier: client.timezone) ?? .utc
    }
}

extension Response {
    static func json(_ json: JSONBytes, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
