import CallFlow
import Domain
import Testing

/// Callbacks and transfers that reach numbers outside the client through trunks (issue 11), as
/// the engine sees them: which parties it rings, what it records, whom a rating is of.
@Suite struct OutsideCallTests {
    let phone = Extension(id: 30, clientID: 1, name: "101", kind: .phone, label: "Desk", status: "active", createdAt: UnixTime(seconds: 0))
    let feedback = Extension(id: 99, clientID: 1, name: "099", kind: .ivr, label: "Feedback", status: "active", createdAt: UnixTime(seconds: 0))
    let uuid = CallUUID.random()
    let customer = "+4915712345678"
    var customerParty: String { OutsideParty.name(of: customer) }

    func t(_ seconds: Int64) -> UnixTime { UnixTime(seconds: 50_000 + seconds) }

    func callback(_ plan: Call.CallbackPlan) -> Call {
        Call(
            arrival: .init(
                callUUID: uuid, clientID: 1, dialled: plan.destination, did: nil,
                caller: .init(username: "101", screenName: "Desk", domain: nil), callback: plan),
            at: t(0))
    }

    func history(_ actions: [Call.Action]) -> CallRecord? {
        actions.compactMap { if case .writeCallHistory(let record) = $0 { record } else { nil } }.first
    }

    var ratingMenu: IVRConfiguration {
        menu([(1, "main", nil, ["start": [rule(.qualityRate(sound: 0, maxRate: 9, finishSound: 0)), rule(.hangup)]])])
    }

    @Test func theCustomerLeftByTheAgentRatesTheAgentAndTheOutsideLegIsRecorded() throws {
        var call = callback(Call.CallbackPlan(
            sources: ["101"], destination: customer, afterSourceHangup: "099", afterDestinationHangup: nil, destinationKeys: "1w2"))
        #expect(call.handle(.arrived, at: t(0)) == [.ring(["101"]), .startTimer(.callbackSources, .seconds(30))])
        #expect(call.handle(.agentAnswered("101"), at: t(3)) == [.cancelTimer(.callbackSources), .promoteToCaller("101"), .resolve(customer)])
        #expect(call.handle(.routed(.outside(customer)), at: t(3)).contains(.ring([customerParty])))
        // The first trunk refused (503), the second answered.
        #expect(call.handle(.trunkAttempt(TrunkAttempt(party: customerParty, number: "004915712345678", trunkID: 7, trunkName: "A", sipStatus: 503)), at: t(4)).isEmpty)
        #expect(call.handle(.trunkAttempt(TrunkAttempt(party: customerParty, number: "004915712345678", trunkID: 8, trunkName: "B", sipStatus: nil)), at: t(6)).isEmpty)
        let bridged = call.handle(.agentAnswered(customerParty), at: t(6))
        #expect(bridged.suffix(2) == [.bridge(agent: customerParty), .sendKeys("1w2", to: customerParty)])
        // The agent hangs up: the customer is the caller now and goes to the rating menu.
        let transferred = call.handle(.callerHungUp, at: t(40))
        #expect(transferred.contains(.promoteToCaller(customerParty)) && transferred.contains(.resolve("099")))
        _ = call.handle(.routed(.voiceMenu(feedback, ratingMenu)), at: t(40))
        let rated = call.handle(.key("5"), at: t(45))
        let rating = try #require(rated.compactMap { if case .storeRating(let rating) = $0 { rating } else { nil } }.first)
        #expect(rating.agentUsername == "101" && rating.rate == 5, "the rating is of the agent who was the source")
        _ = call.handle(.ratingStored, at: t(45))
        let record = try #require(history(call.handle(.playbackFinished, at: t(47))))
        #expect(record.flow == .outbound && record.bridgedUsername == customer)
        let outside = record.legs.filter { $0.flow == .outbound }
        #expect(outside.map(\.trunkID) == [7, 8] && outside.map(\.sipStatus) == [503, nil])
        #expect(outside.allSatisfy { $0.destNumber == "004915712345678" || $0.destNumber == customer })
        #expect(record.legs.first { $0.role == .callbackDestination && $0.sipStatus == nil }?.trunkName == "B")
    }

    @Test func bothPartiesHearTheDestinationAnnouncementBeforeTheyTalkAndTheKeysGoAfter() {
        var call = callback(Call.CallbackPlan(
            sources: ["101"], destination: customer, afterSourceHangup: nil, afterDestinationHangup: nil,
            destinationAnnouncement: .uploaded(id: 8), destinationKeys: "12"))
        _ = call.handle(.arrived, at: t(0))
        _ = call.handle(.agentAnswered("101"), at: t(2))
        _ = call.handle(.routed(.outside(customer)), at: t(2))
        let answered = call.handle(.agentAnswered(customerParty), at: t(5))
        #expect(answered.last == .announce(.uploaded(id: 8), alsoTo: customerParty))
        #expect(!answered.contains(.bridge(agent: customerParty)))
        #expect(call.handle(.playbackFinished, at: t(9)) == [.bridge(agent: customerParty), .sendKeys("12", to: customerParty)])
        #expect(call.handle(.playbackFinished, at: t(10)).isEmpty)
    }

    @Test func aQueueAsSourceRingsItsAgentsAndTheOneWhoAnswersIsTheSource() {
        var call = callback(Call.CallbackPlan(sources: [], sourceQueue: 20, destination: customer, afterSourceHangup: nil, afterDestinationHangup: nil))
        #expect(call.handle(.arrived, at: t(0)) == [.requestRingPlan(queueID: 20), .startTimer(.callbackSources, .seconds(30))])
        #expect(call.handle(.ringPlan([["101"], ["102"]]), at: t(0)) == [.ring(["101", "102"])])
        // One agent refuses: the other still rings.
        #expect(call.handle(.agentUnreachable("102"), at: t(1)).isEmpty)
        #expect(call.handle(.agentAnswered("101"), at: t(2)).contains(.promoteToCaller("101")))
        var empty = callback(Call.CallbackPlan(sources: [], sourceQueue: 20, destination: customer, afterSourceHangup: nil, afterDestinationHangup: nil))
        _ = empty.handle(.arrived, at: t(0))
        #expect(history(empty.handle(.ringPlan([]), at: t(0))) != nil, "a queue with no agent available ends the callback")
    }

    @Test func theAnnouncementPlaysToTheSourceBeforeTheDestinationIsCalledAndTheDurationEndsTheCall() throws {
        var call = callback(Call.CallbackPlan(
            sources: ["101"], destination: customer, afterSourceHangup: nil, afterDestinationHangup: nil,
            sourceAnnouncement: .uploaded(id: 5), maximumDuration: .seconds(60)))
        #expect(call.handle(.arrived, at: t(0)).contains(.startTimer(.callbackDuration, .seconds(60))))
        #expect(call.handle(.agentAnswered("101"), at: t(2)).last == .play(.uploaded(id: 5)))
        #expect(call.handle(.key("1"), at: t(3)).isEmpty, "nothing but the announcement's end moves the call on")
        #expect(call.handle(.playbackFinished, at: t(8)) == [.resolve(customer)])
        _ = call.handle(.routed(.outside(customer)), at: t(8))
        _ = call.handle(.agentAnswered(customerParty), at: t(10))
        let ended = call.handle(.timerFired(.callbackDuration), at: t(60))
        #expect(ended.first == .hangUpCaller)
        #expect(try #require(history(ended)).hangupDisposition == .system)
        #expect(call.isOver)
    }

    @Test func anUnreachableOutsideNumberIsRungOneRoundThenTheCallerIsLetGo() {
        var call = Call(
            arrival: .init(callUUID: uuid, clientID: 1, dialled: customer, did: nil, caller: .init(username: "101", screenName: nil, domain: "acme.local")),
            at: t(0))
        _ = call.handle(.arrived, at: t(0))
        #expect(call.handle(.routed(.outside(customer)), at: t(0)).first == .ring([customerParty]))
        #expect(call.handle(.agentUnreachable(customerParty), at: t(1)).last == .startTimer(.queue(.nextRound), .seconds(5)))
        let ended = call.handle(.timerFired(.queue(.nextRound)), at: t(6))
        #expect(ended.contains(.hangUpCaller) && history(ended) != nil && !ended.contains(.ring([customerParty])))
    }

    @Test func aPhoneCallingANumberNothingAnswersToIsRefusedAsNotFound() {
        var call = Call(
            arrival: .init(callUUID: uuid, clientID: 1, dialled: "+3312345678", did: nil, caller: .init(username: "101", screenName: nil, domain: "acme.local")),
            at: t(0))
        _ = call.handle(.arrived, at: t(0))
        #expect(call.handle(.routed(.unreachable), at: t(0)).first == .refuseUnknownNumber)
    }
}
