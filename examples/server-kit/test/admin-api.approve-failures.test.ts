/**
 * An approve that cannot issue leaves the transaction PENDING, and the admin API says why instead of a bare 500:
 * 409 while the profile's CA is expired (RFC 5280 §4.1.2.5: nothing can be issued under it until it is renewed),
 * 502 when the issue hook answers what an approve cannot take, 503 + Retry-After while the CA key is unavailable.
 * Each time the transaction is still PENDING afterwards, and a later approve issues it. A real @scep/core server on a
 * real embedded CA; the issue hook and the server's clock are the test's.
 * (Found by a review: all three answered 500 `internal error`.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyUnavailableError, MemoryTransactionStore, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type IssueContext, type IssueResult, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "approve-failures-token";
let dir: string;
let ca: FileCa;
let server: ScepServer;
let transactions: MemoryTransactionStore;
/** The server's clock: the real one, or a fixed instant. */
let fixed: Date | undefined;
let hook: "pending" | "key-down" | "issue" = "pending";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-approve-"));
  ca = await openFileCa({ dataDir: dir });
  transactions = new MemoryTransactionStore();
  const issue = async (ctx: IssueContext): Promise<IssueResult> => {
    if (hook === "pending") return { status: "PENDING" };
    if (hook === "key-down") throw new KeyUnavailableError("the CA key's worker is restarting", { retryAfterSeconds: 7 });
    return { status: "SUCCESS", certificate: (await ca.issue({ csr: ctx.csr, validityDays: 30 })).certificateDer };
  };
  server = createScepServer({
    now: () => fixed ?? new Date(),
    profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, transactions, issue }],
  });
  const keys = await generateRsaKeyPair();
  const csr = await generateCsr({ keys, subject: "CN=queued-device" });
  const signerCertificate = (await createSelfSignedSigner({ keys, subject: "CN=queued-device" })).certificate.der;
  const at = new Date(Date.now() - 60_000);
  await transactions.create({ profile: "/scep", transactionId: "tx-1", status: "PENDING", csr, signerCertificate, renewal: false, createdAt: at, updatedAt: at, expiresAt: new Date("2999-01-01T00:00:00Z") });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const approve = async (transactionId = "tx-1"): Promise<[number, unknown, string | null]> => {
  const api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca, transactions });
  const res = await api.fetch(new Request("http://127.0.0.1/admin/scep/approve", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ transactionId, profile: "/scep" }) }));
  return [res.status, await res.json(), res.headers.get("retry-after")];
};
const stored = async (): Promise<string | undefined> => (await transactions.get("/scep", "tx-1"))?.status;

describe("admin API: an approve that cannot issue says why and leaves the request PENDING", () => {
  it("RFC 5280 §4.1.2.5: the profile's CA has expired: 409 naming the expiry", async () => {
    hook = "issue";
    fixed = new Date(ca.notAfter.getTime() + 86_400_000);
    const [status, body, retryAfter] = await approve().finally(() => (fixed = undefined));
    expect([status, retryAfter]).toEqual([409, null]);
    expect(body).toEqual({ error: expect.stringMatching(/expired at .*renewed/), profile: "/scep", transactionId: "tx-1", status: "PENDING" });
    expect(await stored()).toBe("PENDING");
  });

  it("with the CA expired, an unknown transaction is still 404 and a decided one 409 naming its status", async () => {
    const at = new Date(Date.now() - 60_000);
    const rejected = { ...(await transactions.get("/scep", "tx-1"))!, transactionId: "tx-decided", status: "REJECTED" as const, createdAt: at, updatedAt: at };
    await transactions.create(rejected);
    fixed = new Date(ca.notAfter.getTime() + 86_400_000);
    const unknown = await approve("tx-none").finally(() => (fixed = undefined));
    fixed = new Date(ca.notAfter.getTime() + 86_400_000);
    const decided = await approve("tx-decided").finally(() => (fixed = undefined));
    expect(unknown.slice(0, 2)).toEqual([404, { error: "no pending transaction tx-none in profile /scep" }]);
    expect(decided.slice(0, 2)).toEqual([409, expect.objectContaining({ status: "REJECTED", transactionId: "tx-decided" })]);
  });

  it("the issue hook answers PENDING to an approve: 502 naming the hook", async () => {
    hook = "pending";
    const [status, body] = await approve();
    expect(status).toBe(502);
    expect(body).toEqual({ error: "the issue hook answered PENDING to an approved request", profile: "/scep", transactionId: "tx-1", status: "PENDING" });
    expect(await stored()).toBe("PENDING");
  });

  it("the CA key is unavailable: 503 with the key's Retry-After (seconds)", async () => {
    hook = "key-down";
    const [status, body, retryAfter] = await approve();
    expect([status, retryAfter]).toEqual([503, "7"]);
    expect(body).toEqual({ error: "the CA key's worker is restarting", profile: "/scep", transactionId: "tx-1", status: "PENDING" });
    expect(await stored()).toBe("PENDING");
  });

  it("once the cause is gone, the same approve issues it", async () => {
    hook = "issue";
    const [status, body] = await approve();
    expect([status, (body as { status?: string }).status]).toEqual([200, "ISSUED"]);
    expect(await stored()).toBe("ISSUED");
  });
});
