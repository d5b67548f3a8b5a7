import Foundation
public import Logging
import Metrics
import Synchronization

/// `AuthenticationBans` shared by the requests of one protocol (`sip` or `http`): each verdict
/// and each failure taken and recorded under one lock, with no suspension in between, counted at
/// `/metrics` (`qualityrate_auth_failures_total`, `…_bans_total`, `…_refused_total`, by
/// `protocol` and `scope`) and each ban logged as a warning with the address and its length.
public final class BanList: Sendable {
    private let bans: Mutex<AuthenticationBans<String>>
    /// What the log calls a failed attempt: "SIP authentications", "sign-ins at /oauth/token".
    private let attempts: String
    private let logger: Logger
    private let failures: Counter
    private let bansStarted: (source: Counter, account: Counter)
    private let refused: (source: Counter, account: Counter)

    public init(policy: AuthenticationBans<String>.Policy, protocol name: String, attempts: String, logger: Logger) {
        bans = Mutex(AuthenticationBans(policy: policy))
        self.attempts = attempts
        self.logger = logger
        failures = Counter(label: "qualityrate_auth_failures_total", dimensions: [("protocol", name)])
        func counters(_ label: String) -> (Counter, Counter) {
            (Counter(label: label, dimensions: [("protocol", name), ("scope", "source")]),
             Counter(label: label, dimensions: [("protocol", name), ("scope", "account")]))
        }
        bansStarted = counters("qualityrate_auth_bans_total")
        refused = counters("qualityrate_auth_refused_total")
    }

    /// Whether `source` may try `account` now; a refusal is counted.
    public func verdict(source: String, account: String?) -> AuthenticationBans<String>.Verdict {
        let verdict = bans.withLock { $0.verdict(source: source, account: account, at: Self.now) }
        switch verdict {
        case .allowed: break
        case .sourceBanned: refused.source.increment()
        case .accountGuarded: refused.account.increment()
        }
        return verdict
    }

    public func failed(source: String, account: String?) {
        failures.increment()
        for ban in bans.withLock({ $0.failed(source: source, account: account, at: Self.now) }) {
            switch ban {
            case .source(let banned, let seconds, let failures):
                bansStarted.source.increment()
                logger.warning(
                    "address banned after failed \(attempts)",
                    metadata: ["source": "\(banned)", "failures": "\(failures)", "ban_seconds": "\(seconds)"])
            case .account(let guarded, let seconds, let failures):
                bansStarted.account.increment()
                logger.warning(
                    "account guarded after failed \(attempts) from many addresses: only addresses it signed in from may try it",
                    metadata: ["account": "\(guarded)", "failures": "\(failures)", "ban_seconds": "\(seconds)"])
            }
        }
    }

    public func succeeded(source: String, account: String) {
        bans.withLock { $0.succeeded(source: source, account: account, at: Self.now) }
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}

/// `ConnectionPlaces` shared by one listener's connections, each opening and closing on its own
/// event loop: counted at `/metrics` as `NAME` (open now), `NAME_refused_total` and
/// `NAME_timed_out_total`.
public final class ConnectionGate: Sendable {
    private let places: Mutex<ConnectionPlaces>
    private let open: Gauge
    private let refused: Counter
    private let timedOut: Counter

    /// `name`: the metric, e.g. `qualityrate_http_connections`.
    public init(maximum: Int, maximumPerAddress: Int, name: String) {
        places = Mutex(ConnectionPlaces(maximum: maximum, maximumPerAddress: maximumPerAddress))
        open = Gauge(label: name)
        refused = Counter(label: name + "_refused_total")
        timedOut = Counter(label: name + "_timed_out_total")
    }

    /// Takes a place for a connection from `address`, or says why there is none (counted).
    public func take(from address: String) -> ConnectionPlaces.Refusal? {
        let (refusal, count) = places.withLock { ($0.take(from: address), $0.open) }
        open.record(count)
        if refusal != nil { refused.increment() }
        return refusal
    }

    public func release(from address: String) {
        open.record(places.withLock { places in
            places.release(from: address)
            return places.open
        })
    }

    /// A connection was closed by one of the listener's timeouts.
    public func closedByTimeout() { timedOut.increment() }
}
