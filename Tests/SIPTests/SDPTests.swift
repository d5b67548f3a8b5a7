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

    // SDES (RFC 4568)

    static let key = Array(0..<30).map { UInt8($0) }
    static let keyBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    /// What baresip's srtp module offers with `mediaenc=srtp-mand`.
    let secureOffer = """
        v=0\r
        o=- 1 2 IN IP4 127.0.0.1\r
        s=-\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio 10000 RTP/SAVP 0 8 101\r
        a=rtpmap:101 telephone-event/8000\r
        a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:2lFRgwD1NcR3FRSaNlypnaFXp3wCnGoP0oHMQMPE\r
        a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:\(SDPTests.keyBase64)|2^31\r
        a=crypto:3 AEAD_AES_128_GCM inline:2lFRgwD1NcR3FRSaNlypnaFXp3wCnGoP0oHMQMPE\r
        a=sendrecv\r

        """

    @Test func parsesOnlyCryptoLinesThisServerCanUse() throws {
        let offer = try #require(SessionDescription(parsing: Array(secureOffer.utf8)))
        #expect(offer.isSecure && offer.crypto == [CryptoAttribute(tag: 2, keySalt: Self.key)])
        for refused in [
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)|2^20|1:4",  // an MKI
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64) KDR=1",  // a session parameter
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQF",  // too short a key
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!notbase64!!",
            "1 AES_CM_128_HMAC_SHA1_80 \(Self.keyBase64)",  // not inline:
            "x AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)",
            "1234567890 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)",  // a tag of 10 digits
            "+1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)",  // digits only
            "1 AES_CM_128_HMAC_SHA1_80", "", "1",
        ] {
            #expect(CryptoAttribute(parsing: refused[...]) == nil, "\(refused)")
        }
        #expect(CryptoAttribute(parsing: "7 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)"[...])?.serialized
            == "7 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)")
    }

    @Test func answersASecureOfferWithOurKeyUnderItsTag() throws {
        let ours = Array(repeating: UInt8(0xA5), count: 30)
        guard case .answer(let answer, let audio) = OfferAnswer.reply(toBody: Array(secureOffer.utf8), localAddress: "127.0.0.1", localPort: 30000, srtpKeySalt: ours)
        else { Issue.record("a usable SAVP offer must be answered"); return }
        #expect(audio.srtp == NegotiatedSRTP(localKeySalt: ours, remoteKeySalt: Self.key))
        let text = String(decoding: answer.serialized(sessionID: 1, version: 1), as: UTF8.self)
        #expect(text.contains("m=audio 30000 RTP/SAVP 0 101\r\n"))
        #expect(text.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWl\r\n"))
        #expect(!text.contains(Self.keyBase64), "never the offerer's key")
        #expect(SessionDescription(parsing: Array(text.utf8))?.crypto.first?.keySalt == ours)
    }

    @Test func aSecureOfferWithoutUsableCryptoIsRefused() {
        // "\r\n" is one Character: lines split on it.
        let unusable = secureOffer.split(separator: "\r\n").filter { !$0.contains("SHA1_80") }.joined(separator: "\r\n")
        #expect(OfferAnswer.reply(toBody: Array(unusable.utf8), localAddress: "127.0.0.1", localPort: 1, srtpKeySalt: Self.key)
            == .notAcceptable("Not Acceptable Here (RTP/SAVP needs a=crypto AES_CM_128_HMAC_SHA1_80 with an inline key, no MKI)"))
        let plainWithCrypto = secureOffer.replacing("RTP/SAVP", with: "RTP/AVP")
        guard case .answer(let answer, let audio) = OfferAnswer.reply(toBody: Array(plainWithCrypto.utf8), localAddress: "127.0.0.1", localPort: 1, srtpKeySalt: Self.key)
        else { Issue.record("RTP/AVP with crypto lines is plain RTP"); return }
        #expect(audio.srtp == nil && !answer.isSecure && answer.crypto.isEmpty)
    }

    @Test func aLateOfferIsSecureOnlyWhenAsked() {
        #expect(OfferAnswer.reply(toBody: [], localAddress: "127.0.0.1", localPort: 1, srtpKeySalt: Self.key, offersSRTP: true)
            == .offer(OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 1, srtpKeySalt: Self.key)))
        #expect(OfferAnswer.reply(toBody: [], localAddress: "127.0.0.1", localPort: 1, srtpKeySalt: Self.key)
            == .offer(OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 1)))
    }

    @Test func readsTheAnswerToOurSecureOffer() throws {
        let offer = OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 30000, srtpKeySalt: Self.key)
        let text = String(decoding: offer.serialized(sessionID: 1, version: 1), as: UTF8.self)
        #expect(text.contains("m=audio 30000 RTP/SAVP 0 8 101\r\n") && text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.keyBase64)\r\n"))
        let theirs = Array(repeating: UInt8(0xA5), count: 30)
        let answer = "v=0\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWl\r\n"
        #expect(OfferAnswer.accept(body: Array(answer.utf8), offer: offer)?.srtp == NegotiatedSRTP(localKeySalt: Self.key, remoteKeySalt: theirs))
        #expect(OfferAnswer.accept(body: Array(answer.replacing("crypto:1", with: "crypto:9").utf8), offer: offer) == nil, "a tag we did not offer")
        #expect(OfferAnswer.accept(body: Array(answer.replacing("RTP/SAVP", with: "RTP/AVP").utf8), offer: offer) == nil, "plain RTP to an SRTP offer")
    }
}
