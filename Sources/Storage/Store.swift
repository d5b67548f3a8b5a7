public import Domain

/// Everything the server keeps, behind one protocol so that a PostgreSQL implementation can
/// stand beside the SQLite one without the API layer noticing. Every read that serves the API is
/// scoped by client: a caller can only ever get rows of the client it names.
public protocol Store: ConfigurationStore, SoundStore, IVRStore, NotificationStore, TrunkStore, Sendable {
    /// What the queues' calls share (issue 12): this process's memory when the database has one
    /// server, the database when it is shared by several.
    var queueState: any QueueState { get }
    /// The registrar's bindings and nonce secret (issue 12), likewise.
    var registrationState: any RegistrationState { get }
    /// The trunks' calls in progress and registrations (issue 12), likewise.
    var trunkState: any TrunkState { get }
    /// Fails when the database cannot be read; used by `/health`.
    func checkHealth() async throws
    /// Whether writes worked at the last `probeWrites` (`/health`, SIP `OPTIONS`).
    var writeHealth: WriteHealth { get }
    /// A small real write (the server's heartbeat, `at`) and a check of the free space; sets
    /// `writeHealth`.
    func probeWrites(at instant: UnixTime) async

    func createClient(name: String, timezone: String, domain: String) async throws -> Client
    func client(id: Int64) async throws -> Client?
    func updateClient(_ client: Client) async throws
    func isDomainTaken(_ domain: String) async throws -> Bool
    /// The client whose SIP domain is `domain` (case-insensitive, as SIP host names are).
    func client(domain: String) async throws -> Client?

    func createUser(_ user: NewUser) async throws -> User
    func user(id: Int64) async throws -> User?
    func user(username: String) async throws -> User?

    func createApplication(_ application: NewApplication) async throws -> Application
    func application(appID: String) async throws -> Application?
    func application(id: Int64) async throws -> Application?

    func saveToken(_ token: StoredToken) async throws
    func token(hash: String) async throws -> StoredToken?
    /// Removes a token; answers whether it was there, so a refresh token is used at most once
    /// even when two requests race with it.
    func deleteToken(hash: String) async throws -> Bool
    func deleteTokens(expiredBefore: UnixTime) async throws

    func extensions(clientID: Int64) async throws -> [Extension]

    /// Stores ratings durably (the transaction is committed when this returns), in order.
    @discardableResult
    func insertRatings(_ ratings: [NewRating]) async throws -> [Rating]
    func rating(clientID: Int64, id: Int64) async throws -> Rating?
    /// One page of a client's ratings in (`datetime`, `id`) order.
    func ratings(_ query: RatingQuery) async throws -> [Rating]
    /// Rung after every transaction that stored ratings commits: the live event streams wait on
    /// it (issue 10), as many as are open.
    var ratingBroadcast: Broadcast { get }
    /// Up to `limit` of a client's ratings with an id above `afterID`, in id order: what a live
    /// event stream sends next. Ids grow with each insert (ratings are never deleted), so a
    /// reader that remembers the last id it sent misses none that were committed after it.
    func ratings(clientID: Int64, afterID: Int64, limit: Int) async throws -> [Rating]
    /// The highest rating id of any client, 0 when there is none: where a stream with no resume
    /// point starts.
    func newestRatingID() async throws -> Int64
    /// What statistics are built from (issue 10): the ratings of a period as counts per UTC
    /// quarter-hour, extension, agent, rate and max_rate, in time order.
    /// The statistics of a period in buckets (issue 10), in `zone`'s local time.
    func ratingStatistics(
        _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping?
    ) async throws -> [StatisticsBucket]
    /// Records that callers reached a rating prompt (issue 10: the response rate).
    func recordRatingOffers(_ offers: [RatingOffer]) async throws
    /// How many rating prompts a call was offered, and how many of them its caller answered.
    func ratingOfferCounts(clientID: Int64, callUUID: CallUUID) async throws -> (offered: Int64, rated: Int64)

    /// Stores ended calls' records; a record replaces the open record of its call (a closed
    /// one with the same `call_uuid` is a conflict).
    func insertCalls(_ calls: [CallRecord], isSample: Bool) async throws
    /// Stores the record of a call still up (issue 9), replacing its earlier open record. Open
    /// records are not listed: call history is of ended calls.
    func saveOpenCall(_ call: OpenCallRecord) async throws
    /// Closes the records that earlier runs of the server left open (kill -9, power cut), as
    /// `system` at the last time known; returns how many. This run's open records stay open.
    func closeInterruptedCalls() async throws -> Int
    func call(clientID: Int64, uuid: CallUUID) async throws -> CallRecord?
    /// One page of a client's call history in (start time, `call_uuid`) order.
    func calls(_ query: CallQuery) async throws -> [CallRecord]
}

public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A unique value is already used; `field` names it (`name`, `domain`, `username`…).
    case conflict(field: String)
    case notFound(String)

    public var description: String {
        switch self {
        case .conflict(let field): "\(field) is already taken"
        case .notFound(let what): "\(what) does not exist"
        }
    }
}

/// Where a page of a list starts: strictly after the item it was made from, in the list's order.
public protocol PageCursor: Sendable, Equatable {
    associatedtype Item
    init(after item: Item)
}

/// Ratings are listed in (`ratedAt`, `id`) order.
public struct RatingCursor: PageCursor {
    public var ratedAt: UnixTime
    public var id: Int64

    public init(after rating: Rating) {
        ratedAt = rating.ratedAt
        id = rating.id
    }
}

/// Call history is listed in (`startedAt`, `callUUID`) order.
public struct CallCursor: PageCursor {
    public var startedAt: UnixTime
    public var callUUID: CallUUID

    public init(after call: CallRecord) {
        startedAt = call.startedAt
        callUUID = call.callUUID
    }
}

/// One page of a client's list, with the filters of SPEC §3: an inclusive period and an extension.
public struct ListQuery<Cursor: PageCursor>: Sendable, Equatable {
    public var clientID: Int64
    public var from: UnixTime?
    public var through: UnixTime?
    public var extensionID: Int64?
    public var after: Cursor?
    public var limit: Int

    public init(
        clientID: Int64, from: UnixTime? = nil, through: UnixTime? = nil, extensionID: Int64? = nil,
        after: Cursor? = nil, limit: Int
    ) {
        self.clientID = clientID
        self.from = from
        self.through = through
        self.extensionID = extensionID
        self.after = after
        self.limit = limit
    }
}

public typealias RatingQuery = ListQuery<RatingCursor>
public typealias CallQuery = ListQuery<CallCursor>
