import Domain
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct IVRStoreTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    /// A client with one IVR extension.
    func ivr(name: String = "099") async throws -> Extension {
        let client = try await store.createClient(name: "Acme \(name)", timezone: "UTC", domain: "acme-\(name).local")
        return try await store.createExtension(NewExtension(clientID: client.id, name: name, kind: .ivr, label: "Feedback"))
    }

    func definition(_ action: IVRAction) -> IVRRuleDefinition { IVRRuleDefinition(action: action) }

    @Test func anIVRWithoutOptionsHasTheDefaultsAndTheFirstContextBecomesItsEntry() async throws {
        let ivr = try await ivr()
        #expect(try await store.ivrOptions(clientID: ivr.clientID, ivrID: ivr.id) == IVROptions())
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        let second = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "second"))
        #expect(try await store.ivrOptions(clientID: ivr.clientID, ivrID: ivr.id)?.entryContext == main.id)
        #expect(main.settings == IVRContext.Settings(name: "main", timeout: 5000, interDigitTimeout: 2000, digitLength: nil))

        var options = IVROptions(entryContext: second.id, lifetime: 60, lifetimeExpiryAction: .transfer,
                                 lifetimeExpiryTransferDestination: "100", sleepTime: 500)
        try await store.updateIVROptions(clientID: ivr.clientID, ivrID: ivr.id, options)
        let reopened = try await database.reopen()
        #expect(try await reopened.ivrOptions(clientID: ivr.clientID, ivrID: ivr.id) == options)

        options.entryContext = 999
        await #expect(throws: IVRStoreError.unknownContext(field: "entry_context", id: 999)) {
            try await store.updateIVROptions(clientID: ivr.clientID, ivrID: ivr.id, options)
        }
    }

    @Test func contextNamesAreUniqueWithinAnIVROnly() async throws {
        let first = try await ivr(name: "099")
        let other = try await ivr(name: "098")
        _ = try await store.createIVRContext(clientID: first.clientID, ivrID: first.id, IVRContext.Settings(name: "main"))
        await #expect(throws: StorageError.conflict(field: "name")) {
            _ = try await store.createIVRContext(clientID: first.clientID, ivrID: first.id, IVRContext.Settings(name: "main"))
        }
        _ = try await store.createIVRContext(clientID: other.clientID, ivrID: other.id, IVRContext.Settings(name: "main"))
        var renamed = try await store.createIVRContext(clientID: first.clientID, ivrID: first.id, IVRContext.Settings(name: "x"))
        renamed.settings.name = "main"
        await #expect(throws: StorageError.conflict(field: "name")) {
            try await store.updateIVRContext(clientID: first.clientID, renamed)
        }
    }

    @Test func everyReadAndWriteIsScopedByClient() async throws {
        let mine = try await ivr(name: "099")
        let theirs = try await ivr(name: "098")
        let context = try await store.createIVRContext(clientID: theirs.clientID, ivrID: theirs.id, IVRContext.Settings(name: "main"))
        let rule = try await store.createIVRRule(
            clientID: theirs.clientID, ivrID: theirs.id, contextID: context.id, option: "start", position: nil, definition(.hangup))
        #expect(try await store.ivrOptions(clientID: mine.clientID, ivrID: theirs.id) == nil)
        #expect(try await store.ivrContexts(clientID: mine.clientID, ivrID: theirs.id).isEmpty)
        #expect(try await store.ivrContext(clientID: mine.clientID, ivrID: theirs.id, id: context.id) == nil)
        #expect(try await store.ivrContext(clientID: mine.clientID, ivrID: mine.id, id: context.id) == nil)
        #expect(try await store.ivrRules(clientID: mine.clientID, ivrID: mine.id, contextID: context.id, option: "start") == nil)
        #expect(try await store.ivrRule(
            clientID: mine.clientID, ivrID: theirs.id, contextID: context.id, option: "start", id: rule.id) == nil)
        #expect(try await store.ivrConfiguration(clientID: mine.clientID, ivrID: theirs.id) == nil)
        await #expect(throws: StorageError.self) {
            try await store.deleteIVRContext(clientID: mine.clientID, ivrID: theirs.id, id: context.id)
        }
        await #expect(throws: StorageError.self) {
            try await store.deleteIVRRule(clientID: mine.clientID, ivrID: theirs.id, contextID: context.id, option: "start", id: rule.id)
        }
        // A jump to another IVR's context is refused.
        let own = try await store.createIVRContext(clientID: mine.clientID, ivrID: mine.id, IVRContext.Settings(name: "main"))
        await #expect(throws: IVRStoreError.unknownContext(field: "context", id: context.id)) {
            _ = try await store.createIVRRule(
                clientID: mine.clientID, ivrID: mine.id, contextID: own.id, option: "start", position: nil,
                definition(.jumpToContext(contextID: context.id, option: "start")))
        }
        #expect(try await store.ivrRules(clientID: theirs.clientID, ivrID: theirs.id, contextID: context.id, option: "start")?.count == 1)
    }

    @Test func rulesKeepPositionsOneToNWhenAddedMovedAndDeleted() async throws {
        let ivr = try await ivr()
        let context = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        func add(_ action: IVRAction, at position: Int64? = nil) async throws -> IVRRule {
            try await store.createIVRRule(
                clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", position: position, definition(action))
        }
        func order() async throws -> [Int64] {
            let rules = try #require(try await store.ivrRules(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1"))
            #expect(rules.map(\.position) == (0..<rules.count).map { Int64($0) + 1 })
            return rules.map(\.id)
        }
        let a = try await add(.setVariable(name: "a", value: "1"))
        let b = try await add(.setVariable(name: "b", value: "2"))
        let c = try await add(.hangup)
        let first = try await add(.playSound(sound: 0, type: .background), at: 1)
        #expect(try await order() == [first.id, a.id, b.id, c.id])
        await #expect(throws: IVRStoreError.positionOutOfRange(maximum: 5)) { _ = try await add(.hangup, at: 6) }

        var moved = c
        moved.position = 1
        try await store.updateIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", moved)
        #expect(try await order() == [c.id, first.id, a.id, b.id])
        moved.position = 4
        moved.definition = definition(.transfer(destination: "100"))
        try await store.updateIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", moved)
        #expect(try await order() == [first.id, a.id, b.id, c.id])
        moved.position = 5
        await #expect(throws: IVRStoreError.positionOutOfRange(maximum: 4)) {
            try await store.updateIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", moved)
        }
        try await store.deleteIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", id: a.id)
        #expect(try await order() == [first.id, b.id, c.id])
        let stored = try await store.ivrRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id, option: "1", id: c.id)
        #expect(stored?.definition == definition(.transfer(destination: "100")))
        #expect(try await store.ivrRuleCounts(clientID: ivr.clientID, ivrID: ivr.id, contextID: context.id) == ["1": 3])
    }

    @Test func aContextInUseCannotBeDeleted() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        let rating = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "rating"))
        let jump = try await store.createIVRRule(
            clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "1", position: nil,
            definition(.jumpToContext(contextID: rating.id, option: "start")))
        await #expect(throws: IVRStoreError.self) {
            try await store.deleteIVRContext(clientID: ivr.clientID, ivrID: ivr.id, id: main.id)
        }
        do {
            try await store.deleteIVRContext(clientID: ivr.clientID, ivrID: ivr.id, id: rating.id)
            Issue.record("a jump target was deleted")
        } catch let IVRStoreError.contextInUse(usedBy) {
            #expect(usedBy.contains("rule \(jump.id)") && usedBy.contains("'main'"))
        }
        try await store.deleteIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "1", id: jump.id)
        try await store.deleteIVRContext(clientID: ivr.clientID, ivrID: ivr.id, id: rating.id)
        #expect(try await store.ivrContexts(clientID: ivr.clientID, ivrID: ivr.id).map(\.id) == [main.id])
    }

    @Test func theWholeIVRReadsAtOnceWithEveryActionAndFilter() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(
            clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main", timeout: 3000, interDigitTimeout: 1000, digitLength: 3))
        let rating = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "rating"))
        let startRules: [IVRRuleDefinition] = [
            IVRRuleDefinition(action: .playSound(sound: 7, type: .background), didFilter: "4930555", callerIDFilter: .matches("^\\+49")),
            IVRRuleDefinition(action: .setVariable(name: "lang", value: "de"), callerIDFilter: .notMatches("^0")),
            IVRRuleDefinition(action: .recordDigits(variable: "account", maxDigits: 8, sound: 0), callerIDFilter: .anonymous),
            definition(.callInteractive(url: "https://crm.example/ivr", method: .GET)),
            definition(.jumpToContext(contextID: rating.id, option: "1")),
        ]
        for definition in startRules {
            _ = try await store.createIVRRule(
                clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", position: nil, definition)
        }
        let rate = try await store.createIVRRule(
            clientID: ivr.clientID, ivrID: ivr.id, contextID: rating.id, option: "1", position: nil,
            definition(.qualityRate(sound: 0, maxRate: 5, finishSound: 3)))
        let hangup = try await store.createIVRRule(
            clientID: ivr.clientID, ivrID: ivr.id, contextID: rating.id, option: "1", position: nil, definition(.hangup))

        let configuration = try #require(try await store.ivrConfiguration(clientID: ivr.clientID, ivrID: ivr.id))
        #expect(configuration.options.entryContext == main.id)
        #expect(configuration.contexts.map(\.context) == [main, rating])
        #expect(configuration.contexts[0].rulesByOption["start"]?.map(\.definition) == startRules)
        #expect(configuration.contexts[0].rulesByOption["start"]?.map(\.position) == [1, 2, 3, 4, 5])
        #expect(configuration.contexts[1].rulesByOption == [
            "1": [IVRRule(id: rate.id, position: 1, definition: rate.definition), hangup],
        ])
    }

    /// finish_sound 0 is the built-in "thank you" and NULL none: a rule replaced by one without
    /// a finish sound must not keep the old one.
    @Test func aRatingRuleKeepsItsFinishSoundOrNone() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        var rule = try await store.createIVRRule(
            clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", position: nil,
            definition(.qualityRate(sound: 0, maxRate: 5, finishSound: 3)))
        for finishSound in [nil, 0, 3] as [Int64?] {
            rule.definition = definition(.qualityRate(sound: 0, maxRate: 5, finishSound: finishSound))
            try await store.updateIVRRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", rule)
            let stored = try await store.ivrRule(clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", id: rule.id)
            #expect(stored == rule)
        }
    }

    @Test func deletingTheIVRExtensionDeletesItsMenu() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        _ = try await store.createIVRRule(
            clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", position: nil, definition(.hangup))
        try await store.deleteExtension(clientID: ivr.clientID, id: ivr.id)
        // A new IVR that reuses the id must not inherit anything.
        let again = try await store.createExtension(NewExtension(clientID: ivr.clientID, name: "099", kind: .ivr, label: "Again"))
        let configuration = try #require(try await store.ivrConfiguration(clientID: ivr.clientID, ivrID: again.id))
        #expect(configuration.options == IVROptions())
        #expect(configuration.contexts.isEmpty)
        #expect(try await store.ivrRules(clientID: ivr.clientID, ivrID: again.id, contextID: main.id, option: "start") == nil)
    }

    // MARK: Two nodes at once (issue 12)

    /// Rules added to one option by two nodes at once each take a position of their own.
    @Test func rulesAddedByTwoNodesAtOnceTakeOnePositionEach() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        let nodes = [store, try await database.reopen()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<10 {
                let node = nodes[index % 2], definition = definition(.setVariable(name: "v\(index)", value: "\(index)"))
                group.addTask {
                    _ = try await node.createIVRRule(
                        clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start", position: index < 5 ? 1 : nil,
                        definition)
                }
            }
            try await group.waitForAll()
        }
        let rules = try #require(try await store.ivrRules(clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "start"))
        #expect(rules.map(\.position) == Array(1...10))
    }

    /// A context deleted on one node while another adds a jump to it: either the context is gone
    /// and the jump refused, or the jump is there and the deletion refused.
    @Test func aContextIsEitherDeletedOrJumpedToByTwoNodesAtOnce() async throws {
        let ivr = try await ivr()
        let main = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "main"))
        let other = try await database.reopen()
        for round in 0..<20 {
            let target = try await store.createIVRContext(clientID: ivr.clientID, ivrID: ivr.id, IVRContext.Settings(name: "t\(round)"))
            async let deletion = refusal { try await store.deleteIVRContext(clientID: ivr.clientID, ivrID: ivr.id, id: target.id) }
            async let jump = refusal {
                _ = try await other.createIVRRule(
                    clientID: ivr.clientID, ivrID: ivr.id, contextID: main.id, option: "\(round)", position: nil,
                    IVRRuleDefinition(action: .jumpToContext(contextID: target.id, option: "start")))
            }
            switch await (deletion, jump) {
            case (nil, let refused?):
                #expect(refused as? IVRStoreError == .unknownContext(field: "context", id: target.id))
            case (let refused?, nil):
                guard case .contextInUse? = refused as? IVRStoreError else {
                    Issue.record("deletion refused with \(refused)")
                    break
                }
            case let outcomes:
                Issue.record("deletion and jump: \(String(describing: outcomes))")
            }
        }
    }
}
