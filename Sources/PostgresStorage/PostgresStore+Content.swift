public import Domain
public import Storage

// SCAFFOLD: replaced by the implementation; must not reach main.
extension PostgresStore {
    public func soundExists(clientID: Int64, id: Int64) async throws -> Bool { fatalError("not yet") }
    public func createSound(clientID: Int64, title: String, audio: SoundAudio) async throws -> SoundInfo { fatalError("not yet") }
    public func sounds(clientID: Int64) async throws -> [SoundInfo] { fatalError("not yet") }
    public func sound(clientID: Int64, id: Int64) async throws -> SoundInfo? { fatalError("not yet") }
    public func soundAudio(clientID: Int64, id: Int64) async throws -> SoundAudio? { fatalError("not yet") }
    public func updateSoundTitle(clientID: Int64, id: Int64, title: String) async throws -> SoundInfo? { fatalError("not yet") }
    public func replaceSoundAudio(clientID: Int64, id: Int64, title: String?, audio: SoundAudio) async throws -> SoundInfo? { fatalError("not yet") }
    public func deleteSound(clientID: Int64, id: Int64) async throws -> Bool { fatalError("not yet") }
    public func updateClient(_ client: Client, replacingNotificationSecret notificationSecret: String?) async throws { fatalError("not yet") }
    public func hasNotificationSecret(clientID: Int64) async throws -> Bool { fatalError("not yet") }
    public func notifications(clientID: Int64, beforeID: Int64?, limit: Int) async throws -> [RatingNotification] { fatalError("not yet") }
    public func dueNotifications(at now: UnixTime, limit: Int) async throws -> [DueNotification] { fatalError("not yet") }
    public func recordNotificationAttempt(id: Int64, _ outcome: NotificationAttempt) async throws { fatalError("not yet") }
    public func trunks(clientID: Int64) async throws -> [Trunk] { fatalError("not yet") }
    public func trunk(clientID: Int64, id: Int64) async throws -> Trunk? { fatalError("not yet") }
    public func createTrunk(_ trunk: Trunk) async throws -> Trunk { fatalError("not yet") }
    public func updateTrunk(_ trunk: Trunk) async throws -> Trunk { fatalError("not yet") }
    public func deleteTrunk(clientID: Int64, id: Int64) async throws { fatalError("not yet") }
    public func registeringTrunks() async throws -> [Trunk] { fatalError("not yet") }
    public func setTrunkStatus(id: Int64, _ status: Trunk.Status, lastError: String?) async throws { fatalError("not yet") }
}
