/// Whether a new call may start: at most `maximumCalls` at once, and new calls at most
/// `callsPerSecond` in all and `callsPerSecondPerSource` from one address (token buckets that
/// allow a burst of one second's worth). Beyond that a new INVITE is answered `503` with
/// `Retry-After` at once (RFC 3261 §21.5.4) — a trunk then tries again or elsewhere — rather than
/// queued or dropped: FreeSWITCH's `max-sessions` and `sessions-per-second`, with the per-source
/// bucket so that one trunk's burst (or a flood from one address) cannot take every other
/// trunk's share. A plain value; its owner commits each verdict before anything else runs.
public struct CallAdmission<Source: Hashable & Sendable>: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maximumCalls: Int
        public var callsPerSecond: Double
        public var callsPerSecondPerSource: Double

        public init(maximumCalls: Int, callsPerSecond: Double, callsPerSecondPerSource: Double) {
            self.maximumCalls = maximumCalls
            self.callsPerSecond = callsPerSecond
            self.callsPerSecondPerSource = callsPerSecondPerSource
        }
    }

    public enum Refusal: Sendable, Equatable {
        case tooManyCalls
        case tooManyNewCalls
        case tooManyNewCallsFromSource

        /// The reason phrase of the 503: what an operator reading a trace needs.
        public var reason: String {
            switch self {
            case .tooManyCalls: "Service Unavailable (too many calls)"
            case .tooManyNewCalls: "Service Unavailable (too many new calls per second)"
            case .tooManyNewCallsFromSource: "Service Unavailable (too many new calls per second from this address)"
            }
        }

        /// The label of `qualityrate_sip_calls_refused_total`.
        public var label: String {
            switch self {
            case .tooManyCalls: "calls"
            case .tooManyNewCalls: "rate"
            case .tooManyNewCallsFromSource: "source_rate"
            }
        }
    }

    public enum Verdict: Sendable, Equatable {
        case admitted
        case refused(Refusal, retryAfter: Int)
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var updatedAt: Double

        /// Refills at `rate` per second up to one second's worth, then takes a token if there is one.
        mutating func take(rate: Double, at now: Double) -> Bool {
            tokens = min(max(rate, 1), tokens + max(0, now - updatedAt) * rate)
            updatedAt = now
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }

        /// Seconds until a token is back.
        func wait(rate: Double) -> Int { Int(((1 - tokens) / rate).rounded(.up)).clamped(to: 1...60) }
    }

    public let limits: Limits
    public private(set) var activeCalls = 0
    private var global: Bucket
    private var perSource: [Source: Bucket] = [:]
    /// Sources whose bucket is full need no entry; the table is emptied of them when it grows,
    /// so a flood from many addresses cannot grow it without end.
    private static var sourceTableBound: Int { 10_000 }

    public init(limits: Limits) {
        self.limits = limits
        global = Bucket(tokens: max(limits.callsPerSecond, 1), updatedAt: 0)
    }

    /// Decides on a new call from `source` at `now` (seconds on a monotonic clock); an admitted
    /// call counts as active until `ended()`.
    public mutating func admit(from source: Source, at now: Double) -> Verdict {
        guard activeCalls < limits.maximumCalls else { return .refused(.tooManyCalls, retryAfter: 5) }
        let sourceRate = limits.callsPerSecondPerSource
        var bucket = perSource[source] ?? Bucket(tokens: max(sourceRate, 1), updatedAt: now)
        // The source's token is taken only when the global one is too, so that a refusal for the
        // global rate does not also use up the source's share.
        guard bucket.tokens + max(0, now - bucket.updatedAt) * sourceRate >= 1 else {
            _ = bucket.take(rate: sourceRate, at: now)
            perSource[source] = bucket
            return .refused(.tooManyNewCallsFromSource, retryAfter: bucket.wait(rate: sourceRate))
        }
        guard global.take(rate: limits.callsPerSecond, at: now) else {
            return .refused(.tooManyNewCalls, retryAfter: global.wait(rate: limits.callsPerSecond))
        }
        _ = bucket.take(rate: sourceRate, at: now)
        if perSource.count >= Self.sourceTableBound {
            perSource = perSource.filter { $0.value.tokens + (now - $0.value.updatedAt) * sourceRate < max(sourceRate, 1) }
        }
        perSource[source] = bucket
        activeCalls += 1
        return .admitted
    }

    /// A call admitted before is over.
    public mutating func ended() {
        activeCalls = max(0, activeCalls - 1)
    }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
