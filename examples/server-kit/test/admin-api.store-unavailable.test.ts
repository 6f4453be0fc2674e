/**
 * The admin API while a shared store is down (a StoreUnavailableError, ERR_STORE_UNAVAILABLE, as the Redis stores
 * throw): every route that reads or writes a store answers 503 + Retry-After naming that store, never a 500.
 * The stores are stand-ins that fail the way a disconnected Redis store does; the CA is a real embedded CA.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryChallengeStore, MemoryRevocationStore, StoreUnavailableError, generateCsr, generateRsaKeyPair, type ChallengeStore, type RevocationStore, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "store-down-admin-token";
const down = (): never => {
  throw new StoreUnavailableError("redis: connection refused");
};
let dir: string;
let ca: FileCa;
let issuedSerial: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-down-"));
  // Up while the certificate is issued (issue reads the store: its compromised-key check), down for every test.
  const memory = new MemoryRevocationStore();
  let up = true;
  const revocations: RevocationStore = {
    revoke: async (o) => (up ? memory.revoke(o) : down()),
    get: async (serial) => (up ? memory.get(serial) : down()),
    list: async () => (up ? memory.list() : down()),
    nextCrlNumber: async () => (up ? memory.nextCrlNumber() : down()),
    revision: async () => (up ? memory.revision() : down()),
  };
  ca = await openFileCa({ dataDir: dir, revocations });
  const keys = await generateRsaKeyPair();
  issuedSerial = (await ca.issue({ csrDer: await generateCsr({ keys, subject: "CN=revoke-while-down" }) })).serialNumber;
  up = false;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("admin API with its stores down", () => {
  const server = { pending: async () => down(), approve: async () => down(), reject: async () => down(), sharedStats: async () => down(), profiles: () => [{ profile: "/scep" }] } as unknown as ScepServer;
  const challenges = { issue: async () => down() } as unknown as ChallengeStore;
  const lines: Record<string, unknown>[] = [];
  const call = (method: string, path: string, body?: unknown) =>
    createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: (l) => lines.push(l), ca, challenges }).fetch(new Request(`http://127.0.0.1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));

  it.each([
    ["GET", "/admin/scep/pending", undefined, "transaction"],
    ["POST", "/admin/scep/approve", { transactionId: "t-1" }, "transaction"],
    ["POST", "/admin/scep/reject", { transactionId: "t-1", profile: "/scep" }, "transaction"],
    ["POST", "/admin/scep/approve/t-2", undefined, "transaction"],
    ["POST", "/admin/scep/challenges", {}, "challenge"],
    ["GET", "/admin/scep/certificates", undefined, "revocation"],
    ["GET", "/admin/scep/stats", undefined, "counter"],
    ["POST", "/admin/scep/revoke", "issued", "revocation"],
  ] as const)("%s %s: 503 + Retry-After naming the store", async (method, path, body, store) => {
    // revoke: a serial the CA did issue, so the refusal is the store's, not a 404 for an unknown serial
    lines.length = 0;
    const res = await call(method, path, body === "issued" ? { serialNumber: issuedSerial, reason: "keyCompromise" } : body);
    expect([res.status, res.headers.get("retry-after"), await res.json()]).toEqual([503, "30", { error: `the ${store} store is unavailable; try again` }]);
    // The answer hides the cause (it may name a host); the operator's log line has it.
    // `operation`: what the operator ran (the route), whichever store call failed under it.
    const operation = path.slice("/admin/scep/".length).split("/")[0];
    expect(lines).toEqual([{ type: "admin-error", method, path, operation, store, status: 503, code: "ERR_STORE_UNAVAILABLE", message: "redis: connection refused" }]);
  });
});

describe("admin API with a full in-memory store", () => {
  it("POST /admin/scep/challenges on a full MemoryChallengeStore: 503 + Retry-After saying it is full and its limit, not that it is down", async () => {
    const challenges = new MemoryChallengeStore({ maxEntries: 2 });
    const server = { profiles: () => [{ profile: "/scep" }] } as unknown as ScepServer;
    const lines: Record<string, unknown>[] = [];
    const api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: (l) => lines.push(l), ca, challenges });
    const post = () => api.fetch(new Request("http://127.0.0.1/admin/scep/challenges", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: "{}" }));
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(201);
    const res = await post();
    expect([res.status, res.headers.get("retry-after"), await res.json()]).toEqual([
      503,
      "30",
      { error: "the challenge store is full (limit 2): try again once entries expire or are used up, or give the server a larger or shared store" },
    ]);
    const errors = lines.filter((l) => l.type === "admin-error");
    expect(errors).toEqual([expect.objectContaining({ method: "POST", path: "/admin/scep/challenges", store: "challenge", status: 503, code: "ERR_STORE_UNAVAILABLE", capacity: 2 })]);
    // The two challenges it did issue are on no line.
    expect(JSON.stringify(lines)).not.toMatch(/"challenge":"/);
  });
});
