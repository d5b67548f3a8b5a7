import Logging
import ServiceLifecycle
import Storage

/// Probes the database's writes every `interval` (issue 9): a small real write, the heartbeat,
/// and a look at the free space. `/health` and SIP `OPTIONS` answer by its last outcome, so they
/// turn 503 within one interval of writes failing and back to 200 within one of them working.
///
/// It also closes the call-history records earlier runs left open (kill -9, power cut): `serve`
/// does that and a first probe before it serves (`prepared`), so the first answers of `/health`,
/// OPTIONS and call history are already right. A database that takes no writes then is tried
/// again every interval while the server serves, and `/health` tells why. Each run's records and
/// heartbeat are its own, so this run's calls never change how an earlier run's are closed.
struct WriteProbeService: Service {
    let store: any Store
    let logger: Logger
    /// The records earlier runs left open are closed.
    let interruptedCallsClosed: Bool
    static let interval: Duration = .seconds(2)
    /// How often the records other runs left open are looked for again while this one runs: on a
    /// shared PostgreSQL database another node may die at any time (issue 12), and its calls'
    /// records are closed by the nodes still up once its heartbeat is old enough
    /// (`Store.closeInterruptedCalls`). With SQLite, the only other runs are earlier ones.
    static let sweepInterval: Duration = .seconds(30)

    /// Closes what earlier runs left open and probes once; the service goes on from there.
    static func prepared(store: any Store, logger: Logger) async -> WriteProbeService {
        let closed = await closeInterruptedCalls(store, logger: logger)
        if closed { await store.probeWrites(at: .now()) }
        if case .failing(let reason) = store.writeHealth { logger.error("database writes fail", metadata: ["reason": "\(reason)"]) }
        return WriteProbeService(store: store, logger: logger, interruptedCallsClosed: closed)
    }

    func run() async throws {
        let (store, logger, closedAtStart) = (store, logger, interruptedCallsClosed)
        await cancelWhenGracefulShutdown {
            var interruptedCallsClosed = closedAtStart
            var last = store.writeHealth
            var lastSweep = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.interval)
                // Stopping: a write started now would be cancelled with the task and read as the
                // database failing.
                if Task.isCancelled { break }
                if !interruptedCallsClosed {
                    interruptedCallsClosed = await Self.closeInterruptedCalls(store, logger: logger)
                    lastSweep = ContinuousClock.now
                } else if ContinuousClock.now - lastSweep >= Self.sweepInterval {
                    // Later sweeps: a failure is logged and marks the writes failing until the
                    // next probe; the heartbeat goes on (it keeps this node's leases).
                    _ = await Self.closeInterruptedCalls(store, logger: logger)
                    lastSweep = ContinuousClock.now
                }
                if interruptedCallsClosed { await store.probeWrites(at: .now()) }
                if Task.isCancelled { break }  // stopped during the probe: its outcome says nothing
                let now = store.writeHealth
                if now != last {
                    switch now {
                    case .ok: logger.notice("database writes work again")
                    case .failing(let reason): logger.error("database writes fail", metadata: ["reason": "\(reason)"])
                    }
                    last = now
                }
            }
        }
    }

    /// True once done; a failure is logged (the store marks its writes failing with the reason).
    private static func closeInterruptedCalls(_ store: any Store, logger: Logger) async -> Bool {
        do {
            let closed = try await store.closeInterruptedCalls()
            if closed > 0 {
                logger.notice("closed the call history of calls interrupted by a stop (this server's last, or another node's)", metadata: ["calls": "\(closed)"])
            }
            return true
        } catch {
            logger.error("could not close the call history of interrupted calls yet", metadata: ["error_type": "\(type(of: error))"])
            return false
        }
    }
}
