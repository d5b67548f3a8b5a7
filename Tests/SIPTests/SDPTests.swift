import SIP
import Testing

@Suite struct SDPTests {
    let baresip = """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio 10000 RTP/AVP 96 8 0 98\r
        a=rtpmap:96 opus/48000/2\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:98 telephone-event/8000\r
        a=fmtp:98 0-15\r
        a=sendrecv\r
        m=video 10002 RTP/AVP 100\r
        a=rtpmap:100 H264/90000\r

        """

    @Test func answersWithTheOfferersFirstG711AndItsEventPayloadType() throws {
        let offer = try #require(SessionDescription(parsing: Array(baresip.utf8)))
        #expect(offer.audioPort == 10000 && offer.connectionAddress == "127.0.0.1")
        #expect(offer.formats.map(\.name) == ["opus", "PCMA", "PCMU", "telephone-event"])
        let (answer, audio) = try OfferAnswer.answer(offer, localAddress: "127.0.0.1", localPort: 20000)
        #expect(audio.codec == .pcma && audio.payloadType == 8 && audio.telephoneEventPayloadType == 98)
        #expect(audio.remotePort == 10000 && audio.direction == .sendrecv)
        let text = String(decoding: answer.serialized(sessionID: 7, version: 1), as: UTF8.self)
        #expect(text.contains("m=audio 20000 RTP/AVP 8 98\r\n"))
        #expect(text.contains("a=rtpmap:98 telephone-event/8000\r\na=fmtp:98 0-16\r\n"))
        #expect(text.contains("c=IN IP4 127.0.0.1\r\n") && text.hasSuffix("a=sendrecv\r\n"))
        #expect(SessionDescription(parsing: answer.serialized(sessionID: 7, version: 1))?.formats.map(\.payloadType) == [8, 98])
    }

    @Test func staticPayloadTypesNeedNoRtpmapAndNoEventsIsFine() throws {
        let sipp = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
        let (_, audio) = try OfferAnswer.answer(try #require(SessionDescription(parsing: Array(sipp.utf8))), localAddress: "127.0.0.1", localPort: 20002)
        #expect(audio.codec == .pcmu && audio.telephoneEventPayloadType == nil)
    }

    @Test func holdIsMirrored() throws {
        var text = baresip.replacingOccurrences(of: "a=sendrecv", with: "a=sendonly")
        let (answer, audio) = try OfferAnswer.answer(try #require(SessionDescription(parsing: Array(text.utf8))), localAddress: "127.0.0.1", localPort: 1)
        #expect(answer.direction == .recvonly && audio.direction == .sendonly)
        text = baresip.replacingOccurrences(of: "c=IN IP4 127.0.0.1", with: "c=IN IP4 0.0.0.0")
        let (_, held) = try OfferAnswer.answer(try #require(SessionDescription(parsing: Array(text.utf8))), localAddress: "127.0.0.1", localPort: 1)
        #expect(held.direction == .inactive)
    }

    @Test func refusesWhatCannotBeAnswered() throws {
        let opusOnly = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
        #expect(throws: OfferAnswer.Failure.noCommonCodec) {
            try OfferAnswer.answer(try #require(SessionDescription(parsing: Array(opusOnly.utf8))), localAddress: "127.0.0.1", localPort: 1)
        }
        #expect(SessionDescription(parsing: Array("v=0\r\nm=video 5 RTP/AVP 96\r\n".utf8)) == nil)
        #expect(SessionDescription(parsing: Array("m=audio 5 RTP/AVP 0\r\n".utf8)) == nil, "no connection address")
        #expect(SessionDescription(parsing: [0xFF, 0x00]) == nil)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var bytes = Array(baresip.utf8)
            for _ in 0..<6 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = SessionDescription(parsing: bytes)
        }
    }

    @Test func readsAPhonesAnswerToOurOffer() throws {
        let answer = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        let audio = try OfferAnswer.accept(try #require(SessionDescription(parsing: Array(answer.utf8))))
        #expect(audio.codec == .pcma && audio.payloadType == 8 && audio.telephoneEventPayloadType == 101)
        #expect(audio.remoteAddress == "10.0.0.5" && audio.remotePort == 4000 && audio.peerReceives)
        let held = answer.replacing("a=sendrecv", with: "a=sendonly")
        #expect(try !OfferAnswer.accept(try #require(SessionDescription(parsing: Array(held.utf8)))).peerReceives)
        let video = "v=0\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
        #expect(throws: OfferAnswer.Failure.noCommonCodec) { try OfferAnswer.accept(try #require(SessionDescription(parsing: Array(video.utf8)))) }
    }

    @Test func ourOfferHasBothLawsAndEvents() {
        let text = String(decoding: OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 30000).serialized(sessionID: 1, version: 1), as: UTF8.self)
        #expect(text.contains("m=audio 30000 RTP/AVP 0 8 101\r\n") && text.contains("a=ptime:20\r\n"))
    }

    @Test func anInviteBodyIsAnsweredOfferedToOrRefused() throws {
        let offer = "v=0\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
        guard case .answer(let answer, let audio) = OfferAnswer.reply(toBody: Array(offer.utf8), localAddress: "127.0.0.1", localPort: 30000)
        else { Issue.record("an offer must be answered"); return }
        #expect(answer.audioPort == 30000 && answer.formats.map(\.payloadType) == [8, 96])
        #expect(audio.codec == .pcma && audio.telephoneEventPayloadType == 96)

        #expect(OfferAnswer.reply(toBody: [], localAddress: "127.0.0.1", localPort: 30000)
            == .offer(OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 30000)), "no body: a late offer, this server offers")
        #expect(OfferAnswer.reply(toBody: Array("--boundary\r\n".utf8), localAddress: "127.0.0.1", localPort: 30000)
            == .notAcceptable("Not Acceptable Here (the body is not an SDP offer)"))
        let opus = "v=0\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
        #expect(OfferAnswer.reply(toBody: Array(opus.utf8), localAddress: "127.0.0.1", localPort: 30000)
            == .notAcceptable("Not Acceptable Here (PCMU or PCMA required)"))
    }

    @Test func anAnswerInABodyIsReadOrNothing() {
        let answer = "v=0\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        #expect(OfferAnswer.accept(body: Array(answer.utf8))?.codec == .pcma)
        #expect(OfferAnswer.accept(body: []) == nil, "an ACK without the answer to a late offer")
        #expect(OfferAnswer.accept(body: Array("v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n".utf8)) == nil)
    }
}
