/**
 * What an operator sees (issue 11): `server.snapshot()` per profile (RA/CA
 * certificate subject, notAfter and days left on the injected clock; challenge
 * configured and its kind, never the secret; what a validator reports through
 * ChallengeStatusReporter; counters by outcome and reason; pending count) and
 * the ActivityLog fed by the event hook, after a scripted sequence of
 * enrollments (RFC 8894 §3.3.1 first enrollment, §3.3.1.2 renewal, §3.3.3
 * PENDING).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ActivityLog,
  LocalKey,
  MemoryCounterStore,
  StoreUnavailableError,
  buildPkcsReq,
  createScepServer,
  type ChallengeStatusReporter,
  type CounterStore,
  type ScepServer,
  type TransactionStore,
  MemoryTransactionStore,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, getOp, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const SECRET = "Operator-Snapshot-Secret-7f3a";
const TOKEN_OK = "token-accepted";
let ca: TestCa;
let ra: LocalKey;
let device: Device;
let renewing: LocalKey;

/** A validator that reports itself like @scep/intune's do (that package tests the real ones). */
const anchorNotAfter = new Date(NOW.getTime() + 45 * DAY + 3_600_000);
const reporter: ChallengeStatusReporter = {
  challengeStatus: () => ({ kind: "intune", mode: "signed-token", trustAnchors: [{ subject: "CN=Anchor", notAfter: anchorNotAfter, fingerprintSha256: "ab".repeat(32) }] }),
};

beforeAll(async () => {
  ca = await createTestCa("Operator CA");
  ra = await ca.ra("CN=Operator RA, O=scep-sdk server tests");
  device = await createDevice({ cn: "op-device", challengePassword: SECRET });
  const cert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 30 * DAY) });
  renewing = LocalKey.from(cert, device.keys.privateKey);
});

function setup(options: { counters?: CounterStore; transactions?: TransactionStore; clock?: () => Date } = {}): { server: ScepServer; activity: ActivityLog } {
  const clock = options.clock ?? (() => NOW);
  const activity = new ActivityLog({ now: clock });
  const server = createScepServer({
    profiles: [
      {
        name: "corp",
        path: "/scep/corp",
        caCertificate: ca.cert,
        signer: ra,
        challenge: { type: "static", password: SECRET },
        transactions: options.transactions ?? new MemoryTransactionStore({ now: clock }),
        issue: issuingHook(ca, [], (ctx) => (ctx.csr.subject.includes("pending") && !ctx.approved ? { status: "PENDING" } : undefined)),
      },
      {
        name: "intune",
        path: "/scep/intune",
        caCertificate: ca.cert,
        signer: ca.key,
        challenge: { type: "custom", validate: ({ challenge }) => (challenge === TOKEN_OK ? true : { ok: false, reason: "replay", failInfo: "badMessageCheck" }), status: reporter },
        issue: issuingHook(ca),
      },
    ],
    onEvent: [activity.sink],
    now: clock,
    ...(options.counters ? { counters: options.counters } : {}),
  });
  return { server, activity };
}

async function enroll(server: ScepServer, path: string, opts: { cn: string; challenge?: string; signer?: LocalKey; transactionId?: string }): Promise<string> {
  const d = opts.signer ? { keys: device.keys, signer: opts.signer } : await createDevice({ cn: opts.cn });
  const csr = await csrFor(d.keys, opts.cn, opts.challenge);
  const signer = d.signer;
  const built = await buildPkcsReq({ csr, signer, recipient: path === "/scep/corp" ? ra.certificate : ca.cert, now: NOW, ...(opts.transactionId ? { transactionId: opts.transactionId } : {}) });
  const rep = await readReply(await postPki(server, path, built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
  return rep.status;
}

/** The scripted sequence: one success, one wrong challenge, one pending, one renewal on corp; one accepted and one replayed token on intune. */
async function script(server: ScepServer): Promise<void> {
  expect((await getOp(server, "/scep/corp", "GetCACaps")).status).toBe(200);
  expect(await enroll(server, "/scep/corp", { cn: "laptop-1", challenge: SECRET })).toBe("SUCCESS");
  expect(await enroll(server, "/scep/corp", { cn: "laptop-2", challenge: "guessed" })).toBe("FAILURE");
  expect(await enroll(server, "/scep/corp", { cn: "pending-3", challenge: SECRET, transactionId: "TX-PENDING-3" })).toBe("PENDING");
  expect(await enroll(server, "/scep/corp", { cn: "op-device", signer: renewing })).toBe("SUCCESS");
  expect(await enroll(server, "/scep/intune", { cn: "phone-1", challenge: TOKEN_OK })).toBe("SUCCESS");
  expect(await enroll(server, "/scep/intune", { cn: "phone-2", challenge: "a-replayed-token" })).toBe("FAILURE");
}

describe("server.snapshot() after a scripted sequence", () => {
  let s: ReturnType<typeof setup>;
  beforeAll(async () => {
    s = setup();
    await script(s.server);
  });

  it("corp: RA and CA certificates with days left, static challenge without its secret, counters, one pending", async () => {
    const [corp] = await s.server.snapshot();
    expect(corp).toEqual({
      profile: "corp",
      path: "/scep/corp",
      at: NOW,
      ca: { subject: "CN=Operator CA, O=scep-sdk server tests", issuer: "CN=Operator CA, O=scep-sdk server tests", serialNumber: "01", notBefore: ca.cert.notBefore, notAfter: ca.cert.notAfter, daysLeft: 3650 },
      ra: [{ subject: "CN=Operator RA, O=scep-sdk server tests", issuer: "CN=Operator CA, O=scep-sdk server tests", serialNumber: ra.certificate.serialNumberHex, notBefore: NOW, notAfter: ra.certificate.notAfter, daysLeft: 365 }],
      challenge: { configured: true, type: "static", kind: "static" },
      counters: { scope: "process", outcomes: { success: 3, failure: 1, pending: 1 }, reasons: { caps: 1, issued: 2, bad_challenge: 1, pending_approval: 1 } },
      pending: 1,
    });
  });

  it("intune: the validator's kind, mode and trust anchors with days left; the CA signs itself (no RA)", async () => {
    const [, intune] = await s.server.snapshot();
    expect(intune).toMatchObject({
      profile: "intune",
      ra: [],
      challenge: { configured: true, type: "custom", kind: "intune", mode: "signed-token", trustAnchors: [{ subject: "CN=Anchor", notAfter: anchorNotAfter, daysLeft: 45, fingerprintSha256: "ab".repeat(32) }] },
      counters: { scope: "process", outcomes: { success: 1, failure: 1 }, reasons: { issued: 1, replay: 1 } },
      pending: 0,
    });
  });

  it("never holds a challenge: neither the static secret nor a presented one", async () => {
    const json = JSON.stringify([await s.server.snapshot(), s.activity.list({ limit: 1000 })]);
    for (const secret of [SECRET, "guessed", TOKEN_OK, "a-replayed-token"]) expect(json).not.toContain(secret);
  });

  it("profiles() is the store-free part, on the same clock", async () => {
    const [snap] = await s.server.snapshot();
    const { at: _at, counters: _c, pending: _p, ...info } = snap!;
    expect(s.server.profiles()[0]).toEqual(info);
  });
});

describe("days left follow the injected clock", () => {
  it("rounded down; negative once notAfter has passed", async () => {
    let t = NOW;
    const { server } = setup({ clock: () => t });
    t = new Date(ra.certificate.notAfter.getTime() - 1);
    expect(server.profiles()[0]!.ra[0]!.daysLeft).toBe(0);
    t = new Date(ra.certificate.notAfter.getTime() + 1);
    expect(server.profiles()[0]!.ra[0]!.daysLeft).toBe(-1);
    t = new Date(NOW.getTime() + 44 * DAY);
    expect(server.profiles()[1]!.challenge.trustAnchors![0]!.daysLeft).toBe(1);
  });
});

describe("the activity log", () => {
  let s: ReturnType<typeof setup>;
  beforeAll(async () => {
    s = setup();
    await script(s.server);
  });

  it("holds the enrollments newest first, with kind, challenge, outcome, reason, subject; not the successful GetCACaps", () => {
    const rows = s.activity.list().map((e) => [e.kind, e.challenge, e.profile, e.outcome, e.reason, e.subject]);
    expect(rows).toEqual([
      ["initial", "intune", "intune", "failure", "replay", "CN=phone-2, O=scep-sdk server tests"],
      ["initial", "intune", "intune", "success", "issued", "CN=phone-1, O=scep-sdk server tests"],
      ["renewal", "static", "corp", "success", "issued", "CN=op-device, O=scep-sdk server tests"],
      ["initial", "static", "corp", "pending", "pending_approval", "CN=pending-3, O=scep-sdk server tests"],
      ["initial", "static", "corp", "failure", "bad_challenge", "CN=laptop-2, O=scep-sdk server tests"],
      ["initial", "static", "corp", "success", "issued", "CN=laptop-1, O=scep-sdk server tests"],
    ]);
    expect(s.activity.list()[0]).toMatchObject({ id: 6, time: NOW, operation: "PKCSReq", failInfo: "badMessageCheck", status: 200 });
  });

  it("filters: initial / renewal / intune / static chips, outcome, profile, reason, subject, transactionID", () => {
    const subjects = (f: Parameters<ActivityLog["list"]>[0]): string[] => s.activity.list(f).map((e) => e.subject!.slice(3, e.subject!.indexOf(",")));
    expect(subjects({ kind: "renewal" })).toEqual(["op-device"]);
    expect(subjects({ kind: "initial", challenge: "static" })).toEqual(["pending-3", "laptop-2", "laptop-1"]);
    expect(subjects({ challenge: "intune" })).toEqual(["phone-2", "phone-1"]);
    expect(subjects({ outcome: ["failure", "pending"] })).toEqual(["phone-2", "pending-3", "laptop-2"]);
    expect(subjects({ profile: "corp", reason: "issued" })).toEqual(["op-device", "laptop-1"]);
    expect(subjects({ subject: "LAPTOP" })).toEqual(["laptop-2", "laptop-1"]);
    expect(subjects({ transactionId: "TX-PENDING-3" })).toEqual(["pending-3"]);
    expect(subjects({ limit: 2 })).toEqual(["phone-2", "phone-1"]);
    expect(subjects({ before: 5, limit: 2 })).toEqual(["op-device", "pending-3"]);
    expect(subjects({ since: new Date(NOW.getTime() + 1) })).toEqual([]);
  });
});

describe("reason labels a validator names", () => {
  it("are counted exactly, also `constructor` and `__proto__` (null-prototype records)", async () => {
    let next = "constructor";
    const server = createScepServer({
      profiles: [{ name: "hooked", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "custom", validate: () => ({ ok: false, reason: next }) }, issue: issuingHook(ca) }],
      now: () => NOW,
    });
    const d = await createDevice({ cn: "labelled" });
    const send = async (): Promise<void> => {
      const built = await buildPkcsReq({ csr: d.csr, signer: d.signer, recipient: ca.cert, now: NOW });
      expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: d.signer })).status).toBe("FAILURE");
    };
    await send();
    await send();
    next = "__proto__";
    await send();
    const [snap] = await server.snapshot();
    expect(snap!.counters.reasons).toEqual({ constructor: 2, ["__proto__"]: 1 });
    expect(Object.getPrototypeOf(snap!.counters.reasons)).toBe(Object.prototype);
  });
});

describe("a store that fails does not fail the snapshot", () => {
  it("counters fall back to this process, pending is null, and both stores are named", async () => {
    const down = new StoreUnavailableError("redis down");
    const counters: CounterStore = { increment: () => undefined, read: () => Promise.reject(down) };
    const transactions = new MemoryTransactionStore({ now: () => NOW });
    transactions.list = () => Promise.reject(down);
    const { server } = setup({ counters, transactions });
    await getOp(server, "/scep/corp", "GetCACert");
    const [corp] = await server.snapshot();
    expect(corp).toMatchObject({ counters: { scope: "process", outcomes: { success: 1 }, reasons: { ca_cert: 1 } }, pending: null, unavailable: ["counter store", "transaction store"] });
  });

  it("with a shared counters store the counts are every replica's (scope replicas)", async () => {
    const counters = new MemoryCounterStore();
    const a = setup({ counters }).server;
    const b = setup({ counters }).server;
    await getOp(a, "/scep/corp", "GetCACert");
    await getOp(b, "/scep/corp", "GetCACert");
    const [corp] = await a.snapshot();
    expect(corp!.counters).toEqual({ scope: "replicas", outcomes: { success: 2 }, reasons: { ca_cert: 2 } });
    expect(corp!.unavailable).toBeUndefined();
  });
});
