import Admission
import ArgumentParser

/// `serve`'s limits on who is let in: bans after failed authentication, and the admission of
/// new calls. Defaults suit one server of a contact centre; docs/SIP.md says how they act.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("ban-after"), help: "Failed authentications (SIP digest, /oauth/token) from one address within --ban-window that ban it.")
    var banAfter = AuthenticationBans<String>.Policy.standard.sourceFailures

    @Option(name: .customLong("ban-account-after"), help: """
        Failed authentications of one account from any addresses within --ban-window after which it may be tried only from \
        addresses it signed in from before.
        """)
    var banAccountAfter = AuthenticationBans<String>.Policy.standard.accountFailures

    @Option(name: .customLong("ban-window"), help: "Seconds in which failed authentications are counted.")
    var banWindow = AuthenticationBans<String>.Policy.standard.window

    @Option(name: .customLong("ban-seconds"), help: "Length of a first ban; each further ban of the same address within a day doubles it.")
    var banSeconds = AuthenticationBans<String>.Policy.standard.firstBan

    @Option(name: .customLong("ban-max-seconds"), help: "The longest ban.")
    var banMaxSeconds = AuthenticationBans<String>.Policy.standard.longestBan

    @Option(name: .customLong("max-calls"), help: "Calls up at once (arriving and started by the API); a new INVITE beyond gets 503.")
    var maxCalls = 1_000

    @Option(name: .customLong("max-call-rate"), help: "New calls per second in all; INVITEs beyond get 503 with Retry-After.")
    var maxCallRate = 200.0

    @Option(name: .customLong("max-call-rate-per-source"), help: "New calls per second from one address (one trunk); beyond, 503.")
    var maxCallRatePerSource = 100.0

    func validate() throws {
        for (name, value) in [("--ban-after", banAfter), ("--ban-account-after", banAccountAfter), ("--max-calls", maxCalls)] where value < 1 {
            throw ValidationError("\(name): expected a whole number of at least 1, got \(value)")
        }
        for (name, value) in [("--ban-window", banWindow), ("--ban-seconds", banSeconds), ("--ban-max-seconds", banMaxSeconds)] where value < 1 {
            throw ValidationError("\(name): expected seconds, at least 1, got \(value)")
        }
        guard banMaxSeconds >= banSeconds else {
            throw ValidationError("--ban-max-seconds: expected at least --ban-seconds (\(banSeconds)), got \(banMaxSeconds)")
        }
        for (name, value) in [("--max-call-rate", maxCallRate), ("--max-call-rate-per-source", maxCallRatePerSource)]
        where !(value > 0 && value.isFinite) {
            throw ValidationError("\(name): expected calls per second above 0, got \(value)")
        }
    }

    var banPolicy: AuthenticationBans<String>.Policy {
        .init(sourceFailures: banAfter, accountFailures: banAccountAfter, window: banWindow, firstBan: banSeconds, longestBan: banMaxSeconds)
    }

    var callLimits: CallAdmission<String>.Limits {
        .init(maximumCalls: maxCalls, callsPerSecond: maxCallRate, callsPerSecondPerSource: maxCallRatePerSource)
    }

    var summary: String {
        "ban after \(banAfter)/\(banAccountAfter) per \(banWindow) s for \(banSeconds)–\(banMaxSeconds) s; "
            + "\(maxCalls) calls, \(maxCallRate)/s, \(maxCallRatePerSource)/s per source"
    }
}
