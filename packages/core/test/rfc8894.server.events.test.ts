/**
 * Observability of the SCEP server: exactly one structured event per request
 * (operation, profile, transactionId, outcome, reason, failInfo, subject,
 * serial, status, latencyMs), an event sink that throws cannot break the
 * server, and `stats()` counts by outcome and reason, reports expiry dates and
 * whether a challenge is configured, and never contains the secret.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, generateCsr, type IssueContext, type ScepEvent, type ScepServer } from "../src/index.js";
import { NOW, ORIGIN, createDevice, createTestCa, csrFor, eventLog, getOp, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";

const SECRET = "Sup3r-S3cret-Challenge-Value-42";
let ca: TestCa;
let device: Device;

beforeAll(async () => {
  ca = await createTestCa("Events CA");
  device = await createDevice({ cn: "events-device", challengePassword: SECRET });
});

const latency = expect.any(Number) as unknown as number;

describe("one event per request", () => {
  let server: ScepServer;
  let log: ReturnType<typeof eventLog>;
  const calls: IssueContext[] = [];
  let pendingNext = false;

  beforeAll(() => {
    log = eventLog();
    server = createScepServer({
      profiles: [
        {
          name: "events",
          path: "/scep",
          caCertificate: ca.cert,
          signer: ca.key,
          challenge: { type: "static", password: SECRET },
          issue: issuingHook(ca, calls, () => (pendingNext ? { status: "PENDING" } : undefined)),
        },
      ],
      onEvent: log.onEvent,
      now: () => NOW,
    });
  });

  async function one(run: () => Promise<Response>): Promise<{ res: Response; event: ScepEvent }> {
    const before = log.events.length;
    const res = await run();
    expect(log.events.length).toBe(before + 1);
    const event = log.events.at(-1)!;
    expect(event.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(event.latencyMs)).toBe(true);
    return { res, event };
  }

  it("GetCACaps and GetCACert", async () => {
    expect((await one(() => getOp(server, "/scep", "GetCACaps"))).event).toEqual({ operation: "GetCACaps", profile: "events", outcome: "success", reason: "caps", status: 200, latencyMs: latency, time: NOW });
    expect((await one(() => getOp(server, "/scep", "GetCACert"))).event).toEqual({ operation: "GetCACert", profile: "events", outcome: "success", reason: "ca_cert", status: 200, latencyMs: latency, time: NOW });
  });

  it("an issued PKCSReq names the issued certificate's subject and serial", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const { res, event } = await one(() => postPki(server, "/scep", built.der));
    const rep = await readReply(res, built, { decrypter: device.signer });
    const cert = rep.certificates[0]!;
    expect(event).toEqual({
      operation: "PKCSReq",
      profile: "events",
      transactionId: built.transactionId,
      outcome: "success",
      reason: "issued",
      subject: cert.subject,
      serial: cert.serialNumberHex,
      renewal: false,
      challengeKind: "static",
      status: 200,
      latencyMs: latency, time: NOW,
    });
  });

  it("a refused PKCSReq names failInfo and the CSR subject, no serial", async () => {
    const csr = await csrFor(device.keys, "events-device", "wrong");
    const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const { event } = await one(() => postPki(server, "/scep", built.der));
    expect(event).toEqual({
      operation: "PKCSReq",
      profile: "events",
      transactionId: built.transactionId,
      outcome: "failure",
      reason: "bad_challenge",
      failInfo: "badRequest",
      subject: "CN=events-device, O=scep-sdk server tests",
      renewal: false,
      challengeKind: "static",
      status: 200,
      latencyMs: latency, time: NOW,
    });
  });

  it("a PENDING PKCSReq", async () => {
    pendingNext = true;
    try {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "EVENTS-PENDING-1" });
      const { event } = await one(() => postPki(server, "/scep", built.der));
      expect(event).toEqual({
        operation: "PKCSReq",
        profile: "events",
        transactionId: "EVENTS-PENDING-1",
        outcome: "pending",
        reason: "pending_approval",
        subject: "CN=events-device, O=scep-sdk server tests",
        renewal: false,
      challengeKind: "static",
      status: 200,
        latencyMs: latency, time: NOW,
      });
    } finally {
      pendingNext = false;
    }
  });

  it("a FAILURE for an undecodable request from a known sender names its transactionID", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const tampered = built.der.slice();
    tampered[tampered.length - 1]! ^= 0xff;
    const { event } = await one(() => postPki(server, "/scep", tampered));
    // The messageType was readable, so the event names the operation.
    expect(event).toEqual({
      operation: "PKCSReq",
      profile: "events",
      transactionId: built.transactionId,
      outcome: "failure",
      reason: "signature_invalid",
      failInfo: "badMessageCheck",
      status: 200,
      latencyMs: latency, time: NOW,
    });
  });

  it("HTTP rejections", async () => {
    expect((await one(() => getOp(server, "/scep", "Nope"))).event).toEqual({ operation: "unknown", profile: "events", outcome: "rejected", reason: "unknown_operation", status: 400, latencyMs: latency, time: NOW });
    expect((await one(() => postPki(server, "/scep", Uint8Array.from([0x30, 0x03, 0x02])) /* a truncated SEQUENCE: a PKIMessage that does not decode */)).event).toEqual({
      operation: "PKIOperation",
      profile: "events",
      outcome: "rejected",
      reason: "decode_error",
      status: 400,
      latencyMs: latency, time: NOW,
    });
    expect((await one(() => getOp(server, "/elsewhere", "GetCACert"))).event).toEqual({ operation: "GetCACert", outcome: "rejected", reason: "unknown_path", status: 404, latencyMs: latency, time: NOW });
  });

  it("a hook that throws is a server fault: 500, outcome error, one event", async () => {
    const errLog = eventLog();
    const broken = createScepServer({
      profiles: [
        {
          path: "/scep",
          caCertificate: ca.cert,
          signer: ca.key,
          challenge: { type: "static", password: SECRET },
          issue: async () => {
            throw new Error("database down");
          },
        },
      ],
      onEvent: errLog.onEvent,
      now: () => NOW,
    });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const res = await broken.fetch(new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "POST", body: built.der as Uint8Array<ArrayBuffer> }));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("internal error\n");
    // The request is named as a FAILURE's event names it, so the 500 can be tied to the device.
    expect(errLog.events).toEqual([
      { operation: "PKCSReq", profile: "/scep", outcome: "error", reason: "internal_error", status: 500, latencyMs: latency, time: NOW, transactionId: built.transactionId, subject: "CN=events-device, O=scep-sdk server tests" },
    ]);
    expect(broken.stats()[0]!.outcomes).toEqual({ error: 1 });
  });

  it("stats count what the events reported", () => {
    const stats = server.stats();
    expect(stats.length).toBe(1);
    const s = stats[0]!;
    expect(s.profile).toBe("events");
    const outcomes: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    for (const e of log.events.filter((e) => e.profile === "events")) {
      outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
      reasons[e.reason] = (reasons[e.reason] ?? 0) + 1;
    }
    expect(s.outcomes).toEqual(outcomes);
    expect(s.outcomes).toEqual({ success: 3, failure: 2, pending: 1, rejected: 2 });
    expect(s.reasons).toEqual({ caps: 1, ca_cert: 1, issued: 1, bad_challenge: 1, pending_approval: 1, signature_invalid: 1, unknown_operation: 1, decode_error: 1 });
    // The 404 matched no profile and is counted nowhere.
    expect(s.reasons["unknown_path"]).toBeUndefined();
  });
});

describe("a throwing event sink", () => {
  it("does not break the server, and stats still count", async () => {
    let calls = 0;
    const server = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) }],
      onEvent: () => {
        calls += 1;
        throw new Error("sink is broken");
      },
      now: () => NOW,
    });
    expect((await getOp(server, "/scep", "GetCACaps")).status).toBe(200);
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer });
    expect(rep.status).toBe("SUCCESS");
    expect((await getOp(server, "/nowhere", "GetCACaps")).status).toBe(404);
    expect(calls).toBe(3);
    expect(server.stats()[0]!.outcomes).toEqual({ success: 2 });
  });
});

describe("an async event sink whose promise rejects", () => {
  it("is no unhandled rejection (which would end the process), and the next sink still gets the event", async () => {
    const after: string[] = [];
    const unhandled = await unhandledRejectionsDuring(async () => {
      const server = createScepServer({
        profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) }],
        onEvent: [
          async () => {
            throw new Error("sink's database is down");
          },
          (e) => void after.push(e.reason),
        ],
        now: () => NOW,
      });
      expect((await getOp(server, "/scep", "GetCACaps")).status).toBe(200);
    });
    expect(unhandled).toEqual([]);
    expect(after).toEqual(["caps"]);
  });
});

describe("several event sinks (onEvent as an array)", () => {
  it("each sink gets every event, in order; a throwing sink does not keep the next from its event", async () => {
    const a: string[] = [];
    const b: string[] = [];
    const server = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) }],
      onEvent: [
        (e) => void a.push(e.reason),
        () => {
          throw new Error("broken sink");
        },
        (e) => void b.push(e.reason),
      ],
      now: () => NOW,
    });
    await getOp(server, "/scep", "GetCACaps");
    await getOp(server, "/scep", "GetCACert");
    expect(a).toEqual(["caps", "ca_cert"]);
    expect(b).toEqual(["caps", "ca_cert"]);
  });
});

describe("stats()", () => {
  it("reports expiry dates, challenge configuration, and never the secret", async () => {
    const ra = await ca.ra("CN=Events RA, O=scep-sdk server tests");
    const server = createScepServer({
      profiles: [
        { path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) },
        { name: "ra", path: "/ra", caCertificate: ca.cert, signer: ra, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) },
        { name: "open", path: "/open", caCertificate: ca.cert, signer: ca.key, challenge: { type: "none", acknowledgeAnyoneCanEnroll: true }, issue: issuingHook(ca) },
      ],
      now: () => NOW,
    });
    const csr = await csrFor(device.keys, "events-device", "wrong-guess");
    const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW });
    expect((await readReply(await postPki(server, "/scep", built.der), built)).status).toBe("FAILURE");
    expect((await readReply(await postPki(server, "/open", built.der), built)).status).toBe("SUCCESS");

    const stats = server.stats();
    expect(stats).toEqual([
      {
        profile: "/scep",
        outcomes: { failure: 1 },
        reasons: { bad_challenge: 1 },
        signerCertificateExpiry: ca.cert.notAfter,
        caCertificateExpiry: ca.cert.notAfter,
        challengeConfigured: true,
        challengeType: "static",
      },
      {
        profile: "ra",
        outcomes: {},
        reasons: {},
        signerCertificateExpiry: ra.certificate.notAfter,
        caCertificateExpiry: ca.cert.notAfter,
        challengeConfigured: true,
        challengeType: "static",
      },
      {
        profile: "open",
        outcomes: { success: 1 },
        reasons: { issued: 1 },
        signerCertificateExpiry: ca.cert.notAfter,
        caCertificateExpiry: ca.cert.notAfter,
        challengeConfigured: false,
        challengeType: "none",
      },
    ]);
    expect(ra.certificate.notAfter.getTime()).not.toBe(ca.cert.notAfter.getTime());
    const json = JSON.stringify(stats);
    expect(json.includes(SECRET)).toBe(false);
    expect(json.includes("wrong-guess")).toBe(false);
  });

  it("returns copies: mutating them does not change the server's counters", async () => {
    const server = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) }],
    });
    await getOp(server, "/scep", "GetCACaps");
    const first = server.stats()[0]!;
    first.outcomes["success"] = 99;
    first.reasons["caps"] = 99;
    expect(server.stats()[0]!.outcomes).toEqual({ success: 1 });
    expect(server.stats()[0]!.reasons).toEqual({ caps: 1 });
  });
});

describe("event fields are bounded", () => {
  const log = eventLog();
  let server: ScepServer;
  beforeAll(() => {
    server = createScepServer({
      profiles: [{ name: "events", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca, []) }],
      onEvent: log.onEvent,
      now: () => NOW,
    });
  });

  it("a subject longer than 1024 characters (an attribute RFC 5280 does not bound) reaches the event cut, ending in …", async () => {
    const uid = "u".repeat(3000);
    const csr = await generateCsr({ keys: device.keys, subject: `CN=events-long, 0.9.2342.19200300.100.1.1=${uid}`, challengePassword: "wrong" });
    const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW });
    await postPki(server, "/scep", built.der);
    const event = log.events.at(-1)!;
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "bad_challenge" });
    expect(event.subject).toHaveLength(1024);
    expect(event.subject).toBe(`CN=events-long, UID=${uid}`.slice(0, 1023) + "…");
  });
});
