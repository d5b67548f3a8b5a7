public import CallFlow
public import Domain

/// Makes the telephony side of new calls: the SIP layer (issue 4), or a simulation.
public protocol TelephonyProvider: Sendable {
    /// A port for a call the server places itself (a callback): it rings the legs it is told to,
    /// showing them the callback's `presentation`.
    func makePort(for callUUID: CallUUID, clientID: Int64, callback: Call.CallbackPlan) async throws -> any TelephonyPort
}

public enum CallCenterError: Error, Equatable {
    /// No telephony is connected, so the server cannot place calls.
    case telephonyUnavailable
    /// The server is stopping (SIGTERM): it places no new call.
    case stopping
}

/// The calls running in this server, by `call_uuid`: where a call started by the API is created,
/// and where the telephony side finds the runner to deliver a call's events to.
public actor CallCenter {
    private let services: CallServices
    private let telephony: (any TelephonyProvider)?
    private var runners: [CallUUID: CallRunner] = [:]
    /// The server is stopping (issue 9): no call is admitted or placed any more.
    public private(set) var isStopping = false

    public init(services: CallServices, telephony: (any TelephonyProvider)?) {
        self.services = services
        self.telephony = telephony
    }

    public func runner(for callUUID: CallUUID) -> CallRunner? { runners[callUUID] }

    /// The number of calls running now.
    public var count: Int { runners.count }

    /// A call that arrived from the network: its runner, kept here until `finished`. The caller
    /// connects the port to the runner, then starts it. Nil once the server is stopping.
    public func admit(_ arrival: Call.Arrival, port: any TelephonyPort) -> CallRunner? {
        guard !isStopping else { return nil }
        let runner = CallRunner(arrival: arrival, port: port, services: services)
        runners[arrival.callUUID] = runner
        return runner
    }

    /// The telephony side saw the call end.
    public func finished(_ callUUID: CallUUID) {
        runners.removeValue(forKey: callUUID)
    }

    /// Places a callback (SPEC §2.3); the call goes on in the background.
    public func startCallback(clientID: Int64, initiator: Extension, plan: Call.CallbackPlan) async throws -> CallUUID {
        guard let telephony else { throw CallCenterError.telephonyUnavailable }
        guard !isStopping else { throw CallCenterError.stopping }
        await forgetFinishedCalls()
        let callUUID = CallUUID.random()
        let port = try await telephony.makePort(for: callUUID, clientID: clientID, callback: plan)
        let runner = CallRunner(
            arrival: .init(
                callUUID: callUUID, clientID: clientID, dialled: plan.destination, did: nil,
                caller: .init(
                    username: plan.presentation.callerNumber ?? initiator.name, screenName: plan.presentation.callerName ?? initiator.label,
                    domain: nil),
                callback: plan),
            port: port, services: services)
        runners[callUUID] = runner
        services.timers.spawn { await runner.start() }
        return callUUID
    }

    // MARK: Stopping (issue 9)

    /// From now on no call is admitted and no callback placed.
    public func stopTakingCalls() {
        isStopping = true
    }

    /// Returns once every call running has ended by itself, or once `drain` has passed; answers
    /// how many calls are still up. (A call whose flow is over may stay listed until its SIP
    /// legs have been let go: it is not counted.)
    @discardableResult
    public func drain(within drain: Duration) async -> Int {
        let running = Array(runners.values)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for runner in running { await runner.waitUntilOver() } }
            group.addTask { try? await Task.sleep(for: drain) }
            await group.next()
            group.cancelAll()
        }
        var left = 0
        for runner in running where await !runner.isOver { left += 1 }
        return left
    }

    /// Ends every call still running (`serverStopping`): each hangs up its caller and writes its
    /// history. Returns once all of them have.
    public func endAll() async {
        let running = Array(runners.values)
        await withDiscardingTaskGroup { group in
            for runner in running {
                group.addTask {
                    await runner.deliver(.serverStopping)
                    await runner.waitUntilOver()
                }
            }
        }
    }

    private func forgetFinishedCalls() async {
        for (callUUID, runner) in runners where await runner.isOver {
            runners.removeValue(forKey: callUUID)
        }
    }
}
