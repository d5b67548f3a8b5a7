import ArgumentParser

@main
struct QualityRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qualityrate",
        abstract: "Conversation ratings for contact centres: the telephony server and its REST API.",
        subcommands: [Serve.self, Setup.self, Demo.self, Simulate.self])
}

/// `--database PATH|postgres://…`, shared by every subcommand that touches the database.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "SQLite file (created when missing), or a postgres:// URL.")
    var database = "./qualityrate.sqlite"
}
