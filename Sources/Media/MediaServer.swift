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
        let portReleased = channel.closeFuture.always { _ in self.legClosed(port: port) }
        return MediaLeg(localPort: port, state: leg, eventLoop: channel.eventLoop, portReleased: portReleased)
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
