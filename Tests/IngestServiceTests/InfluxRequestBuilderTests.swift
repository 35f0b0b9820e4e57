import XCTest
import IngestCore
@testable import IngestService

final class InfluxRequestBuilderTests: XCTestCase {
    func testV3WriteRequest() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "http://influx:8181/", api: .v3, token: "s3cret"))
        let request = builder.writeRequest(database: "telemetry_t1")
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.url, "http://influx:8181/api/v3/write_lp?db=telemetry_t1&precision=nanosecond")
        XCTAssertEqual(request.header("Authorization"), "Bearer s3cret")
        XCTAssertEqual(request.header("content-type"), "text/plain; charset=utf-8")
        XCTAssertNil(request.header("Content-Encoding"))
    }

    /// INFLUX_V3_NO_SYNC=1: acknowledged before the WAL flush; off, the URL carries no such parameter.
    func testV3NoSyncAddsTheParameter() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "http://influx:8181", api: .v3, v3NoSync: true))
        XCTAssertEqual(builder.writeRequest(database: "db").url,
                       "http://influx:8181/api/v3/write_lp?db=db&precision=nanosecond&no_sync=true")
        let settings = try! Settings(environment: ["INFLUX_V3_NO_SYNC": "1", "REGISTRY": "none"], hostname: "h", fileProblem: { _ in nil })
        XCTAssertTrue(InfluxRequestBuilder(configuration: settings.influxClientConfiguration)
            .writeRequest(database: "db").url.hasSuffix("&no_sync=true"))
    }

    func testV2WriteRequestNamesTheBucketAndOrg() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "https://h/prefix", api: .v2, token: "tok", org: "my org", gzip: true))
        let request = builder.writeRequest(database: "telemetry_t1")
        XCTAssertEqual(request.url, "https://h/prefix/api/v2/write?org=my%20org&bucket=telemetry_t1&precision=ns")
        XCTAssertEqual(request.header("Authorization"), "Token tok")
        XCTAssertEqual(request.header("Content-Encoding"), "gzip")
    }

    func testV1WithTokenUsesTokenScheme() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "http://h:8086", api: .v1, token: "user:pass", username: "ignored"))
        let request = builder.writeRequest(database: "db")
        XCTAssertEqual(request.url, "http://h:8086/write?db=db&precision=n")
        XCTAssertEqual(request.header("Authorization"), "Token user:pass")
    }

    func testV1WithoutTokenUsesBasicAuthNotQueryParameters() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "http://h:8086", api: .v1, username: "ingest", password: "pä ss"))
        let request = builder.writeRequest(database: "db")
        XCTAssertEqual(request.header("Authorization"), "Basic " + Data("ingest:pä ss".utf8).base64EncodedString())
        XCTAssertFalse(request.url.contains("u="))
        XCTAssertFalse(request.url.contains("p="))
    }

    func testNoCredentialsNoAuthorizationHeader() {
        let request = InfluxRequestBuilder(configuration: .init(api: .v1)).writeRequest(database: "db")
        XCTAssertNil(request.header("Authorization"))
        XCTAssertEqual(request.url, "http://localhost:8181/write?db=db&precision=n")
    }

    func testQueryValuesArePercentEncoded() {
        let request = InfluxRequestBuilder(configuration: .init(api: .v3)).writeRequest(database: "a b&c=d/é+%")
        XCTAssertEqual(request.url, "http://localhost:8181/api/v3/write_lp?db=a%20b%26c%3Dd%2F%C3%A9%2B%25&precision=nanosecond")
        XCTAssertEqual(InfluxRequestBuilder.percentEncode("Az09-._~"), "Az09-._~")
    }

    func testDescriptionsNeverShowSecrets() {
        let configuration = InfluxClientConfiguration(api: .v3, token: "TOPSECRET", username: "u", password: "PASSWORD1")
        let request = InfluxRequestBuilder(configuration: configuration).writeRequest(database: "db")
        for text in ["\(request)", String(reflecting: request), "\(configuration)"] {
            XCTAssertFalse(text.contains("TOPSECRET"), text)
            XCTAssertFalse(text.contains("PASSWORD1"), text)
        }
        XCTAssertTrue("\(request)".contains("Authorization: <redacted>"))
        let basic = InfluxRequestBuilder(configuration: .init(api: .v1, username: "u", password: "PASSWORD1")).writeRequest(database: "db")
        XCTAssertFalse("\(basic)".contains(Data("u:PASSWORD1".utf8).base64EncodedString()))
    }

    func testCreateDatabaseRequestQuotesTheName() {
        let builder = InfluxRequestBuilder(configuration: .init(baseURL: "http://h:8086", api: .v1))
        XCTAssertEqual(builder.createDatabaseRequest().url, "http://h:8086/query")
        XCTAssertEqual(builder.createDatabaseRequest().header("Content-Type"), "application/x-www-form-urlencoded")
        XCTAssertEqual(InfluxRequestBuilder.quoteIdentifier(#"we"ird\db"#), #""we\"ird\\db""#)
        XCTAssertEqual(String(decoding: builder.createDatabaseBody(database: "t 1"), as: UTF8.self),
                       "q=CREATE%20DATABASE%20%22t%201%22")
    }
}
