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
            store: centre.store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: centre.store.queueState),
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

    /// Issue 12: an agent is offered one call at a time. While 101 rings for a first caller of a
    /// ring-all queue, a second caller's ring plan has it (it is there, and may refuse), but it is
    /// not rung for the second caller: the second rings only the others. Once the first caller
    /// hangs up, 101 is free and rung again.
    @Test func anAgentRingingForOneCallerIsNotRungForAnother() async throws {
        let centre = try await ContactCentre()
        let services = services(centre)
        let firstPort = SimulatedTelephony()
        let first = CallRunner(
            arrival: .init(callUUID: .random(), clientID: centre.client.id, dialled: "210", did: nil,
                           caller: .init(username: "+4930111222", screenName: nil, domain: nil)),
            port: firstPort, services: services)
        await first.start()
        guard case .ring(let rungForFirst)? = await firstPort.takeRequests().last else {
            Issue.record("the first caller rang nobody")
            return
        }
        #expect(!rungForFirst.isEmpty)
        // Only 101 stays with the first caller; the others refuse it.
        for agent in rungForFirst where agent != "101" { await first.deliver(.agentUnreachable(agent)) }

        let secondPort = SimulatedTelephony()
        let second = CallRunner(
            arrival: .init(callUUID: .random(), clientID: centre.client.id, dialled: "210", did: nil,
                           caller: .init(username: "+4930111333", screenName: nil, domain: nil)),
            port: secondPort, services: services)
        await second.start()
        let rungForSecond = await secondPort.takeRequests().compactMap { request -> [String]? in
            if case .ring(let agents) = request { return agents } else { return nil }
        }.flatMap { $0 }
        #expect(!rungForSecond.contains("101"))
        #expect(Set(rungForSecond) == Set(rungForFirst).subtracting(["101"]))

        await first.deliver(.callerHungUp)
        await second.deliver(.callerHungUp)
        let third = try await call("210", centre, services, answer: false)
        #expect(rungForFirst.contains(third))
        #expect(try await centre.store.queueState.claim(clientID: centre.client.id, agents: ["101"], for: .random()) == ["101"])
    }
}
