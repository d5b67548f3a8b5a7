import CallFlow
import Domain
import Testing

/// Builds menus for the tests: contexts by id, options to rule lists.
func menu(
    entry: Int64 = 1, lifetime: Int64 = 0, sleep: Int64 = 0, lifetimeTransfer: String? = nil,
    _ contexts: [(id: Int64, name: String, digitLength: Int64?, options: [String: [IVRRuleDefinition]])]
) -> IVRConfiguration {
    IVRConfiguration(
        ivrID: 99,
        options: IVROptions(
            entryContext: entry, lifetime: lifetime, lifetimeExpiryAction: lifetimeTransfer == nil ? .hangup : .transfer,
            lifetimeExpiryTransferDestination: lifetimeTransfer, sleepTime: sleep),
        contexts: contexts.map { context in
            IVRConfiguration.Context(
                context: IVRContext(id: context.id, ivrID: 99, settings: .init(name: context.name, digitLength: context.digitLength)),
                rulesByOption: context.options.mapValues { rules in
                    rules.enumerated().map { IVRRule(id: Int64($0.offset + 1), position: Int64($0.offset + 1), definition: $0.element) }
                })
        })
}

func rule(_ action: IVRAction, did: String? = nil, callerID: CallerIDFilter = .any) -> IVRRuleDefinition {
    IVRRuleDefinition(action: action, didFilter: did, callerIDFilter: callerID)
}

@Suite struct VoiceMenuCallTests {
    static let rate = IVRAction.qualityRate(sound: 0, maxRate: 9, finishSound: 12)
    let ratingMenu = menu([(1, "main", nil, ["start": [rule(.playSound(sound: 5, type: .foreground)), rule(rate), rule(.hangup)]])])

    func call(_ configuration: IVRConfiguration, did: String? = nil, callerID: String? = "+4930111", agent: String? = nil) -> VoiceMenuCall {
        VoiceMenuCall(configuration: configuration, caller: .init(callerID: callerID, did: did, attributedAgent: agent))
    }

    @Test func playsRatesAndContinuesWithTheNextRule() {
        var ivr = call(ratingMenu)
        #expect(ivr.handle(.entered) == [.play(.uploaded(id: 5))])
        #expect(ivr.handle(.key("3")) == [], "a foreground sound must finish first")
        #expect(ivr.handle(.playbackFinished) == [.play(.builtIn(.ratingPrompt)), .offerRating(agent: nil)])
        #expect(ivr.handle(.key("7")) == [.stopPlayback, .storeRating(rate: 7, maxRate: 9, agent: nil)])
        #expect(ivr.handle(.ratingStored) == [.play(.uploaded(id: 12))])
        #expect(ivr.handle(.playbackFinished) == [.hangUp, .finished(.hungUp)])
    }

    func ratedAndStored(finishSound: Int64?) -> VoiceMenuCall {
        var ivr = call(menu([(1, "main", nil, ["start": [rule(.qualityRate(sound: 0, maxRate: 5, finishSound: finishSound)), rule(.hangup)]])]))
        #expect(ivr.handle(.entered) == [.play(.builtIn(.ratingPrompt)), .offerRating(agent: nil)])
        #expect(ivr.handle(.key("4")) == [.stopPlayback, .storeRating(rate: 4, maxRate: 5, agent: nil)])
        return ivr
    }

    @Test func finishSoundZeroIsTheBuiltInThankYouAsInAQueue() {
        var ivr = ratedAndStored(finishSound: 0)
        #expect(ivr.handle(.ratingStored) == [.play(.builtIn(.ratingFinish))])
        #expect(ivr.handle(.playbackFinished) == [.hangUp, .finished(.hungUp)])
    }

    @Test func noFinishSoundGoesOnAsSoonAsTheRatingIsStored() {
        var ivr = ratedAndStored(finishSound: nil)
        #expect(ivr.handle(.ratingStored) == [.hangUp, .finished(.hungUp)])
    }

    @Test func aRatingAfterAQueueAgentIsOfThatAgent() {
        var ivr = call(ratingMenu, agent: "101")
        _ = ivr.handle(.entered)
        _ = ivr.handle(.playbackFinished)
        #expect(ivr.handle(.key("9")) == [.stopPlayback, .storeRating(rate: 9, maxRate: 9, agent: "101")])
    }

    @Test func noValidKeyStillContinuesWithTheNextRule() {
        var ivr = call(ratingMenu)
        _ = ivr.handle(.entered)
        _ = ivr.handle(.playbackFinished)
        for _ in 1...2 {
            _ = ivr.handle(.playbackFinished)
            _ = ivr.handle(.timerFired(.ratingKey))
        }
        _ = ivr.handle(.playbackFinished)
        #expect(ivr.handle(.timerFired(.ratingKey)) == [.hangUp, .finished(.hungUp)])
    }

    @Test func didFilteredRulesWinAndInternalCallsGetTheOthers() {
        let configuration = menu([(1, "main", nil, ["start": [
            rule(.transfer(destination: "200"), did: "4930555"),
            rule(.transfer(destination: "201"), did: "49306.*"),
            rule(.transfer(destination: "300")),
        ]])])
        var byDID = call(configuration, did: "4930555")
        #expect(byDID.handle(.entered) == [.transfer(destination: "200", attributedAgent: nil), .finished(.transferred("200"))])
        var byPattern = call(configuration, did: "4930612")
        #expect(byPattern.handle(.entered).first == .transfer(destination: "201", attributedAgent: nil))
        var otherDID = call(configuration, did: "4930999")
        #expect(otherDID.handle(.entered).first == .transfer(destination: "300", attributedAgent: nil))
        var internalCall = call(configuration, did: nil)
        #expect(internalCall.handle(.entered).first == .transfer(destination: "300", attributedAgent: nil))
    }

    @Test func callerIDFiltersSkipRules() {
        let configuration = menu([(1, "main", nil, ["start": [
            rule(.transfer(destination: "vip"), callerID: .matches("^\\+4930")),
            rule(.transfer(destination: "anon"), callerID: .anonymous),
            rule(.transfer(destination: "rest"), callerID: .notMatches("^\\+4930")),
        ]])])
        var berlin = call(configuration, callerID: "+4930111")
        #expect(berlin.handle(.entered).first == .transfer(destination: "vip", attributedAgent: nil))
        var hidden = call(configuration, callerID: nil)
        #expect(hidden.handle(.entered).first == .transfer(destination: "anon", attributedAgent: nil))
        var munich = call(configuration, callerID: "+4989222")
        #expect(munich.handle(.entered).first == .transfer(destination: "rest", attributedAgent: nil))
    }

    @Test func keysChooseTheNextOptionAndUnknownKeysRunInvalid() {
        let configuration = menu([(1, "main", 1, [
            "start": [rule(.playSound(sound: 5, type: .background))],
            "1": [rule(.transfer(destination: "200"))],
            "invalid": [rule(.transfer(destination: "300"))],
            "timeout": [rule(.hangup)],
        ])])
        var chooses = call(configuration)
        #expect(chooses.handle(.entered) == [.play(.uploaded(id: 5)), .startTimer(.firstKey, .milliseconds(5000))])
        #expect(chooses.handle(.key("1")) == [
            .cancelTimer(.firstKey), .stopPlayback, .transfer(destination: "200", attributedAgent: nil), .finished(.transferred("200")),
        ])
        var wrong = call(configuration)
        _ = wrong.handle(.entered)
        #expect(wrong.handle(.key("8")).contains(.transfer(destination: "300", attributedAgent: nil)))
        var silent = call(configuration)
        _ = silent.handle(.entered)
        #expect(silent.handle(.timerFired(.firstKey)) == [.hangUp, .finished(.hungUp)])
    }

    @Test func multiDigitInputEndsAfterTheInterDigitTimeout() {
        let configuration = menu([(1, "main", nil, [
            "start": [rule(.setVariable(name: "lang", value: "de"))],
            "12": [rule(.transfer(destination: "212"))],
        ])])
        var ivr = call(configuration)
        #expect(ivr.handle(.entered) == [.startTimer(.firstKey, .milliseconds(5000))])
        #expect(ivr.handle(.key("1")) == [.cancelTimer(.firstKey), .startTimer(.nextKey, .milliseconds(2000))])
        #expect(ivr.handle(.key("2")) == [.cancelTimer(.nextKey), .startTimer(.nextKey, .milliseconds(2000))])
        #expect(ivr.handle(.timerFired(.nextKey)).first == .transfer(destination: "212", attributedAgent: nil))
        #expect(ivr.variables["lang"] == "de")
    }

    @Test func jumpsBetweenContextsAndStopsACircle() {
        let configuration = menu([
            (1, "main", nil, ["start": [rule(.jumpToContext(contextID: 2, option: "start"))]]),
            (2, "rating", nil, ["start": [rule(Self.rate)]]),
        ])
        var ivr = call(configuration)
        #expect(ivr.handle(.entered) == [.play(.builtIn(.ratingPrompt)), .offerRating(agent: nil)])

        let circle = menu([(1, "main", nil, ["start": [rule(.jumpToContext(contextID: 1, option: "start"))]])])
        var spinning = call(circle)
        #expect(spinning.handle(.entered) == [.hangUp, .finished(.hungUp)])
    }

    @Test func callInteractiveSteersTheCallOrFallsThroughOnFailure() {
        let configuration = menu([
            (1, "main", nil, ["start": [
                rule(.callInteractive(url: "http://127.0.0.1:9/steer", method: .POST)),
                rule(.transfer(destination: "default")),
            ]]),
            (2, "vip", nil, ["start": [rule(.transfer(destination: "vip-queue"))]]),
        ])
        var steered = call(configuration)
        #expect(steered.handle(.entered) == [.interactiveRequest(url: "http://127.0.0.1:9/steer", method: .POST, variables: [:])])
        #expect(steered.handle(.interactiveReply([.setVariable(name: "tier", value: "gold"), .jump(context: "vip", option: "start")]))
            .first == .transfer(destination: "vip-queue", attributedAgent: nil))
        #expect(steered.variables["tier"] == "gold")

        var failed = call(configuration)
        _ = failed.handle(.entered)
        #expect(failed.handle(.interactiveReply(nil)).first == .transfer(destination: "default", attributedAgent: nil))
    }

    @Test func recordDigitsFillsAVariable() {
        let configuration = menu([(1, "main", nil, ["start": [
            rule(.recordDigits(variable: "account", maxDigits: 3, sound: 0)),
            rule(.callInteractive(url: "http://127.0.0.1:9/a", method: .GET)),
        ]])])
        var ivr = call(configuration)
        _ = ivr.handle(.entered)
        _ = ivr.handle(.key("4"))
        _ = ivr.handle(.key("5"))
        #expect(ivr.handle(.key("6")) == [
            .cancelTimer(.nextKey), .interactiveRequest(url: "http://127.0.0.1:9/a", method: .GET, variables: ["account": "456"]),
        ])
    }

    @Test func lifetimeAndSleepTime() {
        var ivr = call(menu(lifetime: 30, sleep: 500, lifetimeTransfer: "0", [(1, "main", nil, ["start": [rule(.playSound(sound: 5, type: .foreground))]])]))
        #expect(ivr.handle(.entered) == [.startTimer(.lifetime, .seconds(30)), .startTimer(.sleep, .milliseconds(500))])
        #expect(ivr.handle(.timerFired(.sleep)) == [.play(.uploaded(id: 5))])
        #expect(ivr.handle(.timerFired(.lifetime)) == [.stopPlayback, .transfer(destination: "0", attributedAgent: nil), .finished(.transferred("0"))])
    }

    @Test func aMenuWithoutEntryContextOrRulesHangsUp() {
        var empty = call(menu(entry: 0, []))
        #expect(empty.handle(.entered) == [.hangUp, .finished(.hungUp)])
        var noRules = call(menu([(1, "main", nil, [:])]))
        #expect(noRules.handle(.entered) == [.hangUp, .finished(.hungUp)])
    }

    @Test func theCallerHangingUpEndsTheMenu() {
        var ivr = call(ratingMenu)
        _ = ivr.handle(.entered)
        #expect(ivr.handle(.callerHungUp) == [.finished(.callerHungUp)])
        #expect(ivr.handle(.key("1")) == [])
    }
}
