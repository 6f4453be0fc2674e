/**
 * docs/admin-api.openapi.yaml, to the letter, for the answers the example's admin API gives to an operator's mistakes
 * and to an approve that cannot issue: every status is documented for its route and every JSON body matches the
 * documented schema. Against the Express example as a child process with two profiles (`/scep` static, `ot`
 * one-time), and in process (a @scep/core server on an embedded CA whose issue hook and clock are the test's) for
 * the approve answers that need an expired CA, a refusing issue hook or a key that is down.
 * (Found by a review: `POST challenges` for a profile without one-time challenges issued one, 201, that the profile
 * then refused as "challenge password mismatch", where the document says 409; `GET activity?outcome=failed`
 * answered 200 with no entries, where the document enumerates the outcomes; an approve's 409 with status PENDING and
 * its 502 were answered but not documented, nor 404 for an unknown profile on four routes, nor 400 on reload-trust.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyUnavailableError, MemoryTransactionStore, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type IssueResult } from "@scep/core";
import { openFileCa, type FileCa } from "../../embedded-ca/src/index.js";
import { createAdminApi } from "../../server-kit/src/admin-api.js";
import { REPO_ROOT, startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "openapi-errors-token-5b2e7d";
const tmp = mkdtempSync(join(tmpdir(), "scep-admin-openapi-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The document, and a check of one answer against it: undefined when it holds, else what does not. */
const doc = parseYaml(readFileSync(join(REPO_ROOT, "docs", "admin-api.openapi.yaml"), "utf8")) as {
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> }>>;
  components: { responses: Record<string, { content?: Record<string, unknown> }> };
};
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat("date-time", (v: string) => !Number.isNaN(Date.parse(v)));
ajv.addSchema(doc, "admin-api");
const pointer = (...parts: string[]): string => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

function undocumented(method: string, path: string, status: number, body: unknown): string | undefined {
  const route = `/${path.slice("/admin/scep/".length).split(/[?/]/)[0]}`;
  const response = doc.paths[route]?.[method.toLowerCase()]?.responses[String(status)];
  if (!response) return `${method} ${path}: status ${status} is not documented`;
  const ref = response.$ref?.replace("#/components/responses/", "");
  const at = ref ? pointer("components", "responses", ref, "content", "application/json", "schema") : pointer("paths", route, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema");
  const validate = ajv.getSchema(`admin-api#/${at}`);
  if (!validate) return `${method} ${path} ${status}: no JSON schema documented`;
  return validate(body) ? undefined : `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`;
}

describe("the example's admin API: mistakes answered as documented", () => {
  let proc: ExampleProcess;
  let base: string;
  beforeAll(async () => {
    writeFileSync(join(tmp, "config.json"), JSON.stringify({ profiles: [{ path: "/scep" }, { name: "ot", path: "/ot", challenge: "one-time" }] }));
    const s = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: "static-secret", SCEP_DATA_DIR: join(tmp, "data"), SCEP_CONFIG: join(tmp, "config.json") });
    proc = s.proc;
    base = s.base;
  });
  afterAll(() => proc?.terminate());

  const call = async (method: string, path: string, body?: string): Promise<[number, unknown]> => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body }) });
    const json = (await res.json()) as unknown;
    expect(undocumented(method, path, res.status, json)).toBeUndefined();
    return [res.status, json];
  };

  it("POST challenges for a profile that takes no one-time challenges (the default /scep, static): 409 naming those that do, nothing issued", async () => {
    const error = 'profile /scep does not take one-time challenges (profiles that do: ot; give "profile")';
    expect(await call("POST", "/admin/scep/challenges", "{}")).toEqual([409, { error }]);
    expect(await call("POST", "/admin/scep/challenges", JSON.stringify({ profile: "/scep" }))).toEqual([409, { error }]);
    expect(proc.lines.filter((l) => l.includes('"action":"challenge"'))).toEqual([]);
    const [status, issued] = await call("POST", "/admin/scep/challenges", JSON.stringify({ profile: "ot" }));
    expect([status, issued]).toEqual([201, expect.objectContaining({ profile: "ot", challenge: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) })]);
  });

  it("GET activity with an outcome no entry has: 400 naming the five", async () => {
    const error = "outcome must be one of success, failure, pending, rejected, error (repeat it or separate with commas)";
    expect(await call("GET", "/admin/scep/activity?outcome=failed")).toEqual([400, { error }]);
    expect(await call("GET", "/admin/scep/activity?outcome=failure,oops")).toEqual([400, { error }]);
    expect(await call("GET", "/admin/scep/activity?outcome=failure&outcome=pending")).toEqual([200, { activity: [] }]);
  });

  it("an unknown profile: 404 naming the profiles, on every route that takes one", async () => {
    const error = "no profile /nope (profiles: /scep, ot)";
    expect(await call("GET", "/admin/scep/activity?profile=/nope")).toEqual([404, { error }]);
    expect(await call("GET", "/admin/scep/pending?profile=/nope")).toEqual([404, { error }]);
    expect(await call("GET", "/admin/scep/certificates?profile=/nope")).toEqual([404, { error }]);
    expect(await call("POST", "/admin/scep/challenges", JSON.stringify({ profile: "/nope" }))).toEqual([404, { error }]);
    expect(await call("POST", "/admin/scep/revoke", JSON.stringify({ profile: "/nope", serialNumber: "01" }))).toEqual([404, { error }]);
  });

  it("a body that is not JSON, not an object, or of the wrong types: 400 on every POST route", async () => {
    for (const path of ["/admin/scep/approve", "/admin/scep/reject", "/admin/scep/challenges", "/admin/scep/revoke", "/admin/scep/reload-trust"]) {
      expect(await call("POST", path, "{not json")).toEqual([400, { error: "the body is not JSON" }]);
      expect(await call("POST", path, "[1]")).toEqual([400, { error: "the body must be a JSON object" }]);
      expect((await call("POST", path, JSON.stringify({ profile: 7, transactionId: 7, serialNumber: 7, ttlSeconds: "60" })))[0]).toBe(400);
      expect(await call("POST", path, JSON.stringify({ pad: "x".repeat(5000) }))).toEqual([400, { error: "the body is larger than 4096 bytes" }]);
    }
  });
});

describe("an approve that cannot issue: answered as documented (in process)", () => {
  let dir: string;
  let ca: FileCa;
  let hook: "pending" | "key-down" = "pending";
  let fixed: Date | undefined;
  let api: ReturnType<typeof createAdminApi>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmp, "approve-"));
    ca = await openFileCa({ dataDir: dir });
    const transactions = new MemoryTransactionStore();
    const server = createScepServer({
      now: () => fixed ?? new Date(),
      profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, transactions, issue: async (): Promise<IssueResult> => {
        if (hook === "key-down") throw new KeyUnavailableError("the CA key's worker is restarting", { retryAfterSeconds: 7 });
        return { status: "PENDING" };
      } }],
    });
    const keys = await generateRsaKeyPair();
    const at = new Date(Date.now() - 60_000);
    await transactions.create({ profile: "/scep", transactionId: "tx-1", status: "PENDING", csr: await generateCsr({ keys, subject: "CN=queued" }), signerCertificate: (await createSelfSignedSigner({ keys, subject: "CN=queued" })).certificate.der, renewal: false, createdAt: at, updatedAt: at, expiresAt: new Date("2999-01-01T00:00:00Z") });
    api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca, transactions });
  }, 60_000);

  const approve = async (): Promise<[number, unknown]> => {
    const res = await api.fetch(new Request("http://127.0.0.1/admin/scep/approve", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ transactionId: "tx-1", profile: "/scep" }) }));
    const json = (await res.json()) as unknown;
    expect(undocumented("POST", "/admin/scep/approve", res.status, json)).toBeUndefined();
    return [res.status, json];
  };

  it("the CA has expired: 409 with status PENDING", async () => {
    fixed = new Date(ca.notAfter.getTime() + 86_400_000);
    const [status, body] = await approve().finally(() => (fixed = undefined));
    expect([status, (body as { status?: string }).status]).toEqual([409, "PENDING"]);
  });

  it("the issue hook answers PENDING again: 502 with status PENDING", async () => {
    hook = "pending";
    expect((await approve())[0]).toBe(502);
  });

  it("the CA key is unavailable: 503 with status PENDING", async () => {
    hook = "key-down";
    expect((await approve())[0]).toBe(503);
  });
});
