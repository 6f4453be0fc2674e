/**
 * The admin API under /admin/scep/ and the CRL, against the Express example as a child process on loopback:
 * 401/403 on every route with an audit line that never holds the token, the documented JSON shapes
 * (docs/admin-api.openapi.yaml), and revocation end to end: revoke through the API, then GetCRL over SCEP
 * (RFC 8894 §3.3.5, with the SDK's client) and GET /scep/ca.crl both list the serial; `openssl crl -verify`
 * accepts the CRL (RFC 5280 §5) and `openssl verify -crl_check` refuses the revoked certificate.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  ScepClient,
  buildGetCrl,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  selectRecipient,
  type Signer,
} from "@scep/core";
import { REPO_ROOT, startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "admin-token-for-tests-7f3a9c21";
const tmp = mkdtempSync(join(tmpdir(), "scep-admin-api-"));
const dataDir = join(tmp, "data");
let proc: ExampleProcess;
let base: string;
const issuedChallenges: string[] = [];

function openssl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd: tmp, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}${stdout}`)) : resolve(stdout))),
  );
}

/** Every admin API answer these tests got, held to docs/admin-api.openapi.yaml at the end. */
const answered: { method: string; path: string; status: number; contentType: string | null; body: string }[] = [];

async function api(path: string, init: { method?: string; token?: string | null; body?: unknown } = {}): Promise<Response> {
  const method = init.method ?? "GET";
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }),
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(init.body !== undefined ? { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) } : {}),
  });
  answered.push({ method, path, status: res.status, contentType: res.headers.get("content-type"), body: await res.clone().text() });
  return res;
}

async function challenge(): Promise<string> {
  const res = await api("/admin/scep/challenges", { method: "POST", body: { ttlSeconds: 600 } });
  const body = (await res.json()) as { challenge: string };
  issuedChallenges.push(body.challenge);
  return body.challenge;
}

/** A PKCSReq with a fresh one-time challenge, answered PENDING (the server runs --pending), and its CertPoll. */
async function pendingEnrollment(subject: string) {
  const { first, transactionId, poll, signer, caCerts } = await pkcsReqAndPoll(`${base}/scep`, { subject, challenge: await challenge() });
  expect(first.status).toBe("PENDING");
  return { transactionId, poll, signer, caCerts };
}

beforeAll(async () => {
  const s = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: dataDir, SCEP_CRL_URL: "http://pki.example.test/scep/ca.crl" }, ["--pending", "--one-time-challenges"]);
  proc = s.proc;
  base = s.base;
});
afterAll(async () => {
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

const ROUTES: [string, string][] = [
  ["GET", "/admin/scep/profiles"],
  ["GET", "/admin/scep/activity"],
  ["GET", "/admin/scep/pending"],
  ["POST", "/admin/scep/approve"],
  ["POST", "/admin/scep/reject"],
  ["POST", "/admin/scep/challenges"],
  ["GET", "/admin/scep/certificates"],
  ["POST", "/admin/scep/revoke"],
  ["POST", "/admin/scep/reload-trust"],
  ["GET", "/admin/scep/stats"],
];

describe("admin API authentication", () => {
  it.each(ROUTES)("%s %s: 401 without a token, 403 with a wrong one, each an audit line without the token", async (method, path) => {
    const none = await api(path, { method, token: null });
    expect([none.status, none.headers.get("www-authenticate"), await none.json()]).toEqual([401, 'Bearer realm="scep-admin"', { error: "an Authorization: Bearer <SCEP_ADMIN_TOKEN> header is required" }]);
    const wrongToken = `${TOKEN.slice(0, -1)}X`;
    const wrong = await api(path, { method, token: wrongToken });
    expect([wrong.status, await wrong.json()]).toEqual([403, { error: "wrong token: it does not match SCEP_ADMIN_TOKEN, the admin token the server was started with" }]);
    const malformed = await fetch(`${base}${path}`, { method, headers: { authorization: `Basic ${TOKEN}` } });
    expect([malformed.status, await malformed.json()]).toEqual([401, { error: "the Authorization header is not Bearer <token> (another scheme, or an empty token: is the variable holding it set?)" }]);
    const empty = await fetch(`${base}${path}`, { method, headers: { authorization: "Bearer " } });
    expect([empty.status, await empty.json()]).toEqual([401, { error: "the Authorization header is not Bearer <token> (another scheme, or an empty token: is the variable holding it set?)" }]);
    expect(await proc.waitForJson("admin-auth-failed", (e) => e.path === path && e.reason === "missing_token")).toEqual({ time: expect.any(String), type: "admin-auth-failed", reason: "missing_token", method, path, clientAddress: "127.0.0.1" });
    expect(await proc.waitForJson("admin-auth-failed", (e) => e.path === path && e.reason === "wrong_token")).toEqual({ time: expect.any(String), type: "admin-auth-failed", reason: "wrong_token", method, path, clientAddress: "127.0.0.1" });
    await proc.waitForJson("admin-auth-failed", (e) => e.path === path && e.reason === "malformed_authorization");
    expect(proc.lines.join("\n")).not.toContain(wrongToken);
  });

  it("an unknown route is 404 and a wrong method 405 (after authentication); the pre-/admin/scep paths answer as aliases", async () => {
    expect([(await api("/admin/scep/nope")).status, (await api("/admin/scep/nope", { token: null })).status]).toEqual([404, 401]);
    const wrongMethod = await api("/admin/scep/revoke");
    expect([wrongMethod.status, wrongMethod.headers.get("allow")]).toEqual([405, "POST"]);
    expect((await api("/admin/pending")).status).toBe(200);
    expect((await api("/admin/stats")).status).toBe(200);
  });
});

describe("admin API shapes, and revocation with the CRL", () => {
  let serialNumber: string;
  let certificate: Certificate;
  let signer: Awaited<ReturnType<typeof createSelfSignedSigner>>;
  let caCerts: Certificate[];

  it("POST challenges: 201 with a one-time challenge and its expiry; a bad ttlSeconds is 400", async () => {
    const res = await api("/admin/scep/challenges", { method: "POST", body: { profile: "/scep", ttlSeconds: 120 } });
    const body = (await res.json()) as Record<string, unknown>;
    issuedChallenges.push(String(body.challenge));
    expect([res.status, res.headers.get("cache-control")]).toEqual([201, "no-store"]);
    expect(body).toEqual({ profile: "/scep", challenge: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), expiresAt: expect.any(String), expiresInSeconds: 120 });
    expect(Date.parse(String(body.expiresAt)) - Date.now()).toBeGreaterThan(60_000);
    const bad = await api("/admin/scep/challenges", { method: "POST", body: { ttlSeconds: 5 } });
    expect([bad.status, await bad.json()]).toEqual([400, { error: "ttlSeconds must be an integer from 60 to 604800" }]);
    expect((await api("/admin/scep/challenges", { method: "POST", body: "[1]" })).status).toBe(400);
  });

  it("GET pending lists a PENDING enrollment; POST approve with the transactionID in the body issues it on the next CertPoll", async () => {
    const e = await pendingEnrollment("CN=laptop-to-revoke,O=admin tests");
    const pending = (await (await api("/admin/scep/pending")).json()) as { pending: Record<string, unknown>[] };
    expect(pending.pending).toContainEqual({ profile: "/scep", transactionId: e.transactionId, subject: "CN=laptop-to-revoke, O=admin tests", status: "PENDING", ageSeconds: expect.any(Number) });
    const approve = await api("/admin/scep/approve", { method: "POST", body: { transactionId: e.transactionId } });
    const approved = (await approve.json()) as Record<string, unknown>;
    expect([approve.status, approved]).toEqual([200, { profile: "/scep", transactionId: e.transactionId, status: "ISSUED", subject: "CN=laptop-to-revoke, O=admin tests", serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
    // Decided already: 409 with its status, with or without "profile" (404 is for an ID no profile holds).
    const again = await api("/admin/scep/approve", { method: "POST", body: { transactionId: e.transactionId } });
    const decided = { error: `transaction ${e.transactionId} in profile /scep is already ISSUED`, profile: "/scep", transactionId: e.transactionId, status: "ISSUED" };
    expect([again.status, await again.json()]).toEqual([409, decided]);
    const rejectAfter = await api("/admin/scep/reject", { method: "POST", body: { transactionId: e.transactionId, profile: "/scep" } });
    expect([rejectAfter.status, await rejectAfter.json()]).toEqual([409, decided]);
    const rep = await e.poll();
    expect(rep.status).toBe("SUCCESS");
    certificate = rep.certificates[0]!;
    serialNumber = certificate.serialNumberHex.toLowerCase();
    expect(approved.serialNumber).toBe(serialNumber); // the answer names the certificate the CertPoll then carries
    signer = e.signer;
    caCerts = e.caCerts;
    writeFileSync(join(tmp, "revoked.pem"), certificate.toPem());
    // The audit line: who (the caller's address), which request (subject) and which certificate (serial); no challenge.
    expect(await proc.waitForJson("admin", (l) => l.action === "approve" && l.transactionId === e.transactionId)).toEqual({
      time: expect.any(String),
      type: "admin",
      action: "approve",
      profile: "/scep",
      transactionId: e.transactionId,
      status: "ISSUED",
      subject: "CN=laptop-to-revoke, O=admin tests",
      serialNumber,
      clientAddress: "127.0.0.1",
    });
    // RFC 5280 §4.2.1.13: SCEP_CRL_URL is the issued certificate's CRL distribution point
    expect(await openssl(["x509", "-in", "revoked.pem", "-noout", "-ext", "crlDistributionPoints"])).toMatch(/URI:http:\/\/pki\.example\.test\/scep\/ca\.crl/);
  });

  it("POST reject with a missing transactionID is 400; an unknown one 404", async () => {
    const missing = await api("/admin/scep/reject", { method: "POST", body: {} });
    expect([missing.status, await missing.json()]).toEqual([400, { error: 'expected a JSON body {"transactionId": "…", "profile"?: "…"}' }]);
    expect((await api("/admin/scep/reject", { method: "POST", body: { transactionId: "no-such-transaction" } })).status).toBe(404);
  });

  it("GET certificates: the index newest first, paged, filtered by subject and serial, with revocation status", async () => {
    const kept = await pendingEnrollment("CN=laptop-kept,O=admin tests");
    await api("/admin/scep/approve", { method: "POST", body: { transactionId: kept.transactionId } });
    const keptCert = (await kept.poll()).certificates[0]!;
    writeFileSync(join(tmp, "kept.pem"), keptCert.toPem());
    const all = (await (await api("/admin/scep/certificates")).json()) as { certificates: Record<string, unknown>[]; page: number; pageSize: number; total: number };
    expect(all).toEqual({
      page: 1,
      pageSize: 50,
      total: 2,
      certificates: [
        { serialNumber: keptCert.serialNumberHex.toLowerCase(), subject: "CN=laptop-kept, O=admin tests", notBefore: keptCert.notBefore.toISOString(), notAfter: keptCert.notAfter.toISOString(), issuedAt: expect.any(String), revoked: null },
        { serialNumber, subject: "CN=laptop-to-revoke, O=admin tests", notBefore: certificate.notBefore.toISOString(), notAfter: certificate.notAfter.toISOString(), issuedAt: expect.any(String), revoked: null },
      ],
    });
    const page2 = (await (await api("/admin/scep/certificates?page=2&pageSize=1")).json()) as { certificates: { serialNumber: string }[]; total: number };
    expect([page2.total, page2.certificates.map((c) => c.serialNumber)]).toEqual([2, [serialNumber]]);
    const bySubject = (await (await api("/admin/scep/certificates?subject=TO-REVOKE")).json()) as { certificates: { serialNumber: string }[] };
    expect(bySubject.certificates.map((c) => c.serialNumber)).toEqual([serialNumber]);
    const bySerial = (await (await api(`/admin/scep/certificates?serial=${serialNumber.slice(0, 12).toUpperCase()}`)).json()) as { certificates: { serialNumber: string }[] };
    expect(bySerial.certificates.map((c) => c.serialNumber)).toEqual([serialNumber]);
    expect((await api("/admin/scep/certificates?pageSize=501")).status).toBe(400);
    expect((await api("/admin/scep/certificates?serial=zz")).status).toBe(400);
  });

  it("GET profiles: the snapshot per profile (CA expiry, challenge kind, counters, pending) and the Redis badge, never a secret", async () => {
    const res = await api("/admin/scep/profiles");
    const body = (await res.json()) as { profiles: Record<string, unknown>[] };
    expect(res.status).toBe(200);
    expect(body.profiles).toHaveLength(1);
    const caPem = readFileSync(join(dataDir, "ca.pem"), "utf8");
    const ca = Certificate.from(caPem);
    expect(body.profiles[0]).toMatchObject({
      profile: "/scep",
      path: "/scep",
      ca: { subject: "CN=SCEP Example CA, O=scep-sdk", notAfter: ca.notAfter.toISOString(), daysLeft: expect.any(Number) },
      ra: [],
      challenge: { configured: true, type: "store", kind: "store" },
      counters: { outcomes: expect.objectContaining({ pending: 2 }), reasons: expect.any(Object) },
      pending: 0,
      redis: false,
    });
    expect((body.profiles[0]!.ca as { daysLeft: number }).daysLeft).toBeGreaterThan(3000);
  });

  it("GET activity: newest first; filter=initial keeps enrollments, filter=renewal none, outcome narrows; a bad limit is 400", async () => {
    const all = (await (await api("/admin/scep/activity")).json()) as { activity: { id: number; kind: string; outcome: string; operation: string }[] };
    expect(all.activity.length).toBeGreaterThan(3);
    expect(all.activity.map((e) => e.id)).toEqual([...all.activity.map((e) => e.id)].sort((a, b) => b - a));
    const initial = (await (await api("/admin/scep/activity?filter=initial")).json()) as { activity: { kind: string; outcome: string; challenge?: string; subject?: string }[] };
    expect(initial.activity.map((e) => [e.kind, e.outcome, e.challenge])).toEqual([
      ["initial", "pending", "store"],
      ["initial", "pending", "store"],
    ]);
    expect(((await (await api("/admin/scep/activity?filter=renewal")).json()) as { activity: unknown[] }).activity).toEqual([]);
    const polls = (await (await api("/admin/scep/activity?filter=poll&outcome=success")).json()) as { activity: { kind: string; outcome: string }[] };
    expect(polls.activity.length).toBe(2);
    expect((await api("/admin/scep/activity?limit=0")).status).toBe(400);
  });

  it("POST revoke: 200 with the entry; again keeps the first; an unknown serial is 404, a bad reason 400", async () => {
    const res = await api("/admin/scep/revoke", { method: "POST", body: { serialNumber, reason: "keyCompromise" } });
    const body = (await res.json()) as Record<string, unknown>;
    expect([res.status, body]).toEqual([200, { serialNumber, subject: "CN=laptop-to-revoke, O=admin tests", reason: "keyCompromise", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [] }]);
    const again = (await (await api("/admin/scep/revoke", { method: "POST", body: { serialNumber, reason: "superseded" } })).json()) as Record<string, unknown>;
    expect(again).toEqual({ ...body, created: false });
    const unknown = await api("/admin/scep/revoke", { method: "POST", body: { serialNumber: "4000000000000000000000000000000001" } });
    expect([unknown.status, await unknown.json()]).toEqual([404, { error: "this CA issued no certificate with serial 4000000000000000000000000000000001" }]);
    const badReason = await api("/admin/scep/revoke", { method: "POST", body: { serialNumber, reason: "lost" } });
    expect(badReason.status).toBe(400);
    expect(await proc.waitForJson("admin", (e) => e.action === "revoke" && e.serialNumber === serialNumber && e.created === true)).toEqual({
      time: expect.any(String),
      type: "admin",
      action: "revoke",
      serialNumber,
      subject: "CN=laptop-to-revoke, O=admin tests",
      reason: "keyCompromise",
      created: true,
      updated: false,
      alsoRevoked: [],
      clientAddress: "127.0.0.1",
    });
    const listed = (await (await api(`/admin/scep/certificates?serial=${serialNumber}`)).json()) as { certificates: { revoked: unknown }[] };
    expect(listed.certificates[0]!.revoked).toEqual({ reason: "keyCompromise", revokedAt: body.revokedAt });
  });

  it("RFC 8894 §3.3.5 GetCRL over SCEP and GET /scep/ca.crl both list the revoked serial; openssl verifies the CRL and refuses the revoked certificate", async () => {
    const client = new ScepClient({ url: `${base}/scep` });
    const req = await buildGetCrl({ issuer: certificate.issuerDer, serialNumber: certificate.serialNumber, signer, recipient: selectRecipient(caCerts) });
    const rep = await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates: caCerts, request: req });
    expect([rep.status, rep.crls.length]).toEqual(["SUCCESS", 1]);
    writeFileSync(join(tmp, "scep.crl"), rep.crls[0]!);

    const http = await fetch(`${base}/scep/ca.crl`);
    expect([http.status, http.headers.get("content-type"), http.headers.get("cache-control")]).toEqual([200, "application/pkix-crl", "public, max-age=60"]);
    writeFileSync(join(tmp, "http.crl"), new Uint8Array(await http.arrayBuffer()));
    expect(readFileSync(join(tmp, "http.crl"))).toEqual(readFileSync(join(tmp, "scep.crl")));

    const caPem = join(dataDir, "ca.pem");
    for (const file of ["scep.crl", "http.crl"]) {
      const text = await openssl(["crl", "-inform", "DER", "-in", file, "-noout", "-text", "-CAfile", caPem, "-verify"]);
      expect(text).toContain(`Serial Number: ${serialNumber.toUpperCase()}`);
      expect(text).toMatch(/X509v3 CRL Reason Code:\s*\n\s+Key Compromise/);
      expect(text).toContain("Version 2 (0x1)");
    }
    await openssl(["crl", "-inform", "DER", "-in", "http.crl", "-out", "http.crl.pem"]);
    await expect(openssl(["verify", "-crl_check", "-CAfile", caPem, "-CRLfile", "http.crl.pem", "revoked.pem"])).rejects.toThrow(/certificate revoked/);
    expect((await openssl(["verify", "-crl_check", "-CAfile", caPem, "-CRLfile", "http.crl.pem", "kept.pem"])).trim()).toBe("kept.pem: OK");
    // The schedule keeps a copy in the data directory: the same CRL.
    await proc.waitForJson("crl", (e) => Number(e.revoked) === 1);
    expect(readFileSync(join(dataDir, "ca.crl"))).toEqual(readFileSync(join(tmp, "http.crl")));
  });

  it("the banner names the CRL's URL, when it is signed again (half of 24 h) and its copy in the data directory", () => {
    expect(proc.banner("CRL")).toBe(`${base}/scep/ca.crl (signed again after 12 h and after each revocation; a copy in ${join(dataDir, "ca.crl")})`);
  });

  it("GET /scep/ca.crl answers HEAD, and 405 to POST", async () => {
    const head = await fetch(`${base}/scep/ca.crl`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
    expect((await fetch(`${base}/scep/ca.crl`, { method: "POST" })).status).toBe(405);
  });

  it("no response and no log line holds the token or an issued challenge", () => {
    const out = proc.lines.join("\n") + proc.stderr;
    expect(out).not.toContain(TOKEN);
    expect(issuedChallenges.length).toBeGreaterThan(2);
    for (const c of issuedChallenges) expect(out).not.toContain(c);
  });
});

describe("docs/admin-api.openapi.yaml describes the API as it answers", () => {
  type Operation = { responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }> };
  const doc = parseYaml(readFileSync(join(REPO_ROOT, "docs", "admin-api.openapi.yaml"), "utf8")) as {
    paths: Record<string, Record<string, Operation>>;
    components: { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // RFC 3339 date-time, as the API writes it (toISOString)
  ajv.addFormat("date-time", (v: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)));
  ajv.addSchema(doc, "admin-api");
  const pointer = (...parts: string[]): string => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

  it("documents exactly the routes the tests call, each with its method", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), `/admin/scep${path}`]));
    expect(documented.sort()).toEqual([...ROUTES].map(([m, p]) => [m, p]).sort());
  });

  it("every admin answer above has a documented status for its route, and its JSON body matches the documented schema", () => {
    const checked = answered.filter((a) => a.path.startsWith("/admin/scep/") && a.path !== "/admin/scep/app.js");
    expect(checked.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const a of checked) {
      const route = `/${a.path.slice("/admin/scep/".length).split(/[?/]/)[0]}`;
      const op = doc.paths[route]?.[a.method.toLowerCase()];
      if (!op) {
        // an unknown route: 401 before authentication, then 404 (405 for a wrong method)
        if (a.status !== 401 && a.status !== 404 && a.status !== 405) problems.push(`${a.method} ${a.path}: ${a.status} from an undocumented route`);
        continue;
      }
      const response = op.responses[String(a.status)];
      if (!response) {
        problems.push(`${a.method} ${a.path}: status ${a.status} is not documented`);
        continue;
      }
      const ref = response.$ref?.replace("#/components/responses/", "");
      const schemaAt = ref
        ? pointer("components", "responses", ref, "content", "application/json", "schema")
        : pointer("paths", route, a.method.toLowerCase(), "responses", String(a.status), "content", "application/json", "schema");
      const hasSchema = (ref ? doc.components.responses[ref] : response)?.content?.["application/json"] !== undefined;
      if (!hasSchema) continue;
      expect(a.contentType, `${a.method} ${a.path}`).toMatch(/^application\/json/);
      const validate = ajv.getSchema(`admin-api#/${schemaAt}`)!;
      if (!validate(JSON.parse(a.body))) problems.push(`${a.method} ${a.path} ${a.status}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(problems).toEqual([]);
  });
});

describe("--admin-listen: the admin API and page on their own loopback listener", () => {
  let other: Awaited<ReturnType<typeof startExample>>;
  beforeAll(async () => {
    other = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: join(tmp, "own-listener"), SCEP_ADMIN_LISTEN: "127.0.0.1:0" });
  });
  afterAll(() => other?.proc.terminate());

  it("answers there (page and API, token required) and nowhere else; the SCEP port answers 404 under /admin/; the listening line names the port", async () => {
    const listening = await other.proc.waitForJson("listening");
    const adminPort = Number(listening.adminPort);
    expect(adminPort).toBeGreaterThan(0);
    expect(adminPort).not.toBe(listening.port);
    const adminBase = `http://127.0.0.1:${adminPort}`;
    expect(other.proc.banner("admin endpoint")).toBe(`enabled (Authorization: Bearer $SCEP_ADMIN_TOKEN; page at ${adminBase}/admin/scep)`);
    const pending = await fetch(`${adminBase}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect([pending.status, await pending.json()]).toEqual([200, { pending: [] }]);
    expect((await fetch(`${adminBase}/admin/scep/pending`)).status).toBe(401);
    expect((await fetch(`${adminBase}/admin/scep`)).status).toBe(200);
    expect((await fetch(`${adminBase}/scep?operation=GetCACaps`)).status).toBe(404);
    expect((await fetch(`${other.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(`${other.base}/admin/scep`)).status).toBe(404);
    expect((await fetch(`${other.base}/scep?operation=GetCACaps`)).status).toBe(200);
  });
});

describe("a profile's own CA signs and serves its own CRL (RFC 5280 §5, §4.2.1.13)", () => {
  const dir = join(tmp, "own-ca");
  const CHALLENGE = "own-ca-challenge-5d1e";
  let own: ExampleProcess;
  let ownBase: string;
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "scep-config.json"), JSON.stringify({ profiles: [{ path: "/scep" }, { name: "lab", path: "/lab", ca: {} }] }));
    const s = await startExample(EXAMPLE_DIR, {
      SCEP_ADMIN_TOKEN: TOKEN,
      SCEP_CHALLENGE: CHALLENGE,
      SCEP_DATA_DIR: join(dir, "data"),
      SCEP_CONFIG: join(dir, "scep-config.json"),
      SCEP_CRL_URL: "http://pki.example.test/scep/ca.crl",
    });
    own = s.proc;
    ownBase = s.base;
  });
  afterAll(async () => {
    await own?.terminate();
  });

  it("a revocation under /lab re-signs that CA's CRL: GET /lab/ca.crl, GetCRL and <data>/profiles/lab/ca.crl list the serial, openssl verifies it with the lab CA; the certificate names /lab/ca.crl", async () => {
    const labCaPem = join(dir, "data", "profiles", "lab", "ca.pem");
    const labCa = Certificate.from(readFileSync(labCaPem, "utf8"));
    const serverCa = Certificate.from(readFileSync(join(dir, "data", "ca.pem"), "utf8"));
    // Two CAs of one server never share an issuer name (a generated profile CA is named after its profile).
    expect([serverCa.subject, labCa.subject]).toEqual(["CN=SCEP Example CA, O=scep-sdk", "CN=SCEP Example CA lab, O=scep-sdk"]);

    const keys = await generateRsaKeyPair(2048);
    const client = new ScepClient({ url: `${ownBase}/lab` });
    const csr = await generateCsr({ keys, subject: "CN=lab-device", challengePassword: CHALLENGE });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=lab-device" });
    const caCerts = await client.getCaCert();
    const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts) });
    const rep = await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates: caCerts, request: req });
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificates[0]!;
    expect(Buffer.from(cert.issuerDer).equals(Buffer.from(labCa.subjectDer))).toBe(true);
    writeFileSync(join(dir, "lab-device.pem"), cert.toPem());
    const cdp = await openssl(["x509", "-in", join(dir, "lab-device.pem"), "-noout", "-ext", "crlDistributionPoints"]);
    expect(cdp).toMatch(/URI:http:\/\/pki\.example\.test\/lab\/ca\.crl/);
    expect(cdp).not.toMatch(/\/scep\/ca\.crl/);

    const serialNumber = cert.serialNumberHex.toLowerCase();
    const revoked = await fetch(`${ownBase}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, profile: "lab" }) });
    expect(revoked.status).toBe(200);
    await own.waitForJson("crl", (e) => e.profile === "lab" && Number(e.revoked) === 1);

    const http = await fetch(`${ownBase}/lab/ca.crl`);
    expect([http.status, http.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
    writeFileSync(join(dir, "lab.crl"), new Uint8Array(await http.arrayBuffer()));
    const getCrl = await buildGetCrl({ issuer: cert.issuerDer, serialNumber: cert.serialNumber, signer, recipient: selectRecipient(caCerts) });
    const crlRep = await readCertRep(await client.pkiOperation(getCrl.der), { decrypter: signer, caCertificates: caCerts, request: getCrl });
    expect([crlRep.status, crlRep.crls.length]).toEqual(["SUCCESS", 1]);
    expect(Buffer.from(crlRep.crls[0]!)).toEqual(readFileSync(join(dir, "lab.crl")));
    expect(readFileSync(join(dir, "data", "profiles", "lab", "ca.crl"))).toEqual(readFileSync(join(dir, "lab.crl")));
    const text = await openssl(["crl", "-inform", "DER", "-in", join(dir, "lab.crl"), "-noout", "-text", "-CAfile", labCaPem, "-verify"]);
    expect(text).toContain(`Serial Number: ${serialNumber.toUpperCase()}`);
    // Signed by the lab CA, not the server's: the server CA refuses it, and the server CA's CRL lists nothing.
    await expect(openssl(["crl", "-inform", "DER", "-in", join(dir, "lab.crl"), "-noout", "-CAfile", join(dir, "data", "ca.pem"), "-verify"])).rejects.toThrow();
    writeFileSync(join(dir, "server.crl"), new Uint8Array(await (await fetch(`${ownBase}/scep/ca.crl`)).arrayBuffer()));
    expect(await openssl(["crl", "-inform", "DER", "-in", join(dir, "server.crl"), "-noout", "-text"])).toContain("No Revoked Certificates");
  });
});

describe("two CAs of one server with the same name are never confused (RFC 8894 §3.3.5 GetCRL)", () => {
  const dir = join(tmp, "same-name");
  const CHALLENGE = "same-name-challenge-91c2";
  let twin: ExampleProcess;
  let twinBase: string;
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    for (const name of ["a", "b"]) {
      await openssl(["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "20", "-subj", "/CN=Twin CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment", "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)]);
    }
    const profiles = ["a", "b"].map((name) => ({ name, path: `/${name}`, ca: { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) } }));
    writeFileSync(join(dir, "scep-config.json"), JSON.stringify({ profiles }));
    const s = await startExample(EXAMPLE_DIR, { SCEP_CHALLENGE: CHALLENGE, SCEP_DATA_DIR: join(dir, "data"), SCEP_CONFIG: join(dir, "scep-config.json") });
    twin = s.proc;
    twinBase = s.base;
  });
  afterAll(async () => {
    await twin?.terminate();
  });

  it("GetCRL for a certificate of CA a: profile /a answers a's CRL (openssl verifies it with a), profile /b (same CA name, other key) answers badCertId", async () => {
    const keys = await generateRsaKeyPair(2048);
    const signer = await createSelfSignedSigner({ keys, subject: "CN=twin-device" });
    const a = new ScepClient({ url: `${twinBase}/a` });
    const aCerts = await a.getCaCert();
    const req = await buildPkcsReq({ csr: await generateCsr({ keys, subject: "CN=twin-device", challengePassword: CHALLENGE }), signer, recipient: selectRecipient(aCerts) });
    const rep = await readCertRep(await a.pkiOperation(req.der), { decrypter: signer, caCertificates: aCerts, request: req });
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificates[0]!;
    const getCrl = async (client: ScepClient) => {
      const caCerts = await client.getCaCert();
      const built = await buildGetCrl({ issuer: cert.issuerDer, serialNumber: cert.serialNumber, signer, recipient: selectRecipient(caCerts) });
      return readCertRep(await client.pkiOperation(built.der), { decrypter: signer, caCertificates: caCerts, request: built });
    };
    const fromA = await getCrl(a);
    expect([fromA.status, fromA.crls.length]).toEqual(["SUCCESS", 1]);
    writeFileSync(join(dir, "a.crl"), fromA.crls[0]!);
    await openssl(["crl", "-inform", "DER", "-in", join(dir, "a.crl"), "-noout", "-CAfile", join(dir, "a.pem"), "-verify"]);
    const fromB = await getCrl(new ScepClient({ url: `${twinBase}/b` }));
    expect([fromB.status, fromB.failInfo]).toEqual(["FAILURE", "badCertId"]);
  });
});
