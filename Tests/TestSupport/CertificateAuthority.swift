import Foundation

/// A throw-away certificate authority made with the `openssl` command: a CA, a server certificate
/// for `serverNames` (default `127.0.0.1`/`localhost`) and a client certificate, all PEM files in a
/// temporary folder.
public struct CertificateAuthority: Sendable {
    public let directory: TemporaryDirectory
    public var caFile: String { directory.file("ca.pem") }
    public var serverCertFile: String { directory.file("server.pem") }
    public var serverKeyFile: String { directory.file("server.key") }
    public var clientCertFile: String { directory.file("client.pem") }
    public var clientKeyFile: String { directory.file("client.key") }

    /// Makes the CA and its certificates; `name` shows in the certificates' subjects, `serverNames`
    /// are the server certificate's subjectAltName entries.
    public static func make(name: String = "ingestd-test-ca",
                            serverNames: String = "IP:127.0.0.1,DNS:localhost") async throws -> CertificateAuthority {
        let authority = CertificateAuthority(directory: try TemporaryDirectory(prefix: "ingestd-ca"))
        let d = authority.directory
        try await authority.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                     "-subj", "/CN=\(name)", "-keyout", d.file("ca.key"), "-out", authority.caFile,
                                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try "subjectAltName=\(serverNames)\nextendedKeyUsage=serverAuth\n"
            .write(toFile: d.file("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: d.file("client.ext"), atomically: true, encoding: .utf8)
        for (role, subject) in [("server", "/CN=localhost"), ("client", "/CN=ingestd")] {
            try await authority.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                                         "-keyout", d.file("\(role).key"), "-out", d.file("\(role).csr")])
            try await authority.openssl(["x509", "-req", "-in", d.file("\(role).csr"), "-CA", authority.caFile,
                                         "-CAkey", d.file("ca.key"), "-CAcreateserial", "-days", "2",
                                         "-extfile", d.file("\(role).ext"), "-out", d.file("\(role).pem")])
        }
        // mosquitto drops privileges when not told otherwise; keep the files readable.
        for file in ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: d.file(file))
        }
        return authority
    }

    public func remove() { directory.remove() }

    private func openssl(_ arguments: [String]) async throws {
        guard let executable = ExecutableLocator.find("openssl") else { throw MosquittoServerError("openssl not found") }
        let child = try ChildProcess(name: "openssl", executable: executable, arguments: arguments,
                                     logPath: directory.file("openssl.log"))
        let code = try await child.waitForExit(timeout: 60)
        guard code == 0 else { throw MosquittoServerError("openssl \(arguments.first ?? "") failed: \(child.log())") }
    }
}
