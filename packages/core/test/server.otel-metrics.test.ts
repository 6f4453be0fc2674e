/**
 * OpenTelemetry metrics (issue 11) read with the real OpenTelemetry metrics
 * SDK (`@opentelemetry/sdk-metrics` MeterProvider and a MetricReader, as an
 * application installs them): enrollments by profile, outcome, reason, kind
 * (RFC 8894 §3.3.1 first enrollment, §3.3.1.2 renewal) and challenge kind;
 * request durations in seconds with the HTTP semantic-convention buckets;
 * days to expiry of CA/RA certificates and trust anchors on the injected
 * clock. Without an SDK nothing is recorded and nothing throws.
 */
import { metrics } from "@opentelemetry/api";
import { type DataPoint, type Histogram, MeterProvider, MetricReader, type MetricData } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, SCEP_METRICS, buildPkcsReq, createScepMetrics, createScepServer, type ChallengeStatusReporter, type ScepServer } from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, getOp, issuingHook, postPki, readReply, type TestCa } from "./support/server-pki.js";

/** A pull reader, as the Prometheus exporter is: collect() on demand. */
class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const SECRET = "otel-challenge-secret-31337";
let ca: TestCa;
let ra: LocalKey;
let renewing: LocalKey;
let renewingKeys: CryptoKeyPair;
let provider: MeterProvider;
let reader: PullReader;
let server: ScepServer;
let clock = NOW;
const anchorNotAfter = new Date(NOW.getTime() + 20 * DAY);
const reporter: ChallengeStatusReporter = { challengeStatus: () => ({ kind: "intune", trustAnchors: [{ subject: "CN=Anchor", notAfter: anchorNotAfter, fingerprintSha256: "0123456789abcdef".repeat(4) }] }) };

beforeAll(async () => {
  ca = await createTestCa("Metrics CA");
  ra = await ca.ra("CN=Metrics RA, O=scep-sdk server tests");
  const d = await createDevice({ cn: "renewer" });
  renewingKeys = d.keys;
  renewing = LocalKey.from(await ca.issue(d.csr, { notBefore: NOW, notAfter: new Date(NOW.getTime() + 10 * DAY) }), d.keys.privateKey);
  reader = new PullReader();
  provider = new MeterProvider({ readers: [reader] });
  const m = createScepMetrics({ meterProvider: provider, now: () => clock });
  server = createScepServer({
    profiles: [
      { name: "corp", path: "/scep/corp", caCertificate: ca.cert, signer: ra, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) },
      { name: "mdm", path: "/scep/mdm", caCertificate: ca.cert, signer: ca.key, challenge: { type: "custom", validate: () => ({ ok: false, reason: "replay", failInfo: "badMessageCheck" }), status: reporter }, issue: issuingHook(ca) },
    ],
    onEvent: [m.sink],
    now: () => NOW,
  });
  m.observe(server);

  const enroll = async (path: string, recipient: LocalKey, cn: string, challenge?: string, signer?: LocalKey, keys?: CryptoKeyPair): Promise<string> => {
    const dev = signer ? { keys: keys!, signer } : await createDevice({ cn });
    const built = await buildPkcsReq({ csr: await csrFor(dev.keys, cn, challenge), signer: dev.signer, recipient: recipient.certificate, now: NOW });
    return (await readReply(await postPki(server, path, built.der), built, { decrypter: dev.signer, caCertificates: [ca.cert] })).status;
  };
  expect(await enroll("/scep/corp", ra, "a", SECRET)).toBe("SUCCESS");
  expect(await enroll("/scep/corp", ra, "b", SECRET)).toBe("SUCCESS");
  expect(await enroll("/scep/corp", ra, "c", "wrong")).toBe("FAILURE");
  expect(await enroll("/scep/corp", ra, "renewer", undefined, renewing, renewingKeys)).toBe("SUCCESS");
  expect(await enroll("/scep/mdm", ca.key, "phone", "token")).toBe("FAILURE");
  expect((await getOp(server, "/scep/corp", "GetCACaps")).status).toBe(200);
  expect((await getOp(server, "/nowhere", "GetCACaps")).status).toBe(404);
});
afterAll(() => provider.shutdown());

async function collect(): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === "@scep/core")!;
  return new Map(scope.metrics.map((m) => [m.descriptor.name, m]));
}

const points = <T>(m: MetricData | undefined): { attributes: Record<string, unknown>; value: T }[] =>
  (m!.dataPoints as DataPoint<T>[]).map((p) => ({ attributes: p.attributes, value: p.value })).sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));

describe("enrollments counter", () => {
  it("scep.server.enrollments by profile, outcome, reason, enrollment kind and challenge kind; unit {enrollment}", async () => {
    const m = (await collect()).get(SCEP_METRICS.enrollments);
    expect(m!.descriptor).toMatchObject({ name: "scep.server.enrollments", unit: "{enrollment}" });
    expect(points<number>(m)).toEqual([
      { attributes: { "scep.profile": "corp", "scep.outcome": "failure", "scep.reason": "bad_challenge", "scep.enrollment.kind": "initial", "scep.challenge.kind": "static" }, value: 1 },
      { attributes: { "scep.profile": "corp", "scep.outcome": "success", "scep.reason": "issued", "scep.enrollment.kind": "initial", "scep.challenge.kind": "static" }, value: 2 },
      { attributes: { "scep.profile": "corp", "scep.outcome": "success", "scep.reason": "issued", "scep.enrollment.kind": "renewal", "scep.challenge.kind": "static" }, value: 1 },
      { attributes: { "scep.profile": "mdm", "scep.outcome": "failure", "scep.reason": "replay", "scep.enrollment.kind": "initial", "scep.challenge.kind": "intune" }, value: 1 },
    ]);
  });
});

describe("request duration histogram", () => {
  it("scep.server.request.duration in seconds, HTTP semantic-convention buckets, by profile, operation and outcome", async () => {
    const m = (await collect()).get(SCEP_METRICS.requestDuration)!;
    expect(m.descriptor).toMatchObject({ unit: "s" });
    const byKey = new Map(points<Histogram>(m).map((p) => [JSON.stringify(p.attributes), p.value]));
    expect([...byKey.keys()].sort()).toEqual(
      [
        { "scep.operation": "GetCACaps", "scep.outcome": "rejected" },
        { "scep.profile": "corp", "scep.operation": "GetCACaps", "scep.outcome": "success" },
        { "scep.profile": "corp", "scep.operation": "PKCSReq", "scep.outcome": "failure" },
        { "scep.profile": "corp", "scep.operation": "PKCSReq", "scep.outcome": "success" },
        { "scep.profile": "mdm", "scep.operation": "PKCSReq", "scep.outcome": "failure" },
      ]
        .map((a) => JSON.stringify(a))
        .sort(),
    );
    const issued = byKey.get(JSON.stringify({ "scep.profile": "corp", "scep.operation": "PKCSReq", "scep.outcome": "success" }))!;
    expect(issued.count).toBe(3);
    expect(issued.buckets.boundaries).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
    expect(issued.sum).toBeGreaterThan(0);
    expect(issued.max!).toBeLessThan(60); // seconds, not milliseconds
  });
});

describe("expiry gauges", () => {
  it("days to expiry of CA, RA and trust anchors on the injected clock; negative once expired", async () => {
    clock = NOW;
    let all = await collect();
    expect(all.get(SCEP_METRICS.certificateTimeToExpiry)!.descriptor).toMatchObject({ unit: "d" });
    expect(points<number>(all.get(SCEP_METRICS.certificateTimeToExpiry))).toEqual([
      { attributes: { "scep.profile": "corp", "scep.certificate.role": "ca", "scep.certificate.subject": "CN=Metrics CA, O=scep-sdk server tests" }, value: 3650 },
      { attributes: { "scep.profile": "corp", "scep.certificate.role": "ra", "scep.certificate.subject": "CN=Metrics RA, O=scep-sdk server tests" }, value: 365 },
      { attributes: { "scep.profile": "mdm", "scep.certificate.role": "ca", "scep.certificate.subject": "CN=Metrics CA, O=scep-sdk server tests" }, value: 3650 },
    ]);
    expect(points<number>(all.get(SCEP_METRICS.trustAnchorTimeToExpiry))).toEqual([
      { attributes: { "scep.profile": "mdm", "scep.trust_anchor.subject": "CN=Anchor", "scep.trust_anchor.fingerprint": "0123456789abcdef" }, value: 20 },
    ]);
    clock = new Date(NOW.getTime() + 21 * DAY + DAY / 2);
    all = await collect();
    expect(points<number>(all.get(SCEP_METRICS.trustAnchorTimeToExpiry))[0]!.value).toBe(-1.5);
    expect(points<number>(all.get(SCEP_METRICS.certificateTimeToExpiry))[1]!.value).toBe(343.5);
  });
});

describe("bounded series", () => {
  it("reasons past maxReasons are recorded as other", async () => {
    const r = new PullReader();
    const p = new MeterProvider({ readers: [r] });
    const m = createScepMetrics({ meterProvider: p, maxReasons: 2 });
    for (const reason of ["issued", "bad_challenge", "webhook_said_a", "webhook_said_b", "issued"]) m.sink({ operation: "PKCSReq", profile: "p", outcome: "failure", reason, status: 200, latencyMs: 1, time: NOW });
    const { resourceMetrics } = await r.collect();
    const counter = resourceMetrics.scopeMetrics[0]!.metrics.find((x) => x.descriptor.name === SCEP_METRICS.enrollments);
    expect(points<number>(counter).map((x) => [x.attributes["scep.reason"], x.value])).toEqual([
      ["bad_challenge", 1],
      ["issued", 2],
      ["other", 2],
    ]);
    await p.shutdown();
  });

  it("the client's address and the time are no attributes: 100 clients make one series per instrument", async () => {
    const r = new PullReader();
    const p = new MeterProvider({ readers: [r] });
    const m = createScepMetrics({ meterProvider: p });
    for (let i = 0; i < 100; i++) m.sink({ operation: "PKCSReq", profile: "p", outcome: "success", reason: "issued", status: 200, latencyMs: 1, time: new Date(NOW.getTime() + i), clientAddress: `192.0.2.${i}` });
    const { resourceMetrics } = await r.collect();
    const byName = new Map(resourceMetrics.scopeMetrics[0]!.metrics.map((x) => [x.descriptor.name, x]));
    expect(points<number>(byName.get(SCEP_METRICS.enrollments)).map((x) => [x.attributes, x.value])).toEqual([[{ "scep.profile": "p", "scep.outcome": "success", "scep.reason": "issued" }, 100]]);
    expect(points(byName.get(SCEP_METRICS.requestDuration)).map((x) => x.attributes)).toEqual([{ "scep.profile": "p", "scep.operation": "PKCSReq", "scep.outcome": "success" }]);
    await p.shutdown();
  });
});

describe("without an OpenTelemetry SDK", () => {
  it("the global API is a no-op: instruments record nothing and the sink never throws", () => {
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");
    const m = createScepMetrics();
    expect(() => m.sink({ operation: "PKCSReq", profile: "p", outcome: "success", reason: "issued", status: 200, latencyMs: 1, time: NOW })).not.toThrow();
    expect(typeof m.observe(server)).toBe("function");
  });
});
