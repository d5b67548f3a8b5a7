public import Domain
public import Storage

// SCAFFOLD: replaced by the implementation; must not reach main.
extension PostgresStore {
    public func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension? { fatalError("not yet") }
    public func dialTarget(clientID: Int64, number: String) async throws -> DialTarget? { fatalError("not yet") }
    public func `extension`(clientID: Int64, name: String) async throws -> Extension? { fatalError("not yet") }
    public func createExtension(_ new: NewExtension, status: ExtensionStatus, credentials: SIPCredentials?) async throws -> Extension { fatalError("not yet") }
    public func updateExtension(_ changed: Extension, credentials: SIPCredentials?) async throws { fatalError("not yet") }
    public func deleteExtension(clientID: Int64, id: Int64) async throws { fatalError("not yet") }
    public func sipCredentials(clientID: Int64, extensionID: Int64) async throws -> SIPCredentials? { fatalError("not yet") }
    public func dids(clientID: Int64) async throws -> [DID] { fatalError("not yet") }
    public func did(clientID: Int64, id: Int64) async throws -> DID? { fatalError("not yet") }
    public func did(number: String) async throws -> DID? { fatalError("not yet") }
    public func createDID(_ new: NewDID) async throws -> DID { fatalError("not yet") }
    public func updateDID(_ changed: DID) async throws { fatalError("not yet") }
    public func deleteDID(clientID: Int64, id: Int64) async throws { fatalError("not yet") }
    public func queueOptions(clientID: Int64, queueID: Int64) async throws -> QueueOptions? { fatalError("not yet") }
    public func updateQueueOptions(clientID: Int64, queueID: Int64, _ options: QueueOptions) async throws { fatalError("not yet") }
    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> [QueueAgent]? { fatalError("not yet") }
    public func addQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws -> QueueAgent { fatalError("not yet") }
    public func removeQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws { fatalError("not yet") }
    public func queueConfiguration(clientID: Int64, queueID: Int64) async throws -> QueueConfiguration? { fatalError("not yet") }
    public func ivrOptions(clientID: Int64, ivrID: Int64) async throws -> IVROptions? { fatalError("not yet") }
    public func updateIVROptions(clientID: Int64, ivrID: Int64, _ options: IVROptions) async throws { fatalError("not yet") }
    public func ivrContexts(clientID: Int64, ivrID: Int64) async throws -> [IVRContext] { fatalError("not yet") }
    public func ivrContext(clientID: Int64, ivrID: Int64, id: Int64) async throws -> IVRContext? { fatalError("not yet") }
    public func createIVRContext(clientID: Int64, ivrID: Int64, _ settings: IVRContext.Settings) async throws -> IVRContext { fatalError("not yet") }
    public func updateIVRContext(clientID: Int64, _ context: IVRContext) async throws { fatalError("not yet") }
    public func deleteIVRContext(clientID: Int64, ivrID: Int64, id: Int64) async throws { fatalError("not yet") }
    public func ivrRuleCounts(clientID: Int64, ivrID: Int64, contextID: Int64) async throws -> [String: Int]? { fatalError("not yet") }
    public func ivrRules(clientID: Int64, ivrID: Int64, contextID: Int64, option: String) async throws -> [IVRRule]? { fatalError("not yet") }
    public func ivrRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws -> IVRRule? { fatalError("not yet") }
    public func createIVRRule( clientID: Int64, ivrID: Int64, contextID: Int64, option: String, position: Int64?, _ definition: IVRRuleDefinition ) async throws -> IVRRule { fatalError("not yet") }
    public func updateIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, _ rule: IVRRule) async throws { fatalError("not yet") }
    public func deleteIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws { fatalError("not yet") }
    public func ivrConfiguration(clientID: Int64, ivrID: Int64) async throws -> IVRConfiguration? { fatalError("not yet") }
}
