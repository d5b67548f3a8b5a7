public import Logging
public import NIOCore
public import NIOPosix
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens call legs — one UDP socket each — on even ports of a range, on `host`. Knows nothing of
/// SIP: the call core says where each leg sends (`MediaLeg.configure`) and what it plays.
public final class MediaServer: Sendable {
    private struct State {
        var ports: PortAllocator
        var openLegs = 0
        var pacers: [ObjectIdentifier: NIOLoopBound<Pacer>] = [:]
    }

    private let host: String
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let metrics: MediaMetrics
    private let state: Mutex<State>

    /// `ports` must lie in 1…65535; only its even ports are used. Counters go to the
    /// bootstrapped metrics system.
    public convenience init(
        host: String, ports: ClosedRange<Int>, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.init(host: host, ports: ports, eventLoopGroup: eventLoopGroup, logger: logger, metricsFactory: MetricsSystem.factory)
    }

    init(host: String, ports: ClosedRange<Int>, eventLoopGroup: any EventLoopGroup, logger: Logger, metricsFactory: any MetricsFactory) {
        self.host = host
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        metrics = MediaMetrics(factory: metricsFactory)
        state = Mutex(State(ports: PortAllocator(range: ports)))
    }

    /// Binds a UDP socket on a free even port of the range (RTCP, on the odd port above, is not
    /// served); throws `MediaError.noFreePort` when the range is used up. A port another program
    /// holds is skipped. `onKey` is called, on the leg's event loop, once per key press read
    /// from RFC 4733 events on the leg's telephone-event payload type.
    public func openLeg(onKey: @escaping @Sendable (Character) -> Void) async throws -> MediaLeg {
        let attempts = state.withLock { $0.ports.capacity }
        for _ in 0..<attempts {
            guard let port = state.withLock({ $0.ports.reserve() }) else { break }
            do {
                return try await openLeg(port: port, onKey: onKey)
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                state.withLock { $0.ports.release(port) }
                logger.debug("RTP port held by another program", metadata: ["rtp_port": "\(port)"])
            } catch {
                state.withLock { $0.ports.release(port) }
                throw error
            }
        }
        throw MediaError.noFreePort
    }

    private func openLeg(port: Int, onKey: @escaping @Sendable (Character) -> Void) async throws -> MediaLeg {
        var legLogger = logger
        legLogger[metadataKey: "rtp_port"] = "\(port)"
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        // The leg's socket lives on the loop of the pacer that drives it.
        let (leg, channel) = try await DatagramBootstrap(group: eventLoopGroup.next()).bind(to: address) {
            [metrics, legLogger] channel in
            channel.eventLoop.makeCompletedFuture {
                let leg = LegState(
                    channel: channel, pacer: self.pacer(on: channel.eventLoop), metrics: metrics, logger: legLogger, onKey: onKey)
                try channel.pipeline.syncOperations.addHandler(LegHandler(leg: leg))
                return (NIOLoopBound(leg, eventLoop: channel.eventLoop), channel)
            }
        }
        let openLegs = state.withLock { state in
            state.openLegs += 1
            return state.openLegs
        }
        metrics.openLegs.record(openLegs)
        let portReleased = channel.eventLoop.makePromise(of: Void.self)
        watch(channel, of: leg, at: address, portReleased: portReleased)
        return MediaLeg(localPort: port, state: leg, eventLoop: channel.eventLoop, portReleased: portReleased.futureResult)
    }

    /// Gives the port back when the leg is closed. A socket that closes while its leg is still
    /// open was closed by NIO after a send it counts as fatal — EINVAL, ENETUNREACH, EPERM, EACCES:
    /// an SDP address this host cannot send to. One bad address must not silence the call, so the
    /// leg gets a new socket on the same port and stops sending to that address until it changes
    /// (a re-INVITE, or symmetric RTP from the phone).
    private func watch(
        _ channel: any Channel, of leg: NIOLoopBound<LegState>, at address: SocketAddress, portReleased: EventLoopPromise<Void>
    ) {
        channel.closeFuture.whenComplete { _ in
            let state = leg.value
            guard !state.isClosed else {
                self.legClosed(port: address.port ?? 0)
                portReleased.succeed()
                return
            }
            state.socketFailed()
            // On the leg's own loop, so `leg.value` may be read in every closure below.
            DatagramBootstrap(group: channel.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(LegHandler(leg: leg.value)) }
                }
                .bind(to: address)
                .whenComplete { result in
                    switch result {
                    case .success(let reopened):
                        leg.value.replaceSocket(reopened)
                        self.watch(reopened, of: leg, at: address, portReleased: portReleased)
                    case .failure(let error):
                        leg.value.logger.error("RTP socket could not be reopened: the leg is silent", metadata: ["error": "\(error)"])
                        self.legClosed(port: address.port ?? 0)
                        portReleased.succeed()
                    }
                }
        }
    }

    private func legClosed(port: Int) {
        let openLegs = state.withLock { state in
            state.ports.release(port)
            state.openLegs -= 1
            return state.openLegs
        }
        metrics.openLegs.record(openLegs)
    }

    /// The pacer of `eventLoop`, made on first use; called on that loop.
    private func pacer(on eventLoop: any EventLoop) -> Pacer {
        let bound = state.withLock { state in
            let key = ObjectIdentifier(eventLoop)
            if let pacer = state.pacers[key] { return pacer }
            let pacer = NIOLoopBound(Pacer(eventLoop: eventLoop, metrics: metrics), eventLoop: eventLoop)
            state.pacers[key] = pacer
            return pacer
        }
        return bound.value
    }
}
