/**
 * A `profile` the server does not have (a typo, or the path `/lab` of the profile named `lab`) is 404 naming the
 * profiles, on every admin route that takes one: it never falls back to the server CA (a revoke meant for a
 * profile's own CA would revoke the server CA's certificate of that serial) nor fails as HTTP 500 (`GET pending`
 * passed it to `server.pending`, which throws). A real @scep/core server with two profiles, `/scep` on the server CA
 * and `lab` with its own, and two real embedded CAs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryChallengeStore, createScepServer, generateCsr, generateRsaKeyPair, type ScepProfile, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "unknown-profile-admin-token";
let dir: string;
let serverCa: FileCa;
let labCa: FileCa;
let server: ScepServer;
let serial: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-unknown-profile-"));
  serverCa = await openFileCa({ dataDir: join(dir, "server") });
  labCa = await openFileCa({ dataDir: join(dir, "lab") });
  const profile = (ca: FileCa, path: string): ScepProfile => ({
    path,
    caCertificate: ca.certificateDer,
    signer: ca.signer,
    challenge: { type: "static", password: "pw" },
    issue: async () => ({ status: "PENDING" }),
  });
  server = createScepServer({ profiles: [profile(serverCa, "/scep"), { ...profile(labCa, "/lab"), name: "lab" }] });
  const issued = await serverCa.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=server-ca-device" }) });
  serial = issued.serialNumber;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = () =>
  createAdminApi({
    token: TOKEN,
    server,
    defaultProfile: "/scep",
    log: () => {},
    ca: serverCa,
    caFor: (p) => (p === "lab" ? labCa : undefined),
    challenges: new MemoryChallengeStore(),
  });
const call = async (method: string, path: string, body?: unknown): Promise<[number, unknown]> => {
  const res = await api().fetch(new Request(`http://127.0.0.1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));
  return [res.status, await res.json()];
};
const NOT_FOUND = (name: string) => [404, { error: `no profile ${name} (profiles: /scep, lab)` }];

describe("admin API: a profile name the server does not have", () => {
  it("POST revoke with a mistyped profile: 404, and the server CA's certificate of that serial stays unrevoked", async () => {
    expect(await call("POST", "/admin/scep/revoke", { serialNumber: serial, profile: "labb", reason: "superseded" })).toEqual(NOT_FOUND("labb"));
    expect(await call("POST", "/admin/scep/revoke", { serialNumber: serial, profile: "/lab", reason: "superseded" })).toEqual(NOT_FOUND("/lab"));
    expect(await serverCa.revocations.get(serial)).toBeUndefined();
    // the names the server has still work: lab's own CA never issued it, the server CA did
    expect(await call("POST", "/admin/scep/revoke", { serialNumber: serial, profile: "lab", reason: "superseded" })).toEqual([404, { error: `this CA issued no certificate with serial ${serial}` }]);
    const [status] = await call("POST", "/admin/scep/revoke", { serialNumber: serial, profile: "/scep", reason: "superseded" });
    expect(status).toBe(200);
    expect((await serverCa.revocations.get(serial))?.reason).toBe("superseded");
  });

  it("GET pending and certificates, POST challenges: 404 naming the profiles, not 500, not the server CA's list, not a challenge", async () => {
    expect(await call("GET", "/admin/scep/pending?profile=typo")).toEqual(NOT_FOUND("typo"));
    expect(await call("GET", "/admin/scep/certificates?profile=typo")).toEqual(NOT_FOUND("typo"));
    expect(await call("POST", "/admin/scep/challenges", { profile: "typo" })).toEqual(NOT_FOUND("typo"));
    expect(await call("GET", "/admin/scep/pending?profile=lab")).toEqual([200, { pending: [] }]);
    expect((await call("POST", "/admin/scep/challenges", { profile: "lab" }))[0]).toBe(201);
  });
});
