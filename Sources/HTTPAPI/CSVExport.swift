import Domain
import Foundation
import Hummingbird

/// What a list or the statistics are answered as: JSON, or CSV for spreadsheets (issue 10).
enum ResponseFormat: String, CaseIterable, Sendable {
    case json, csv

    /// `format=json|csv` when given — a link or a spreadsheet's web import cannot set headers, so
    /// the parameter wins over `Accept` — else what `Accept` prefers (RFC 9110 §12.5.1).
    static func requested(by request: Request, _ parameters: QueryParameters) throws -> ResponseFormat {
        if let chosen = try parameters.choice("format", ResponseFormat.self) { return chosen }
        return preferred(accept: request.headers[.accept])
    }

    /// CSV only when `Accept` ranks `text/csv` strictly above `application/json`, each by the most
    /// specific range that matches it (`text/csv`, then `text/*`, then `*/*`). Anything else —
    /// no `Accept`, `*/*`, a browser's `text/html,…,*/*;q=0.8`, a type we do not serve — gets
    /// JSON, the API's format, rather than a 406.
    static func preferred(accept: String?) -> ResponseFormat {
        guard let accept else { return .json }
        var csv = (specificity: -1, quality: 0.0)
        var json = (specificity: -1, quality: 0.0)
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";")
            guard let mediaRange = parts.first?.trimmingCharacters(in: .whitespaces).lowercased() else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "q", let value = Double(pair[1].trimmingCharacters(in: .whitespaces)) {
                    quality = value
                }
            }
            func consider(_ best: inout (specificity: Int, quality: Double), type: String, family: String) {
                let specificity = mediaRange == type ? 2 : mediaRange == family ? 1 : mediaRange == "*/*" ? 0 : -1
                if specificity > best.specificity { best = (specificity, quality) }
            }
            consider(&csv, type: "text/csv", family: "text/*")
            consider(&json, type: "application/json", family: "application/*")
        }
        return csv.quality > 0 && csv.quality > json.quality ? .csv : .json
    }
}

/// The headers of a CSV download: RFC 4180's media type with `header=present` (RFC 4180 §3), and
/// a file name naming the client and the period (RFC 6266), made of letters, digits and `-` only.
enum CSVDownload {
    static func headers(clientID: Int64, what: String, parameters: QueryParameters) -> HTTPFields {
        let from = parameters["start_datetime"].map(compact)
        let through = parameters["end_datetime"].map(compact)
        let period =
            switch (from, through) {
            case let (from?, through?): "\(from)-\(through)"
            case let (from?, nil): "from-\(from)"
            case let (nil, through?): "until-\(through)"
            case (nil, nil): "all"
            }
        return [
            .contentType: "text/csv; charset=utf-8; header=present",
            .contentDisposition: "attachment; filename=\"client-\(clientID)-\(what)-\(period).csv\"",
        ]
    }

    /// `2026-03-01 08:30:00` (already checked by the route) as `20260301T083000`.
    private static func compact(_ local: String) -> String {
        String(local.compactMap { $0.isASCII && $0.isNumber ? $0 : $0 == " " ? "T" : nil })
    }
}

/// How one kind of list item becomes a CSV row, with the header row naming its columns.
protocol CSVRecords: Sendable {
    associatedtype Item
    /// A writer holding the header row, for the rows to follow.
    func header() -> CSVBytes
    mutating func write(_ item: Item, to csv: inout CSVBytes)
}

/// Writes a list as CSV, page by page, for `PagedList`: the header row, then a row per item.
struct CSVListEncoder<Records: CSVRecords>: ListEncoder {
    private var csv: CSVBytes
    private var records: Records

    init(_ records: Records) {
        csv = records.header()
        self.records = records
    }

    mutating func append(_ items: [Records.Item]) {
        for item in items { records.write(item, to: &csv) }
    }

    mutating func takeBytes() -> [UInt8] { csv.takeBytes() }
    mutating func finish() -> [UInt8] { csv.takeBytes() }
}

/// Ratings as the JSON list writes them, `agent_username` and `target` with `with_agent`.
struct RatingCSVRecords: CSVRecords {
    private var formatter: LocalTimeFormatter
    private let withAgent: Bool

    init(zone: ClientTimeZone, withAgent: Bool) {
        formatter = zone.makeFormatter()
        self.withAgent = withAgent
    }

    func header() -> CSVBytes {
        let sample = Rating(
            id: 0, clientID: 0, callUUID: .random(), ratedAt: UnixTime(seconds: 0), extensionID: 0, rate: 0, maxRate: 0,
            agentUsername: nil)
        return CSVHeader.row { $0.rating(sample, local: ClientTimeZone.utc.localTime(of: sample.ratedAt), withAgent: withAgent) }
    }

    mutating func write(_ rating: Rating, to csv: inout CSVBytes) {
        csv.rating(rating, local: formatter.localTime(of: rating.ratedAt), withAgent: withAgent)
    }
}

/// Call-history records as the JSON list writes them, the `cdr` legs as the JSON array's text.
struct CallCSVRecords: CSVRecords {
    let zone: ClientTimeZone

    func header() -> CSVBytes {
        let sample = CallRecord(
            callUUID: .random(), clientID: 0, extensionID: nil, extensionName: nil, extensionType: nil, flow: .inbound,
            didNumber: nil, didDomain: nil, fromUsername: nil, fromScreenName: nil, fromDomain: nil, bridgedUsername: nil,
            bridgedDomain: nil, bridgedAt: nil, bridgedDuration: nil, duration: 0, hangupDisposition: .system,
            startedAt: UnixTime(seconds: 0), legs: [])
        return CSVHeader.row { $0.callRecord(sample, zone: zone) }
    }

    func write(_ call: CallRecord, to csv: inout CSVBytes) {
        csv.callRecord(call, zone: zone)
    }
}
