import Access
import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

extension APIFixture {
    /// A trunk stored directly, as configuration made earlier.
    @discardableResult
    func addTrunk(_ client: ProvisionedClient, _ name: String, prefixes: [String], register: Bool = false) async throws -> Trunk {
        try await store.createTrunk(Trunk(
            id: 0, clientID: client.clientID, name: name, host: "sip.provider.example", port: 5060, transport: .udp, username: "acct",
            password: "provider-secret", register: register, registerExpires: 3600, fromDomain: "", prefixes: prefixes, position: 0,
            stripDigits: 0, addPrefix: "", callerID: nil, maxCalls: 0, status: .notRegistering, lastError: nil,
            createdAt: UnixTime(seconds: 0)))
    }
}

/// The provider trunks API (issue 11) over real HTTP.
@Suite struct TrunkAPITests {
    static let fields: Set = [
        "id", "name", "host", "port", "transport", "username", "has_password", "register", "register_expires", "from_domain",
        "prefixes", "position", "strip_digits", "add_prefix", "caller_id", "max_calls", "status", "last_error", "created_at",
    ]

    func trunksPath(_ client: ProvisionedClient) -> String { "/api/ver1.0/client/\(client.clientID)/trunk/" }

    @Test func createsListsShowsChangesAndDeletesTrunks() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        _ = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555", extensionID: nil, comment: ""))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = trunksPath(fixture.acme)
            let plain = try await client.sendJSON(.post, base, token: token, #"{"name":"IP trunk","host":"192.0.2.10"}"#)
            #expect(plain.status == .created, "\(plain.text)")
            #expect(Set(plain.object.keys) == Self.fields)
            #expect(plain.object["port"] as? Int == 5060 && plain.object["transport"] as? String == "udp")
            #expect(plain.object["username"] as? String == "" && plain.object["has_password"] as? Bool == false)
            #expect(plain.object["register"] as? Bool == false && plain.object["register_expires"] as? Int == 3600)
            #expect(plain.object["from_domain"] as? String == "" && (plain.object["prefixes"] as? [String]) == [])
            #expect(plain.object["position"] as? Int == 0 && plain.object["strip_digits"] as? Int == 0)
            #expect(plain.object["add_prefix"] as? String == "" && plain.object["caller_id"] is NSNull)
            #expect(plain.object["max_calls"] as? Int == 0)
            #expect(plain.object["status"] as? String == "not_registering" && plain.object["last_error"] is NSNull)
            #expect(LocalDateTime(parsing: plain.object["created_at"] as? String ?? "") != nil)
            let plainID = try #require(plain.object["id"] as? Int64)

            let full = try await client.sendJSON(.post, base, token: token, """
                {"name":"Provider","host":"[2001:db8::5]","port":5080,"transport":"tcp","username":"acme-4930555",
                 "password":"pr0vider-Secret","register":true,"register_expires":600,"from_domain":"sip.provider.example",
                 "prefixes":["+49","0049"],"strip_digits":1,"add_prefix":"+","caller_id":"+4930555","max_calls":30}
                """)
            #expect(full.status == .created, "\(full.text)")
            #expect(!full.text.contains("pr0vider-Secret"))
            #expect(full.object["has_password"] as? Bool == true)
            // An IPv6 address is kept without brackets (SIP adds them where it writes one).
            #expect(full.object["host"] as? String == "2001:db8::5")
            #expect(full.object["transport"] as? String == "tcp" && full.object["port"] as? Int == 5080)
            #expect(full.object["status"] as? String == "registering")
            #expect(full.object["caller_id"] as? String == "4930555")
            #expect((full.object["prefixes"] as? [String]) == ["+49", "0049"])
            // After the client's last trunk by default.
            #expect(full.object["position"] as? Int == 1)
            let id = try #require(full.object["id"] as? Int64)
            let stored = try #require(try await fixture.store.trunk(clientID: fixture.acme.clientID, id: id))
            #expect(stored.password == "pr0vider-Secret" && stored.registerExpires == 600 && stored.stripDigits == 1)

            let first = try await client.sendJSON(.post, base, token: token, #"{"name":"First","host":"sip.example.com","position":0}"#)
            let firstID = try #require(first.object["id"] as? Int64)
            let list = try await client.get(base, token: token)
            #expect(list.array.map { $0["id"] as? Int64 } == [plainID, firstID, id])
            #expect(!list.text.contains("pr0vider-Secret") && !list.text.contains("\"password\""))
            let shown = try await client.get(base + "\(id)", token: token)
            #expect(shown.status == .ok && shown.object["name"] as? String == "Provider" && !shown.text.contains("pr0vider-Secret"))

            // What routing alone changes keeps the registration's state.
            try await fixture.store.setTrunkStatus(id: id, .registered, lastError: nil)
            let routed = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"max_calls":5,"prefixes":[],"caller_id":null}"#)
            #expect(routed.status == .ok, "\(routed.text)")
            #expect(routed.object["status"] as? String == "registered" && routed.object["max_calls"] as? Int == 5)
            #expect(routed.object["caller_id"] is NSNull && (routed.object["prefixes"] as? [String]) == [])
            #expect(routed.object["username"] as? String == "acme-4930555" && routed.object["port"] as? Int == 5080)
            // A new password is a new registration; it is shown as has_password only.
            let rekeyed = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"password":"another-Secret"}"#)
            #expect(rekeyed.object["status"] as? String == "registering" && rekeyed.object["has_password"] as? Bool == true)
            #expect(!rekeyed.text.contains("another-Secret"))
            #expect(try await fixture.store.trunk(clientID: fixture.acme.clientID, id: id)?.password == "another-Secret")
            let off = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"register":false,"password":""}"#)
            #expect(off.object["status"] as? String == "not_registering" && off.object["has_password"] as? Bool == false)

            #expect(try await client.send(.delete, base + "\(id)", token: token).status == .noContent)
            try await client.get(base + "\(id)", token: token).expectError(.notFound, code: "not_found", mentioning: "trunk \(id)")
            #expect(try await fixture.store.trunks(clientID: fixture.acme.clientID).map(\.id) == [plainID, firstID])
        }
    }

    @Test func refusesInvalidTrunksNamingTheFieldAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        _ = try await fixture.store.createDID(NewDID(clientID: fixture.other.clientID, number: "4940777", extensionID: nil, comment: ""))
        let existing = try await fixture.addTrunk(fixture.acme, "main", prefixes: ["49"], register: true)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = trunksPath(fixture.acme)
            let long = String(repeating: "a", count: 63)
            let valid = #""name":"new","host":"sip.example.com""#
            let refusals: [(String, HTTPResponse.Status, String)] = [
                (#"{"host":"sip.example.com"}"#, .unprocessableContent, "name"),
                (#"{"name":"new"}"#, .unprocessableContent, "host"),
                (#"{"name":"","host":"sip.example.com"}"#, .unprocessableContent, "name"),
                (#"{"name":"\#(String(repeating: "n", count: 65))","host":"sip.example.com"}"#, .unprocessableContent, "name"),
                (#"{"name":"main","host":"sip.example.com"}"#, .conflict, "name"),
                (#"{"name":"new","host":"sip.example.com;transport=tcp"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"user@sip.example.com"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"<sip.example.com>"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"sip example.com"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"sip.example.com:5060"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"300.1.2.3"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"[sip.example.com]"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"2001:db8::1::5"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"-sip.example.com"}"#, .unprocessableContent, "host"),
                (#"{"name":"new","host":"\#([long, long, long, long].joined(separator: ".") + ".a")"}"#, .unprocessableContent, "host"),
                (#"{\#(valid),"port":0}"#, .unprocessableContent, "port"),
                (#"{\#(valid),"port":65536}"#, .unprocessableContent, "port"),
                (#"{\#(valid),"port":"5060"}"#, .badRequest, "port"),
                (#"{\#(valid),"transport":"tls"}"#, .unprocessableContent, "TLS toward providers is not supported yet"),
                (#"{\#(valid),"transport":"sctp"}"#, .unprocessableContent, "transport"),
                (#"{\#(valid),"register":true}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"username":"a@b"}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"username":"a b"}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"username":"a:b"}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"username":"a\"b"}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"username":"\#(String(repeating: "u", count: 65))"}"#, .unprocessableContent, "username"),
                (#"{\#(valid),"password":"\#(String(repeating: "p", count: 129))"}"#, .unprocessableContent, "password"),
                (#"{\#(valid),"password":null}"#, .badRequest, "password"),
                (#"{\#(valid),"register":"yes"}"#, .badRequest, "register"),
                (#"{\#(valid),"register_expires":59}"#, .unprocessableContent, "register_expires"),
                (#"{\#(valid),"register_expires":86401}"#, .unprocessableContent, "register_expires"),
                (#"{\#(valid),"from_domain":"bad domain"}"#, .unprocessableContent, "from_domain"),
                (#"{\#(valid),"prefixes":[49]}"#, .badRequest, "prefixes"),
                (#"{\#(valid),"prefixes":"49"}"#, .badRequest, "prefixes"),
                (#"{\#(valid),"prefixes":["49x"]}"#, .unprocessableContent, "prefixes"),
                (#"{\#(valid),"prefixes":["+"]}"#, .unprocessableContent, "prefixes"),
                (#"{\#(valid),"prefixes":["\#(String(repeating: "1", count: 21))"]}"#, .unprocessableContent, "prefixes"),
                (#"{\#(valid),"prefixes":[\#((1...51).map { "\"\($0)\"" }.joined(separator: ","))]}"#, .unprocessableContent, "prefixes"),
                (#"{\#(valid),"position":-1}"#, .unprocessableContent, "position"),
                (#"{\#(valid),"strip_digits":21}"#, .unprocessableContent, "strip_digits"),
                (#"{\#(valid),"add_prefix":"12345678901"}"#, .unprocessableContent, "add_prefix"),
                (#"{\#(valid),"add_prefix":"1+2"}"#, .unprocessableContent, "add_prefix"),
                (#"{\#(valid),"caller_id":"4940777"}"#, .unprocessableContent, "caller_id"),
                (#"{\#(valid),"caller_id":"4930999"}"#, .unprocessableContent, "caller_id"),
                (#"{\#(valid),"caller_id":4930555}"#, .badRequest, "caller_id"),
                (#"{\#(valid),"max_calls":-1}"#, .unprocessableContent, "max_calls"),
                (#"{\#(valid),"status":"registered"}"#, .badRequest, "status"),
                (#"{\#(valid),"has_password":true}"#, .badRequest, "has_password"),
            ]
            for (body, status, mention) in refusals {
                let reply = try await client.sendJSON(.post, base, token: token, body)
                reply.expectError(
                    status, code: status == .conflict ? "conflict" : status == .badRequest ? "invalid_parameter" : "invalid_value",
                    mentioning: mention)
            }
            #expect(try await fixture.store.trunks(clientID: fixture.acme.clientID) == [existing])

            let edits: [(String, HTTPResponse.Status, String)] = [
                (#"{"max_calls":3,"host":"a;b"}"#, .unprocessableContent, "host"),
                (#"{"max_calls":3,"username":""}"#, .unprocessableContent, "username"),
                (#"{"max_calls":3,"transport":"tls"}"#, .unprocessableContent, "transport"),
                (#"{"max_calls":3,"name":""}"#, .unprocessableContent, "name"),
                (#"{"max_calls":3,"caller_id":"4940777"}"#, .unprocessableContent, "caller_id"),
                (#"{"max_calls":3,"id":7}"#, .badRequest, "id"),
            ]
            for (body, status, field) in edits {
                try await client.sendJSON(.put, base + "\(existing.id)", token: token, body)
                    .expectError(status, code: status == .badRequest ? "invalid_parameter" : "invalid_value", mentioning: field)
            }
            let other = try await client.sendJSON(.post, base, token: token, #"{"name":"other","host":"sip.example.com"}"#)
            let otherID = try #require(other.object["id"] as? Int64)
            try await client.sendJSON(.put, base + "\(otherID)", token: token, #"{"name":"main","max_calls":3}"#)
                .expectError(.conflict, code: "conflict", mentioning: "name")
            #expect(try await fixture.store.trunk(clientID: fixture.acme.clientID, id: existing.id) == existing)
            #expect(try await fixture.store.trunk(clientID: fixture.acme.clientID, id: otherID)?.maxCalls == 0)
        }
    }

    /// Once deleted, the number could go to another client, whose number the trunk would show.
    /// A NUL character (`\u0000`) in any field of a JSON body is refused naming the field, on
    /// both databases (PostgreSQL's text cannot hold one; schemathesis found the 500 it gave).
    @Test func aNULCharacterInAFieldIsRefusedNamingItAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = trunksPath(fixture.acme)
            let created = try await client.sendJSON(.post, base, token: token, #"{"name":"Carrier","host":"192.0.2.10"}"#)
            let id = try #require(created.object["id"] as? Int64)
            for (method, path, body, field) in [
                (HTTPRequest.Method.post, base, #"{"name":"Other","host":"192.0.2.10","password":"a\u0000b"}"#, "password"),
                (.put, base + "\(id)", #"{"name":"Car\u0000rier"}"#, "name"),
                (.put, base + "\(id)", #"{"prefixes":["+49","0\u0000"]}"#, "prefixes"),
            ] {
                let refused = try await client.sendJSON(method, path, token: token, body)
                #expect(refused.status == .unprocessableContent, "\(refused.text)")
                #expect(refused.text.contains(field) && refused.text.contains("NUL"), "\(refused.text)")
            }
            let trunks = try await fixture.store.trunks(clientID: fixture.acme.clientID)
            #expect(trunks.map(\.name) == ["Carrier"] && trunks[0].prefixes.isEmpty)
            let client = try await client.sendJSON(
                .put, "/api/ver1.0/client/\(fixture.acme.clientID)", token: token, #"{"name":"Ac\u0000me"}"#)
            #expect(client.status == .unprocessableContent && client.text.contains("name"), "\(client.text)")
        }
    }

    @Test func aDIDStaysWhileATrunkShowsItAsCallerID() async throws {
        let fixture = try await APIFixture()
        let did = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555", extensionID: nil, comment: ""))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let created = try await client.sendJSON(
                .post, trunksPath(fixture.acme), token: token, #"{"name":"Provider","host":"sip.example.com","caller_id":"4930555"}"#)
            let id = try #require(created.object["id"] as? Int64)
            let didPath = "/api/ver1.0/client/\(fixture.acme.clientID)/did/\(did.id)"
            try await client.send(.delete, didPath, token: token)
                .expectError(.conflict, code: "conflict", mentioning: "trunk Provider (as its caller_id)")
            #expect(try await fixture.store.did(number: "4930555") == did)
            let cleared = try await client.sendJSON(.put, trunksPath(fixture.acme) + "\(id)", token: token, #"{"caller_id":null}"#)
            #expect(cleared.object["caller_id"] is NSNull)
            #expect(try await client.send(.delete, didPath, token: token).status == .noContent)
        }
    }

    @Test func anotherClientsTrunksAnswer404AndCallAPITokensMayOnlyRead() async throws {
        let fixture = try await APIFixture()
        let foreign = try await fixture.addTrunk(fixture.other, "theirs", prefixes: [])
        let mine = try await fixture.addTrunk(fixture.acme, "ours", prefixes: [])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = trunksPath(fixture.acme)
            try await client.get(trunksPath(fixture.other), token: token).expectError(.notFound, code: "not_found")
            let reply = try await client.get(base + "\(foreign.id)", token: token)
            reply.expectError(.notFound, code: "not_found")
            let unknown = try await client.get(base + "999999", token: token)
            #expect(reply.object["error_description"] as? String == "trunk \(foreign.id) not found")
            #expect(unknown.object["error_description"] as? String == "trunk 999999 not found")
            #expect(!reply.text.contains("theirs"))
            try await client.sendJSON(.put, base + "\(foreign.id)", token: token, #"{"max_calls":1}"#).expectError(.notFound, code: "not_found")
            try await client.send(.delete, base + "\(foreign.id)", token: token).expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.trunks(clientID: fixture.other.clientID) == [foreign])

            let readOnly = try await fixture.callAPIToken(client)
            let listed = try await client.get(base, token: readOnly)
            #expect(listed.array.map { $0["id"] as? Int64 } == [mine.id])
            #expect(!listed.text.contains("provider-secret"))
            #expect(try await client.get(base + "\(mine.id)", token: readOnly).status == .ok)
            try await client.sendJSON(.post, base, token: readOnly, #"{"name":"x","host":"sip.example.com"}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.sendJSON(.put, base + "\(mine.id)", token: readOnly, #"{"max_calls":1}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.send(.delete, base + "\(mine.id)", token: readOnly).expectError(.forbidden, code: "insufficient_access")
            #expect(try await fixture.store.trunks(clientID: fixture.acme.clientID) == [mine])
        }
    }

    /// Queues, voice menus and callbacks may send a call to an outside number (issue 11), but only
    /// to one a trunk of the client carries: anything else could never be dialled.
    @Test func anOutsideNumberIsATransferDestinationOnlyWhenATrunkOfTheClientCarriesIt() async throws {
        let fixture = try await APIFixture()
        let clientID = fixture.acme.clientID
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let phone = try await fixture.addExtension(fixture.acme, "101", .phone)
        let menu = try await fixture.addExtension(fixture.acme, "099", .ivr)
        let context = try await fixture.store.createIVRContext(clientID: clientID, ivrID: menu.id, .init(name: "main"))
        let outside = "+441632960123"
        let bodies: [(HTTPRequest.Method, String, String, String)] = [
            (.put, "/api/ver1.0/extension/\(queue.id)/queue/", #"{"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"\#(outside)"}"#,
             "agent_hangup_transfer_dst"),
            (.put, "/api/ver1.0/extension/\(queue.id)/queue/", #"{"no_agent_timeout_transfer_dst":"\#(outside)"}"#, "no_agent_timeout_transfer_dst"),
            (.put, "/api/ver1.0/extension/\(menu.id)/ivr/", #"{"lifetime_exp_action":"transfer","lifetime_exp_transfer_dst":"\#(outside)"}"#,
             "lifetime_exp_transfer_dst"),
            (.post, "/api/ver1.0/extension/\(menu.id)/ivr/context/\(context.id)/options/start/rules/",
             #"{"action":"transfer","transfer_dst":"\#(outside)"}"#, "transfer_dst"),
            (.post, "/api/ver1.0/extension/\(phone.id)/callback/", #"{"src_num":["101"],"dst_num":"\#(outside)"}"#, "dst_num"),
            (.post, "/api/ver1.0/extension/\(phone.id)/callback/",
             #"{"src_num":["101"],"dst_num":"101","transfer_after_src_hangup":"\#(outside)"}"#, "transfer_after_src_hangup"),
            (.post, "/api/ver1.0/extension/\(phone.id)/callback/",
             #"{"src_num":["101"],"dst_num":"101","transfer_after_dst_hangup":"\#(outside)"}"#, "transfer_after_dst_hangup"),
        ]
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            func expectRefused(_ situation: String) async throws {
                for (method, path, body, field) in bodies {
                    let reply = try await client.sendJSON(method, path, token: token, body)
                    #expect(reply.status == .unprocessableContent, "\(situation): \(body) → \(reply.text)")
                    let description = reply.object["error_description"] as? String ?? ""
                    #expect(description.hasPrefix("\(field): "), "\(situation): \(description)")
                    #expect(description.contains("not a number of this client, and no trunk of the client carries it"), "\(description)")
                }
                #expect(try await fixture.store.queueOptions(clientID: clientID, queueID: queue.id) == QueueOptions(), "\(situation)")
                #expect(try await fixture.store.ivrOptions(clientID: clientID, ivrID: menu.id)?.lifetimeExpiryTransferDestination == nil)
            }
            try await expectRefused("no trunk")
            try await fixture.addTrunk(fixture.other, "theirs", prefixes: [])
            try await expectRefused("another client's trunk carries it")
            try await fixture.addTrunk(fixture.acme, "Germany", prefixes: ["+49", "0049"])
            try await expectRefused("the client's trunk carries other numbers")

            try await fixture.addTrunk(fixture.acme, "UK", prefixes: ["44"])
            for (method, path, body, field) in bodies {
                let reply = try await client.sendJSON(method, path, token: token, body)
                if path.hasSuffix("/callback/") {
                    // Valid: refused only because these tests connect no telephony.
                    reply.expectError(.serviceUnavailable, code: "telephony_unavailable")
                } else {
                    #expect([.ok, .created].contains(reply.status), "\(field): \(reply.text)")
                    #expect(reply.object[field] as? String == outside, "\(reply.text)")
                }
            }
            // A trunk for everything carries any outside number, but what is no number stays refused.
            try await client.sendJSON(.put, "/api/ver1.0/extension/\(queue.id)/queue/", token: token, #"{"no_agent_timeout_transfer_dst":"+1 555"}"#)
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "no trunk of the client carries it")
            try await fixture.addTrunk(fixture.acme, "everything", prefixes: [])
            try await client.sendJSON(.put, "/api/ver1.0/extension/\(queue.id)/queue/", token: token, #"{"no_agent_timeout_transfer_dst":"+1 555"}"#)
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "no_agent_timeout_transfer_dst")
            let anywhere = try await client.sendJSON(
                .put, "/api/ver1.0/extension/\(queue.id)/queue/", token: token, #"{"no_agent_timeout_transfer_dst":"0015550100"}"#)
            #expect(anywhere.object["no_agent_timeout_transfer_dst"] as? String == "0015550100", "\(anywhere.text)")
        }
    }
}
