import Domain
import Hummingbird
import Storage

/// Encodes the pages of a list into one document: a JSON array, or CSV rows after a header.
protocol ListEncoder: Sendable {
    associatedtype Item
    mutating func append(_ items: [Item])
    /// The bytes written since the last call; the list stays open for more pages.
    mutating func takeBytes() -> [UInt8]
    /// The last bytes of the list, closing a JSON array.
    mutating func finish() -> [UInt8]
}

enum PagedList {
    /// Answers a list as one document (`headers` say which: JSON by default), read and written a
    /// page at a time: the server holds one page whatever the list's length. Errors before the
    /// first byte still get their status (and the JSON error shape, whatever was asked for); a
    /// failure mid-stream ends the connection, so a client never takes a cut list for whole.
    static func response<Cursor: PageCursor, Encoder: ListEncoder>(
        first: ListQuery<Cursor>, limit: Int?, pageSize: Int, encoder: Encoder,
        headers: HTTPFields = [.contentType: "application/json"],
        fetch: @escaping @Sendable (ListQuery<Cursor>) async throws -> [Cursor.Item]
    ) -> Response where Encoder.Item == Cursor.Item {
        let body = ResponseBody { writer in
            var query = first
            var encoder = encoder
            var remaining = limit ?? .max
            while remaining > 0 {
                query.limit = min(pageSize, remaining)
                let page = try await fetch(query)
                encoder.append(page)
                remaining -= page.count
                guard page.count == query.limit, let last = page.last else { break }
                query.after = Cursor(after: last)
                try await writer.write(ByteBuffer(bytes: encoder.takeBytes()))
            }
            try await writer.write(ByteBuffer(bytes: encoder.finish()))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

extension QueryParameters {
    /// The filters shared by the ratings and call-history lists: `start_datetime`,
    /// `end_datetime` (the client's wall clock, inclusive), `extension_id` and `limit`.
    func listQuery<Cursor>(clientID: Int64, zone: ClientTimeZone) throws -> (query: ListQuery<Cursor>, limit: Int?) {
        let query = ListQuery<Cursor>(
            clientID: clientID, from: try localDateTime("start_datetime", in: zone),
            through: try localDateTime("end_datetime", in: zone), extensionID: try positiveID("extension_id"), limit: 0)
        return (query, try limit(range: 1...100_000))
    }
}

extension Request {
    /// Refuses a body of another media type with 415, saying which one to send.
    func requireContentType(_ mediaType: String, sentAs hint: String) throws {
        guard (headers[.contentType]?.lowercased() ?? "").hasPrefix(mediaType) else {
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported_media_type",
                description: "send the body as \(hint) with 'Content-Type: \(mediaType)'")
        }
    }
}
