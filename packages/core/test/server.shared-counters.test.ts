/**
 * `createScepServer({ counters })`: every request is also counted in a
 * CounterStore that replicas share, `sharedStats()` reads the sum, and a
 * counter store that throws, rejects or hangs never breaks or slows a request
 * (issue 8: one number per profile across replicas).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCounterStore, buildPkcsReq, createScepServer, type CounterStore, type ScepServer } from "../src/index.js";
import { NOW, createDevice, createTestCa, getOp, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const SECRET = "counters-challenge-0123456789";
let ca: TestCa;
let device: Device;

beforeAll(async () => {
  ca = await createTestCa("Counters CA");
  device = await createDevice({ cn: "counters-device", challengePassword: SECRET });
});

function replica(counters?: CounterStore, storeTimeoutMs?: number): ScepServer {
  return createScepServer({
    profiles: [{ name: "corp", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: SECRET }, issue: issuingHook(ca) }],
    now: () => NOW,
    ...(counters ? { counters } : {}),
    ...(storeTimeoutMs ? { storeTimeoutMs } : {}),
  });
}

async function enroll(server: ScepServer): Promise<string> {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  return (await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer })).status;
}

describe("counters shared by replicas", () => {
  it("sharedStats() on either replica is the sum of both; stats() stays per process", async () => {
    const counters = new MemoryCounterStore();
    const a = replica(counters);
    const b = replica(counters);
    expect((await getOp(a, "/scep", "GetCACaps")).status).toBe(200);
    expect((await getOp(b, "/scep", "GetCACert")).status).toBe(200);
    expect(await enroll(b)).toBe("SUCCESS");
    expect((await getOp(a, "/scep", "Nope")).status).toBe(400);
    const shared = { outcomes: { success: 3, rejected: 1 }, reasons: { caps: 1, ca_cert: 1, issued: 1, unknown_operation: 1 } };
    for (const s of [a, b]) {
      const [corp] = await s.sharedStats();
      expect({ outcomes: corp!.outcomes, reasons: corp!.reasons }).toEqual(shared);
      expect(corp).toMatchObject({ profile: "corp", challengeConfigured: true, challengeType: "static", caCertificateExpiry: ca.cert.notAfter });
    }
    expect(a.stats()[0]!.outcomes).toEqual({ success: 1, rejected: 1 });
    expect(b.stats()[0]!.outcomes).toEqual({ success: 2 });
  });

  it("without a counters store sharedStats() is this process's stats()", async () => {
    const s = replica();
    await getOp(s, "/scep", "GetCACaps");
    expect(await s.sharedStats()).toEqual(s.stats());
  });
});

describe("a failing counter store never breaks or slows a request", () => {
  const broken: Array<[string, CounterStore]> = [
    ["throws", { increment: () => { throw new Error("boom"); }, read: async () => ({ outcomes: {}, reasons: {} }) }],
    ["rejects", { increment: () => Promise.reject(new Error("down")), read: async () => ({ outcomes: {}, reasons: {} }) }],
    ["never settles", { increment: () => new Promise<void>(() => {}), read: () => new Promise(() => {}) }],
  ];
  for (const [label, counters] of broken) {
    it(`increment that ${label}: GetCACaps and an enrollment still succeed, stats() still counts`, async () => {
      const s = replica(counters, 50);
      expect((await getOp(s, "/scep", "GetCACaps")).status).toBe(200);
      expect(await enroll(s)).toBe("SUCCESS");
      expect(s.stats()[0]!.outcomes).toEqual({ success: 2 });
    });
  }

  it("a read that hangs: sharedStats() rejects with StoreUnavailableError after storeTimeoutMs", async () => {
    const s = replica(broken[2]![1], 50);
    await expect(s.sharedStats()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "counter store: no answer within 50 ms" });
  });
});
