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
        #expect(selector.ringPlan(agents: agents, available: Set(agents), using: &generator) == [["101", "102", "103"]])
    }

    @Test mutating func topDownAlwaysStartsAtTheTop() {
        let selector = AgentSelector(strategy: .topDown, lastAnswered: "101")
        #expect(selector.ringPlan(agents: agents, available: Set(agents), using: &generator) == [["101"], ["102"], ["103"]])
        #expect(selector.ringPlan(agents: agents, available: ["102", "103"], using: &generator) == [["102"], ["103"]])
    }

    @Test mutating func roundRobinStartsAfterWhoeverTookTheLastCall() {
        func plan(after last: String?, _ available: Set<String>) -> [[String]] {
            AgentSelector(strategy: .roundRobin, lastAnswered: last).ringPlan(agents: agents, available: available, using: &generator)
        }
        #expect(plan(after: nil, Set(agents)) == [["101"], ["102"], ["103"]])
        #expect(plan(after: "101", Set(agents)) == [["102"], ["103"], ["101"]])
        #expect(plan(after: "103", Set(agents)) == [["101"], ["102"], ["103"]])
        // The last one is busy now (still talking, under load): the turn still passes to the
        // one after it, not back to the top (issue 12: the top agents took nearly every call).
        #expect(plan(after: "102", ["101", "103"]) == [["103"], ["101"]])
        #expect(plan(after: "101", ["102", "103"]) == [["102"], ["103"]])
    }

    @Test mutating func randomRingsEachAgentOnceInAnOrderThatVaries() {
        let selector = AgentSelector(strategy: .random)
        var orders = Set<[String]>()
        for _ in 0..<50 {
            let plan = selector.ringPlan(agents: agents, available: Set(agents), using: &generator)
            #expect(plan.allSatisfy { $0.count == 1 })
            #expect(Set(plan.flatMap { $0 }) == Set(agents))
            orders.insert(plan.flatMap { $0 })
        }
        #expect(orders.count > 1)
    }

    @Test mutating func longestIdleAgentRingsWhoeverWaitedLongest() {
        func plan(_ idleSince: [String: Int64]) -> [[String]] {
            AgentSelector(strategy: .longestIdleAgent, idleSince: idleSince.mapValues(UnixTime.init(seconds:)))
                .ringPlan(agents: agents, available: Set(agents), using: &generator)
        }
        #expect(plan([:]) == [["101"], ["102"], ["103"]])
        #expect(plan(["101": 300, "102": 100, "103": 200]) == [["102"], ["103"], ["101"]])
        #expect(plan(["101": 300, "102": 400, "103": 200]) == [["103"], ["101"], ["102"]])
    }

    @Test mutating func noAvailableAgentMeansNoPlan() {
        for strategy in QueueStrategy.allCases {
            #expect(AgentSelector(strategy: strategy).ringPlan(agents: agents, available: [], using: &generator).isEmpty)
        }
    }
}
