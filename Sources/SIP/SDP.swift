import Foundation

/// The slice of SDP (RFC 4566) and offer/answer (RFC 3264) a telephony server needs: one audio
/// stream, G.711 µ-law or A-law, RFC 4733 `telephone-event` on whatever payload type the
/// peer chose, and SRTP keys by SDES (RFC 4568) on `RTP/SAVP`.
public struct SessionDescription: Sendable, Equatable {
    public enum Direction: String, Sendable { case sendrecv, sendonly, recvonly, inactive }

    public struct Format: Sendable, Equatable {
        public var payloadType: Int
        /// `PCMU`, `PCMA`, `telephone-event`, … as in `a=rtpmap`, or the static name.
        public var name: String
        public var clockRate: Int
    }

    public var connectionAddress: String
    public var audioPort: Int
    public var formats: [Format]
    public var direction: Direction
    /// `a=ptime`, in milliseconds.
    public var packetTime: Int?
    /// `RTP/SAVP` (or `RTP/SAVPF`): the stream is SRTP (RFC 3711 §12), its keys in `crypto`.
    public var isSecure: Bool
    /// The audio stream's `a=crypto` lines that parsed (RFC 4568 §9.1), in the order given;
    /// lines that did not parse are left out.
    public var crypto: [CryptoAttribute]

    public init(
        connectionAddress: String, audioPort: Int, formats: [Format], direction: Direction = .sendrecv, packetTime: Int? = nil,
        isSecure: Bool = false, crypto: [CryptoAttribute] = []
    ) {
        self.connectionAddress = connectionAddress
        self.audioPort = audioPort
        self.formats = formats
        self.direction = direction
        self.packetTime = packetTime
        self.isSecure = isSecure
        self.crypto = crypto
    }

    /// Parses the audio stream of an SDP body; nil when there is no usable audio `m=` line or no
    /// connection address for it.
    public init?(parsing body: [UInt8]) {
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        var sessionAddress: String?
        var mediaAddress: String?
        var port: Int?
        var payloadTypes: [Int] = []
        var names: [Int: (String, Int)] = [:]
        var direction = Direction.sendrecv
        var packetTime: Int?
        var isSecure = false
        var crypto: [CryptoAttribute] = []
        var inAudio = false
        var sawAudio = false
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            guard line.count >= 2, line[line.index(after: line.startIndex)] == "=" else { continue }
            let kind = line.first!
            let value = line.dropFirst(2)
            switch kind {
            case "m":
                inAudio = false
                let parts = value.split(separator: " ")
                // The first audio stream is the call's; later ones (video, a second audio) are refused with port 0.
                guard !sawAudio, parts.count >= 4, parts[0] == "audio", parts[2].hasPrefix("RTP/AVP") || parts[2].hasPrefix("RTP/SAVP"),
                    let mediaPort = Int(parts[1]), (0...65_535).contains(mediaPort)
                else { continue }
                inAudio = true
                sawAudio = true
                isSecure = parts[2].hasPrefix("RTP/SAVP")
                port = mediaPort
                payloadTypes = parts.dropFirst(3).compactMap { Int($0) }.filter { (0...127).contains($0) }
            case "c":
                let parts = value.split(separator: " ")
                guard parts.count == 3, parts[0] == "IN", parts[1] == "IP4" || parts[1] == "IP6" else { continue }
                let address = String(parts[2].split(separator: "/").first ?? "")
                if inAudio { mediaAddress = address } else if !sawAudio { sessionAddress = address }
            case "a" where inAudio:
                if value.hasPrefix("rtpmap:") {
                    let parts = value.dropFirst(7).split(separator: " ", maxSplits: 1)
                    guard parts.count == 2, let type = Int(parts[0]) else { continue }
                    let encoding = parts[1].split(separator: "/")
                    names[type] = (String(encoding[0]), encoding.count > 1 ? Int(encoding[1]) ?? 8000 : 8000)
                } else if value.hasPrefix("ptime:") {
                    packetTime = Int(value.dropFirst(6))
                } else if value.hasPrefix("crypto:") {
                    if let attribute = CryptoAttribute(parsing: value.dropFirst(7)) { crypto.append(attribute) }
                } else if let found = Direction(rawValue: String(value)) {
                    direction = found
                }
            default:
                continue
            }
        }
        guard let port, let address = mediaAddress ?? sessionAddress else { return nil }
        let formats = payloadTypes.compactMap { type -> Format? in
            if let (name, rate) = names[type] { return Format(payloadType: type, name: name, clockRate: rate) }
            switch type {
            case 0: return Format(payloadType: 0, name: "PCMU", clockRate: 8000)
            case 8: return Format(payloadType: 8, name: "PCMA", clockRate: 8000)
            default: return nil
            }
        }
        self.init(
            connectionAddress: address, audioPort: port, formats: formats, direction: direction, packetTime: packetTime,
            isSecure: isSecure, crypto: crypto)
    }

    /// The SDP body, with `sessionID`/`version` for the `o=` line (the version goes up on each change).
    public func serialized(sessionID: UInt64, version: UInt64) -> [UInt8] {
        let family = connectionAddress.contains(":") ? "IP6" : "IP4"
        var lines = [
            "v=0", "o=qualityrate \(sessionID) \(version) IN \(family) \(connectionAddress)", "s=QualityRate",
            "c=IN \(family) \(connectionAddress)", "t=0 0",
            "m=audio \(audioPort) \(isSecure ? "RTP/SAVP" : "RTP/AVP") " + formats.map { String($0.payloadType) }.joined(separator: " "),
        ]
        for attribute in crypto { lines.append("a=crypto:\(attribute.serialized)") }
        for format in formats {
            lines.append("a=rtpmap:\(format.payloadType) \(format.name)/\(format.clockRate)")
            if format.name.lowercased() == "telephone-event" { lines.append("a=fmtp:\(format.payloadType) 0-16") }
        }
        if let packetTime { lines.append("a=ptime:\(packetTime)") }
        lines.append("a=\(direction.rawValue)")
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }
}

/// An SDES `a=crypto` attribute (RFC 4568 §9.1): `TAG SUITE inline:KEY‖SALT[|LIFETIME][|MKI:LEN]`.
/// Only what this server can use parses: one `inline:` key of a suite's length, without an MKI
/// (RFC 4568 §6.1: an MKI adds a field to every packet, which this server does not send) and
/// without session parameters (KDR, UNENCRYPTED_SRTP…, §6.3), whose meaning it cannot honour.
/// Anything else gives nil, so a line that cannot be used is never answered.
public struct CryptoAttribute: Sendable, Equatable {
    /// The one suite supported: AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 4568 §6.2.1).
    public static let supportedSuite = "AES_CM_128_HMAC_SHA1_80"
    /// Its master key (16 bytes) and master salt (14), as the `inline:` value carries them.
    public static let keySaltLength = 30

    /// 1…999999999 (RFC 4568 §9.1: at most 9 digits).
    public var tag: Int
    public var suite: String
    /// The decoded `inline:` value: master key, then master salt.
    public var keySalt: [UInt8]

    public init(tag: Int, suite: String = Self.supportedSuite, keySalt: [UInt8]) {
        self.tag = tag
        self.suite = suite
        self.keySalt = keySalt
    }

    /// Parses what follows `a=crypto:`; nil for a malformed line or one this server cannot use.
    public init?(parsing value: Substring) {
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 3, (1...9).contains(fields[0].count), fields[0].allSatisfy({ ("0"..."9").contains($0) }), let tag = Int(fields[0]) else {
            return nil
        }
        let suite = String(fields[1])
        guard suite == Self.supportedSuite, fields[2].hasPrefix("inline:"), !fields[2].contains(";") else { return nil }
        // KEY‖SALT, then an optional lifetime (accepted: a call never reaches 2^31 packets) and
        // an optional MKI (refused).
        let parts = fields[2].dropFirst(7).split(separator: "|", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.dropFirst().allSatisfy({ !$0.contains(":") && !$0.isEmpty }),
            let decoded = Data(base64Encoded: String(parts[0])), decoded.count == Self.keySaltLength
        else { return nil }
        self.init(tag: tag, suite: suite, keySalt: Array(decoded))
    }

    public var serialized: String { "\(tag) \(suite) inline:\(Data(keySalt).base64EncodedString())" }
}

/// The SRTP keys of a leg: what this server encrypts with (its own, sent in its SDP) and what
/// the peer encrypts with (from the peer's SDP) — each side of SDES sends its own key (RFC 4568 §6.1).
public struct NegotiatedSRTP: Sendable, Equatable {
    public var localKeySalt: [UInt8]
    public var remoteKeySalt: [UInt8]

    public init(localKeySalt: [UInt8], remoteKeySalt: [UInt8]) {
        self.localKeySalt = localKeySalt
        self.remoteKeySalt = remoteKeySalt
    }
}

/// What was agreed for a call leg's audio.
public struct NegotiatedAudio: Sendable, Equatable {
    public enum Codec: String, Sendable { case pcmu = "PCMU", pcma = "PCMA" }

    public var codec: Codec
    public var payloadType: Int
    /// nil when the peer offered no `telephone-event`: keys then arrive by SIP INFO only.
    public var telephoneEventPayloadType: Int?
    public var remoteAddress: String
    public var remotePort: Int
    public var direction: SessionDescription.Direction
    /// nil: plain RTP.
    public var srtp: NegotiatedSRTP?

    /// Whether the peer wants audio from us: not when it put the call on hold (`sendonly`,
    /// `inactive`, or the old `0.0.0.0` address).
    public var peerReceives: Bool { direction == .sendrecv || direction == .recvonly }
}

public enum OfferAnswer {
    public enum Failure: Error, Equatable {
        /// Neither PCMU nor PCMA offered: answer 488 Not Acceptable Here.
        case noCommonCodec
        /// `RTP/SAVP` without an `a=crypto` line this server can use (RFC 4568 §7.1.1: answer
        /// 488), or our `RTP/SAVP` offer answered without one of our tags.
        case noUsableCrypto
    }

    /// The answer to `offer` (RFC 3264 §6): the first of the offerer's formats that is G.711,
    /// its `telephone-event` on the offerer's payload type, our address and port, and the
    /// direction that mirrors the offer (a hold offered `sendonly` is answered `recvonly`).
    /// An `RTP/SAVP` offer is answered `RTP/SAVP` with the first of its `a=crypto` lines this
    /// server can use, under the same tag, with `srtpKeySalt` — our key — in place of the
    /// offerer's (RFC 4568 §7.1.2); none usable: `noUsableCrypto`. Crypto lines on an `RTP/AVP`
    /// offer are ignored (plain RTP was offered).
    public static func answer(
        _ offer: SessionDescription, localAddress: String, localPort: Int, srtpKeySalt: [UInt8]? = nil
    ) throws(Failure) -> (answer: SessionDescription, audio: NegotiatedAudio) {
        var srtp: (attribute: CryptoAttribute, negotiated: NegotiatedSRTP)?
        if offer.isSecure {
            guard let key = srtpKeySalt, key.count == CryptoAttribute.keySaltLength, let offered = offer.crypto.first else { throw .noUsableCrypto }
            srtp = (CryptoAttribute(tag: offered.tag, keySalt: key), NegotiatedSRTP(localKeySalt: key, remoteKeySalt: offered.keySalt))
        }
        guard let chosen = offer.formats.first(where: { NegotiatedAudio.Codec(rawValue: $0.name.uppercased()) != nil && $0.clockRate == 8000 }),
            let codec = NegotiatedAudio.Codec(rawValue: chosen.name.uppercased())
        else { throw .noCommonCodec }
        let events = offer.formats.first { $0.name.lowercased() == "telephone-event" && $0.clockRate == 8000 }
        let direction: SessionDescription.Direction =
            switch offer.direction {
            case .sendonly: .recvonly
            case .recvonly: .sendonly
            case .inactive: .inactive
            case .sendrecv: .sendrecv
            }
        let answer = SessionDescription(
            connectionAddress: localAddress, audioPort: localPort,
            formats: [chosen] + (events.map { [$0] } ?? []), direction: direction, packetTime: 20,
            isSecure: srtp != nil, crypto: srtp.map { [$0.attribute] } ?? [])
        // A connection address of 0.0.0.0 is the old way to put a call on hold (RFC 3264 §8.4).
        let effectiveDirection = offer.connectionAddress == "0.0.0.0" ? .inactive : offer.direction
        return (answer, NegotiatedAudio(
            codec: codec, payloadType: chosen.payloadType, telephoneEventPayloadType: events?.payloadType,
            remoteAddress: offer.connectionAddress, remotePort: offer.audioPort, direction: effectiveDirection,
            srtp: srtp?.negotiated))
    }

    /// What a phone's answer to our `offer` agreed (RFC 3264 §7): its first G.711 format and its
    /// `telephone-event` payload type; for an `RTP/SAVP` offer, the answer's key under one of the
    /// offer's tags (RFC 4568 §7.1.3), else `noUsableCrypto`.
    public static func accept(_ answer: SessionDescription, offer: SessionDescription? = nil) throws(Failure) -> NegotiatedAudio {
        var srtp: NegotiatedSRTP?
        if let offer, offer.isSecure {
            guard answer.isSecure,
                let (ours, theirs) = answer.crypto.lazy.compactMap({ theirs in offer.crypto.first { $0.tag == theirs.tag }.map { ($0, theirs) } }).first
            else { throw .noUsableCrypto }
            srtp = NegotiatedSRTP(localKeySalt: ours.keySalt, remoteKeySalt: theirs.keySalt)
        }
        guard let chosen = answer.formats.first(where: { NegotiatedAudio.Codec(rawValue: $0.name.uppercased()) != nil && $0.clockRate == 8000 }),
            let codec = NegotiatedAudio.Codec(rawValue: chosen.name.uppercased())
        else { throw .noCommonCodec }
        let events = answer.formats.first { $0.name.lowercased() == "telephone-event" && $0.clockRate == 8000 }
        return NegotiatedAudio(
            codec: codec, payloadType: chosen.payloadType, telephoneEventPayloadType: events?.payloadType,
            remoteAddress: answer.connectionAddress, remotePort: answer.audioPort,
            direction: answer.connectionAddress == "0.0.0.0" ? .inactive : answer.direction, srtp: srtp)
    }

    /// What to put in the 2xx to an INVITE or re-INVITE whose body is `body`.
    public enum Reply: Sendable, Equatable {
        /// The body was an offer: send `answer`; the media is `audio`.
        case answer(SessionDescription, audio: NegotiatedAudio)
        /// No body, a late offer (RFC 3261 §13.2.1, §14.2): send this offer; the ACK carries the
        /// answer (`accept(body:)`), and an ACK without a usable one ends the dialog (§13.3.1.4).
        case offer(SessionDescription)
        /// Answer 488 with this reason phrase.
        case notAcceptable(String)
    }

    /// `srtpKeySalt`: the key this server answers an `RTP/SAVP` offer with (see `answer`).
    /// `offersSRTP`: a late offer of ours is `RTP/SAVP` with that key (the request came over TLS).
    public static func reply(
        toBody body: [UInt8], localAddress: String, localPort: Int, srtpKeySalt: [UInt8]? = nil, offersSRTP: Bool = false
    ) -> Reply {
        if body.isEmpty { return .offer(offer(localAddress: localAddress, localPort: localPort, srtpKeySalt: offersSRTP ? srtpKeySalt : nil)) }
        guard let received = SessionDescription(parsing: body) else { return .notAcceptable("Not Acceptable Here (the body is not an SDP offer)") }
        switch Result(catching: { () throws(Failure) in try answer(received, localAddress: localAddress, localPort: localPort, srtpKeySalt: srtpKeySalt) }) {
        case .success(let (answer, audio)):
            return .answer(answer, audio: audio)
        case .failure(.noCommonCodec):
            return .notAcceptable("Not Acceptable Here (PCMU or PCMA required)")
        case .failure(.noUsableCrypto):
            return .notAcceptable("Not Acceptable Here (RTP/SAVP needs a=crypto AES_CM_128_HMAC_SHA1_80 with an inline key, no MKI)")
        }
    }

    /// What the answer in `body` (a 2xx to our INVITE, or the ACK of our late offer) to `offer`
    /// agreed; nil when it holds no usable answer.
    public static func accept(body: [UInt8], offer: SessionDescription? = nil) -> NegotiatedAudio? {
        SessionDescription(parsing: body).flatMap { try? accept($0, offer: offer) }
    }

    /// The offer this server makes when it rings a phone: both G.711 laws and telephone-event 101;
    /// with `srtpKeySalt`, as `RTP/SAVP` with that key under tag 1 (RFC 4568 §7.1.1).
    public static func offer(localAddress: String, localPort: Int, srtpKeySalt: [UInt8]? = nil) -> SessionDescription {
        SessionDescription(
            connectionAddress: localAddress, audioPort: localPort,
            formats: [
                .init(payloadType: 0, name: "PCMU", clockRate: 8000), .init(payloadType: 8, name: "PCMA", clockRate: 8000),
                .init(payloadType: 101, name: "telephone-event", clockRate: 8000),
            ],
            packetTime: 20, isSecure: srtpKeySalt != nil, crypto: srtpKeySalt.map { [CryptoAttribute(tag: 1, keySalt: $0)] } ?? [])
    }
}
