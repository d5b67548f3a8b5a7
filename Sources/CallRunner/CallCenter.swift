public import CallFlow
public import Domain

/// Makes the telephony side of new calls: the SIP layer (issue 4), or a simulation.
public protocol TelephonyProvider: Sendable {
    /// A port for a call the server places itself (a callback): it rings the legs it is told to.
    func makePort(for callUUID: CallUUID, clientID: Int64) async throws -> any TelephonyPort
}

public enum CallCenterError: Error, Equatable {
    /// No telephony is connected, so the server cannot place calls.
    case telephonyUnavailable
}

/// The calls running in this server, by `call_uuid`: where a call started by the API is created,
/// and where the telephony side finds the runner to deliver a call's events to.
public actor CallCenter {
    private let services: CallServices
    private let telephony: (any TelephonyProvider)?
    private var runners: [CallUUID: CallRunner] = [:]

    public init(services: CallServices, telephony: (any TelephonyProvider)?) {
        self.services = services
        self.telephony = telephony
    }

    public func runner(for callUUID: CallUUID) -> CallRunner? { runners[callUUID] }

    /// The number of calls running now.
    public var count: Int { runners.count }

    /// A call that arrived from the network: its runner, kept here until `finished`. The caller
    /// connects the port to the runner, then starts it.
    public func admit(_ arrival: Call.Arrival, port: any TelephonyPort) -> CallRunner {
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
        await forgetFinishedCalls()
        let callUUID = CallUUID.random()
        let port = try await telephony.makePort(for: callUUID, clientID: clientID)
        let runner = CallRunner(
            arrival: .init(
                callUUID: callUUID, clientID: clientID, dialled: plan.destination, did: nil,
                caller: .init(username: initiator.name, screenName: initiator.label, domain: nil), callback: plan),
            port: port, services: services)
        runners[callUUID] = runner
        services.timers.spawn { await runner.start() }
        return callUUID
    }

    private func forgetFinishedCalls() async {
        for (callUUID, runner) in runners where await runner.isOver {
            runners.removeValue(forKey: callUUID)
        }
    }
}
