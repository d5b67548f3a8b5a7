import Domain
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct ConfigurationStoreTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    func makeClient(_ domain: String = "acme.local") async throws -> Client {
        try await store.createClient(name: domain, timezone: "UTC", domain: domain)
    }

    func add(_ client: Client, _ name: String, _ kind: Extension.Kind, credentials: SIPCredentials? = nil) async throws -> Extension {
        try await store.createExtension(
            NewExtension(clientID: client.id, name: name, kind: kind, label: "ext \(name)"), status: .active, credentials: credentials)
    }

    @Test func aNewQueueHasTheDefaultOptionsWhicheverWayItWasCreated() async throws {
        let client = try await makeClient()
        let throughTheAPI = try await add(client, "200", .queue)
        let throughDemo = try await store.createExtension(NewExtension(clientID: client.id, name: "201", kind: .queue, label: ""))
        let phone = try await add(client, "100", .phone)
        #expect(try await store.queueOptions(clientID: client.id, queueID: throughTheAPI.id) == QueueOptions())
        #expect(try await store.queueOptions(clientID: client.id, queueID: throughDemo.id) == QueueOptions())
        #expect(try await store.queueOptions(clientID: client.id, queueID: phone.id) == nil)
        let defaults = QueueOptions()
        #expect(defaults.agentHangupAction == nil && defaults.qualityRateMax == 5 && defaults.strategy == .roundRobin)
        #expect(defaults.exitWithNoAvailableAgents && defaults.qualityRateSound == 0 && defaults.noAgentTimeoutTransferDestination == nil)
    }

    @Test func extensionsAreScopedByClientAndNamedOncePerClient() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        let phone = try await add(acme, "100", .phone)
        _ = try await add(other, "100", .phone)
        await #expect(throws: StorageError.conflict(field: "name")) { _ = try await add(acme, "100", .queue) }
        #expect(try await store.extension(clientID: acme.id, name: "100") == phone)
        #expect(try await store.extension(clientID: acme.id, name: "101") == nil)
        #expect(try await store.ownedExtension(clientID: other.id, id: phone.id) == nil)

        var changed = phone
        changed.label = "Reception"
        changed.status = "disabled"
        try await store.updateExtension(changed, credentials: nil)
        #expect(try await store.ownedExtension(clientID: acme.id, id: phone.id) == changed)
        changed.clientID = other.id
        await #expect(throws: StorageError.notFound("extension \(phone.id)")) { try await store.updateExtension(changed, credentials: nil) }
        await #expect(throws: StorageError.notFound("extension \(phone.id)")) { try await store.deleteExtension(clientID: other.id, id: phone.id) }
    }

    @Test func keepsOnlyThePhonesDigestHashesAndChangesThemWithThePassword() async throws {
        let client = try await makeClient()
        let first = SIPCredentials(ha1MD5: "a", ha1SHA256: "b")
        let phone = try await add(client, "100", .phone, credentials: first)
        #expect(try await store.sipCredentials(clientID: client.id, extensionID: phone.id) == first)
        try await store.updateExtension(phone, credentials: nil)
        #expect(try await store.sipCredentials(clientID: client.id, extensionID: phone.id) == first)
        let second = SIPCredentials(ha1MD5: "c", ha1SHA256: "d")
        try await store.updateExtension(phone, credentials: second)
        #expect(try await store.sipCredentials(clientID: client.id, extensionID: phone.id) == second)
        let other = try await makeClient("other.local")
        #expect(try await store.sipCredentials(clientID: other.id, extensionID: phone.id) == nil)
    }

    @Test func didsAreUniqueAcrossClientsAndFoundByNumberWithOrWithoutPlus() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        let queue = try await add(acme, "200", .queue)
        let did = try await store.createDID(NewDID(clientID: acme.id, number: "4930555", extensionID: queue.id, comment: "main line"))
        await #expect(throws: StorageError.conflict(field: "name")) {
            _ = try await store.createDID(NewDID(clientID: other.id, number: "4930555", extensionID: nil, comment: ""))
        }
        #expect(try await store.did(number: "4930555") == did)
        #expect(try await store.did(number: "+4930555") == did)
        #expect(try await store.did(number: "4930556") == nil)
        #expect(try await store.did(clientID: other.id, id: did.id) == nil)
        #expect(try await store.dids(clientID: acme.id) == [did])
        #expect(try await store.dids(clientID: other.id) == [])
        #expect(try await store.dialTarget(clientID: acme.id, number: "+4930555") == .did(id: did.id, number: "4930555", extensionID: queue.id))
        #expect(try await store.dialTarget(clientID: other.id, number: "4930555") == nil)
    }

    @Test func aDIDRingsOnlyAnExtensionOfItsOwnClient() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        let foreign = try await add(other, "100", .phone)
        let refusal = ConfigurationStoreError.invalidReference(field: "extension_id", problem: "no extension \(foreign.id) in this client")
        await #expect(throws: refusal) {
            _ = try await store.createDID(NewDID(clientID: acme.id, number: "4930555", extensionID: foreign.id, comment: ""))
        }
        #expect(try await store.dids(clientID: acme.id) == [])
        var did = try await store.createDID(NewDID(clientID: acme.id, number: "4930555", extensionID: nil, comment: ""))
        let unchanged = did
        did.extensionID = foreign.id
        did.comment = "changed"
        await #expect(throws: refusal) { try await store.updateDID(did) }
        #expect(try await store.did(clientID: acme.id, id: did.id) == unchanged)
    }

    @Test func queueAgentsKeepTheirRingOrderAndOnlyPhonesOfTheClientJoin() async throws {
        let acme = try await makeClient()
        let other = try await makeClient("other.local")
        let queue = try await add(acme, "200", .queue)
        let phones = [try await add(acme, "101", .phone), try await add(acme, "102", .phone), try await add(acme, "103", .phone)]
        let ivr = try await add(acme, "099", .ivr)
        let foreign = try await add(other, "104", .phone)
        for phone in phones.reversed() { _ = try await store.addQueueAgent(clientID: acme.id, queueID: queue.id, agentID: phone.id) }
        #expect(try await store.queueAgents(clientID: acme.id, queueID: queue.id)?.map(\.name) == ["103", "102", "101"])
        #expect(try await store.queueAgents(clientID: acme.id, queueID: queue.id)?.map(\.position) == [1, 2, 3])

        await #expect(throws: StorageError.conflict(field: "extension_id")) {
            _ = try await store.addQueueAgent(clientID: acme.id, queueID: queue.id, agentID: phones[0].id)
        }
        await #expect(throws: ConfigurationStoreError.invalidReference(
            field: "extension_id", problem: "extension \(ivr.id) is of type ivr; agents are phone extensions")) {
            _ = try await store.addQueueAgent(clientID: acme.id, queueID: queue.id, agentID: ivr.id)
        }
        await #expect(throws: ConfigurationStoreError.invalidReference(field: "extension_id", problem: "no extension \(foreign.id) in this client")) {
            _ = try await store.addQueueAgent(clientID: acme.id, queueID: queue.id, agentID: foreign.id)
        }
        await #expect(throws: StorageError.notFound("queue \(queue.id)")) {
            _ = try await store.addQueueAgent(clientID: other.id, queueID: queue.id, agentID: foreign.id)
        }
        #expect(try await store.queueAgents(clientID: other.id, queueID: queue.id) == nil)

        try await store.removeQueueAgent(clientID: acme.id, queueID: queue.id, agentID: phones[1].id)
        let remaining = try #require(try await store.queueAgents(clientID: acme.id, queueID: queue.id))
        #expect(remaining == [
            QueueAgent(extensionID: phones[2].id, name: "103", label: "ext 103", position: 1),
            QueueAgent(extensionID: phones[0].id, name: "101", label: "ext 101", position: 2),
        ])
        await #expect(throws: StorageError.notFound("agent \(phones[1].id) of queue \(queue.id)")) {
            try await store.removeQueueAgent(clientID: acme.id, queueID: queue.id, agentID: phones[1].id)
        }
        let added = try await store.addQueueAgent(clientID: acme.id, queueID: queue.id, agentID: phones[1].id)
        #expect(added.position == 3)
    }

    @Test func readsAWholeQueueAtOnce() async throws {
        let client = try await makeClient()
        let queue = try await add(client, "200", .queue)
        let phone = try await add(client, "101", .phone)
        _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id)
        let options = QueueOptions(
            agentHangupAction: .transfer, agentHangupTransferDestination: "101", qualityRateMax: 9, strategy: .topDown,
            maxWaitTime: 120, announceFrequency: 30, exitWithNoAvailableAgents: false, noAgentTimeoutTransferDestination: "101")
        try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)
        let configuration = try #require(try await store.queueConfiguration(clientID: client.id, queueID: queue.id))
        #expect(configuration.queue == queue)
        #expect(configuration.options == options)
        #expect(configuration.agents.map(\.extensionID) == [phone.id])
        #expect(try await store.queueConfiguration(clientID: client.id, queueID: phone.id) == nil)
        let other = try await makeClient("other.local")
        #expect(try await store.queueConfiguration(clientID: other.id, queueID: queue.id) == nil)
        await #expect(throws: StorageError.notFound("queue \(queue.id)")) {
            try await store.updateQueueOptions(clientID: other.id, queueID: queue.id, QueueOptions())
        }
    }

    @Test func refusesToDeleteWhatAVoiceMenuStillSendsCallersToOrFiltersOn() async throws {
        let client = try await makeClient()
        let queue = try await add(client, "200", .queue)
        let phone = try await add(client, "101", .phone)
        let menu = try await add(client, "099", .ivr)
        let other = try await add(client, "098", .ivr)
        let did = try await store.createDID(NewDID(clientID: client.id, number: "4930555", extensionID: nil, comment: ""))
        let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        let toQueue = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .transfer(destination: "200")))
        let byDID = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .hangup, didFilter: "4930555"))
        let toDID = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "1", position: nil,
            IVRRuleDefinition(action: .transfer(destination: "+4930555")))
        try await store.updateIVROptions(
            clientID: client.id, ivrID: other.id, IVROptions(lifetime: 60, lifetimeExpiryAction: .transfer, lifetimeExpiryTransferDestination: "101"))

        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "IVR 099 rule \(toQueue.id) (transfer_dst)")) {
            try await store.deleteExtension(clientID: client.id, id: queue.id)
        }
        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "IVR 098 (lifetime_exp_transfer_dst)")) {
            try await store.deleteExtension(clientID: client.id, id: phone.id)
        }
        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "IVR 099 rule \(toDID.id) (transfer_dst), IVR 099 rule \(byDID.id) (did)")) {
            try await store.deleteDID(clientID: client.id, id: did.id)
        }
        #expect(try await store.extensions(clientID: client.id).count == 4)
        #expect(try await store.dids(clientID: client.id).count == 1)

        // A menu's own rules go with it; another client's menus are not asked.
        let sameNames = try await makeClient("other.local")
        let foreign = try await add(sameNames, "097", .ivr)
        let foreignContext = try await store.createIVRContext(clientID: sameNames.id, ivrID: foreign.id, .init(name: "main"))
        _ = try await store.createIVRRule(
            clientID: sameNames.id, ivrID: foreign.id, contextID: foreignContext.id, option: "start", position: nil,
            IVRRuleDefinition(action: .transfer(destination: "200")))
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "2", position: nil,
            IVRRuleDefinition(action: .transfer(destination: "099")))
        try await store.deleteExtension(clientID: client.id, id: menu.id)
        try await store.deleteExtension(clientID: client.id, id: queue.id)
        try await store.deleteDID(clientID: client.id, id: did.id)
        try await store.updateIVROptions(clientID: client.id, ivrID: other.id, IVROptions())
        try await store.deleteExtension(clientID: client.id, id: phone.id)
        #expect(try await store.extensions(clientID: client.id).map(\.name) == ["098"])
    }

    @Test func refusesToDeleteWhatIsStillUsedAndSaysWhat() async throws {
        let client = try await makeClient()
        let queue = try await add(client, "200", .queue)
        let transferQueue = try await add(client, "201", .queue)
        let phone = try await add(client, "101", .phone)
        let target = try await add(client, "300", .ivr)
        let did = try await store.createDID(NewDID(clientID: client.id, number: "4930555", extensionID: queue.id, comment: ""))
        _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id)
        try await store.updateQueueOptions(
            clientID: client.id, queueID: transferQueue.id,
            QueueOptions(agentHangupAction: .transfer, agentHangupTransferDestination: "300", noAgentTimeoutTransferDestination: "+4930555"))

        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "DID 4930555")) {
            try await store.deleteExtension(clientID: client.id, id: queue.id)
        }
        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "queue 200 (as its agent)")) {
            try await store.deleteExtension(clientID: client.id, id: phone.id)
        }
        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "queue 201 (as its transfer destination)")) {
            try await store.deleteExtension(clientID: client.id, id: target.id)
        }
        await #expect(throws: ConfigurationStoreError.inUse(usedBy: "queue 201 (as its transfer destination)")) {
            try await store.deleteDID(clientID: client.id, id: did.id)
        }
        #expect(try await store.extensions(clientID: client.id).count == 4)

        // A queue goes with its options and agents; its ratings stay.
        try await store.insertRatings([NewRating(
            clientID: client.id, callUUID: .random(), ratedAt: UnixTime(seconds: 1000), extensionID: queue.id, rate: 4, maxRate: 5,
            agentUsername: "101")])
        var unassigned = did
        unassigned.extensionID = nil
        try await store.updateDID(unassigned)
        try await store.deleteExtension(clientID: client.id, id: queue.id)
        #expect(try await store.ownedExtension(clientID: client.id, id: queue.id) == nil)
        #expect(try await store.queueOptions(clientID: client.id, queueID: queue.id) == nil)
        #expect(try await store.ratings(RatingQuery(clientID: client.id, limit: 10)).count == 1)
        try await store.deleteExtension(clientID: client.id, id: phone.id)
        await #expect(throws: StorageError.notFound("extension \(phone.id)")) {
            try await store.deleteExtension(clientID: client.id, id: phone.id)
        }
    }

    // MARK: Two nodes at once (issue 12)

    /// A phone deleted on one node while another adds it to a queue: it is either gone and not an
    /// agent, or an agent and not deleted, whichever write comes first; never both, never a
    /// database error.
    @Test func aPhoneIsEitherDeletedOrMadeAnAgentByTwoNodesAtOnce() async throws {
        let client = try await makeClient()
        let queue = try await add(client, "200", .queue)
        let other = try await database.reopen()
        for number in 300..<320 {
            let phone = try await add(client, "\(number)", .phone)
            async let deletion = refusal { try await store.deleteExtension(clientID: client.id, id: phone.id) }
            async let addition = refusal { _ = try await other.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id) }
            switch await (deletion, addition) {
            case (nil, let refused?):
                #expect(refused as? ConfigurationStoreError == .invalidReference(
                    field: "extension_id", problem: "no extension \(phone.id) in this client"))
            case (let refused?, nil):
                #expect(refused as? ConfigurationStoreError == .inUse(usedBy: "queue 200 (as its agent)"))
                try await store.removeQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id)
            case let outcomes:
                Issue.record("deletion and addition: \(String(describing: outcomes))")
            }
        }
        #expect(try await store.queueAgents(clientID: client.id, queueID: queue.id) == [])
    }

    /// The same race for a DID pointed at an extension being deleted.
    @Test func anExtensionIsEitherDeletedOrRungByANewDIDAtOnce() async throws {
        let client = try await makeClient()
        let other = try await database.reopen()
        for number in 300..<320 {
            let phone = try await add(client, "\(number)", .phone)
            async let deletion = refusal { try await store.deleteExtension(clientID: client.id, id: phone.id) }
            async let creation = refusal {
                _ = try await other.createDID(NewDID(clientID: client.id, number: "4930\(number)", extensionID: phone.id, comment: ""))
            }
            switch await (deletion, creation) {
            case (nil, let refused?):
                #expect(refused as? ConfigurationStoreError == .invalidReference(
                    field: "extension_id", problem: "no extension \(phone.id) in this client"))
            case (let refused?, nil):
                #expect(refused as? ConfigurationStoreError == .inUse(usedBy: "DID 4930\(number)"))
            case let outcomes:
                Issue.record("deletion and DID: \(String(describing: outcomes))")
            }
        }
    }

    /// Agents added to one queue by two nodes at once each take a place of their own.
    @Test func agentsAddedByTwoNodesAtOnceTakeOnePlaceEach() async throws {
        let client = try await makeClient()
        let queue = try await add(client, "200", .queue)
        var phones: [Extension] = []
        for number in 101...110 { phones.append(try await add(client, "\(number)", .phone)) }
        let nodes = [store, try await database.reopen()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, phone) in phones.enumerated() {
                let node = nodes[index % 2]
                group.addTask { _ = try await node.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id) }
            }
            try await group.waitForAll()
        }
        let agents = try #require(try await store.queueAgents(clientID: client.id, queueID: queue.id))
        #expect(agents.map(\.position) == Array(1...10))
        #expect(Set(agents.map(\.extensionID)) == Set(phones.map(\.id)))
    }
}

/// The error `body` throws; nil when it succeeds.
func refusal(_ body: () async throws -> Void) async -> (any Error)? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}
