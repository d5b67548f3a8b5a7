public import Domain
public import Storage

// SCAFFOLD: replaced by the implementation; must not reach main.
extension PostgresStore {
    public func probeWrites(at instant: UnixTime) async { fatalError("not yet") }
    public func createClient(name: String, timezone: String, domain: String) async throws -> Client { fatalError("not yet") }
    public func client(id: Int64) async throws -> Client? { fatalError("not yet") }
    public func updateClient(_ client: Client) async throws { fatalError("not yet") }
    public func isDomainTaken(_ domain: String) async throws -> Bool { fatalError("not yet") }
    public func client(domain: String) async throws -> Client? { fatalError("not yet") }
    public func createUser(_ user: NewUser) async throws -> User { fatalError("not yet") }
    public func user(id: Int64) async throws -> User? { fatalError("not yet") }
    public func user(username: String) async throws -> User? { fatalError("not yet") }
    public func createApplication(_ application: NewApplication) async throws -> Application { fatalError("not yet") }
    public func application(appID: String) async throws -> Application? { fatalError("not yet") }
    public func application(id: Int64) async throws -> Application? { fatalError("not yet") }
    public func saveToken(_ token: StoredToken) async throws { fatalError("not yet") }
    public func token(hash: String) async throws -> StoredToken? { fatalError("not yet") }
    public func deleteToken(hash: String) async throws -> Bool { fatalError("not yet") }
    public func deleteTokens(expiredBefore: UnixTime) async throws { fatalError("not yet") }
    public func extensions(clientID: Int64) async throws -> [Extension] { fatalError("not yet") }
    @discardableResult
    public func insertRatings(_ ratings: [NewRating]) async throws -> [Rating] { fatalError("not yet") }
    public func rating(clientID: Int64, id: Int64) async throws -> Rating? { fatalError("not yet") }
    public func ratings(_ query: RatingQuery) async throws -> [Rating] { fatalError("not yet") }
    public func ratings(clientID: Int64, afterID: Int64, limit: Int) async throws -> [Rating] { fatalError("not yet") }
    public func newestRatingID() async throws -> Int64 { fatalError("not yet") }
    public func ratingStatistics( _ query: StatisticsQuery, zone: ClientTimeZone, interval: StatisticsInterval?, groupBy: StatisticsGrouping? ) async throws -> [StatisticsBucket] { fatalError("not yet") }
    public func recordRatingOffers(_ offers: [RatingOffer]) async throws { fatalError("not yet") }
    public func ratingOfferCounts(clientID: Int64, callUUID: CallUUID) async throws -> (offered: Int64, rated: Int64) { fatalError("not yet") }
    public func insertCalls(_ calls: [CallRecord], isSample: Bool) async throws { fatalError("not yet") }
    public func saveOpenCall(_ call: OpenCallRecord) async throws { fatalError("not yet") }
    public func closeInterruptedCalls() async throws -> Int { fatalError("not yet") }
    public func call(clientID: Int64, uuid: CallUUID) async throws -> CallRecord? { fatalError("not yet") }
    public func calls(_ query: CallQuery) async throws -> [CallRecord] { fatalError("not yet") }
}
extension PostgresStore {
    public var writeHealth: WriteHealth { health.withLock { $0 } }
}
