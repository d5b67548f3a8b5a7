import NIOCore
import NIOPosix
import RTP
import Testing

/// A phone's side of the test: a plain UDP socket on 127.0.0.1 that sends datagrams and hands
/// back, in arrival order, the ones it receives.
struct UDPPeer {
    struct Datagram {
        var sourcePort: Int
        var packet: RTPPacket
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let continuation: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation

        init(continuation: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation) { self.continuation = continuation }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }
    }

    let channel: any Channel
    private var datagrams: AsyncStream<AddressedEnvelope<ByteBuffer>>.Iterator

    static func bind(port: Int = 0) async throws -> UDPPeer {
        let (stream, continuation) = AsyncStream<AddressedEnvelope<ByteBuffer>>.makeStream()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return UDPPeer(channel: channel, datagrams: stream.makeAsyncIterator())
    }

    var address: SocketAddress { channel.localAddress! }

    func send(_ bytes: [UInt8], toPort port: Int) async throws {
        let remote = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes)))
    }

    func send(_ packet: RTPPacket, toPort port: Int) async throws {
        try await send(packet.serialized(), toPort: port)
    }

    /// The next datagram, which must be RTP.
    mutating func receive() async throws -> Datagram {
        let envelope = try #require(await datagrams.next())
        let packet = try #require(RTPPacket(parsing: Array(envelope.data.readableBytesView)), "not RTP")
        return Datagram(sourcePort: try #require(envelope.remoteAddress.port), packet: packet)
    }

    func close() async throws {
        try await channel.close()
    }
}
