import ArgumentParser
import Foundation
import Logging
import Media
import NIOCore
import NIOPosix
import RTP

/// `swift build -c release --product media-bench && .build/release/media-bench --legs 2000`
/// (not part of the test run). Every leg plays one long prompt to one of a few local sink
/// sockets; the sinks count packets, sequence gaps and timestamps that jumped (late ticks), and
/// the CPU time of each thread is read from /proc. Loopback charges the kernel's delivery to
/// the sending thread, so the media loops' figures include part of the receivers' work.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media-bench",
        abstract: "Prompt pacing under load: legs each playing a prompt to local sinks; packets/s, loss and CPU per thread.")

    @Option(help: "Legs playing at once.") var legs = 2_000
    @Option(help: "Event loops of the media server.") var threads = 2
    @Option(help: "Seconds measured, after one second of warm-up.") var seconds = 10
    @Option(help: "First port of the RTP range (2 × legs ports are used; keep it below the ephemeral range).") var firstPort = 20_000
    @Option(help: "Sink sockets the legs send to.") var sinks = 4

    func run() async throws {
        let mediaGroup = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let sinkGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "media-bench")
        logger.logLevel = .warning
        let server = MediaServer(host: "127.0.0.1", ports: firstPort...(firstPort + 2 * legs + 1), eventLoopGroup: mediaGroup, logger: logger)

        let sinkChannels = try await (0..<sinks).asyncMap { _ in try await Sink.bind(on: sinkGroup) }
        let prompt = [UInt8](repeating: 0xFF, count: (seconds + 3) * 8_000)
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(legs) legs on \(threads) event loops, \(sinks) sinks on 1")
        var opened: [MediaLeg] = []
        let opening = ContinuousClock.now
        for index in 0..<legs {
            let leg = try await server.openLeg { _ in }
            leg.configure(MediaFormat(remote: sinkChannels[index % sinks].localAddress!, codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101))
            opened.append(leg)
        }
        print("opened \(legs) legs in \(ContinuousClock.now - opening)")
        for leg in opened { leg.play(prompt) {} }
        try await Task.sleep(for: .seconds(1))

        let before = try await Sink.totals(sinkChannels)
        let cpuBefore = ThreadCPU.sample()
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let after = try await Sink.totals(sinkChannels)
        let cpuAfter = ThreadCPU.sample()
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18

        let received = after.packets - before.packets
        let expected = Double(legs * 50) * wall
        print(String(format: "received %.0f packets/s (expected %.0f: %.2f%%), %d sequence gaps, %d out of order, %.2f%% sent on a late tick",
                     Double(received) / wall, expected / wall, 100 * Double(received) / expected,
                     after.gaps - before.gaps, after.outOfOrder - before.outOfOrder,
                     100 * Double(after.late - before.late) / Double(max(received, 1))))
        for (name, ticks) in ThreadCPU.difference(cpuBefore, cpuAfter).sorted(by: { $0.key < $1.key }) where ticks > 0 {
            print(String(format: "  %@: %.1f%% of a core", name, 100 * Double(ticks) / ThreadCPU.ticksPerSecond / wall))
        }
        print("  (the media server's loops are the first NIO-ELT group, the sinks the second)")
        for leg in opened { leg.close() }
        try await mediaGroup.shutdownGracefully()
        try await sinkGroup.shutdownGracefully()
    }
}

/// Counts what arrives and checks each stream's sequence numbers; lives on its event loop.
final class Sink: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    struct Totals: Sendable {
        var packets = 0
        var gaps = 0
        var outOfOrder = 0
        /// Packets whose timestamp jumped more than one frame: ticks that came late (or missed).
        var late = 0
    }

    private var totals = Totals()
    private var last: [UInt32: (sequence: UInt16, timestamp: UInt32)] = [:]

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).data
        guard let header = bytes.getBytes(at: bytes.readerIndex, length: 12) else { return }
        totals.packets += 1
        let sequence = UInt16(header[2]) << 8 | UInt16(header[3])
        let timestamp = UInt32(header[4]) << 24 | UInt32(header[5]) << 16 | UInt32(header[6]) << 8 | UInt32(header[7])
        let ssrc = UInt32(header[8]) << 24 | UInt32(header[9]) << 16 | UInt32(header[10]) << 8 | UInt32(header[11])
        if let last = last[ssrc] {
            let step = sequence &- last.sequence
            if step == 0 || step > 0x8000 {
                totals.outOfOrder += 1
            } else if step > 1 {
                totals.gaps += 1
            } else if timestamp &- last.timestamp != 160 {
                totals.late += 1
            }
        }
        last[ssrc] = (sequence, timestamp)
    }

    static func bind(on group: any EventLoopGroup) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Sink()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    static func totals(_ channels: [any Channel]) async throws -> Totals {
        var sum = Totals()
        for channel in channels {
            let totals = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: Sink.self).totals
            }.get()
            sum.packets += totals.packets
            sum.gaps += totals.gaps
            sum.outOfOrder += totals.outOfOrder
            sum.late += totals.late
        }
        return sum
    }
}

/// CPU time of each thread of this process (Linux /proc), by thread name without its number.
enum ThreadCPU {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func sample() -> [String: Int] {
        var byName: [String: Int] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ")
            else { continue }
            // Fields after the name: state is the 3rd of stat, utime and stime the 14th and 15th.
            let fields = stat[afterName.upperBound...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            let name = comm.trimmingCharacters(in: .whitespacesAndNewlines)
            byName[name, default: 0] += user + system
        }
        return byName
    }

    static func difference(_ before: [String: Int], _ after: [String: Int]) -> [String: Int] {
        after.reduce(into: [:]) { result, entry in result[entry.key] = entry.value - (before[entry.key] ?? 0) }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
