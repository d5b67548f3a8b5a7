import Domain
import Logging
import ServiceLifecycle
import Storage

/// Probes the database's writes every `interval` (issue 9): a small real write, the heartbeat,
/// and a look at the free space. `/health` and SIP `OPTIONS` answer by its last outcome, so they
/// turn 503 within one interval of writes failing and back to 200 within one of them working.
struct WriteProbeService: Service {
    let store: any Store
    let logger: Logger
    static let interval: Duration = .seconds(2)

    func run() async throws {
        let (store, logger) = (store, logger)
        await cancelWhenGracefulShutdown {
            var last = store.writeHealth
            while !Task.isCancelled {
                await store.probeWrites(at: .now())
                let now = store.writeHealth
                if now != last {
                    switch now {
                    case .ok: logger.notice("database writes work again")
                    case .failing(let reason): logger.error("database writes fail", metadata: ["reason": "\(reason)"])
                    }
                    last = now
                }
                try? await Task.sleep(for: Self.interval)
            }
        }
    }
}

/// Closes the call-history records a previous run left open (kill -9, power cut) before this
/// run takes calls and writes its first heartbeat. A database that takes no writes now keeps
/// them open for the next start: the server still starts, and `/health` tells why.
func closeInterruptedCalls(_ store: any Store, logger: Logger) async {
    do {
        let closed = try await store.closeInterruptedCalls()
        if closed > 0 { logger.notice("closed the call history of calls interrupted by the last stop", metadata: ["calls": "\(closed)"]) }
    } catch {
        logger.error("could not close the call history of interrupted calls", metadata: ["error_type": "\(type(of: error))"])
    }
}
