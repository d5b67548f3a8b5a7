import CallFlow
import Domain
import Testing

/// Issue 9: the history of a call is handed out open from its answer on, whenever it changes, and
/// a server that stops ends the calls still up, writing their history.
@Suite struct OpenCallTests {
    let queue = Extension(id: 20, clientID: 1, name: "200", kind: .queue, label: "Support", status: "active", createdAt: UnixTime(seconds: 0))
    let uuid = CallUUID.random()

    func t(_ seconds: Int64) -> UnixTime { UnixTime(seconds: 10_000 + seconds) }

    var settings: QueueCall.Settings {
        .init(queueID: queue.id, agentHangupAction: .qualityRate(.init(prompt: .builtIn(.ratingPrompt), finish: nil, maxRate: 5)),
              maxWaitTime: nil, announcement: nil, exitWithNoAvailableAgents: true, noAgentDestination: nil)
    }

    func arrivingCall() -> Call {
        var call = Call(
            arrival: .init(
                callUUID: uuid, clientID: 1, dialled: "4930555", did: ("4930555", "acme.local"),
                caller: .init(username: "+4930111", screenName: nil, domain: nil)),
            at: t(0))
        _ = call.handle(.arrived, at: t(0))
        return call
    }

    func history(_ actions: [Call.Action]) -> CallRecord? {
        actions.compactMap { if case .writeCallHistory(let record) = $0 { record } else { nil } }.first
    }

    @Test func theOpenRecordStartsAtTheAnswerAndFollowsTheBridge() throws {
        var call = arrivingCall()
        let beforeAnswer = call.openRecordChange(at: t(0))
        #expect(beforeAnswer == nil, "not answered yet: nothing to keep")
        _ = call.handle(.routed(.queue(queue, settings)), at: t(1))
        let answeredChange = call.openRecordChange(at: t(1))
        let answered = try #require(answeredChange)
        #expect(answered.record.extensionID == 20 && answered.record.callUUID == uuid && answered.record.duration == 1)
        #expect(answered.record.hangupDisposition == .system && answered.openLegs == [0] && !answered.isBridged)
        let unchanged = call.openRecordChange(at: t(2))
        #expect(unchanged == nil, "nothing changed")

        _ = call.handle(.ringPlan([["101"]]), at: t(2))
        _ = call.handle(.agentAnswered("101"), at: t(10))
        let bridgedChange = call.openRecordChange(at: t(10))
        let bridged = try #require(bridgedChange)
        #expect(bridged.record.bridgedUsername == "101" && bridged.isBridged && bridged.openLegs == [0, 1])

        _ = call.handle(.agentHungUp("101"), at: t(40))
        let ratingChange = call.openRecordChange(at: t(40))
        let rating = try #require(ratingChange)
        #expect(!rating.isBridged && rating.openLegs == [0] && rating.record.bridgedDuration == 30)

        let ended = call.handle(.callerHungUp, at: t(45))
        #expect(history(ended)?.hangupDisposition == .agentHangup)
        let afterEnd = call.openRecordChange(at: t(45))
        #expect(afterEnd == nil, "over: the record is in writeCallHistory")
    }

    @Test func aStoppingServerEndsACallNobodyLeftAsSystem() throws {
        var call = arrivingCall()
        _ = call.handle(.routed(.queue(queue, settings)), at: t(1))
        _ = call.handle(.ringPlan([["101"]]), at: t(2))
        _ = call.handle(.agentAnswered("101"), at: t(10))
        let stopped = call.handle(.serverStopping, at: t(30))
        #expect(stopped.contains(.hangUpCaller))
        let record = try #require(history(stopped))
        #expect(record.hangupDisposition == .system && record.duration == 30 && record.bridgedDuration == 20)
        #expect(call.isOver)
        let again = call.handle(.serverStopping, at: t(31))
        #expect(again.isEmpty)
    }

    @Test func aStoppingServerKeepsWhoLeftFirst() throws {
        var call = arrivingCall()
        _ = call.handle(.routed(.queue(queue, settings)), at: t(1))
        _ = call.handle(.ringPlan([["101"]]), at: t(2))
        _ = call.handle(.agentAnswered("101"), at: t(10))
        _ = call.handle(.agentHungUp("101"), at: t(40))  // the caller is in the rating prompt
        let stopped = call.handle(.serverStopping, at: t(42))
        let record = try #require(history(stopped))
        #expect(record.hangupDisposition == .agentHangup && record.duration == 42)
    }
}
