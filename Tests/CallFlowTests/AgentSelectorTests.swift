import CallFlow
import Domain
import Testing

/// A generator with a fixed sequence, so `random` is testable.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
}

@Suite struct AgentSelectorTests {
    let agents = ["101", "102", "103"]
    var generator = SeededGenerator(state: 42)

    @Test mutating func ringAllRingsEveryAvailableAgentAtOnce() {
        let selector = AgentSelector(strategy: .ringAll)
        #expect(selector.ringPlan(available: agents, using: &generator) == [["101", "102", "103"]])
    }

    @Test mutating func topDownAlwaysStartsAtTheTop() {
        var selector = AgentSelector(strategy: .topDown)
        selector.agentAnswered("101")
        #expect(selector.ringPlan(available: agents, using: &generator) == [["101"], ["102"], ["103"]])
        #expect(selector.ringPlan(available: ["102", "103"], using: &generator) == [["102"], ["103"]])
    }

    @Test mutating func roundRobinStartsAfterWhoeverTookTheLastCall() {
        var selector = AgentSelector(strategy: .roundRobin)
        #expect(selector.ringPlan(available: agents, using: &generator) == [["101"], ["102"], ["103"]])
        selector.agentAnswered("101")
        #expect(selector.ringPlan(available: agents, using: &generator) == [["102"], ["103"], ["101"]])
        selector.agentAnswered("103")
        #expect(selector.ringPlan(available: agents, using: &generator) == [["101"], ["102"], ["103"]])
        // The last one is busy now: start from the top of those available.
        selector.agentAnswered("102")
        #expect(selector.ringPlan(available: ["101", "103"], using: &generator) == [["101"], ["103"]])
    }

    @Test mutating func randomRingsEachAgentOnceInAnOrderThatVaries() {
        let selector = AgentSelector(strategy: .random)
        var orders = Set<[String]>()
        for _ in 0..<50 {
            let plan = selector.ringPlan(available: agents, using: &generator)
            #expect(plan.allSatisfy { $0.count == 1 })
            #expect(Set(plan.flatMap { $0 }) == Set(agents))
            orders.insert(plan.flatMap { $0 })
        }
        #expect(orders.count > 1)
    }

    @Test mutating func longestIdleAgentRingsWhoeverWaitedLongest() {
        var selector = AgentSelector(strategy: .longestIdleAgent)
        #expect(selector.ringPlan(available: agents, using: &generator) == [["101"], ["102"], ["103"]])
        selector.agentBecameIdle("101", at: UnixTime(seconds: 300))
        selector.agentBecameIdle("102", at: UnixTime(seconds: 100))
        selector.agentBecameIdle("103", at: UnixTime(seconds: 200))
        #expect(selector.ringPlan(available: agents, using: &generator) == [["102"], ["103"], ["101"]])
        selector.agentBecameIdle("102", at: UnixTime(seconds: 400))
        #expect(selector.ringPlan(available: agents, using: &generator) == [["103"], ["101"], ["102"]])
    }

    @Test mutating func noAvailableAgentMeansNoPlan() {
        for strategy in QueueStrategy.allCases {
            #expect(AgentSelector(strategy: strategy).ringPlan(available: [], using: &generator).isEmpty)
        }
    }
}
