/**
 * The Hono example mounts what the Express one does beyond SCEP: the CRL at GET /scep/ca.crl
 * (application/pkix-crl, RFC 5280 §5, verified by openssl) and the admin page and API under /admin/scep
 * (the full behaviour is held to in examples/express-server/test/admin-*.test.ts), HEAD of its GET routes as of a GET
 * and 405s with Allow (RFC 9110 §9.3.2, §15.5.6).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectAdminHeadLikeGet } from "../../server-kit/test/support/admin-head-suite.js";
import { startExample } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const TOKEN = "hono-admin-token-0123456789";
const tmp = mkdtempSync(join(tmpdir(), "scep-hono-admin-"));
let s: Awaited<ReturnType<typeof startExample>>;

beforeAll(async () => {
  s = await startExample(fileURLToPath(new URL("..", import.meta.url)), { SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: "hono-admin-secret" });
});
afterAll(async () => {
  await s?.proc.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

it("GET /scep/ca.crl is the CA's v2 CRL, DER, application/pkix-crl, and openssl verifies it", async () => {
  const res = await fetch(`${s.base}/scep/ca.crl`);
  expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
  writeFileSync(join(tmp, "ca.crl"), new Uint8Array(await res.arrayBuffer()));
  const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(tmp, "ca.crl"), "-CAfile", join(tmp, "data", "ca.pem"), "-verify", "-noout", "-text"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  expect(text).toContain("Version 2 (0x1)");
  expect(text).toContain("No Revoked Certificates.");
});

it("serves the admin page, and the admin API under /admin/scep/ behind the token", async () => {
  const page = await fetch(`${s.base}/admin/scep`);
  expect([page.status, page.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
  expect((await fetch(`${s.base}/admin/scep/profiles`)).status).toBe(401);
  const profiles = await fetch(`${s.base}/admin/scep/profiles`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await profiles.json()) as { profiles: { profile: string; challenge: { kind: string } }[] };
  expect([profiles.status, body.profiles.map((p) => [p.profile, p.challenge.kind])]).toEqual([200, [["/scep", "static"]]]);
});

it("admin API and page: HEAD of every GET route gets the GET's header fields and no content; a wrong method 405 with Allow (RFC 9110 §9.3.2, §15.5.6)", async () => {
  await expectAdminHeadLikeGet(Number(new URL(s.base).port), TOKEN);
});

it("an admin action's audit line names the caller's address (the TCP peer, as Hono's adapter reads it) and the certificate's subject", async () => {
  const { first } = await pkcsReqAndPoll(`${s.base}/scep`, { subject: "CN=hono-audited", challenge: "hono-admin-secret" });
  expect(first.status).toBe("SUCCESS");
  const serialNumber = first.certificates[0]!.serialNumberHex;
  const res = await fetch(`${s.base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason: "superseded" }) });
  expect(res.status).toBe(200);
  expect(await s.proc.waitForJson("admin", (e) => e.action === "revoke")).toEqual({
    time: expect.any(String),
    type: "admin",
    action: "revoke",
    serialNumber,
    subject: "CN=hono-audited",
    reason: "superseded",
    created: true,
    updated: false,
    alsoRevoked: [],
    clientAddress: "127.0.0.1",
  });
});
