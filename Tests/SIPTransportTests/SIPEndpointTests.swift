import NIOCore
import SIP
import SIPTransport
import Testing

/// Over real UDP sockets on 127.0.0.1. Nothing here depends on how long anything takes: the
/// timers are short only so that the tests finish soon, and a hang fails at the time limit.
@Suite(.timeLimit(.minutes(1))) struct SIPEndpointUDPTests {
    @Test func aRetransmittedRequestReachesTheUserOnceAndGetsTheSameAnswer() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()

        let options = request("OPTIONS", branch: "z9hG4bK-options-1", port: phone.port)
        try await phone.send(options, to: server)
        let event = try #require(await events.next())
        guard case .request(let received, let peer) = event else { Issue.record("not a request: \(event)"); return }
        #expect(received.method == "OPTIONS")
        #expect(peer.address.port == phone.port)
        #expect(
            received.headers.values("Via").first == "SIP/2.0/UDP 127.0.0.1:\(phone.port);rport=\(phone.port);branch=z9hG4bK-options-1;received=127.0.0.1",
            "RFC 3581: the empty rport is filled in and received added")

        await endpoint.respond(received.response(status: 200, reason: "OK", toTag: "srv"))
        let first = try #require(try await answers.next())
        #expect(first.status == 200)
        #expect(first.headers.values("Via").first?.contains("rport=\(phone.port)") == true)

        try await phone.send(options, to: server)
        #expect(try await answers.next() == first, "the retransmission is answered from the transaction")

        try await phone.send(request("OPTIONS", branch: "z9hG4bK-options-2", cseq: 2, port: phone.port), to: server)
        #expect(try #require(await events.next()).message.headers["CSeq"] == "2 OPTIONS", "the retransmission never reached the user")
        await endpoint.stop()
        await phone.close()
    }

    @Test func receivedIsAddedWhenTheViaHostIsNotTheSource() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        var events = user.events.makeAsyncIterator()
        let text = request("OPTIONS", branch: "z9hG4bK-host", port: phone.port).replacingOccurrences(
            of: "127.0.0.1:\(phone.port);rport;", with: "phone.invalid:5062;")
        try await phone.send(text, to: await endpoint.localAddress)
        let received = try #require(await events.next()).message
        #expect(received.headers.values("Via").first == "SIP/2.0/UDP phone.invalid:5062;branch=z9hG4bK-host;received=127.0.0.1")
        await endpoint.stop()
        await phone.close()
    }

    @Test func anAnswerIsRetransmittedUntilItsAckWhichReachesTheUser() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()

        try await phone.send(request("INVITE", branch: "z9hG4bK-invite", port: phone.port), to: server)
        #expect(try await answers.next()?.status == 100, "Trying at once")
        let invite = try #require(await events.next()).message
        #expect(invite.method == "INVITE")
        await endpoint.respond(invite.response(status: 180, reason: "Ringing", toTag: "srv"))
        await endpoint.respond(invite.response(status: 200, reason: "OK", toTag: "srv"))
        #expect(try await answers.next()?.status == 180)
        let ok = try #require(try await answers.next())
        #expect(ok.status == 200)
        #expect(try await answers.next() == ok, "retransmitted while there is no ACK")

        let ack = request("ACK", branch: "z9hG4bK-ack", port: phone.port, toTag: "srv")
        try await phone.send(ack, to: server)
        let delivered = try #require(await events.next()).message
        #expect(delivered.method == "ACK")
        try await phone.send(ack, to: server)
        try await phone.send(request("BYE", branch: "z9hG4bK-bye", cseq: 2, port: phone.port, toTag: "srv"), to: server)
        #expect(try #require(await events.next()).message.method == "BYE", "the repeated ACK is not delivered again")
        await endpoint.stop()
        await phone.close()
    }

    /// A flood of one call's requests while its user is busy: the lane holds
    /// `SIPEndpoint.laneCapacity`, and each request that does not fit is answered 503 with
    /// Retry-After at once (RFC 3261 §21.5.4) instead of queueing without bound.
    @Test func requestsBeyondALanesCapacityAreAnswered503() async throws {
        let user = SlowUser()
        let endpoint = try await startEndpoint(serving: user)
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var arrived = user.arrived.makeAsyncIterator()
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-flood-0", port: phone.port), to: server)
        #expect(await arrived.next()?.method == "OPTIONS", "the user is now busy with the first")

        let extra = 20
        var answers = MessageReader(datagrams: phone.received)
        for index in 1...(SIPEndpoint.laneCapacity + extra) {
            try await phone.send(request("OPTIONS", branch: "z9hG4bK-flood-\(index)", port: phone.port), to: server)
        }
        for _ in 0..<extra {
            let refused = try #require(try await answers.next())
            #expect(refused.status == 503 && refused.headers["Retry-After"] != nil)
        }
        user.releaseOne()
        await endpoint.stop()
        await phone.close()
    }

    /// A proxy's OPTIONS probe reaches the user while a call's request waits — here one of the
    /// same Call-ID, whose lane it would otherwise have shared (issue 12: probes queued behind
    /// busy calls made Kamailio take every node for dead).
    @Test(.timeLimit(.minutes(1))) func anOptionsProbeDoesNotWaitBehindABusyCall() async throws {
        let user = SlowUser(holding: ["INVITE"])
        let endpoint = try await startEndpoint(serving: user)
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var arrived = user.arrived.makeAsyncIterator()
        try await phone.send(request("INVITE", branch: "z9hG4bK-busy", callID: "busy-call", port: phone.port), to: server)
        #expect(await arrived.next()?.method == "INVITE", "the user is now busy with the INVITE")
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-probe", callID: "busy-call", port: phone.port), to: server)
        #expect(await arrived.next()?.method == "OPTIONS", "delivered while the INVITE is still being handled")
        user.releaseOne()
        await endpoint.stop()
        await phone.close()
    }

    @Test func aBusyUserDoesNotHoldUpTheTransactions() async throws {
        let user = SlowUser()
        let endpoint = try await startEndpoint(serving: user)
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var arrived = user.arrived.makeAsyncIterator()

        let invite = request("INVITE", branch: "z9hG4bK-slow", port: phone.port)
        try await phone.send(invite, to: server)
        #expect(try await answers.next()?.status == 100)
        #expect(await arrived.next()?.method == "INVITE")
        try await phone.send(invite, to: server)
        #expect(try await answers.next()?.status == 100, "answered again while the user is still busy with the first")
        user.releaseOne()
        await endpoint.stop()
        await phone.close()
    }

    @Test func anAnswerWithoutAckIsReported() async throws {
        let (endpoint, user) = try await startEndpoint(t1: .milliseconds(5))
        let phone = try await UDPTestPeer()
        var events = user.events.makeAsyncIterator()
        try await phone.send(request("INVITE", branch: "z9hG4bK-noack", port: phone.port), to: await endpoint.localAddress)
        let invite = try #require(await events.next()).message
        let ok = invite.response(status: 200, reason: "OK", toTag: "srv")
        await endpoint.respond(ok)
        let event = try #require(await events.next())
        guard case .notAcknowledged(let response) = event else { Issue.record("expected notAcknowledged, got \(event)"); return }
        #expect(response == ok)
        await endpoint.stop()
        await phone.close()
    }

    @Test func aCancelIsAnsweredAndReported() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()

        try await phone.send(request("INVITE", branch: "z9hG4bK-c", port: phone.port), to: server)
        #expect(try await answers.next()?.status == 100)
        let invite = try #require(await events.next()).message
        try await phone.send(request("CANCEL", branch: "z9hG4bK-c", port: phone.port), to: server)
        let cancelOK = try #require(try await answers.next())
        #expect(cancelOK.status == 200)
        #expect(cancelOK.headers["CSeq"] == "1 CANCEL")
        let event = try #require(await events.next())
        guard case .cancelled(let cancelled) = event else { Issue.record("expected cancelled, got \(event)"); return }
        #expect(cancelled == invite)

        await endpoint.respond(invite.response(status: 487, reason: "Request Terminated", toTag: "srv"))
        #expect(try await answers.next()?.status == 487)
        try await phone.send(request("ACK", branch: "z9hG4bK-c", port: phone.port, toTag: "srv"), to: server)
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-after", cseq: 2, port: phone.port), to: server)
        #expect(try #require(await events.next()).message.method == "OPTIONS", "the ACK of the 487 stays in its transaction")
        await endpoint.stop()
        await phone.close()
    }

    @Test func aCancelAfterTheFinalResponseIsAnsweredButNotReported() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()
        try await phone.send(request("INVITE", branch: "z9hG4bK-late", port: phone.port), to: server)
        #expect(try await answers.next()?.status == 100)
        let invite = try #require(await events.next()).message
        await endpoint.respond(invite.response(status: 486, reason: "Busy Here", toTag: "srv"))
        #expect(try await answers.next()?.status == 486)
        try await phone.send(request("CANCEL", branch: "z9hG4bK-late", port: phone.port), to: server)
        var cancelAnswer = try #require(try await answers.next())
        while cancelAnswer.status == 486 { cancelAnswer = try #require(try await answers.next()) }  // timer G
        #expect(cancelAnswer.status == 200)
        #expect(cancelAnswer.headers["CSeq"] == "1 CANCEL")
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-after", cseq: 2, port: phone.port), to: server)
        #expect(try #require(await events.next()).message.method == "OPTIONS", "nothing left to cancel")
        await endpoint.stop()
        await phone.close()
    }

    @Test func aDatagramLargerThanNIOsDefaultBufferArrivesWhole() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        var events = user.events.makeAsyncIterator()
        let padding = String(repeating: "p", count: 6_000)
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-big", port: phone.port, extraHeaders: "X-Padding: \(padding)\r\n"), to: await endpoint.localAddress)
        #expect(try #require(await events.next()).message.headers["X-Padding"] == padding)
        await endpoint.stop()
        await phone.close()
    }

    @Test func aCancelForNothingGets481() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()
        try await phone.send(request("CANCEL", branch: "z9hG4bK-none", port: phone.port), to: await endpoint.localAddress)
        #expect(try await answers.next()?.status == 481)
        try await phone.send(request("OPTIONS", branch: "z9hG4bK-after", cseq: 2, port: phone.port), to: await endpoint.localAddress)
        #expect(try #require(await events.next()).message.method == "OPTIONS", "the CANCEL never reached the user")
        await endpoint.stop()
        await phone.close()
    }

    @Test func garbageIsDroppedAndAReadableMalformedRequestGets400() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await UDPTestPeer()
        let server = await endpoint.localAddress
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()

        try await phone.send([0xFF, 0x00, 0x13, 0x37] + Array("\r\n\r\nnot sip".utf8), to: server)
        let malformed = request("OPTIONS", branch: "z9hG4bK-bad", port: phone.port)
            .replacingOccurrences(of: "Content-Length: 0", with: "Content-Length: zero")
        try await phone.send(malformed, to: server)
        let refusal = try #require(try await answers.next())
        #expect(refusal.startLine == .response(status: 400, reason: "malformed Content-Length"), "the garbage got nothing")
        #expect(refusal.headers["Call-ID"] == "call-1")

        try await phone.send(request("OPTIONS", branch: "z9hG4bK-good", cseq: 2, port: phone.port), to: server)
        #expect(try #require(await events.next()).message.headers["CSeq"] == "2 OPTIONS", "still working, and nothing malformed was delivered")
        await endpoint.stop()
        await phone.close()
    }

    @Test func aClientTransactionYieldsTheProvisionalThenTheFinalResponse() async throws {
        let (endpoint, _) = try await startEndpoint()
        let agent = try await UDPTestPeer()
        var requests = MessageReader(datagrams: agent.received)
        var invite = try SIPParser.parse(Array(request("INVITE", branch: "unused", port: 1).utf8))
        invite.headers.set("Via", endpoint.newVia(transport: .udp))
        let responses = await endpoint.send(request: invite, to: agent.peer)

        let arrived = try #require(try await requests.next())
        #expect(arrived.method == "INVITE")
        #expect(arrived.headers["Via"]?.hasPrefix("SIP/2.0/UDP 127.0.0.1:\(await endpoint.localAddress.port!);branch=z9hG4bK") == true)
        let server = await endpoint.localAddress
        for status in [100, 200] {
            try await agent.send(arrived.response(status: status, reason: "R", toTag: "agent").serialized(), to: server)
        }
        var iterator = responses.makeAsyncIterator()
        #expect(await iterator.next()?.status == 100)
        #expect(await iterator.next()?.status == 200)
        await endpoint.stop()
        #expect(await iterator.next() == nil)
        await agent.close()
    }

    @Test func aRejectionIsAcknowledgedByTheTransaction() async throws {
        let (endpoint, _) = try await startEndpoint()
        let agent = try await UDPTestPeer()
        var requests = MessageReader(datagrams: agent.received)
        var invite = try SIPParser.parse(Array(request("INVITE", branch: "unused", port: 1).utf8))
        invite.headers.set("Via", endpoint.newVia(transport: .udp))
        let responses = await endpoint.send(request: invite, to: agent.peer)
        let arrived = try #require(try await requests.next())
        try await agent.send(arrived.response(status: 486, reason: "Busy Here", toTag: "agent").serialized(), to: await endpoint.localAddress)
        var received: [Int] = []
        for await response in responses { received.append(response.status ?? 0) }
        #expect(received == [486], "the stream ends at a final non-2xx")
        var ack: SIPMessage?
        while ack == nil, let message = try await requests.next() { if message.method == "ACK" { ack = message } }
        #expect(ack?.headers["Via"] == invite.headers["Via"])
        #expect(ack?.headers["To"] == "<sip:200@127.0.0.1>;tag=agent")
        await endpoint.stop()
        await agent.close()
    }

    @Test func aClientTransactionWithoutAnswerYields408() async throws {
        let (endpoint, _) = try await startEndpoint(t1: .milliseconds(5))
        let silent = try await UDPTestPeer()
        var options = try SIPParser.parse(Array(request("OPTIONS", branch: "unused", port: 1).utf8))
        options.headers.set("Via", endpoint.newVia(transport: .udp))
        var received: [Int] = []
        for await response in await endpoint.send(request: options, to: silent.peer) { received.append(response.status ?? 0) }
        #expect(received == [408])
        await endpoint.stop()
        await silent.close()
    }

    @Test func aSendTheSocketCannotMakeDoesNotLeaveTheEndpointDeaf() async throws {
        // A port below the kernel's ephemeral range (32768–60999), so that while the socket is
        // closed no other socket of the parallel tests, bound to port 0, can be given it.
        let (endpoint, user) = try await startEndpoint(t1: .milliseconds(5), port: 26_290)
        // A socket bound to loopback cannot send elsewhere (EINVAL): NIO closes it.
        var options = try SIPParser.parse(Array(request("OPTIONS", branch: "unused", port: 1).utf8))
        options.headers.set("Via", endpoint.newVia(transport: .udp))
        let unreachable = SIPPeer(transport: .udp, address: try SocketAddress(ipAddress: "10.255.255.1", port: 5060))
        for await _ in await endpoint.send(request: options, to: unreachable) {}

        // Requests still arrive, on the same port, and are answered. The socket may still be
        // being opened again when the failed request's transaction has ended (it ends at its
        // transport's failure): the phone retransmits, as a phone over UDP does (RFC 3261
        // §17.1.2.2), and the transaction layer hands the request on once.
        let phone = try await UDPTestPeer()
        var answers = MessageReader(datagrams: phone.received)
        var events = user.events.makeAsyncIterator()
        let server = await endpoint.localAddress
        let after = request("OPTIONS", branch: "z9hG4bK-after", callID: "after-failed-send", port: phone.port)
        let retransmitting = Task {
            while !Task.isCancelled {
                try await phone.send(after, to: server)
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let received = try #require(await events.next()).message
        retransmitting.cancel()
        #expect(received.headers["Call-ID"] == "after-failed-send")
        await endpoint.respond(received.response(status: 200, reason: "OK", toTag: "srv"))
        #expect(try await answers.next()?.status == 200)
        await endpoint.stop()
        await phone.close()
    }
}

/// The same over TCP: responses on the request's connection, framing across segments.
@Suite(.timeLimit(.minutes(1))) struct SIPEndpointTCPTests {
    @Test func requestsAreFramedAcrossAndWithinSegments() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var answers = MessageReader(stream: phone.received)
        var events = user.events.makeAsyncIterator()

        let one = request("OPTIONS", branch: "z9hG4bK-t1", callID: "tcp-1", port: phone.port, transport: "TCP")
        let two = request("OPTIONS", branch: "z9hG4bK-t2", callID: "tcp-2", port: phone.port, transport: "TCP")
        try await phone.send(one + two)
        var requests: [SIPMessage] = []
        for _ in 0..<2 {
            let event = try #require(await events.next())
            guard case .request(let received, let peer) = event else { Issue.record("not a request: \(event)"); return }
            #expect(peer.transport == .tcp)
            requests.append(received)
        }
        // Different calls may reach the user in either order.
        #expect(Set(requests.compactMap { $0.headers["Call-ID"] }) == ["tcp-1", "tcp-2"])
        for received in requests {
            await endpoint.respond(received.response(status: 200, reason: "OK", toTag: "srv"))
            #expect(try await answers.next()?.headers["Call-ID"] == received.headers["Call-ID"], "on the request's connection")
        }

        let three = Array(request("OPTIONS", branch: "z9hG4bK-t3", callID: "tcp-3", port: phone.port, transport: "TCP").utf8)
        try await phone.send(Array(three[..<40]))
        try await phone.send(Array(three[40..<150]))
        try await phone.send(Array(three[150...]))
        #expect(try #require(await events.next()).message.headers["Call-ID"] == "tcp-3")
        await endpoint.stop()
        await phone.close()
    }

    @Test func anInviteIsAnsweredAndItsAckDelivered() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var answers = MessageReader(stream: phone.received)
        var events = user.events.makeAsyncIterator()
        try await phone.send(request("INVITE", branch: "z9hG4bK-ti", port: phone.port, transport: "TCP"))
        #expect(try await answers.next()?.status == 100)
        let invite = try #require(await events.next()).message
        await endpoint.respond(invite.response(status: 200, reason: "OK", toTag: "srv"))
        #expect(try await answers.next()?.status == 200)
        try await phone.send(request("ACK", branch: "z9hG4bK-ta", port: phone.port, transport: "TCP", toTag: "srv"))
        #expect(try #require(await events.next()).message.method == "ACK")
        await endpoint.stop()
        await phone.close()
    }

    @Test func aFramingErrorGets400AndClosesTheConnection() async throws {
        let (endpoint, user) = try await startEndpoint()
        let phone = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var answers = MessageReader(stream: phone.received)
        let unframed = request("OPTIONS", branch: "z9hG4bK-nolength", port: phone.port, transport: "TCP")
            .replacingOccurrences(of: "Content-Length: 0\r\n", with: "")
        try await phone.send(unframed)
        #expect(try await answers.next()?.startLine == .response(status: 400, reason: "missing Content-Length header"))
        #expect(try await answers.next() == nil, "closed")

        let again = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var events = user.events.makeAsyncIterator()
        try await again.send(request("OPTIONS", branch: "z9hG4bK-next", callID: "tcp-next", port: again.port, transport: "TCP"))
        #expect(try #require(await events.next()).message.headers["Call-ID"] == "tcp-next")
        await endpoint.stop()
        await again.close()
    }

    /// A connection that sends nothing, and one that stops half-way through a message, are
    /// closed by their timeouts; one that carries a registration outlives them. (8 s: the 200 to
    /// the REGISTER must leave before the registered connection would idle out, and the whole
    /// suite runs in parallel on two cores.)
    @Test func idleAndHalfFinishedConnectionsAreClosedButARegisteredOneStays() async throws {
        let (endpoint, user) = try await startEndpoint(
            connectionLimits: SIPConnectionLimits(idleTimeout: .seconds(8), partialMessageTimeout: .seconds(8)))
        var events = user.events.makeAsyncIterator()
        let registered = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var registeredAnswers = MessageReader(stream: registered.received)
        try await registered.send(request(
            "REGISTER", branch: "z9hG4bK-reg", callID: "tcp-reg", port: registered.port, transport: "TCP",
            extraHeaders: "Contact: <sip:101@127.0.0.1>\r\n"))
        let received = try #require(await events.next()).message
        var ok = received.response(status: 200, reason: "OK", toTag: "srv")
        ok.headers.add("Contact", "<sip:101@127.0.0.1:\(registered.port);transport=tcp>;expires=60")
        await endpoint.respond(ok)
        #expect(try await registeredAnswers.next()?.status == 200)

        let idle = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var idleAnswers = MessageReader(stream: idle.received)
        let halfway = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var halfwayAnswers = MessageReader(stream: halfway.received)
        try await halfway.send("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1")
        #expect(try await idleAnswers.next() == nil, "the idle connection is closed")
        #expect(try await halfwayAnswers.next() == nil, "the half-finished message's connection is closed")

        // Both are gone, past the idle timeout: the registered phone's connection still carries.
        try await registered.send(request("OPTIONS", branch: "z9hG4bK-after", callID: "tcp-after", port: registered.port, transport: "TCP"))
        #expect(try #require(await events.next()).message.headers["Call-ID"] == "tcp-after")
        await endpoint.stop()
        await registered.close()
    }

    @Test func connectionsBeyondTheCapPerAddressAreClosedAtOnce() async throws {
        let (endpoint, user) = try await startEndpoint(connectionLimits: SIPConnectionLimits(maximumConnectionsPerAddress: 2))
        var events = user.events.makeAsyncIterator()
        // Each connection is known accepted (its request reached the user) before the next opens:
        // accepted connections become active on different event loops, in no fixed order.
        var open: [TCPTestConnection] = []
        for index in 0..<2 {
            let connection = try await TCPTestConnection.connect(to: await endpoint.localAddress)
            try await connection.send(request("OPTIONS", branch: "z9hG4bK-cap\(index)", callID: "cap-\(index)", port: connection.port, transport: "TCP"))
            #expect(try #require(await events.next()).message.headers["Call-ID"] == "cap-\(index)")
            open.append(connection)
        }
        let third = try await TCPTestConnection.connect(to: await endpoint.localAddress)
        var thirdAnswers = MessageReader(stream: third.received)
        #expect(try await thirdAnswers.next() == nil, "closed at once")
        let (first, second) = (open[0], open[1])
        await endpoint.stop()
        await first.close()
        await second.close()
    }

    @Test func aClientTransactionConnectsAndReadsTheAnswerFromTheConnection() async throws {
        let (endpoint, _) = try await startEndpoint()
        let agent = try await TCPTestListener()
        var options = try SIPParser.parse(Array(request("OPTIONS", branch: "unused", port: 1, transport: "TCP").utf8))
        options.headers.set("Via", endpoint.newVia(transport: .tcp))
        let responses = await endpoint.send(request: options, to: agent.peer)

        var connections = agent.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        var requests = MessageReader(stream: connection.received)
        let arrived = try #require(try await requests.next())
        #expect(arrived.method == "OPTIONS")
        try await connection.send(arrived.response(status: 200, reason: "OK", toTag: "agent").serialized())
        var received: [Int] = []
        for await response in responses { received.append(response.status ?? 0) }
        #expect(received == [200])
        await endpoint.stop()
        await agent.close()
    }

    @Test func aConnectionClosedUnderATransactionYields503() async throws {
        let (endpoint, _) = try await startEndpoint()
        let agent = try await TCPTestListener()
        var options = try SIPParser.parse(Array(request("OPTIONS", branch: "unused", port: 1, transport: "TCP").utf8))
        options.headers.set("Via", endpoint.newVia(transport: .tcp))
        let responses = await endpoint.send(request: options, to: agent.peer)
        var connections = agent.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        var requests = MessageReader(stream: connection.received)
        #expect(try await requests.next()?.method == "OPTIONS")
        await connection.close()
        var received: [Int] = []
        for await response in responses { received.append(response.status ?? 0) }
        #expect(received == [503])
        await endpoint.stop()
        await agent.close()
    }

    @Test func aPeerThatCannotBeReachedYields503() async throws {
        let (endpoint, _) = try await startEndpoint()
        let closed = try await TCPTestListener()
        let peer = closed.peer
        await closed.close()
        var options = try SIPParser.parse(Array(request("OPTIONS", branch: "unused", port: 1, transport: "TCP").utf8))
        options.headers.set("Via", endpoint.newVia(transport: .tcp))
        var received: [Int] = []
        for await response in await endpoint.send(request: options, to: peer) { received.append(response.status ?? 0) }
        #expect(received == [503])
        await endpoint.stop()
    }
}
