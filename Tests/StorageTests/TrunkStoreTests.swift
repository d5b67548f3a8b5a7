import Domain
import Foundation
import Storage
import Testing
import TestSupport

/// The provider trunks (issue 11) on a real database (SQLite or PostgreSQL): scoped by client, tried in `position`
/// order, and a registration's state that restarts when what it registered changes.
@Suite struct TrunkStoreTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    func makeClient(_ domain: String = "acme.local") async throws -> Client {
        try await store.createClient(name: domain, timezone: "UTC", domain: domain)
    }

    /// A trunk as the API would hand it to the store: id, status, error and time are the store's.
    func trunk(_ client: Client, _ name: String, position: Int = 0, register: Bool = false, prefixes: [String] = []) -> Trunk {
        Trunk(
            id: 0, clientID: client.id, name: name, host: "sip.provider.example", port: 5060, transport: .udp, username: "acct-\(name)",
            password: "s3cret \"quoted\"", register: register, registerExpires: 3600, fromDomain: "", prefixes: prefixes,
            position: position, stripDigits: 0, addPrefix: "", callerID: nil, maxCalls: 0, status: .failed, lastError: "ignored",
            createdAt: UnixTime(seconds: 0))
    }

    @Test func createsTrunksAndListsThemInTheOrderTheyAreTried() async throws {
        let client = try await makeClient()
        let before = UnixTime.now()
        let second = try await store.createTrunk(trunk(client, "backup", position: 2, register: true, prefixes: ["+49", "0049"]))
        let first = try await store.createTrunk(trunk(client, "main", position: 1))
        let tied = try await store.createTrunk(trunk(client, "tied", position: 2))
        #expect(second.id > 0 && first.id > second.id && tied.id > first.id)
        // The store assigns the state: registering when it registers, nothing to report otherwise.
        #expect(second.status == .registering && second.lastError == nil)
        #expect(first.status == .notRegistering && first.lastError == nil)
        #expect(second.createdAt >= before && second.createdAt.seconds > 0)

        #expect(try await store.trunks(clientID: client.id) == [first, second, tied])
        let stored = try #require(try await store.trunk(clientID: client.id, id: second.id))
        #expect(stored == second)
        #expect(stored.prefixes == ["+49", "0049"] && stored.password == "s3cret \"quoted\"")
        #expect(try await store.registeringTrunks() == [second])
    }

    @Test func namesAreUniquePerClientAndEveryReadIsScopedByClient() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        let mine = try await store.createTrunk(trunk(acme, "main"))
        let theirs = try await store.createTrunk(trunk(other, "main", register: true))
        await #expect(throws: StorageError.conflict(field: "name")) { _ = try await store.createTrunk(trunk(acme, "main")) }
        let renamed = try await store.createTrunk(trunk(acme, "backup"))
        var clash = renamed
        clash.name = "main"
        await #expect(throws: StorageError.conflict(field: "name")) { _ = try await store.updateTrunk(clash) }

        #expect(try await store.trunks(clientID: acme.id).map(\.id) == [mine.id, renamed.id])
        #expect(try await store.trunk(clientID: acme.id, id: theirs.id) == nil)
        var stolen = theirs
        stolen.clientID = acme.id
        stolen.host = "evil.example"
        await #expect(throws: StorageError.notFound("trunk \(theirs.id)")) { _ = try await store.updateTrunk(stolen) }
        await #expect(throws: StorageError.notFound("trunk \(theirs.id)")) { try await store.deleteTrunk(clientID: acme.id, id: theirs.id) }
        #expect(try await store.trunk(clientID: other.id, id: theirs.id) == theirs)
        // The registration service is the one reader across clients.
        #expect(try await store.registeringTrunks() == [theirs])
    }

    @Test func anUpdateRestartsTheRegistrationOnlyWhenWhatItRegisteredChanged() async throws {
        let client = try await makeClient()
        let created = try await store.createTrunk(trunk(client, "main", register: true))
        try await store.setTrunkStatus(id: created.id, .failed, lastError: "403 Forbidden")

        // Routing alone: the registration's state stays.
        var routing = try #require(try await store.trunk(clientID: client.id, id: created.id))
        routing.name = "primary"
        routing.prefixes = ["49"]
        routing.position = 5
        routing.stripDigits = 2
        routing.addPrefix = "+"
        routing.callerID = "4930555"
        routing.maxCalls = 10
        routing.status = .registered
        routing.lastError = nil
        routing.createdAt = UnixTime(seconds: 1)
        let kept = try await store.updateTrunk(routing)
        #expect(kept.status == .failed && kept.lastError == "403 Forbidden")
        #expect(kept.createdAt == created.createdAt)
        #expect(try await store.trunk(clientID: client.id, id: created.id) == kept)
        #expect(kept.name == "primary" && kept.prefixes == ["49"] && kept.callerID == "4930555" && kept.maxCalls == 10)

        // Each thing a REGISTER is made of restarts it.
        let changes: [(String, (inout Trunk) -> Void)] = [
            ("host", { $0.host = "192.0.2.7" }), ("port", { $0.port = 5080 }), ("transport", { $0.transport = .tcp }),
            ("username", { $0.username = "other" }), ("password", { $0.password = "new" }),
            ("register_expires", { $0.registerExpires = 600 }), ("from_domain", { $0.fromDomain = "example.com" }),
        ]
        for (field, change) in changes {
            try await store.setTrunkStatus(id: created.id, .registered, lastError: "stale")
            var changed = try #require(try await store.trunk(clientID: client.id, id: created.id))
            change(&changed)
            let updated = try await store.updateTrunk(changed)
            #expect(updated.status == .registering && updated.lastError == nil, "\(field)")
            #expect(try await store.trunk(clientID: client.id, id: created.id) == updated, "\(field)")
        }
        var off = try #require(try await store.trunk(clientID: client.id, id: created.id))
        off.register = false
        #expect(try await store.updateTrunk(off).status == .notRegistering)
        #expect(try await store.registeringTrunks().isEmpty)
    }

    @Test func theStatusIsWrittenForAnExistingTrunkOnly() async throws {
        let client = try await makeClient()
        let created = try await store.createTrunk(trunk(client, "main", register: true))
        try await store.setTrunkStatus(id: created.id, .registered, lastError: nil)
        #expect(try await store.trunk(clientID: client.id, id: created.id)?.status == .registered)
        try await store.setTrunkStatus(id: created.id, .failed, lastError: "timeout")
        let failed = try #require(try await store.trunk(clientID: client.id, id: created.id))
        #expect(failed.status == .failed && failed.lastError == "timeout")

        try await store.deleteTrunk(clientID: client.id, id: created.id)
        // What the registration learnt of a trunk deleted meanwhile is dropped, without an error.
        try await store.setTrunkStatus(id: created.id, .registered, lastError: nil)
        #expect(try await store.trunks(clientID: client.id).isEmpty)
        #expect(try await store.registeringTrunks().isEmpty)
        await #expect(throws: StorageError.notFound("trunk \(created.id)")) { try await store.deleteTrunk(clientID: client.id, id: created.id) }
    }

    @Test func everyConfigurationChangeRingsTheBroadcastAndAStatusDoesNot() async throws {
        let client = try await makeClient()
        let broadcast = store.trunkBroadcast
        let start = broadcast.generation
        let created = try await store.createTrunk(trunk(client, "main", register: true))
        #expect(broadcast.generation == start + 1)
        var changed = created
        changed.maxCalls = 3
        _ = try await store.updateTrunk(changed)
        #expect(broadcast.generation == start + 2)
        // The registration service writes the status: ringing would wake it for its own write.
        try await store.setTrunkStatus(id: created.id, .registered, lastError: nil)
        #expect(broadcast.generation == start + 2)
        try await store.deleteTrunk(clientID: client.id, id: created.id)
        #expect(broadcast.generation == start + 3)
        // A refused write commits nothing and rings nothing.
        await #expect(throws: StorageError.self) { try await store.deleteTrunk(clientID: client.id, id: created.id) }
        #expect(broadcast.generation == start + 3)
    }

    /// No API deletes a client, so the test deletes it in the database itself (either one).
    @Test func aClientsTrunksGoWithTheClient() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        _ = try await store.createTrunk(trunk(acme, "main", register: true))
        let kept = try await store.createTrunk(trunk(other, "main", register: true))
        try await database.execute("DELETE FROM client WHERE id = \(acme.id)")
        #expect(try await store.trunks(clientID: acme.id).isEmpty)
        #expect(try await store.registeringTrunks() == [kept])
    }
}
