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
        #expect(call.handle(.entered(ringPlan: [["101"], ["102"]])) == [.ring(["101"]), .startTimer(.ringRound, .seconds(20))])
        #expect(call.handle(.agentUnreachable("101")) == [.cancelTimer(.ringRound), .ring(["102"]), .startTimer(.ringRound, .seconds(20))])
        #expect(call.handle(.agentAnswered("102")) == [
            .cancelTimer(.ringRound), .cancelTimer(.maxWait), .cancelTimer(.announcement), .bridge(agent: "102"),
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

    @Test func anUnansweredRoundMovesOnAndAnExhaustedPlanAsksForANewOne() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101"]]))
        #expect(call.handle(.timerFired(.ringRound)) == [.cancelRinging(["101"]), .requestRingPlan])
        #expect(call.handle(.ringPlan([["102"]])) == [.ring(["102"]), .startTimer(.ringRound, .seconds(20))])
    }

    @Test func withNoAvailableAgentTheCallerLeaves() {
        var hangsUp = queue()
        #expect(hangsUp.handle(.entered(ringPlan: [])).suffix(2) == [.hangUpCaller, .finished(.leftWithoutAgent)])
        var transfers = queue(noAgentDestination: "300")
        #expect(transfers.handle(.entered(ringPlan: [])).suffix(2) == [
            .transfer(destination: "300", attributedAgent: nil), .finished(.leftWithoutAgent),
        ])
        var waits = queue(exitWhenEmpty: false)
        #expect(waits.handle(.entered(ringPlan: [])) == [.startTimer(.ringRound, .seconds(20))])
        #expect(waits.handle(.timerFired(.ringRound)) == [.requestRingPlan])
        #expect(waits.handle(.ringPlan([])) == [.startTimer(.ringRound, .seconds(20))], "asks again later, not at once")
        #expect(waits.handle(.ringPlan([["101"]])) == [.ring(["101"]), .startTimer(.ringRound, .seconds(20))])
    }

    @Test func agentsGoneWhileWaitingMakeTheCallerLeaveWhenTheQueueSaysSo() {
        var call = queue()
        _ = call.handle(.entered(ringPlan: [["101"]]))
        #expect(call.handle(.agentUnreachable("101")) == [.cancelTimer(.ringRound), .requestRingPlan])
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
        #expect(call.handle(.agentHungUp("101")) == [.play(.builtIn(.ratingPrompt))])
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
