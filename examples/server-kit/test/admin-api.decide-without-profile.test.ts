/**
 * An approve or reject without `profile` finds the transaction wherever it waits, however long the queue: it looked
 * among `server.pending()`, which holds the 1000 oldest of each profile, so the 1001st pending request was answered
 * 404 "no pending transaction". With the transaction store it asks the store of each profile for that one
 * transactionID. A real @scep/core server on a real embedded CA, its MemoryTransactionStore filled with 1002 PENDING
 * records.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTransactionStore, createScepServer, generateCsr, generateRsaKeyPair, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "decide-without-profile-token";
let dir: string;
let ca: FileCa;
let server: ScepServer;
let transactions: MemoryTransactionStore;
let csr: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-decide-"));
  ca = await openFileCa({ dataDir: dir });
  transactions = new MemoryTransactionStore();
  server = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, transactions, issue: async () => ({ status: "PENDING" }) }],
  });
  csr = await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=queued-device" });
  const t0 = Date.now() - 3_600_000;
  for (let i = 0; i <= 1001; i++) {
    const at = new Date(t0 + i * 1000);
    await transactions.create({ profile: "/scep", transactionId: `tx-${i}`, status: "PENDING", csr, signerCertificate: new Uint8Array(0), renewal: false, createdAt: at, updatedAt: at, expiresAt: new Date(Date.now() + 86_400_000) });
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const call = async (path: string, body: unknown): Promise<[number, unknown]> => {
  const api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca, transactions });
  const res = await api.fetch(new Request(`http://127.0.0.1${path}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }));
  return [res.status, await res.json()];
};

describe("admin API: approve or reject without profile", () => {
  it("finds a pending request beyond the 1000 oldest (the 1002nd): 200 REJECTED, not 404", async () => {
    expect((await server.pending()).some((tx) => tx.transactionId === "tx-1001")).toBe(false); // the bound this is about
    expect(await call("/admin/scep/reject", { transactionId: "tx-1001" })).toEqual([200, expect.objectContaining({ status: "REJECTED", transactionId: "tx-1001" })]);
    expect((await transactions.get("/scep", "tx-1001"))?.status).toBe("REJECTED");
  });

  it("a decided one is still 409 naming its status, an unknown one 404", async () => {
    expect(await call("/admin/scep/reject", { transactionId: "tx-1001" })).toEqual([409, expect.objectContaining({ status: "REJECTED" })]);
    expect(await call("/admin/scep/reject", { transactionId: "tx-none" })).toEqual([404, { error: "no pending transaction tx-none in profile /scep" }]);
  });
});
