import CallFlow
import CallRunner
import Domain
import Logging
import Storage
import Testing
import TestSupport

/// Whole calls through the runner, on a real SQLite file configured through the store, with the
/// simulated telephony port and a manual clock.
@Suite struct CallRunnerTests {
    let database: TestStore
    var store: any Store { database.store }
    let client: Client
    let queue: Extension
    let menu: Extension
    let timers = ManualTimerScheduler()
    static let start = UnixTime(seconds: 1_780_000_000)

    init() async throws {
        database = try await TestStore()
        let store = database.store
        client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        queue = try await store.createExtension(NewExtension(clientID: client.id, name: "200", kind: .queue, label: "Support"), status: .active, credentials: nil)
        menu = try await store.createExtension(NewExtension(clientID: client.id, name: "099", kind: .ivr, label: "Feedback"), status: .active, credentials: nil)
        for name in ["101", "102"] {
            let phone = try await store.createExtension(NewExtension(clientID: client.id, name: name, kind: .phone, label: name), status: .active, credentials: nil)
            _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id)
        }
        _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555000", extensionID: queue.id, comment: ""))
        let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: 0)))
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil, IVRRuleDefinition(action: .hangup))
    }

    func setQueue(_ change: (inout QueueOptions) -> Void) async throws {
        var options = try #require(try await store.queueOptions(clientID: client.id, queueID: queue.id))
        change(&options)
        try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)
    }

    func runner(dialling number: String, port: SimulatedTelephony) -> CallRunner {
        let directory = StoreCallDirectory(store: store)
        let timers = self.timers
        let services = CallServices(
            store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
            interactive: HTTPInteractiveClient(), timers: timers,
            now: { Self.start.adding(seconds: timers.elapsed.components.seconds) }, logger: Logger(label: "test"))
        return CallRunner(
            arrival: .init(
                callUUID: .random(), clientID: client.id, dialled: number, did: (number, client.domain),
                caller: .init(username: "+4930111", screenName: nil, domain: nil)),
            port: port, services: services)
    }

    @Test func aQueueCallRatedAfterTheAgentHangsUpIsStoredWithTheAgent() async throws {
        try await setQueue { $0.agentHangupAction = .qualityRate; $0.strategy = .topDown }
        let port = SimulatedTelephony()
        let call = runner(dialling: "4930555000", port: port)
        await call.start()
        #expect(await port.takeRequests() == [.answerCaller, .ring(["101"])])
        await timers.advance(by: .seconds(20))
        #expect(await port.takeRequests() == [.cancelRinging(["101"]), .ring(["102"])])
        await timers.advance(by: .seconds(3))
        await call.deliver(.agentAnswered("102"))
        #expect(await port.takeRequests() == [.bridge("102")])
        await timers.advance(by: .seconds(60))
        await call.deliver(.agentHungUp("102"))
        #expect(await port.takeRequests() == [.play(.builtIn(.ratingPrompt))])
        await call.deliver(.key("4"))
        #expect(await port.takeRequests() == [.stopPlayback, .play(.builtIn(.ratingFinish))])
        await call.deliver(.playbackFinished)
        #expect(await port.takeRequests() == [.hangUpCaller])
        #expect(await call.isOver)

        let ratings = try await store.ratings(RatingQuery(clientID: client.id, limit: 10))
        #expect(ratings.count == 1)
        #expect(ratings.first?.rate == 4 && ratings.first?.maxRate == 5)
        #expect(ratings.first?.extensionID == queue.id && ratings.first?.agentUsername == "102")
        let history = try await store.calls(CallQuery(clientID: client.id, limit: 10))
        #expect(history.first?.callUUID == ratings.first?.callUUID)
        #expect(history.first?.hangupDisposition == .agentHangup && history.first?.bridgedUsername == "102")
        #expect(history.first?.bridgedDuration == 60)
    }

    @Test func theCallerHangingUpFirstStoresNoRating() async throws {
        try await setQueue { $0.agentHangupAction = .qualityRate }
        let port = SimulatedTelephony()
        let call = runner(dialling: "200", port: port)
        await call.start()
        let ring = await port.takeRequests().last
        guard case .ring(let agents)? = ring else { Issue.record("no ring: \(String(describing: ring))"); return }
        await call.deliver(.agentAnswered(agents[0]))
        await call.deliver(.callerHungUp)
        #expect(await port.takeRequests() == [.bridge(agents[0]), .hangUpAgent(agents[0])])
        #expect(try await store.ratings(RatingQuery(clientID: client.id, limit: 10)).isEmpty)
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)).first?.hangupDisposition == .callerHangup)
    }

    @Test func aTransferToARatingMenuIsStillARatingOfTheAgent() async throws {
        try await setQueue { $0.agentHangupAction = .transfer; $0.agentHangupTransferDestination = "099"; $0.strategy = .topDown }
        let port = SimulatedTelephony()
        let call = runner(dialling: "4930555000", port: port)
        await call.start()
        await call.deliver(.agentAnswered("101"))
        await call.deliver(.agentHungUp("101"))
        #expect(await port.takeRequests().suffix(2) == [.bridge("101"), .play(.builtIn(.ratingPrompt))])
        await timers.advance(by: .seconds(6))
        #expect(await port.takeRequests() == [], "no timer runs while the prompt plays")
        await call.deliver(.playbackFinished)
        await timers.advance(by: .seconds(5))
        #expect(await port.takeRequests() == [.play(.builtIn(.ratingPrompt))], "silence replays the prompt")
        await call.deliver(.key("9"))
        #expect(await port.takeRequests() == [.stopPlayback, .play(.builtIn(.ratingFinish))], "finish_sound 0: \"thank you\"")
        await call.deliver(.playbackFinished)
        #expect(await port.takeRequests() == [.hangUpCaller])

        let rating = try #require(try await store.ratings(RatingQuery(clientID: client.id, limit: 10)).first)
        #expect(rating.extensionID == menu.id && rating.maxRate == 9 && rating.rate == 9 && rating.agentUsername == "101")
    }

    /// SIGTERM's drain counts the calls still up, not those over whose SIP legs are still being
    /// let go (the server logged "drain time over" for calls that had all ended).
    @Test func theDrainCountsOnlyCallsStillUp() async throws {
        let directory = StoreCallDirectory(store: store)
        let center = CallCenter(
            services: CallServices(
                store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
                interactive: HTTPInteractiveClient(), timers: timers, logger: Logger(label: "test")),
            telephony: nil)
        let port = SimulatedTelephony()
        let arrival = Call.Arrival(
            callUUID: .random(), clientID: client.id, dialled: "099", did: nil, caller: .init(username: "+4930111", screenName: nil, domain: nil))
        let call = try #require(await center.admit(arrival, port: port))
        await call.start()
        #expect(await center.drain(within: .milliseconds(10)) == 1)
        await call.deliver(.serverStopping)
        // Over, but still listed until its telephony side says it let the legs go.
        #expect(await center.count == 1)
        #expect(await center.drain(within: .seconds(10)) == 0)
    }

    @Test func anUnknownNumberIsRefusedAndRecorded() async throws {
        let port = SimulatedTelephony()
        let call = runner(dialling: "777", port: port)
        await call.start()
        #expect(await port.takeRequests() == [.refuseUnknownNumber])
        #expect(try await store.calls(CallQuery(clientID: client.id, limit: 10)).first?.hangupDisposition == .system)
    }
}
