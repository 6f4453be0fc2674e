/**
 * The example servers' node:http layer (server-kit's serveFetch: the Express example's admin API and CRL, and the
 * `--admin-listen` admin listener of every example) and a method the WHATWG `Request` refuses to carry (Fetch §2.2.1
 * forbidden methods: TRACE, TRACK, CONNECT). node:http hands TRACE to the request listener like any other request (its
 * parser refuses TRACK with 400 itself, and CONNECT goes to the server's `connect` event), and building its `Request` threw a TypeError ("'TRACE' HTTP method is unsupported"): the admin listener
 * answered 500 `internal error` and logged an `internal-error` line, Express answered its own 500 page and printed the
 * stack. A client's method is the client's mistake: 405 `method not allowed` with `Allow` (RFC 9110 §15.5.6), nothing
 * logged, and the process keeps serving. Security scanners send TRACE to every path they find. (The SCEP path itself
 * never goes through serveFetch: @scep/express answers it 405 already, held to here too.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrackedExamples, type StartedExample } from "../../server-kit/test/support/example-process.js";

const TOKEN = "unsupported-method-token-0123456789";
const tmp = mkdtempSync(join(tmpdir(), "scep-express-trace-"));
const examples = new TrackedExamples(fileURLToPath(new URL("..", import.meta.url)));
let shared: StartedExample;
let separate: StartedExample;

beforeAll(async () => {
  [shared, separate] = await Promise.all([
    examples.start({ SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: join(tmp, "shared"), SCEP_CHALLENGE: "trace-secret" }),
    examples.start({ SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: join(tmp, "separate"), SCEP_CHALLENGE: "trace-secret", SCEP_ADMIN_LISTEN: "127.0.0.1:0" }),
  ]);
});
afterAll(async () => {
  await examples.terminateAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** One raw request (global fetch cannot send TRACE either). */
function send(port: number, method: string, path: string): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Neither an `internal-error` JSON line nor anything on stderr after the banner (Express prints a failed request's stack there). */
function expectNothingLogged(s: StartedExample, stderrBefore: number): void {
  expect(s.proc.events("internal-error")).toEqual([]);
  expect(s.proc.errLines.slice(stderrBefore)).toEqual([]);
}

describe("a method a web Request cannot carry, over a raw socket", () => {
  it.each([
    ["TRACE", "the admin API", "/admin/scep/profiles", "GET, HEAD, POST"],
    ["TRACE", "the admin page", "/admin/scep", "GET, HEAD, POST"],
    ["TRACE", "the SCEP path", "/scep?operation=GetCACaps", "GET, HEAD, POST"],
  ])("%s to %s on the SCEP port → 405 method not allowed with Allow, nothing logged; the next request is served", async (method, _what, path, allow) => {
    const port = shared.listening.port;
    const stderrBefore = shared.proc.errLines.length;
    const answer = await send(port, method, path);
    expect([answer.status, answer.allow]).toEqual([405, allow]);
    if (!path.startsWith("/scep")) expect(answer.body).toBe("method not allowed\n");
    expect((await send(port, "GET", "/scep?operation=GetCACaps")).status).toBe(200);
    expectNothingLogged(shared, stderrBefore);
  });

  it("TRACE to the CRL (mounted through the same layer) → 405 with Allow GET, HEAD (what the CRL takes), nothing logged", async () => {
    const stderrBefore = shared.proc.errLines.length;
    const answer = await send(shared.listening.port, "TRACE", "/scep/ca.crl");
    expect([answer.status, answer.body]).toEqual([405, "method not allowed\n"]);
    expect(answer.allow).toBe("GET, HEAD");
    expectNothingLogged(shared, stderrBefore);
  });

  it("TRACE to the --admin-listen admin listener → 405 with the admin API's Allow, no internal-error line; it keeps serving", async () => {
    const adminPort = (separate.listening as unknown as { adminPort: number }).adminPort;
    const stderrBefore = separate.proc.errLines.length;
    expect(await send(adminPort, "TRACE", "/admin/scep/profiles")).toEqual({ status: 405, allow: "GET, HEAD, POST", body: "method not allowed\n" });
    expect((await send(adminPort, "GET", "/admin/scep/profiles")).status).toBe(200);
    expectNothingLogged(separate, stderrBefore);
  });
});
