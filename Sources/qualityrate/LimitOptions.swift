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

/// `serve`'s limits on connections: HTTP and SIP/TCP clients, and the timeouts that close the
/// ones that hold a socket without using it.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("http-max-connections"), help: "HTTP connections open at once (lowered to fit the open-file limit).")
    var httpMaxConnections = 1_000

    @Option(name: .customLong("http-max-connections-per-address"), help: "HTTP connections from one address (at most a quarter of all).")
    var httpMaxConnectionsPerAddress = 100

    @Option(name: .customLong("http-idle-timeout"), help: "Seconds an HTTP connection may stay idle, or take to send its request head.")
    var httpIdleTimeout: Int64 = 30

    @Option(name: .customLong("http-body-timeout"), help: "Seconds an HTTP request may take to send its body.")
    var httpBodyTimeout: Int64 = 60

    @Option(name: .customLong("sip-tcp-max-connections"), help: "SIP/TCP connections accepted at once (lowered to fit the open-file limit).")
    var sipTCPMaxConnections = 1_000

    @Option(name: .customLong("sip-tcp-max-connections-per-address"), help: "SIP/TCP connections from one address (at most a quarter of all).")
    var sipTCPMaxConnectionsPerAddress = 64

    @Option(name: .customLong("sip-tcp-idle-timeout"), help: """
        Seconds a SIP/TCP connection may go without a byte from its peer; one carrying a registration stays while the binding lasts.
        """)
    var sipTCPIdleTimeout: Int64 = 120

    @Option(name: .customLong("sip-tcp-partial-timeout"), help: "Seconds a SIP/TCP peer may take to finish a message it started.")
    var sipTCPPartialTimeout: Int64 = 10

    func validate() throws {
        for (name, value) in [
            ("--http-max-connections", httpMaxConnections), ("--http-max-connections-per-address", httpMaxConnectionsPerAddress),
            ("--sip-tcp-max-connections", sipTCPMaxConnections), ("--sip-tcp-max-connections-per-address", sipTCPMaxConnectionsPerAddress),
        ] where value < 1 {
            throw ValidationError("\(name): expected a whole number of at least 1, got \(value)")
        }
        for (name, value) in [
            ("--http-idle-timeout", httpIdleTimeout), ("--http-body-timeout", httpBodyTimeout), ("--sip-tcp-idle-timeout", sipTCPIdleTimeout),
            ("--sip-tcp-partial-timeout", sipTCPPartialTimeout),
        ] where value < 1 {
            throw ValidationError("\(name): expected seconds, at least 1, got \(value)")
        }
    }
}

/// How the open-file limit is shared, so that the sockets of idle or hostile clients can never
/// starve the calls' RTP sockets or the database: a reserve for the database, listeners and event
/// loops; an eighth of the rest for HTTP connections and an eighth for SIP/TCP; the remaining
/// three quarters for RTP, two sockets per call — and no more calls than the RTP port range has
/// ports (a call's first leg needs one; a call beyond could never be answered). Each cap is the option's value or the budget's
/// share, whichever is lower, and one address gets at most a quarter of a cap — so one client
/// cannot take every place, and `/health` is answered while a scanner holds its share.
struct DescriptorBudget: CustomStringConvertible {
    static let reserve = 64

    let openFileLimit: Int
    let httpConnections: Int
    let httpConnectionsPerAddress: Int
    let sipTCPConnections: Int
    let sipTCPConnectionsPerAddress: Int
    let calls: Int

    init(openFileLimit: Int, connections: ConnectionOptions, maximumCalls: Int, rtpPorts: ClosedRange<Int>) {
        self.openFileLimit = openFileLimit
        let shared = max(openFileLimit - Self.reserve, 16)
        httpConnections = min(connections.httpMaxConnections, max(shared / 8, 4))
        httpConnectionsPerAddress = min(connections.httpMaxConnectionsPerAddress, max(httpConnections / 4, 1))
        sipTCPConnections = min(connections.sipTCPMaxConnections, max(shared / 8, 4))
        sipTCPConnectionsPerAddress = min(connections.sipTCPMaxConnectionsPerAddress, max(sipTCPConnections / 4, 1))
        let legs = rtpPorts.count(where: { $0.isMultiple(of: 2) })
        calls = min(maximumCalls, max(shared * 3 / 4 / 2, 1), max(legs, 1))
    }

    var description: String {
        "open files \(openFileLimit): HTTP \(httpConnections) (\(httpConnectionsPerAddress) per address), "
            + "SIP/TCP \(sipTCPConnections) (\(sipTCPConnectionsPerAddress) per address), calls \(calls)"
    }
}
