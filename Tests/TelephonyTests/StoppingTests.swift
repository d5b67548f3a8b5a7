import CallFlow
import CallRunner
import Domain
import SIP
import Storage
import Testing

/// SIGTERM (issue 9), as the service group stops the telephony: the drain time over, the calls
/// still up are ended by their flows — the caller gets BYE — and their history is written
/// before the sockets close; no callback is placed any more.
@Suite struct StoppingTests {
    @Test func aStoppingServerEndsTheCallsUpWithTheirHistoryAndPlacesNoCallback() async throws {
        let fixture = try await TelephonyFixture()
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555099", from: caller, rtpPort: media.port, callID: "stop-1"), to: fixture.sipPort)
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(.request("ACK", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-ack-stop"), ("From", "<sip:+4930111222@trunk.example>;tag=caller"),
            ("To", "<sip:4930555099@127.0.0.1>;tag=\(toTag)"), ("Call-ID", "stop-1"), ("CSeq", "1 ACK"), ("Max-Forwards", "70"),
        ]), to: fixture.sipPort)
        _ = try await media.datagrams(atLeast: 1)  // the rating prompt: the call is up
        let listed = try await fixture.store.calls(CallQuery(clientID: fixture.client.id, limit: 10))
        #expect(listed.isEmpty, "a call up is not in call history")

        await fixture.stop()  // no drain time
        _ = try await caller.message { $0.method == "BYE" }
        let history = try await fixture.finishedCalls()
        #expect(history.count == 1 && history.first?.hangupDisposition == .system)
        #expect(history.first?.extensionID == fixture.menu.id && history.first?.didNumber == "4930555099")
        await #expect(throws: CallCenterError.stopping) {
            _ = try await fixture.calls.startCallback(
                clientID: fixture.client.id, initiator: fixture.phones[0],
                plan: .init(sources: ["101"], destination: "099", afterSourceHangup: nil, afterDestinationHangup: nil))
        }
        await caller.close()
        await media.close()
    }
}
