import CallFlow
import CallRunner
import Domain
import Logging
import Storage
import Testing
import TestSupport

/// A call that ends while the database takes no writes (issue 9): its history is written once the
/// database takes them again, without a restart.
@Suite struct CallHistoryRetryTests {
    @Test func callHistoryThatCannotBeWrittenIsWrittenOnceTheDatabaseTakesWritesAgain() async throws {
        let database = try await TestStore()
        let store = database.store
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let menu = try await store.createExtension(
            NewExtension(clientID: client.id, name: "099", kind: .ivr, label: "Feedback"), status: .active, credentials: nil)
        let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: 0)))
        let timers = ManualTimerScheduler()
        let directory = StoreCallDirectory(store: store)
        let port = SimulatedTelephony()
        let call = CallRunner(
            arrival: .init(
                callUUID: .random(), clientID: client.id, dialled: "099", did: nil,
                caller: .init(username: "102", screenName: nil, domain: client.domain)),
            port: port,
            services: CallServices(
                store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
                interactive: HTTPInteractiveClient(), timers: timers, logger: Logger(label: "test")))
        await call.start()
        #expect(await port.takeRequests().first == .answerCaller)

        // The database refuses the history's writes (a table gone, as a broken database would):
        // the end's write fails, on SQLite and on PostgreSQL alike.
        try await database.execute("ALTER TABLE call_leg RENAME TO call_leg_lost")
        await call.deliver(.callerHungUp)
        #expect(await call.isOver)
        try await database.execute("ALTER TABLE call_leg_lost RENAME TO call_leg")
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)).isEmpty, "nothing written yet")

        await timers.advance(by: .seconds(5))
        let history = try await store.calls(CallQuery(clientID: client.id, limit: 10))
        #expect(history.count == 1 && history.first?.hangupDisposition == .callerHangup && history.first?.extensionID == menu.id)
    }
}
