import CallFlow
import Testing

@Suite struct QueueCallTests {
    static let rating = RatingCollector.Settings(prompt: .builtIn(.ratingPrompt), finish: .builtIn(.ratingFinish), maxRate: 5)

    func queue(
        _ action: QueueCall.HangupAction = .qualityRate(rating), maxWait: Duration? = nil, exitWhenEmpty: Bool = true,
        noAgentDestination: String? = nil
    ) -> QueueCall {
        QueueCall(settings: .init(
            queueID: 200, agentHangupAction: action, maxWaitTime: maxWait, announcement: nil,
            exitWithNoAvailableAgents: exitWhenEmpty, noAgentDestination: noAgentDestination))
    }

    /// A call that rang 101 and 102 one after the other, and 101 answered.
    func talking(_ action: QueueCall.HangupAction = .qualityRate(rating)) -> QueueCall {
        var call = queue(action)
        _ = call.handle(.entered(ringPlan: [["101"], ["102"]]))
        _ = call.handle(.agentAnswered("101"))
        return call
    }

    @Test func ringsRoundByRoundAndBridgesTheFirstToAnswer() {
        var call = queue()
        #expect(call.handle(.entered(ringPlan: [["101"], ["102"]])) == [.ring(["101"]), .startTimer(.ringTimeout, .seconds(20))])
        #expect(call.handle(.agentUnreachable("101")) == [.cancelTimer(.ringTimeout), .ring(["102"]), .startTimer(.ringTimeout, .seconds(20))])
        #expect(call.handle(.agentAnswered("102")) == [
            .cancelTimer(.ringTimeout), .cancelTimer(.maxWait), .cancelTimer(.announcement), .bridge(agent: "102"),
        ])
    }

    @Test func ringAllCancelsTheOthersWhenOneAnswers() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101", "102", "103"]]))
        let actions = call.handle(.agentAnswered("102"))
        #expect(actions.contains(.cancelRinging(["101", "103"])))
        #expect(actions.last == .bridge(agent: "102"))
        // 103 answers a moment too late: its leg is released.
        #expect(call.handle(.agentAnswered("103")) == [.hangUpAgent("103")])
    }

    @Test func anUnansweredRoundMovesOnAndAfterThePauseAsksForANewPlan() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101"]]))
        #expect(call.handle(.timerFired(.ringTimeout)) == [.cancelRinging(["101"]), .startTimer(.nextRound, .seconds(5))])
        #expect(call.handle(.agentUnreachable("101")) == [], "the cancelled agent's 487 changes nothing")
        #expect(call.handle(.timerFired(.nextRound)) == [.requestRingPlan])
        #expect(call.handle(.ringPlan([["102"]])) == [.ring(["102"]), .startTimer(.ringTimeout, .seconds(20))])
    }

    /// Agents who refuse at once (486, 480): the round ends at once, then the caller waits the
    /// pause. Driven like the runner drives it, on a clock of its own: over 60 s an agent is rung
    /// once a round, 60 / 5 times at most — not thousands.
    @Test(arguments: [[["101", "102"]], [["101"], ["102"]]])
    func agentsWhoRefuseAtOnceAreRungOnceARound(plan: [[String]]) {
        var call = queue(exitWhenEmpty: false)
        var now: Duration = .zero
        var timers: [QueueCall.Timer: Duration] = [:]
        var rings: [String: Int] = [:]
        var pending = call.handle(.entered(ringPlan: plan))
        while now < .seconds(60) {
            var events: [QueueCall.Event] = []
            for action in pending {
                switch action {
                case .ring(let agents):
                    for agent in agents { rings[agent, default: 0] += 1 }
                    events += agents.map { .agentUnreachable($0) }
                case .requestRingPlan: events.append(.ringPlan(plan))
                case .startTimer(let timer, let duration): timers[timer] = now + duration
                case .cancelTimer(let timer): timers[timer] = nil
                default: break
                }
            }
            if events.isEmpty {
                guard let next = timers.min(by: { $0.value < $1.value }) else { break }
                now = next.value
                timers[next.key] = nil
                events = [.timerFired(next.key)]
            }
            pending = events.flatMap { call.handle($0) }
        }
        #expect(rings == ["101": 12, "102": 12], "one ring each every 5 s pause over 60 s")
    }

    @Test func aCallerWhoHangsUpDuringThePauseEndsIt() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101"]]))
        _ = call.handle(.agentUnreachable("101"))
        #expect(call.handle(.callerHungUp).contains(.cancelTimer(.nextRound)))
    }

    @Test func withNoAvailableAgentTheCallerLeaves() {
        var hangsUp = queue()
        #expect(hangsUp.handle(.entered(ringPlan: [])).suffix(2) == [.hangUpCaller, .finished(.leftWithoutAgent)])
        var transfers = queue(noAgentDestination: "300")
        #expect(transfers.handle(.entered(ringPlan: [])).suffix(2) == [
            .transfer(destination: "300", attributedAgent: nil), .finished(.leftWithoutAgent),
        ])
        var waits = queue(exitWhenEmpty: false)
        #expect(waits.handle(.entered(ringPlan: [])) == [.startTimer(.nextRound, .seconds(5))])
        #expect(waits.handle(.timerFired(.nextRound)) == [.requestRingPlan])
        #expect(waits.handle(.ringPlan([])) == [.startTimer(.nextRound, .seconds(5))], "asks again later, not at once")
        #expect(waits.handle(.ringPlan([["101"]])) == [.ring(["101"]), .startTimer(.ringTimeout, .seconds(20))])
    }

    @Test func agentsGoneWhileWaitingMakeTheCallerLeaveWhenTheQueueSaysSo() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101"]]))
        #expect(call.handle(.agentUnreachable("101")) == [.cancelTimer(.ringTimeout), .startTimer(.nextRound, .seconds(5))])
        #expect(call.handle(.timerFired(.nextRound)) == [.requestRingPlan])
        #expect(call.handle(.ringPlan([])).last == .finished(.leftWithoutAgent))
    }

    @Test func maxWaitTimeEndsTheWait() {
        var call = queue(maxWait: .seconds(60), noAgentDestination: "300")
        #expect(call.handle(.entered(ringPlan: [["101"]])).first == .startTimer(.maxWait, .seconds(60)))
        let actions = call.handle(.timerFired(.maxWait))
        #expect(actions.contains(.cancelRinging(["101"])))
        #expect(actions.suffix(2) == [.transfer(destination: "300", attributedAgent: nil), .finished(.leftWithoutAgent)])
    }

    @Test func aCallerWhoHangsUpWhileWaitingStopsTheRinging() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101", "102"]]))
        let actions = call.handle(.callerHungUp)
        #expect(actions.contains(.cancelRinging(["101", "102"])))
        #expect(actions.last == .finished(.callerHungUpWaiting))
    }

    @Test func whenTheCallerHangsUpFirstTheAgentIsReleasedAndNothingIsRated() {
        var call = talking()
        #expect(call.handle(.callerHungUp) == [.hangUpAgent("101"), .finished(.callerHungUpFirst(agent: "101"))])
        #expect(call.handle(.key("5")) == [])
    }

    @Test func whenTheAgentHangsUpFirstTheCallerRatesThatAgent() {
        var call = talking()
        #expect(call.handle(.agentHungUp("101")) == [.play(.builtIn(.ratingPrompt)), .offerRating(agent: "101")])
        #expect(call.handle(.playbackFinished) == [.startTimer(.ratingKey, .seconds(5))])
        #expect(call.handle(.key("4")) == [.cancelTimer(.ratingKey), .storeRating(rate: 4, maxRate: 5, agent: "101")])
        #expect(call.handle(.ratingStored) == [.play(.builtIn(.ratingFinish))])
        #expect(call.handle(.playbackFinished) == [.hangUpCaller, .finished(.agentHungUpFirst(agent: "101", rating: 4))])
        #expect(call.isDone)
    }

    @Test func threeTriesWithoutAKeyEndTheCallWithoutARating() {
        var call = talking()
        _ = call.handle(.agentHungUp("101"))
        for _ in 1..<3 {
            _ = call.handle(.playbackFinished)
            #expect(call.handle(.timerFired(.ratingKey)) == [.play(.builtIn(.ratingPrompt))])
        }
        _ = call.handle(.playbackFinished)
        #expect(call.handle(.timerFired(.ratingKey)) == [.hangUpCaller, .finished(.agentHungUpFirst(agent: "101", rating: nil))])
    }

    @Test func aCallerWhoHangsUpDuringTheFinishSoundHasRated() {
        var call = talking()
        _ = call.handle(.agentHungUp("101"))
        _ = call.handle(.key("2"))
        _ = call.handle(.ratingStored)
        #expect(call.handle(.callerHungUp) == [.finished(.agentHungUpFirst(agent: "101", rating: 2))])
    }

    @Test func aCallerWhoHangsUpDuringThePromptHasNotRated() {
        var call = talking()
        _ = call.handle(.agentHungUp("101"))
        #expect(call.handle(.callerHungUp) == [.finished(.agentHungUpFirst(agent: "101", rating: nil))])
    }

    @Test func transferAfterTheAgentHangsUpKeepsTheAgentForAttribution() {
        var call = talking(.transfer(destination: "099"))
        #expect(call.handle(.agentHungUp("101")) == [
            .transfer(destination: "099", attributedAgent: "101"), .finished(.agentHungUpFirst(agent: "101", rating: nil)),
        ])
    }

    @Test func withoutAHangupActionTheCallEnds() {
        var call = talking(.none)
        #expect(call.handle(.agentHungUp("101")) == [.hangUpCaller, .finished(.agentHungUpFirst(agent: "101", rating: nil))])
    }
}
