import CallFlow
import CallRunner
import Domain
import Logging
import Testing

/// The strategies that depend on earlier calls, through whole calls sharing one queue registry,
/// on the contact centre's SQLite configuration.
@Suite struct QueueStrategyTests {
    func services(_ centre: ContactCentre) -> CallServices {
        let directory = StoreCallDirectory(store: centre.store)
        return CallServices(
            store: centre.store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable()),
            interactive: HTTPInteractiveClient(), timers: ManualTimerScheduler(), logger: Logger(label: "test"))
    }

    /// Calls `queue`, answers with whoever is rung first when `answer` is true, and returns that agent.
    func call(_ queue: String, _ centre: ContactCentre, _ services: CallServices, answer: Bool = true) async throws -> String {
        let port = SimulatedTelephony()
        let runner = CallRunner(
            arrival: .init(callUUID: .random(), clientID: centre.client.id, dialled: queue, did: nil,
                           caller: .init(username: "+4930111222", screenName: nil, domain: nil)),
            port: port, services: services)
        await runner.start()
        guard case .ring(let agents)? = await port.takeRequests().last, let first = agents.first else {
            Issue.record("the queue rang nobody")
            return ""
        }
        if answer {
            await runner.deliver(.agentAnswered(first))
            await runner.deliver(.agentHungUp(first))
        } else {
            await runner.deliver(.callerHungUp)
        }
        return first
    }

    @Test func roundRobinStartsAfterTheAgentWhoTookTheLastCall() async throws {
        let centre = try await ContactCentre()
        let services = services(centre)
        var firstRung: [String] = []
        for _ in 0..<4 { firstRung.append(try await call("213", centre, services)) }
        #expect(firstRung == ["101", "102", "103", "101"])
    }

    @Test func randomRingsEveryAgentFirstSometimes() async throws {
        let centre = try await ContactCentre()
        let services = services(centre)
        var firstRung: Set<String> = []
        for _ in 0..<60 { firstRung.insert(try await call("214", centre, services, answer: false)) }
        #expect(firstRung == ["101", "102", "103"])
    }

    @Test func longestIdleRingsWhoeverFinishedLongestAgo() async throws {
        let centre = try await ContactCentre()
        let services = services(centre)
        // Configured order 103, 101, 102: each call is taken by the first rung, who is then the
        // most recently idle, so the next call starts with the next one.
        var firstRung: [String] = []
        for _ in 0..<4 { firstRung.append(try await call("212", centre, services)) }
        #expect(firstRung == ["103", "101", "102", "103"])
    }

    @Test func aBusyAgentIsNotRungForASecondCaller() async throws {
        let centre = try await ContactCentre()
        let services = services(centre)
        let port = SimulatedTelephony()
        let talking = CallRunner(
            arrival: .init(callUUID: .random(), clientID: centre.client.id, dialled: "211", did: nil,
                           caller: .init(username: "+4930111222", screenName: nil, domain: nil)),
            port: port, services: services)
        await talking.start()
        await talking.deliver(.agentAnswered("101"))
        // 101 is talking: top-down now starts with 102.
        #expect(try await call("211", centre, services) == "102")
    }
}
