import Domain
import Foundation
import Storage
import Testing
import TestSupport

/// The core of every store — clients, users, tokens, ratings, call history — on the database
/// the run is for (`TestStore`: SQLite, or PostgreSQL with `QR_TEST_POSTGRES`).
@Suite struct StoreTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    func rating(_ client: Int64, at seconds: Int64, extensionID: Int64 = 10, rate: Int64 = 4, agent: String? = nil) -> NewRating {
        NewRating(
            clientID: client, callUUID: .random(), ratedAt: UnixTime(seconds: seconds), extensionID: extensionID,
            rate: rate, maxRate: 5, agentUsername: agent)
    }

    @Test func keepsDataAcrossReopening() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
        let stored = try await store.insertRatings([rating(client.id, at: 1000, agent: "101")])
        if !TestStore.isPostgres { #expect(FileManager.default.fileExists(atPath: database.location)) }

        let reopened = try await database.reopen()
        #expect(try await reopened.client(id: client.id) == client)
        #expect(try await reopened.rating(clientID: client.id, id: stored[0].id) == stored[0])
    }

    @Test func refusesADuplicateDomainOrUsername() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        await #expect(throws: StorageError.conflict(field: "domain")) {
            _ = try await store.createClient(name: "Other", timezone: "UTC", domain: "acme.local")
        }
        _ = try await store.createUser(NewUser(clientID: client.id, username: "admin", passwordHash: "x", isAdmin: true))
        await #expect(throws: StorageError.conflict(field: "username")) {
            _ = try await store.createUser(NewUser(clientID: client.id, username: "admin", passwordHash: "y", isAdmin: false))
        }
    }

    /// SIP host names are case-insensitive, so is the lookup of a client by domain; whether a
    /// domain is taken is asked of the exact name (`setup` derives it from the client's name).
    @Test func findsAClientByItsDomainInAnyCase() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        #expect(try await store.client(domain: "ACME.Local") == client)
        #expect(try await store.client(domain: "acme.local.") == nil)
        #expect(try await store.isDomainTaken("acme.local"))
        #expect(try await store.isDomainTaken("other.local") == false)
    }

    @Test func findsUsersAndApplicationsByTheirIDsAndNames() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let user = try await store.createUser(NewUser(clientID: client.id, username: "admin", passwordHash: "h", isAdmin: true))
        #expect(try await store.user(id: user.id) == user)
        #expect(try await store.user(username: "admin") == user)
        #expect(try await store.user(username: "nobody") == nil)
        let app = try await store.createApplication(NewApplication(
            appID: "app", userID: user.id, name: "CRM", type: .trusted, access: .all, secretHash: "s"))
        #expect(try await store.application(appID: "app") == app)
        #expect(try await store.application(id: app.id) == app)
        await #expect(throws: StorageError.conflict(field: "app_id")) {
            _ = try await store.createApplication(NewApplication(
                appID: "app", userID: user.id, name: "Other", type: .passwordCredentials, access: .callAPI, secretHash: "t"))
        }
    }

    @Test func listsRatingsByTimeThenIdWithInclusiveBounds() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let stored = try await store.insertRatings([
            rating(client.id, at: 300), rating(client.id, at: 100), rating(client.id, at: 200),
            rating(client.id, at: 200), rating(client.id, at: 400),
        ])
        let all = try await store.ratings(RatingQuery(clientID: client.id, limit: 100))
        #expect(all.map(\.ratedAt.seconds) == [100, 200, 200, 300, 400])
        #expect(all[1].id < all[2].id)

        let bounded = try await store.ratings(RatingQuery(
            clientID: client.id, from: UnixTime(seconds: 200), through: UnixTime(seconds: 300), limit: 100))
        #expect(bounded.map(\.id) == [stored[2].id, stored[3].id, stored[0].id])
    }

    @Test func pagesWithACursorWithoutLosingOrRepeatingRows() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        // Many ratings share a second, so the cursor must break ties by id.
        try await store.insertRatings((0..<250).map { rating(client.id, at: Int64($0 / 7)) })
        var seen: [Int64] = []
        var cursor: RatingCursor?
        while true {
            let page = try await store.ratings(RatingQuery(clientID: client.id, after: cursor, limit: 40))
            seen += page.map(\.id)
            guard let last = page.last else { break }
            cursor = RatingCursor(after: last)
        }
        let all = try await store.ratings(RatingQuery(clientID: client.id, limit: 1000)).map(\.id)
        #expect(seen == all)
        #expect(seen.count == 250)
    }

    @Test func keepsClientsApart() async throws {
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let other = try await store.createClient(name: "Other", timezone: "UTC", domain: "other.local")
        let acmeRatings = try await store.insertRatings([rating(acme.id, at: 1)])
        try await store.insertRatings([rating(other.id, at: 2), rating(other.id, at: 3)])

        #expect(try await store.ratings(RatingQuery(clientID: acme.id, limit: 10)).map(\.id) == acmeRatings.map(\.id))
        #expect(try await store.rating(clientID: other.id, id: acmeRatings[0].id) == nil)
    }

    @Test func filtersByExtension() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        try await store.insertRatings([rating(client.id, at: 1, extensionID: 7), rating(client.id, at: 2, extensionID: 8)])
        let only = try await store.ratings(RatingQuery(clientID: client.id, extensionID: 8, limit: 10))
        #expect(only.map(\.extensionID) == [8])
    }

    @Test func storesCallHistoryWithItsLegs() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let uuid = CallUUID.random()
        let call = CallRecord(
            callUUID: uuid, clientID: client.id, extensionID: 5, extensionName: "200", extensionType: .queue,
            flow: .inbound, didNumber: "4930555", didDomain: "acme.local", fromUsername: "+4930111", fromScreenName: "Jo",
            fromDomain: nil, bridgedUsername: "101", bridgedDomain: "acme.local", bridgedAt: UnixTime(seconds: 110),
            bridgedDuration: 60, duration: 90, hangupDisposition: .agentHangup, startedAt: UnixTime(seconds: 100),
            legs: [
                CallLeg(role: .caller, aniNumber: "+4930111", destNumber: "200", destDomain: "acme.local",
                        application: .callcenter, startedAt: UnixTime(seconds: 100), duration: 90),
                CallLeg(role: .agent, aniNumber: "+4930111", destNumber: "101", destDomain: "acme.local",
                        application: .callcenter, startedAt: UnixTime(seconds: 110), duration: 60),
            ])
        try await store.insertCalls([call], isSample: false)
        #expect(try await store.call(clientID: client.id, uuid: uuid) == call)
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)) == [call])
        #expect(try await store.call(clientID: client.id + 1, uuid: uuid) == nil)
        await #expect(throws: StorageError.conflict(field: "call_uuid")) {
            try await store.insertCalls([call], isSample: false)
        }
    }

    @Test func refreshTokensCanBeDeletedOnlyOnce() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let user = try await store.createUser(NewUser(clientID: client.id, username: "u", passwordHash: "h", isAdmin: false))
        let app = try await store.createApplication(NewApplication(
            appID: "app", userID: user.id, name: "n", type: .passwordCredentials, access: .callAPI, secretHash: "s"))
        let token = StoredToken(hash: "abc", kind: .refresh, applicationID: app.id, userID: user.id, expiresAt: UnixTime(seconds: 5000))
        try await store.saveToken(token)
        #expect(try await store.token(hash: "abc") == token)
        #expect(try await store.deleteToken(hash: "abc"))
        #expect(try await store.deleteToken(hash: "abc") == false)
    }

    @Test func expiredTokensAreDeleted() async throws {
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let user = try await store.createUser(NewUser(clientID: client.id, username: "u", passwordHash: "h", isAdmin: false))
        let app = try await store.createApplication(NewApplication(
            appID: "app", userID: user.id, name: "n", type: .trusted, access: .callAPI, secretHash: "s"))
        for (hash, expiry) in [("old", Int64(100)), ("now", 200), ("new", 300)] {
            try await store.saveToken(StoredToken(
                hash: hash, kind: .access, applicationID: app.id, userID: user.id, expiresAt: UnixTime(seconds: expiry)))
        }
        try await store.deleteTokens(expiredBefore: UnixTime(seconds: 200))
        #expect(try await store.token(hash: "old") == nil)
        #expect(try await store.token(hash: "now") != nil)
        #expect(try await store.token(hash: "new") != nil)
    }

    /// What a live event stream reads (issue 10): a client's ratings after the last id it sent,
    /// in id order, and where a stream without a resume point starts.
    @Test func followsAClientsRatingsAfterAnID() async throws {
        #expect(try await store.newestRatingID() == 0)
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let other = try await store.createClient(name: "Other", timezone: "UTC", domain: "other.local")
        let first = try await store.insertRatings([rating(acme.id, at: 50), rating(other.id, at: 10), rating(acme.id, at: 5)])
        let second = try await store.insertRatings([rating(acme.id, at: 1), rating(other.id, at: 2)])
        #expect(try await store.newestRatingID() == second[1].id)
        #expect(try await store.ratings(clientID: acme.id, afterID: 0, limit: 10) == [first[0], first[2], second[0]])
        #expect(try await store.ratings(clientID: acme.id, afterID: first[0].id, limit: 1) == [first[2]])
        #expect(try await store.ratings(clientID: acme.id, afterID: second[0].id, limit: 10).isEmpty)
    }
}

/// Writes of many calls at once: SQLite commits them in groups (`GroupCommit`), PostgreSQL its
/// ratings in batches (`BatchedWrites`) and the rest each in its own transaction; either way
/// each is stored, and one that fails fails alone.
@Suite struct ConcurrentWriteTests {
    @Test func concurrentWritesAreAllStoredAndAFailingOneFailsAlone() async throws {
        let database = try await TestStore()
        let store = database.store
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let duplicate = CallRecord(
            callUUID: .random(), clientID: client.id, extensionID: nil, extensionName: nil, extensionType: nil, flow: .inbound,
            didNumber: nil, didDomain: nil, fromUsername: "1", fromScreenName: nil, fromDomain: nil, bridgedUsername: nil,
            bridgedDomain: nil, bridgedAt: nil, bridgedDuration: nil, duration: 1, hangupDisposition: .system,
            startedAt: UnixTime(seconds: 1), legs: [])
        try await store.insertCalls([duplicate], isSample: false)
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<500 {
                group.addTask {
                    if index == 250 {
                        do { try await store.insertCalls([duplicate], isSample: false) } catch StorageError.conflict { return false }
                        return true
                    }
                    let stored = try await store.insertRatings([NewRating(
                        clientID: client.id, callUUID: .random(), ratedAt: UnixTime(seconds: Int64(index)), extensionID: 1,
                        rate: 3, maxRate: 5, agentUsername: nil)])
                    return stored.count == 1 && stored[0].id > 0
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 499)
        let ratings = try await store.ratings(RatingQuery(clientID: client.id, limit: 1000))
        #expect(ratings.count == 499)
        #expect(Set(ratings.map(\.id)).count == 499, "every rating got its own id")
    }

    /// Ratings written at once share transactions; a rating of a client deleted meanwhile fails
    /// its writer alone, and every other writer gets back its own rating as stored.
    @Test func concurrentRatingsAreEachAnsweredWithTheirOwnAndABadOneFailsAlone() async throws {
        let database = try await TestStore()
        let store = database.store
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let missingClient = client.id + 1_000
        let answers = try await withThrowingTaskGroup(of: (NewRating, Rating?).self) { group in
            for index in 0..<300 {
                let new = NewRating(
                    clientID: index == 150 ? missingClient : client.id, callUUID: .random(), ratedAt: UnixTime(seconds: Int64(index)),
                    extensionID: 1, rate: Int64(index % 5) + 1, maxRate: 5, agentUsername: index.isMultiple(of: 2) ? "agent\(index)" : nil)
                group.addTask {
                    do { return (new, try await store.insertRatings([new]).first) } catch { return (new, nil) }
                }
            }
            return try await group.reduce(into: [(NewRating, Rating?)]()) { $0.append($1) }
        }
        #expect(answers.filter { $0.1 == nil }.map(\.0.clientID) == [missingClient], "only the missing client's rating failed")
        let stored = try await store.ratings(RatingQuery(clientID: client.id, limit: 1000))
        #expect(stored.count == 299)
        let storedByID = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
        for case (let new, let answer?) in answers {
            #expect(answer.callUUID == new.callUUID && answer.rate == new.rate && answer.agentUsername == new.agentUsername)
            #expect(storedByID[answer.id] == answer, "the answer is the row stored under its id")
        }
    }
}
