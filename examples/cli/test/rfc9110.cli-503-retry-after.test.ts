/**
 * RFC 9110 §15.6.4, §10.2.3: a 503 from a real @scep/core server on loopback (its transaction store full: one
 * PENDING enrollment in a `MemoryTransactionStore` of `maxEntries: 1`) reaches the CLI user as the server's own
 * reason and the wait its Retry-After names (30 s), not a guess at why ("busy or rate-limited"); nothing is kept.
 * A 503 with Retry-After to GetCACaps/GetCACert names that wait too (cli.exit-codes.test.ts, "/busy").
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import type { RequestListener } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTransactionStore, createScepServer, type ScepServer } from "@scep/core";
import { createTestCa, issuingHook, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { listenLoopback, readBody, runInProcess as scep, type Loopback } from "./support/in-process.js";

let dir: string;
let ca: TestCa;
let server: ScepServer;
let http: Loopback;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-503-"));
  ca = await createTestCa("503 CLI CA");
  server = createScepServer({
    profiles: [
      {
        name: "devices",
        path: "/scep",
        caCertificate: ca.cert,
        signer: ca.key,
        challenge: { type: "static", password: "pw" },
        // Every request waits for an operator: the first one fills the store.
        issue: issuingHook(ca, [], () => ({ status: "PENDING" })),
        transactions: new MemoryTransactionStore({ maxEntries: 1 }),
      },
    ],
  });
  // The server's whole answer, Retry-After included, as @scep/express writes it.
  const listener: RequestListener = (req, res) =>
    void readBody(req).then(async (body) => {
      const r = await server.handle({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body });
      res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
    });
  http = await listenLoopback(listener);
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a 503 with Retry-After to the PKIOperation, from a real server whose transaction store is full", () => {
  it("the server's reason and its Retry-After (30 s), exit 4, nothing kept", async () => {
    const first = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "waits", "--out", "waits.pem", "--max-poll", "0"], mkdtempSync(join(dir, "first-")));
    expect([first.code, first.err[0]]).toEqual([3, expect.stringMatching(/PENDING/)]);
    const cwd = mkdtempSync(join(dir, "second-"));
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "refused", "--out", "refused.pem"], cwd);
    expect([r.code, r.out, r.err]).toEqual([4, [], ["scep: PKIOperation: HTTP 503 (store unavailable, retry later): the server did not process the request: run the same command again in 30 s"]]);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
