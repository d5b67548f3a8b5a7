import Domain
import Logging
import ServiceLifecycle
import Storage

/// Probes the database's writes every `interval` (issue 9): a small real write, the heartbeat,
/// and a look at the free space. `/health` and SIP `OPTIONS` answer by its last outcome, so they
/// turn 503 within one interval of writes failing and back to 200 within one of them working.
///
/// First it closes the call-history records earlier runs left open (kill -9, power cut); a
/// database that takes no writes at start-up is tried again every interval, while the server
/// serves and `/health` tells why. Each run's records and heartbeat are its own, so this run's
/// calls and heartbeats never change how an earlier run's calls are closed.
struct WriteProbeService: Service {
    let store: any Store
    let logger: Logger
    static let interval: Duration = .seconds(2)

    func run() async throws {
        let (store, logger) = (store, logger)
        await cancelWhenGracefulShutdown {
            var interruptedCallsClosed = false
            var last = store.writeHealth
            while !Task.isCancelled {
                if !interruptedCallsClosed {
                    interruptedCallsClosed = await Self.closeInterruptedCalls(store, logger: logger)
                }
                if interruptedCallsClosed { await store.probeWrites(at: .now()) }
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

    /// True once done; a failure is logged (the store marks its writes failing with the reason).
    private static func closeInterruptedCalls(_ store: any Store, logger: Logger) async -> Bool {
        do {
            let closed = try await store.closeInterruptedCalls()
            if closed > 0 {
                logger.notice("closed the call history of calls interrupted by the last stop", metadata: ["calls": "\(closed)"])
            }
            return true
        } catch {
            logger.error("could not close the call history of interrupted calls yet", metadata: ["error_type": "\(type(of: error))"])
            return false
        }
    }
}
