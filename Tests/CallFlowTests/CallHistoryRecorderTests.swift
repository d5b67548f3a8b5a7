import CallFlow
import Domain
import Testing

@Suite struct CallHistoryRecorderTests {
    let uuid = CallUUID.random()
    let queue = Extension(id: 9, clientID: 1, name: "200", kind: .queue, label: "Support", status: "active", createdAt: UnixTime(seconds: 0))
    let ivr = Extension(id: 11, clientID: 1, name: "099", kind: .ivr, label: "Feedback", status: "active", createdAt: UnixTime(seconds: 0))

    func at(_ seconds: Int64) -> UnixTime { UnixTime(seconds: 1_000 + seconds) }

    @Test func aQueueCallRatedAfterTheAgentHungUp() {
        var recorder = CallHistoryRecorder(
            callUUID: uuid, clientID: 1, flow: .inbound, startedAt: at(0), did: ("4930555", "acme.local"),
            caller: .init(username: "+4930111", screenName: "Jo", domain: nil))
        recorder.reached(queue)
        let caller = recorder.legStarted(.caller, ani: "+4930111", destination: "200", domain: "acme.local", application: .callcenter, at: at(0))
        let agent = recorder.legStarted(.agent, ani: "+4930111", destination: "101", domain: "acme.local", application: .callcenter, at: at(5))
        recorder.bridged(to: "101", domain: "acme.local", at: at(8))
        recorder.legEnded(agent, at: at(68))
        recorder.unbridged(at: at(68))
        recorder.legEnded(caller, at: at(80))
        let record = recorder.finish(at: at(80), disposition: .agentHangup)

        #expect(record.callUUID == uuid)
        #expect(record.extensionID == 9 && record.extensionName == "200" && record.extensionType == .queue)
        #expect(record.didNumber == "4930555" && record.fromUsername == "+4930111" && record.fromScreenName == "Jo")
        #expect(record.bridgedUsername == "101" && record.bridgedAt == at(8) && record.bridgedDuration == 60)
        #expect(record.duration == 80 && record.hangupDisposition == .agentHangup)
        #expect(record.legs.map(\.role) == [.caller, .agent])
        #expect(record.legs.map(\.duration) == [80, 63])
    }

    @Test func theFirstExtensionStaysAndOpenLegsEndWithTheCall() {
        var recorder = CallHistoryRecorder(
            callUUID: uuid, clientID: 1, flow: .inbound, startedAt: at(0), did: nil,
            caller: .init(username: "102", screenName: nil, domain: "acme.local"))
        recorder.reached(queue)
        recorder.reached(ivr)
        _ = recorder.legStarted(.caller, ani: "102", destination: "200", domain: "acme.local", application: .callcenter, at: at(0))
        let record = recorder.finish(at: at(30), disposition: .callerHangup)
        #expect(record.extensionID == queue.id)
        #expect(record.legs.first?.duration == 30)
        #expect(record.bridgedUsername == nil && record.bridgedAt == nil && record.bridgedDuration == nil)
    }

    @Test func theLastBridgedPartyIsTheOneRecorded() {
        var recorder = CallHistoryRecorder(
            callUUID: uuid, clientID: 1, flow: .inbound, startedAt: at(0), did: nil,
            caller: .init(username: "+4930111", screenName: nil, domain: nil))
        recorder.bridged(to: "101", domain: "acme.local", at: at(10))
        recorder.bridged(to: "102", domain: "acme.local", at: at(40))
        let record = recorder.finish(at: at(100), disposition: .callerHangup)
        #expect(record.bridgedUsername == "102" && record.bridgedAt == at(40) && record.bridgedDuration == 60)
    }
}

@Suite struct CallHistorySnapshotTests {
    @Test func aSnapshotIsTheRecordEndedNowAndLeavesTheCallGoingOn() {
        var recorder = CallHistoryRecorder(
            callUUID: .random(), clientID: 1, flow: .inbound, startedAt: UnixTime(seconds: 100), did: nil,
            caller: .init(username: "102", screenName: nil, domain: "acme.local"))
        let revision = recorder.revision
        let caller = recorder.legStarted(.caller, ani: "102", destination: "200", domain: nil, application: nil, at: UnixTime(seconds: 100))
        _ = recorder.legStarted(.agent, ani: "102", destination: "101", domain: nil, application: .callcenter, at: UnixTime(seconds: 105))
        recorder.bridged(to: "101", domain: nil, at: UnixTime(seconds: 106))
        #expect(recorder.revision > revision)

        let snapshot = recorder.snapshot(at: UnixTime(seconds: 130))
        #expect(snapshot.record.duration == 30 && snapshot.record.hangupDisposition == .system)
        #expect(snapshot.record.bridgedDuration == 24 && snapshot.isBridged && snapshot.openLegs == [0, 1])
        #expect(snapshot.record.legs.map(\.duration) == [30, 25])

        recorder.legEnded(caller, at: UnixTime(seconds: 150))
        let record = recorder.finish(at: UnixTime(seconds: 150), disposition: .callerHangup)
        #expect(record.duration == 50 && record.bridgedDuration == 44 && record.legs.map(\.duration) == [50, 45])
    }
}
