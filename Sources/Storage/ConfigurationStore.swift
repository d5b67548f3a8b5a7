public import Domain

/// The call-flow configuration of SPEC §4, every method scoped by client.
public protocol ConfigurationStore: Sendable {}
