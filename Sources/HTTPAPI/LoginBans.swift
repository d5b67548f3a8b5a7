public import Admission
import Foundation
import Logging
import Metrics
import Synchronization

/// `AuthenticationBans` for `/oauth/token` (both grants, and refresh tokens): failed sign-ins
/// counted per client address and per application or user, a banned address answered 429 with
/// `Retry-After` before any secret is checked (the password grant's hash costs ~80 ms of CPU, so
/// a guesser must not get to spend it). One lock, no suspension between a verdict and its record.
final class LoginBans: Sendable {
    private let bans: Mutex<AuthenticationBans<String>>
    private let logger: Logger
    private static let failures = Counter(label: "qualityrate_auth_failures_total", dimensions: [("protocol", "http")])
    private static let bansStarted = ["source", "account"].map {
        Counter(label: "qualityrate_auth_bans_total", dimensions: [("protocol", "http"), ("scope", $0)])
    }
    private static let refused = ["source", "account"].map {
        Counter(label: "qualityrate_auth_refused_total", dimensions: [("protocol", "http"), ("scope", $0)])
    }

    init(policy: AuthenticationBans<String>.Policy, logger: Logger) {
        bans = Mutex(AuthenticationBans(policy: policy))
        self.logger = logger
    }

    /// Seconds `source` must wait before trying `account`, or nil when it may try now.
    func retryAfter(source: String, account: String?) -> Int64? {
        let verdict = bans.withLock { $0.verdict(source: source, account: account, at: Self.now) }
        switch verdict {
        case .allowed: return nil
        case .sourceBanned(let seconds):
            Self.refused[0].increment()
            return seconds
        case .accountGuarded(let seconds):
            Self.refused[1].increment()
            return seconds
        }
    }

    func failed(source: String, account: String?) {
        Self.failures.increment()
        for ban in bans.withLock({ $0.failed(source: source, account: account, at: Self.now) }) {
            switch ban {
            case .source(let banned, let seconds, let failures):
                Self.bansStarted[0].increment()
                logger.warning(
                    "HTTP client address banned after failed sign-ins at /oauth/token",
                    metadata: ["source": "\(banned)", "failures": "\(failures)", "ban_seconds": "\(seconds)"])
            case .account(let guarded, let seconds, let failures):
                Self.bansStarted[1].increment()
                logger.warning(
                    "account guarded after failed sign-ins from many addresses: only addresses it signed in from may try it",
                    metadata: ["account": "\(guarded)", "failures": "\(failures)", "ban_seconds": "\(seconds)"])
            }
        }
    }

    func succeeded(source: String, account: String?) {
        guard let account else { return }
        bans.withLock { $0.succeeded(source: source, account: account, at: Self.now) }
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
