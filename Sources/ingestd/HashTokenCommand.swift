import ArgumentParser
import IngestCore

struct HashTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-token",
        abstract: "Print the sha256 hex of a device token, the value for provision_token_hash in the registry."
    )

    @Argument(help: "The device's provision token.")
    var token: String

    func validate() throws {
        guard !token.isEmpty else { throw ValidationError("the token must not be empty") }
    }

    func run() async throws {
        print(TokenHasher.sha256Hex(token))
    }
}
