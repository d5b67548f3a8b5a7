/// Who may try to authenticate: failed attempts counted per source address and per account, and
/// a source banned for a growing time once it fails too often (issue "Security and resilience at
/// the edges"; what fail2ban does for Asterisk, inside the server). A plain value: the registrar,
/// the proxy and `/oauth/token` ask it before checking credentials and tell it the outcome.
///
/// Two counts, because brute force comes two ways:
/// - one source trying many passwords: past `sourceFailures` in `window` the source is banned —
///   every request of it refused — for `firstBan`, doubled at each further ban within a day (up to
///   `longestBan`);
/// - many sources trying one account: past `accountFailures` in `window` the account is guarded
///   for as long: it can then be tried only from addresses it authenticated from before (its own
///   phone or application), so the attack cannot lock the real user out.
public struct AuthenticationBans<Source: Hashable & Sendable>: Sendable {
    public struct Policy: Sendable, Equatable {
        public var sourceFailures: Int
        public var accountFailures: Int
        public var window: Int64
        public var firstBan: Int64
        public var longestBan: Int64

        /// Ten wrong passwords in a minute from one address is no typo; thirty on one account
        /// from anywhere is a distributed guess.
        public static var standard: Policy {
            Policy(sourceFailures: 10, accountFailures: 30, window: 60, firstBan: 60, longestBan: 86_400)
        }

        public init(sourceFailures: Int, accountFailures: Int, window: Int64, firstBan: Int64, longestBan: Int64) {
            self.sourceFailures = sourceFailures
            self.accountFailures = accountFailures
            self.window = window
            self.firstBan = firstBan
            self.longestBan = longestBan
        }
    }

    public enum Verdict: Sendable, Equatable {
        case allowed
        /// Refused for `retryAfter` more seconds.
        case sourceBanned(retryAfter: Int64)
        /// The account is under attack and `source` never authenticated as it.
        case accountGuarded(retryAfter: Int64)

        /// Seconds until the attempt may be made; nil when it may be made now.
        public var retryAfter: Int64? {
            switch self {
            case .allowed: nil
            case .sourceBanned(let seconds), .accountGuarded(let seconds): seconds
            }
        }
    }

    /// What a failure led to, for the log and `/metrics`.
    public enum Ban: Sendable, Equatable {
        case source(Source, seconds: Int64, failures: Int)
        case account(String, seconds: Int64, failures: Int)
    }

    private struct Counter: Sendable {
        var windowStart: Int64
        var failures: Int
        var bannedUntil: Int64 = 0
        /// Bans in a row, for the growing length; forgotten a day after the last ban ended.
        var bans = 0
        var lastUsed: Int64
    }

    public let policy: Policy
    private var sources: [Source: Counter] = [:]
    private var accounts: [String: Counter] = [:]
    /// Sources each account authenticated from, most recent last (at most `knownSourcesPerAccount`).
    /// Only a correct password adds to it, so it grows with real accounts, not with a scan.
    private var knownSources: [String: [Source]] = [:]
    /// The tables are bounded: a scan from many addresses over many account names must not grow
    /// memory without end. Past the bound, entries unused longest are forgotten first.
    private let capacity: Int
    private static var knownSourcesPerAccount: Int { 8 }
    private static var banMemory: Int64 { 86_400 }

    public init(policy: Policy, capacity: Int = 100_000) {
        self.policy = policy
        self.capacity = capacity
    }

    /// Whether `source` may try `account` now (nil: the account is not known yet, as before a
    /// REGISTER's To is read — only the source's ban applies).
    public func verdict(source: Source, account: String?, at now: Int64) -> Verdict {
        if let counter = sources[source], counter.bannedUntil > now { return .sourceBanned(retryAfter: counter.bannedUntil - now) }
        if let account, let counter = accounts[account], counter.bannedUntil > now,
            !(knownSources[account] ?? []).contains(source)
        {
            return .accountGuarded(retryAfter: counter.bannedUntil - now)
        }
        return .allowed
    }

    /// Counts a failed authentication; returns the bans it starts. `account` is nil when the
    /// attempt named none (a refresh token): only the source's count grows.
    public mutating func failed(source: Source, account: String?, at now: Int64) -> [Ban] {
        var started: [Ban] = []
        let fresh = Counter(windowStart: now, failures: 0, lastUsed: now)
        if let seconds = Self.count(&sources[source, default: fresh], policy.sourceFailures, policy, now) {
            started.append(.source(source, seconds: seconds, failures: policy.sourceFailures))
        }
        if let account, let seconds = Self.count(&accounts[account, default: fresh], policy.accountFailures, policy, now) {
            started.append(.account(account, seconds: seconds, failures: policy.accountFailures))
        }
        trim(at: now)
        return started
    }

    /// A successful authentication: the source's failures are forgiven (a phone whose user fixed a
    /// typo starts afresh) and the account may be tried from it even while it is guarded.
    public mutating func succeeded(source: Source, account: String, at now: Int64) {
        if var counter = sources[source] {
            counter.failures = 0
            sources[source] = counter
        }
        var known = knownSources[account] ?? []
        known.removeAll { $0 == source }
        known.append(source)
        knownSources[account] = Array(known.suffix(Self.knownSourcesPerAccount))
        trim(at: now)
    }

    /// Sources banned now.
    public func bannedSources(at now: Int64) -> Int {
        sources.values.count { $0.bannedUntil > now }
    }

    /// Adds a failure to `counter`; the ban's length when it crosses `threshold`.
    private static func count(_ counter: inout Counter, _ threshold: Int, _ policy: Policy, _ now: Int64) -> Int64? {
        counter.lastUsed = now
        if counter.bannedUntil > now { return nil }
        if now - counter.windowStart >= policy.window {
            counter.windowStart = now
            counter.failures = 0
        }
        if counter.bannedUntil > 0, now - counter.bannedUntil > banMemory { counter.bans = 0 }
        counter.failures += 1
        guard counter.failures >= threshold else { return nil }
        let doublings = min(counter.bans, 40)
        let seconds = min(policy.longestBan, policy.firstBan << Int64(doublings))
        counter.bans += 1
        counter.bannedUntil = now + seconds
        counter.windowStart = now + seconds
        counter.failures = 0
        return seconds
    }

    private mutating func trim(at now: Int64) {
        // `knownSources` needs no bound: only a correct password adds to it.
        guard sources.count > capacity || accounts.count > capacity else { return }
        // Entries that matter no more go first: no ban running or remembered, window over.
        let window = policy.window
        let stale = { (counter: Counter) in counter.bannedUntil + Self.banMemory < now && now - counter.windowStart >= window }
        sources = sources.filter { !stale($0.value) }
        accounts = accounts.filter { !stale($0.value) }
        sources = Self.newest(sources, keeping: capacity * 3 / 4)
        accounts = Self.newest(accounts, keeping: capacity * 3 / 4)
    }

    private static func newest<Key>(_ table: [Key: Counter], keeping limit: Int) -> [Key: Counter] {
        guard table.count > limit else { return table }
        return Dictionary(uniqueKeysWithValues: table.sorted { $0.value.lastUsed > $1.value.lastUsed }.prefix(limit).map { ($0.key, $0.value) })
    }
}
