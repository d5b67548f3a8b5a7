public import Domain

/// Writes a ratings list as a JSON array, page by page, exactly as the API answers it. The
/// route streams each page's bytes as soon as they are written; the benchmark uses the same
/// encoder to measure storage-plus-encoding without HTTP.
public struct RatingListEncoder: ListEncoder, Sendable {
    private var json: JSONBytes
    private var formatter: LocalTimeFormatter
    private let withAgent: Bool

    public init(zone: ClientTimeZone, withAgent: Bool, expectedRows: Int) {
        json = JSONBytes(capacity: 200 * expectedRows)
        formatter = zone.makeFormatter()
        self.withAgent = withAgent
        json.beginArray()
    }

    public mutating func append(_ ratings: [Rating]) {
        for rating in ratings {
            json.rating(rating, local: formatter.localTime(of: rating.ratedAt), withAgent: withAgent)
        }
    }

    public mutating func takeBytes() -> [UInt8] {
        let bytes = json.bytes
        json.clearContinuingArray()
        return bytes
    }

    public mutating func finish() -> [UInt8] {
        json.endArray()
        return json.bytes
    }
}
