import Access
import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

@Suite struct QueueAPITests {
    func addSound(_ fixture: APIFixture, _ client: ProvisionedClient) async throws -> Int64 {
        let audio = SoundAudio(filename: "prompt.wav", sourceFormat: "PCM 16-bit, 8000 Hz, mono", durationMilliseconds: 1, ulaw: [0xFF], alaw: [0xD5])
        return try await fixture.store.createSound(clientID: client.clientID, title: "prompt", audio: audio).id
    }

    @Test func aNewQueueShowsSPECsDefaultsAndAPartialPutChangesOnlyWhatIsGiven() async throws {
        let fixture = try await APIFixture()
        let sound = try await addSound(fixture, fixture.acme)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let created = try await client.sendJSON(
                .post, "/api/ver1.0/client/\(fixture.acme.clientID)/extension/", token: token, #"{"name":"200","type":"queue"}"#)
            let queueID = try #require(created.object["id"] as? Int64)
            _ = try await fixture.addExtension(fixture.acme, "101", .phone)
            _ = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555", extensionID: nil, comment: ""))
            let path = "/api/ver1.0/extension/\(queueID)/queue/"
            let defaults = try await client.get(path, token: token)
            #expect(defaults.status == .ok)
            #expect(defaults.text == #"{"agent_hangup_action":null,"agent_hangup_transfer_dst":null,"quality_rate_sound":0,"quality_rate_finish_sound":0,"quality_rate_max":5,"strategy":"round-robin","max_wait_time":0,"announce_sound":0,"announce_frequency":0,"exit_with_no_av_agents":true,"no_agent_timeout_transfer_dst":null,"ring_timeout":20,"retry_delay":5}"#)

            let rated = try await client.sendJSON(.put, path, token: token, #"{"agent_hangup_action":"quality_rate","quality_rate_max":9,"quality_rate_sound":\#(sound)}"#)
            #expect(rated.status == .ok, "\(rated.text)")
            #expect(rated.object["agent_hangup_action"] as? String == "quality_rate")
            #expect(rated.object["quality_rate_max"] as? Int64 == 9)
            #expect(rated.object["quality_rate_sound"] as? Int64 == sound)
            #expect(rated.object["strategy"] as? String == "round-robin")

            let everything = #"""
                {"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"101","quality_rate_finish_sound":\#(sound),
                 "strategy":"top-down","max_wait_time":300,"announce_sound":\#(sound),"announce_frequency":30,
                 "exit_with_no_av_agents":false,"no_agent_timeout_transfer_dst":"+4930555","ring_timeout":30,"retry_delay":10}
                """#
            let changed = try await client.sendJSON(.put, path, token: token, everything)
            #expect(changed.status == .ok, "\(changed.text)")
            let stored = try #require(try await fixture.store.queueOptions(clientID: fixture.acme.clientID, queueID: queueID))
            #expect(stored == QueueOptions(
                agentHangupAction: .transfer, agentHangupTransferDestination: "101", qualityRateSound: sound,
                qualityRateFinishSound: sound, qualityRateMax: 9, strategy: .topDown, maxWaitTime: 300, announceSound: sound,
                announceFrequency: 30, exitWithNoAvailableAgents: false, noAgentTimeoutTransferDestination: "+4930555", ringTimeout: 30,
                retryDelay: 10))
            #expect(try await client.get(path, token: token).text == changed.text)

            let cleared = try await client.sendJSON(.put, path, token: token, #"{"agent_hangup_action":null,"agent_hangup_transfer_dst":null,"no_agent_timeout_transfer_dst":null}"#)
            #expect(cleared.object["agent_hangup_action"] is NSNull)
            #expect(cleared.object["agent_hangup_transfer_dst"] is NSNull)
            #expect(cleared.object["no_agent_timeout_transfer_dst"] is NSNull)
            #expect(cleared.object["strategy"] as? String == "top-down")
        }
    }

    @Test func refusesEveryInvalidOptionNamingItAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        _ = try await fixture.addExtension(fixture.other, "777", .phone)
        _ = try await fixture.store.createDID(NewDID(clientID: fixture.other.clientID, number: "4940777", extensionID: nil, comment: ""))
        let foreignSound = try await addSound(fixture, fixture.other)
        let before = QueueOptions(agentHangupAction: .qualityRate, qualityRateMax: 7, strategy: .ringAll)
        try await fixture.store.updateQueueOptions(clientID: fixture.acme.clientID, queueID: queue.id, before)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/extension/\(queue.id)/queue/"
            let snapshot = try await client.get(path, token: token).text
            let refusals: [(String, HTTPResponse.Status, String)] = [
                (#"{"quality_rate_max":0}"#, .unprocessableContent, "quality_rate_max"),
                (#"{"quality_rate_max":10}"#, .unprocessableContent, "quality_rate_max"),
                (#"{"strategy":"agent-with-fewest-calls"}"#, .unprocessableContent, "strategy"),
                (#"{"agent_hangup_action":"voicemail"}"#, .unprocessableContent, "agent_hangup_action"),
                (#"{"agent_hangup_action":"transfer"}"#, .unprocessableContent, "agent_hangup_transfer_dst"),
                (#"{"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"555"}"#, .unprocessableContent, "agent_hangup_transfer_dst"),
                (#"{"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"777"}"#, .unprocessableContent, "agent_hangup_transfer_dst"),
                (#"{"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"200"}"#, .unprocessableContent, "agent_hangup_transfer_dst"),
                (#"{"no_agent_timeout_transfer_dst":"4940777"}"#, .unprocessableContent, "no_agent_timeout_transfer_dst"),
                (#"{"no_agent_timeout_transfer_dst":""}"#, .unprocessableContent, "no_agent_timeout_transfer_dst"),
                (#"{"quality_rate_sound":424242}"#, .unprocessableContent, "quality_rate_sound"),
                (#"{"quality_rate_sound":\#(foreignSound)}"#, .unprocessableContent, "quality_rate_sound"),
                (#"{"quality_rate_finish_sound":\#(foreignSound)}"#, .unprocessableContent, "quality_rate_finish_sound"),
                (#"{"announce_sound":-1}"#, .unprocessableContent, "announce_sound"),
                (#"{"max_wait_time":-1}"#, .unprocessableContent, "max_wait_time"),
                (#"{"announce_frequency":86401}"#, .unprocessableContent, "announce_frequency"),
                (#"{"strategy":"top-down","quality_rate_max":12}"#, .unprocessableContent, "quality_rate_max"),
                (#"{"ring_timeout":4}"#, .unprocessableContent, "ring_timeout"),
                (#"{"ring_timeout":601}"#, .unprocessableContent, "ring_timeout"),
                (#"{"retry_delay":0}"#, .unprocessableContent, "retry_delay"),
                (#"{"retry_delay":601}"#, .unprocessableContent, "retry_delay"),
                (#"{"exit_with_no_av_agents":1}"#, .badRequest, "exit_with_no_av_agents"),
                (#"{"quality_rate_max":"5"}"#, .badRequest, "quality_rate_max"),
                (#"{"quality_rate_max":true}"#, .badRequest, "quality_rate_max"),
                (#"{"quality_rate_max":4.5}"#, .badRequest, "quality_rate_max"),
                (#"{"sound_type":"music"}"#, .badRequest, "sound_type"),
            ]
            for (body, status, field) in refusals {
                try await client.sendJSON(.put, path, token: token, body)
                    .expectError(status, code: status == .badRequest ? "invalid_parameter" : "invalid_value", mentioning: field)
            }
            #expect(try await client.get(path, token: token).text == snapshot)
            #expect(try await fixture.store.queueOptions(clientID: fixture.acme.clientID, queueID: queue.id) == before)
        }
    }

    @Test func agentsAreAddedInRingOrderAndOnlyPhonesOfTheClientJoin() async throws {
        let fixture = try await APIFixture()
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let first = try await fixture.addExtension(fixture.acme, "101", .phone)
        let second = try await fixture.addExtension(fixture.acme, "102", .phone)
        let ivr = try await fixture.addExtension(fixture.acme, "099", .ivr)
        let foreign = try await fixture.addExtension(fixture.other, "103", .phone)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let path = "/api/ver1.0/extension/\(queue.id)/queue/agent/"
            #expect(try await client.get(path, token: token).array.isEmpty)
            let added = try await client.sendJSON(.post, path, token: token, #"{"extension_id":\#(second.id)}"#)
            #expect(added.status == .created, "\(added.text)")
            #expect(added.text == #"{"extension_id":\#(second.id),"name":"102","label":"","position":1}"#)
            #expect(try await client.sendJSON(.post, path, token: token, #"{"extension_id":\#(first.id)}"#).status == .created)

            let refusals: [(String, HTTPResponse.Status, String)] = [
                (#"{"extension_id":\#(second.id)}"#, .conflict, "conflict"),
                (#"{"extension_id":\#(ivr.id)}"#, .unprocessableContent, "invalid_value"),
                (#"{"extension_id":\#(queue.id)}"#, .unprocessableContent, "invalid_value"),
                (#"{"extension_id":\#(foreign.id)}"#, .unprocessableContent, "invalid_value"),
                (#"{"extension_id":999999}"#, .unprocessableContent, "invalid_value"),
                (#"{}"#, .unprocessableContent, "invalid_value"),
                (#"{"extension_id":"101"}"#, .badRequest, "invalid_parameter"),
            ]
            for (body, status, code) in refusals {
                try await client.sendJSON(.post, path, token: token, body).expectError(status, code: code, mentioning: "extension_id")
            }
            let agents = try await client.get(path, token: token).array
            #expect(agents.map { $0["name"] as? String } == ["102", "101"])
            #expect(agents.map { $0["position"] as? Int64 } == [1, 2])

            #expect(try await client.send(.delete, path + "\(second.id)", token: token).status == .noContent)
            try await client.send(.delete, path + "\(second.id)", token: token).expectError(.notFound, code: "not_found")
            try await client.send(.delete, path + "\(foreign.id)", token: token).expectError(.notFound, code: "not_found")
            let remaining = try await client.get(path, token: token).array
            #expect(remaining.map { $0["extension_id"] as? Int64 } == [first.id])
            #expect(remaining.map { $0["position"] as? Int64 } == [1])
        }
    }

    @Test func onlyTheClientsOwnQueuesHaveOptionsAndAgents() async throws {
        let fixture = try await APIFixture()
        let phone = try await fixture.addExtension(fixture.acme, "101", .phone)
        let foreignQueue = try await fixture.addExtension(fixture.other, "200", .queue)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            for id in [phone.id, foreignQueue.id, 999_999] {
                let path = "/api/ver1.0/extension/\(id)/queue/"
                try await client.get(path, token: token).expectError(.notFound, code: "not_found")
                try await client.sendJSON(.put, path, token: token, #"{"quality_rate_max":3}"#).expectError(.notFound, code: "not_found")
                try await client.get(path + "agent/", token: token).expectError(.notFound, code: "not_found")
                try await client.sendJSON(.post, path + "agent/", token: token, #"{"extension_id":\#(phone.id)}"#)
                    .expectError(.notFound, code: "not_found")
                try await client.send(.delete, path + "agent/\(phone.id)", token: token).expectError(.notFound, code: "not_found")
            }
            #expect(try await fixture.store.queueOptions(clientID: fixture.other.clientID, queueID: foreignQueue.id) == QueueOptions())
            #expect(try await fixture.store.queueAgents(clientID: fixture.other.clientID, queueID: foreignQueue.id) == [])
        }
    }

    @Test func callAPITokensReadQueuesButCannotChangeThem() async throws {
        let fixture = try await APIFixture()
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let phone = try await fixture.addExtension(fixture.acme, "101", .phone)
        _ = try await fixture.store.addQueueAgent(clientID: fixture.acme.clientID, queueID: queue.id, agentID: phone.id)
        try await fixture.withServer { client in
            let readOnly = try await fixture.callAPIToken(client)
            let path = "/api/ver1.0/extension/\(queue.id)/queue/"
            #expect(try await client.get(path, token: readOnly).status == .ok)
            #expect(try await client.get(path + "agent/", token: readOnly).array.count == 1)
            try await client.sendJSON(.put, path, token: readOnly, #"{"quality_rate_max":3}"#).expectError(.forbidden, code: "insufficient_access")
            try await client.sendJSON(.post, path + "agent/", token: readOnly, #"{"extension_id":\#(phone.id)}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.send(.delete, path + "agent/\(phone.id)", token: readOnly).expectError(.forbidden, code: "insufficient_access")
            #expect(try await fixture.store.queueConfiguration(clientID: fixture.acme.clientID, queueID: queue.id)?.options == QueueOptions())
            #expect(try await fixture.store.queueAgents(clientID: fixture.acme.clientID, queueID: queue.id)?.count == 1)
        }
    }
}
