import Domain
import Hummingbird
import Storage

/// `GET /client/{client_id}/quality_rate/statistics/` (issue 10): a period's ratings in buckets
/// per local hour, day, week or month, optionally per agent or extension (docs/API.md).
struct StatisticsRoutes {
    let store: any Store

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/quality_rate/statistics", statistics)
    }

    @Sendable func statistics(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let parameters = try QueryParameters(request.uri.query)
        let format = try ResponseFormat.requested(by: request, parameters)
        let query = StatisticsQuery(
            clientID: clientID, from: try parameters.localDateTime("start_datetime", in: zone),
            through: try parameters.localDateTime("end_datetime", in: zone), extensionID: try parameters.positiveID("extension_id"),
            agentUsername: try parameters.agentUsername("agent_username"))
        let interval = try parameters.choice("interval", StatisticsInterval.self)
        let groupBy = try parameters.choice("group_by", StatisticsGrouping.self)
        let buckets = try await store.ratingStatistics(query, zone: zone, interval: interval, groupBy: groupBy)
        if format == .csv {
            return Self.csv(buckets, groupBy: groupBy, headers: CSVDownload.headers(
                clientID: clientID, what: ["statistics", interval?.rawValue, groupBy.map { "by-\($0.rawValue)" }]
                    .compactMap { $0 }.joined(separator: "-"),
                parameters: parameters))
        }
        var json = JSONBytes(capacity: 256 + buckets.count * 160)
        json.beginObject()
        json.field("interval", interval?.rawValue)
        json.field("group_by", groupBy?.rawValue)
        json.beginArray("buckets")
        for bucket in buckets { json.bucket(bucket) }
        json.endArray()
        json.endObject()
        return .json(json)
    }

    /// One row per bucket, its columns those of the JSON bucket (`bucket(_:)`). The buckets are
    /// few (one per interval and key) and already in memory, so the CSV is written in one piece.
    static func csv(_ buckets: [StatisticsBucket], groupBy: StatisticsGrouping?, headers: HTTPFields) -> Response {
        let columns: StatisticsKey =
            switch groupBy {
            case nil: .all
            case .agent: .agent(nil)
            case .extension: .extension(0)
            }
        var csv = CSVHeader.row { $0.bucket(StatisticsBucket(start: nil, key: columns)) }
        for bucket in buckets { csv.bucket(bucket) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: csv.bytes)))
    }
}

extension QueryParameters {
    /// One of a fixed set of words (`interval=day`), or nil when absent.
    func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, _: Choice.Type) throws -> Choice?
    where Choice.RawValue == String {
        guard let raw = self[name] else { return nil }
        guard let choice = Choice(rawValue: raw) else {
            throw APIError.badParameter(name, expected: "one of " + Choice.allCases.map(\.rawValue).joined(separator: ", "), got: raw)
        }
        return choice
    }

    /// An agent's username (the extension name of the agent's phone): non-empty, at most 64 characters.
    func agentUsername(_ name: String) throws -> String? {
        guard let raw = self[name] else { return nil }
        guard !raw.isEmpty, raw.count <= 64 else {
            throw APIError.badParameter(name, expected: "an agent's username (1 to 64 characters)", got: raw)
        }
        return raw
    }
}

/// A bucket's fields, for JSON and CSV alike: the one list of the statistics' columns.
extension RecordFields {
    mutating func bucket(_ bucket: StatisticsBucket) {
        beginRecord()
        field("start", bucket.start)
        switch bucket.key {
        case .all: break
        case .agent(let username): field("agent_username", username)
        case .extension(let id): field("extension_id", id)
        }
        let measures = bucket.measures
        field("count", measures.rated)
        field("average", measures.average)
        field("count_per_key", counts: measures.countPerKey)
        field("score_percent", measures.scorePercent)
        field("csat_percent", measures.csatPercent)
        field("offered", measures.offered)
        field("response_rate_percent", measures.responseRatePercent)
        endRecord()
    }
}
