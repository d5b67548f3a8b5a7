import Domain

/// A live stream of one client's new ratings as Server-Sent Events (WHATWG HTML, "Server-sent
/// events", §9.2), as a value: where it resumes, which ratings it has sent, when a keep-alive
/// comment is due and when the stream ends. The route reads the store and moves these bytes.
///
/// Each rating is one event: `event: rating`, `id: <rating id>` and one `data:` line holding the
/// rating as the ratings list answers it with `with_agent=true` (compact JSON has no line breaks,
/// so one `data:` line always suffices, §9.2.6). The `id` is what a reconnecting EventSource
/// sends back as `Last-Event-ID`; ids only grow, so "the ratings above it" is the exact resume point.
struct RatingEventStream {
    /// Ratings read and sent per store round trip, so a long replay holds one page in memory.
    static let pageSize = 500
    /// How long a stream waits for a ring before it reads the store anyway: a rating written by
    /// another process (`qualityrate demo`, another node on the same database) rings nothing here.
    static let pollInterval: Duration = .seconds(2)
    /// A comment line after this long without a byte: keeps proxies from dropping the idle
    /// connection (WHATWG §9.2.7 suggests one about every 15 s) and finds a vanished client,
    /// whose write then fails.
    static let keepAliveInterval: Duration = .seconds(15)
    /// A stream ends after this long: it was authorised once, when it opened, so it must not
    /// outlive its token (3,600 s) by much. The client reconnects with its current token and
    /// `Last-Event-ID`, and misses nothing.
    static let maximumDuration: Duration = .seconds(3_600)
    /// The reconnection time the stream asks EventSource to use (the `retry:` field).
    static let retryMilliseconds = 3_000

    /// The id of the last rating sent (or the resume point): the next read is of ids above it.
    private(set) var lastID: Int64
    private var formatter: LocalTimeFormatter
    private var lastWrite: ContinuousClock.Instant
    private let deadline: ContinuousClock.Instant

    init(after lastID: Int64, zone: ClientTimeZone, now: ContinuousClock.Instant) {
        self.lastID = lastID
        formatter = zone.makeFormatter()
        lastWrite = now
        deadline = now + Self.maximumDuration
    }

    /// The first bytes, sent at once so the client sees the stream open: the reconnection time,
    /// and a comment.
    mutating func opening(now: ContinuousClock.Instant) -> [UInt8] {
        lastWrite = now
        return Array("retry: \(Self.retryMilliseconds)\n: ratings after id \(lastID)\n\n".utf8)
    }

    /// The events of `ratings` (read in id order) above the last one sent; empty when none is new.
    mutating func events(_ ratings: [Rating], now: ContinuousClock.Instant) -> [UInt8] {
        var bytes: [UInt8] = []
        for rating in ratings where rating.id > lastID {
            var json = JSONBytes(capacity: 256)
            json.rating(rating, local: formatter.localTime(of: rating.ratedAt), withAgent: true)
            bytes += Array("event: rating\nid: \(rating.id)\ndata: ".utf8)
            bytes += json.bytes
            bytes += Array("\n\n".utf8)
            lastID = rating.id
        }
        if !bytes.isEmpty { lastWrite = now }
        return bytes
    }

    /// A comment line (ignored by every SSE parser) when nothing was sent for `keepAliveInterval`.
    mutating func keepAlive(now: ContinuousClock.Instant) -> [UInt8]? {
        guard now - lastWrite >= Self.keepAliveInterval else { return nil }
        lastWrite = now
        return Array(": keep-alive\n\n".utf8)
    }

    func isOver(now: ContinuousClock.Instant) -> Bool { now >= deadline }

    /// How long to wait for a ring before reading again: the poll interval, or less when a
    /// keep-alive or the end is due sooner.
    func wait(now: ContinuousClock.Instant) -> Duration {
        max(.zero, min(Self.pollInterval, lastWrite + Self.keepAliveInterval - now, deadline - now))
    }

    /// Where a stream resumes: `Last-Event-ID` (what EventSource sends when it reconnects, the id
    /// of the last event it got) before `after_id` (the first connection's choice, still in the
    /// URL on reconnection). Nil: neither, start with the next new rating. Text that is not a
    /// positive id is `.malformed` naming its source; an empty `Last-Event-ID` counts as absent
    /// (an `id:` field with no value resets the last event id, §9.2.6).
    static func resumePoint(lastEventID: String?, afterID: String?) -> ResumePoint {
        for (source, text) in [(ResumePoint.Source.lastEventID, lastEventID), (.afterID, afterID)] {
            guard let text, !(source == .lastEventID && text.isEmpty) else { continue }
            guard let id = QueryParameters.digits(text).flatMap({ Int64($0) }), id >= 1 else { return .malformed(source, text) }
            return .after(id, source)
        }
        return .newest
    }

    enum ResumePoint: Equatable {
        case newest
        case after(Int64, Source)
        case malformed(Source, String)

        enum Source: String, Equatable {
            case lastEventID = "Last-Event-ID"
            case afterID = "after_id"
        }
    }
}
