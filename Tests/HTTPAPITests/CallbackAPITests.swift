import Access
import CallFlow
import CallRunner
import Domain
import Foundation
import Storage
import Testing

@Suite struct CallbackAPITests {
    /// Phones 101 and 102 and the rating menu 099 of the fixture's client "acme".
    func configure(_ fixture: APIFixture) async throws -> (phone: Extension, menu: Extension) {
        let clientID = fixture.acme.clientID
        let phone = try await fixture.store.createExtension(NewExtension(clientID: clientID, name: "101", kind: .phone, label: "Anna"))
        _ = try await fixture.store.createExtension(NewExtension(clientID: clientID, name: "102", kind: .phone, label: "Ben"))
        let menu = try await fixture.store.createExtension(NewExtension(clientID: clientID, name: "099", kind: .ivr, label: "Feedback"))
        let context = try await fixture.store.createIVRContext(clientID: clientID, ivrID: menu.id, .init(name: "main"))
        for action in [IVRAction.qualityRate(sound: 0, maxRate: 9, finishSound: 0), .hangup] {
            _ = try await fixture.store.createIVRRule(
                clientID: clientID, ivrID: menu.id, contextID: context.id, option: "start", position: nil, IVRRuleDefinition(action: action))
        }
        return (phone, menu)
    }

    func callAPIToken(_ fixture: APIFixture, _ client: APIFixture.Client) async throws -> String {
        let admin = try #require(try await fixture.store.user(username: fixture.acme.username))
        let app = try await Provisioning(store: fixture.store).registerApplication(userID: admin.id, name: "crm", type: .trusted, access: .callAPI)
        return try await client.token(appID: app.appID, secret: app.appSecret)
    }

    func settle(_ runner: CallRunner) async throws {
        for _ in 0..<400 where await !runner.isSettled { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func aCallbackWhoseDestinationHangsUpFirstGetsTheSourcesRating() async throws {
        let fixture = try await APIFixture()
        let (phone, menu) = try await configure(fixture)
        let calls = fixture.calls
        try await fixture.withServer(calls: calls) { client in
            let token = try await callAPIToken(fixture, client)
            let reply = try await client.send(
                .post, "/api/ver1.0/extension/\(phone.id)/callback/", token: token,
                body: #"{"src_num": ["101"], "dst_num": "102", "transfer_after_dst_hangup": "099"}"#, contentType: "application/json")
            #expect(reply.status == .created, "\(reply.text)")
            let uuid = try #require(CallUUID(reply.object["call_uuid"] as? String ?? ""))
            let runner = try #require(await calls.runner(for: uuid))
            let port = try #require(await fixture.telephony.port(for: uuid))
            try await settle(runner)
            #expect(await port.takeRequests() == [.ring(["101"])])
            await runner.deliver(.agentAnswered("101"))
            await runner.deliver(.agentAnswered("102"))
            await runner.deliver(.agentHungUp("102"))
            #expect(await port.takeRequests() == [
                .promoteToCaller("101"), .ring(["102"]), .bridge("102"), .play(.builtIn(.ratingPrompt)),
            ])
            await runner.deliver(.key("6"))

            let ratings = try await client.get(
                "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?with_agent=true", token: token).array
            #expect(ratings.count == 1)
            #expect(ratings.first?["call_uuid"] as? String == uuid.value)
            #expect(ratings.first?["rate"] as? Int == 6 && ratings.first?["max_rate"] as? Int == 9)
            #expect(ratings.first?["extension_id"] as? Int == Int(menu.id))
            #expect(ratings.first?["target"] as? String == "call")
            // The menu's "thank you" (finish_sound 0) ends, then it hangs up and the history is written.
            await runner.deliver(.playbackFinished)
            let history = try await client.get("/api/ver1.0/client/\(fixture.acme.clientID)/call_history/\(uuid.value)", token: token)
            #expect(history.status == .ok)
            #expect((history.object["cdr"] as? [[String: Any]])?.compactMap { $0["leg"] as? String } == ["callback_source", "callback_destination"])
        }
    }

    @Test func aValidCallbackWithoutTelephonyAnswers503AndStartsNothing() async throws {
        let fixture = try await APIFixture()
        let (phone, _) = try await configure(fixture)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            try await client.send(
                .post, "/api/ver1.0/extension/\(phone.id)/callback/", token: token,
                body: #"{"src_num": [101], "dst_num": "102"}"#, contentType: "application/json")
                .expectError(.serviceUnavailable, code: "telephony_unavailable")
        }
    }

    @Test(arguments: [
        (#"{"dst_num": "102"}"#, "src_num"),
        (#"{"src_num": [], "dst_num": "102"}"#, "src_num"),
        (#"{"src_num": ["099"], "dst_num": "102"}"#, "src_num"),
        (#"{"src_num": ["555"], "dst_num": "102"}"#, "src_num"),
        (#"{"src_num": ["101"]}"#, "dst_num"),
        (#"{"src_num": ["101"], "dst_num": "777"}"#, "dst_num"),
        (#"{"src_num": ["101"], "dst_num": "102", "transfer_after_dst_hangup": "nowhere"}"#, "transfer_after_dst_hangup"),
        (#"{"src_num": ["101"], "dst_num": "102", "transfer_after_src_hangup": "777"}"#, "transfer_after_src_hangup"),
        // Issue 11: outside numbers need a trunk that carries them; the options are checked.
        (#"{"src_num": ["+4915700000"], "dst_num": "102"}"#, "src_num"),
        (#"{"src_num": ["101"], "dst_num": "+4915700000"}"#, "dst_num"),
        (#"{"src_num": ["101"], "dst_num": "102", "dst_dtmf": "12x"}"#, "dst_dtmf"),
        (#"{"src_num": ["101"], "dst_num": "102", "call_duration": 0}"#, "call_duration"),
        (#"{"src_num": ["101"], "dst_num": "102", "announce_sound_id": 999}"#, "announce_sound_id"),
        (#"{"src_num": ["101"], "dst_num": "102", "caller_id_number": "sales"}"#, "caller_id_number"),
        (#"{"src_num": ["101"], "dst_num": "102", "dst_announce_sound_id": 999}"#, "dst_announce_sound_id"),
    ])
    func invalidCallbacksNameTheField(body: String, field: String) async throws {
        let fixture = try await APIFixture()
        let (phone, _) = try await configure(fixture)
        let calls = fixture.calls
        try await fixture.withServer(calls: calls) { client in
            let token = try await client.token(fixture.acme)
            try await client.send(.post, "/api/ver1.0/extension/\(phone.id)/callback/", token: token, body: body, contentType: "application/json")
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: field)
        }
    }

    /// Issue 11: outside sources and destinations through a trunk; a DID of the client as
    /// `dst_ani`; the caller ID the client's phones see.
    @Test func outsideNumbersAndTheOptionsReachTheCall() async throws {
        let fixture = try await APIFixture()
        let (phone, menu) = try await configure(fixture)
        try await fixture.addTrunk(fixture.acme, "carrier", prefixes: ["+49"])
        _ = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555000", extensionID: menu.id, comment: ""))
        let calls = fixture.calls
        try await fixture.withServer(calls: calls) { client in
            let token = try await callAPIToken(fixture, client)
            let reply = try await client.send(
                .post, "/api/ver1.0/extension/\(phone.id)/callback/", token: token,
                body: #"{"src_num": ["101", "+4917000000"], "dst_num": "+4915712345678", "dst_ani": "+4930555000", "src_ani": "12345", "caller_id_name": "Sales", "caller_id_number": "+4930111", "dst_dtmf": "1W#", "call_duration": 30, "transfer_after_src_hangup": "099"}"#,
                contentType: "application/json")
            #expect(reply.status == .created, "\(reply.text)")
            let uuid = try #require(CallUUID(reply.object["call_uuid"] as? String ?? ""))
            let runner = try #require(await calls.runner(for: uuid))
            let port = try #require(await fixture.telephony.port(for: uuid))
            try await settle(runner)
            #expect(await port.takeRequests() == [.ring(["101", OutsideParty.name(of: "+4917000000")])])
            let plan = try #require(await fixture.telephony.plan(for: uuid))
            #expect(plan.destination == "+4915712345678" && plan.destinationKeys == "1W#" && plan.maximumDuration == .seconds(30))
            #expect(plan.presentation == CallbackPresentation(
                sourceCallerID: nil, destinationCallerID: "4930555000", callerName: "Sales", callerNumber: "+4930111"))
            await runner.deliver(.serverStopping)
        }
    }

    @Test func anotherClientsExtensionAnswers404() async throws {
        let fixture = try await APIFixture()
        let (phone, _) = try await configure(fixture)
        try await fixture.withServer(calls: fixture.calls) { client in
            let token = try await client.token(fixture.other)
            try await client.send(
                .post, "/api/ver1.0/extension/\(phone.id)/callback/", token: token,
                body: #"{"src_num": ["101"], "dst_num": "102"}"#, contentType: "application/json")
                .expectError(.notFound, code: "not_found")
        }
    }
}
