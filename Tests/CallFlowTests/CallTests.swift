import CallFlow
import Domain
import Testing

@Suite struct CallTests {
    let queue = Extension(id: 20, clientID: 1, name: "200", kind: .queue, label: "Support", status: "active", createdAt: UnixTime(seconds: 0))
    let feedback = Extension(id: 99, clientID: 1, name: "099", kind: .ivr, label: "Feedback", status: "active", createdAt: UnixTime(seconds: 0))
    let uuid = CallUUID.random()

    func t(_ seconds: Int64) -> UnixTime { UnixTime(seconds: 10_000 + seconds) }

    func queueSettings(_ action: QueueCall.HangupAction) -> QueueCall.Settings {
        .init(queueID: queue.id, agentHangupAction: action, maxWaitTime: nil, announcement: nil, exitWithNoAvailableAgents: true,
              noAgentDestination: nil)
    }

    var ratingMenu: IVRConfiguration {
        menu([(1, "main", nil, ["start": [rule(.qualityRate(sound: 0, maxRate: 9, finishSound: 0)), rule(.hangup)]])])
    }

    func arrivingCall() -> Call {
        var call = Call(
            arrival: .init(
                callUUID: uuid, clientID: 1, dialled: "4930555", did: ("4930555", "acme.local"),
                caller: .init(username: "+4930111", screenName: nil, domain: nil)),
            at: t(0))
        #expect(call.handle(.arrived, at: t(0)) == [.resolve("4930555")])
        return call
    }

    /// Routed to the queue, agent 101 answered at t+10.
    func bridgedCall(_ action: QueueCall.HangupAction) -> Call {
        var call = arrivingCall()
        #expect(call.handle(.routed(.queue(queue, queueSettings(action))), at: t(1)) == [.answerCaller, .requestRingPlan(queueID: 20)])
        #expect(call.handle(.ringPlan([["101"]]), at: t(2)) == [.ring(["101"]), .startTimer(.queue(.ringTimeout), .seconds(20))])
        #expect(call.handle(.agentAnswered("101"), at: t(10)).last == .bridge(agent: "101"))
        return call
    }

    func history(_ actions: [Call.Action]) -> CallRecord? {
        actions.compactMap { if case .writeCallHistory(let record) = $0 { record } else { nil } }.first
    }

    @Test func theAgentHangsUpFirstAndTheCallerRatesThatAgent() throws {
        var call = bridgedCall(.qualityRate(.init(prompt: .builtIn(.ratingPrompt), finish: .builtIn(.ratingFinish), maxRate: 5)))
        #expect(call.handle(.agentHungUp("101"), at: t(70)) == [.play(.builtIn(.ratingPrompt)), .recordRatingOffer(RatingOffer(
            clientID: 1, callUUID: uuid, offeredAt: t(70), extensionID: 20, agentUsername: "101"))])
        let stored = call.handle(.key("4"), at: t(73))
        #expect(stored == [.stopPlayback, .storeRating(NewRating(
            clientID: 1, callUUID: uuid, ratedAt: t(73), extensionID: 20, rate: 4, maxRate: 5, agentUsername: "101", offeredAt: t(70)))])
        #expect(call.handle(.ratingStored, at: t(73)) == [.play(.builtIn(.ratingFinish))])
        let last = call.handle(.playbackFinished, at: t(75))
        #expect(last.first == .hangUpCaller)
        let record = try #require(history(last))
        #expect(record.hangupDisposition == .agentHangup)
        #expect(record.bridgedUsername == "101" && record.bridgedDuration == 60 && record.duration == 75)
        #expect(record.extensionID == 20 && record.didNumber == "4930555")
        #expect(record.legs.map(\.role) == [.caller, .agent])
        #expect(call.isOver)
    }

    @Test func theCallerHangsUpFirstAndNothingIsRated() throws {
        var call = bridgedCall(.qualityRate(.init(prompt: .builtIn(.ratingPrompt), finish: nil, maxRate: 5)))
        let actions = call.handle(.callerHungUp, at: t(50))
        #expect(actions.first == .hangUpAgent("101"))
        #expect(!actions.contains { if case .storeRating = $0 { true } else { false } })
        let record = try #require(history(actions))
        #expect(record.hangupDisposition == .callerHangup && record.bridgedDuration == 40)
    }

    @Test func aTransferToARatingMenuAttributesTheRatingToTheAgent() throws {
        var call = bridgedCall(.transfer(destination: "099"))
        let transferred = call.handle(.agentHungUp("101"), at: t(70))
        #expect(transferred.last == .resolve("099"))
        #expect(call.handle(.routed(.voiceMenu(feedback, ratingMenu)), at: t(71)) == [.play(.builtIn(.ratingPrompt)), .recordRatingOffer(
            RatingOffer(clientID: 1, callUUID: uuid, offeredAt: t(71), extensionID: 99, agentUsername: "101"))])
        #expect(call.handle(.key("8"), at: t(74)) == [.stopPlayback, .storeRating(NewRating(
            clientID: 1, callUUID: uuid, ratedAt: t(74), extensionID: 99, rate: 8, maxRate: 9, agentUsername: "101", offeredAt: t(71)))])
        #expect(call.handle(.ratingStored, at: t(74)) == [.play(.builtIn(.ratingFinish))], "finish_sound 0: \"thank you\"")
        let last = call.handle(.playbackFinished, at: t(77))
        #expect(last.first == .hangUpCaller)
        let record = try #require(history(last))
        #expect(record.extensionID == 20, "the call belongs to the queue it came to")
        #expect(record.hangupDisposition == .agentHangup)
    }

    @Test func aMenuReachedDirectlyRatesTheWholeCall() {
        var call = arrivingCall()
        #expect(call.handle(.routed(.voiceMenu(feedback, ratingMenu)), at: t(1)) == [
            .answerCaller, .play(.builtIn(.ratingPrompt)),
            .recordRatingOffer(RatingOffer(clientID: 1, callUUID: uuid, offeredAt: t(1), extensionID: 99, agentUsername: nil)),
        ])
        let stored = call.handle(.key("9"), at: t(3))
        #expect(stored.last == .storeRating(NewRating(
            clientID: 1, callUUID: uuid, ratedAt: t(3), extensionID: 99, rate: 9, maxRate: 9, agentUsername: nil, offeredAt: t(1))))
    }

    @Test func anUnknownNumberEndsTheCall() throws {
        var call = arrivingCall()
        let actions = call.handle(.routed(.unreachable), at: t(1))
        #expect(actions.first == .refuseUnknownNumber)
        #expect(try #require(history(actions)).hangupDisposition == .system)
    }

    @Test func transfersInACircleEndTheCall() {
        var call = arrivingCall()
        let loop = menu([(1, "main", nil, ["start": [rule(.transfer(destination: "099"))]])])
        var actions: [Call.Action] = []
        for step in 0...20 where !call.isOver {
            actions = call.handle(.routed(.voiceMenu(feedback, loop)), at: t(Int64(step)))
        }
        #expect(call.isOver)
        #expect(actions.contains(.hangUpCaller))
    }

    @Test func aTimerOfAMenuLeftBehindIsCancelled() {
        var call = arrivingCall()
        let timed = menu(lifetime: 60, [(1, "main", nil, ["start": [rule(.transfer(destination: "200"))]])])
        let actions = call.handle(.routed(.voiceMenu(feedback, timed)), at: t(1))
        #expect(actions.contains(.startTimer(.menu(.lifetime), .seconds(60))))
        #expect(actions.contains(.cancelTimer(.menu(.lifetime))))
        #expect(actions.last == .resolve("200"))
    }

    @Test func callInteractiveCarriesTheCallsFactsBesideTheMenusVariables() throws {
        var call = arrivingCall()
        let asking = menu([(1, "main", nil, ["start": [
            rule(.setVariable(name: "lang", value: "de")), rule(.callInteractive(url: "http://127.0.0.1:9/x", method: .GET)),
        ]])])
        let actions = call.handle(.routed(.voiceMenu(feedback, asking)), at: t(1))
        guard case .interactiveRequest(_, _, let variables)? = actions.last else { Issue.record("\(actions)"); return }
        #expect(variables["lang"] == "de")
        #expect(variables["CallID"] == uuid.value && variables["CallerIDNum"] == "+4930111" && variables["CalledNumber"] == "4930555")
    }
}
