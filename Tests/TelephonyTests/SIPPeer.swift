import NIOCore
import NIOPosix
import SIP
import Synchronization

/// A phone or trunk for tests: a real UDP socket on 127.0.0.1 that sends SIP messages and keeps
/// every message (or, for an RTP socket, every datagram) it receives.
final class UDPTestPeer: Sendable {
    let channel: any Channel
    private let inbox: Inbox

    final class Inbox: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let datagrams = Mutex<[[UInt8]]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            datagrams.withLock { $0.append(Array(envelope.data.readableBytesView)) }
        }
    }

    init(host: String = "127.0.0.1") async throws {
        let inbox = Inbox()
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbox) }
            }
            .bind(host: host, port: 0).get()
        self.inbox = inbox
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var host: String { channel.localAddress?.ipAddress ?? "127.0.0.1" }

    func send(_ bytes: [UInt8], to port: Int) async throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes)))
    }

    func send(_ message: SIPMessage, to port: Int) async throws { try await send(message.serialized(), to: port) }

    var datagrams: [[UInt8]] { inbox.datagrams.withLock { $0 } }

    /// The first SIP message received that `matches`, waiting up to `seconds` for it.
    func message(within seconds: Int = 10, _ matches: (SIPMessage) -> Bool) async throws -> SIPMessage {
        for _ in 0..<(seconds * 100) {
            if let found = datagrams.lazy.compactMap({ try? SIPParser.parse($0) }).first(where: matches) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw PeerError.nothingMatched(received: datagrams.map { String(decoding: $0.prefix(80), as: UTF8.self) })
    }

    /// Every SIP message received so far that `matches`, in arrival order.
    func messages(_ matches: (SIPMessage) -> Bool) -> [SIPMessage] {
        datagrams.compactMap { try? SIPParser.parse($0) }.filter(matches)
    }

    /// The `count`-th SIP message that `matches` (1 = the first), waiting up to `seconds`.
    func message(number count: Int, within seconds: Int = 10, _ matches: (SIPMessage) -> Bool) async throws -> SIPMessage {
        for _ in 0..<(seconds * 100) {
            let found = messages(matches)
            if found.count >= count { return found[count - 1] }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw PeerError.nothingMatched(received: datagrams.map { String(decoding: $0.prefix(80), as: UTF8.self) })
    }

    /// Waits until at least `count` datagrams arrived.
    func datagrams(atLeast count: Int, within seconds: Int = 10) async throws -> [[UInt8]] {
        for _ in 0..<(seconds * 100) {
            let now = datagrams
            if now.count >= count { return now }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw PeerError.nothingMatched(received: ["\(datagrams.count) datagrams"])
    }

    func close() async { try? await channel.close() }

    enum PeerError: Error { case nothingMatched(received: [String]) }
}

extension SIPMessage {
    static func request(_ method: String, uri: String, _ headers: [(String, String)], body: String = "") -> SIPMessage {
        SIPMessage(startLine: .request(method: method, uri: uri), headers: SIPHeaders(headers), body: Array(body.utf8))
    }

    func isResponse(_ status: Int, to method: String) -> Bool {
        self.status == status && headers["CSeq"].flatMap(CSeq.init)?.method == method
    }

    /// A final response to `method`, whatever its status.
    func isResponse(to method: String) -> Bool {
        (status ?? 0) >= 200 && headers["CSeq"].flatMap(CSeq.init)?.method == method
    }
}
