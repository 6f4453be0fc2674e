// RFC 5280 Appendix A through the CLI and a real @scep/core server: `scep enroll --cn` with a CN above
// ub-common-name (64 characters) ends with exit 2 and one FAILURE line that shows the server's whole reason (the
// attribute and the bound), within the 120 characters of failInfoText the CLI quotes, and what to shorten; nothing is written. A CN of
// 64 characters is issued.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScepServer } from "@scep/core";
import { createTestCa, issuingHook, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { main } from "../src/run.js";

let dir: string;
let ca: TestCa;
let http: Server;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-appendix-a-"));
  ca = await createTestCa("Appendix A CLI CA");
  const server = createScepServer({
    profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca) }],
  });
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = req.method === "POST" ? new Uint8Array(Buffer.concat(chunks)) : undefined;
        const init: RequestInit = { method: req.method ?? "GET" };
        if (body) init.body = body as Uint8Array<ArrayBuffer>;
        const reply = await server.fetch(new Request(`http://127.0.0.1${req.url ?? "/"}`, init));
        res.writeHead(reply.status, { "content-type": reply.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await reply.arrayBuffer()));
      })().catch((e: unknown) => res.writeHead(500).end(String(e)));
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/scep`;
});
afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((r) => http?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function scep(argv: string[], cwd: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { cwd, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

describe("RFC 5280 Appendix A ub-common-name: the server's reason reaches the CLI user whole", () => {
  it("--cn of 65 characters: exit 2, one FAILURE badRequest line naming CN and ub-common-name (64), nothing written", async () => {
    const cwd = mkdtempSync(join(dir, "cn65-"));
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "d".repeat(65), "--out", "device.pem"], cwd);
    expect([r.code, r.out]).toEqual([2, []]);
    expect(r.err).toEqual([
      `FAILURE: badRequest: the CA does not permit or support this request (the CA said "the subject cannot be certified: CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)"); shorten --cn to the RFC 5280 Appendix A bound the CA names (CN, O and OU: at most 64 characters each)`,
    ]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("--cn of 64 characters: issued", async () => {
    const cwd = mkdtempSync(join(dir, "cn64-"));
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "d".repeat(64), "--out", "device.pem"], cwd);
    expect([r.code, r.err]).toEqual([0, []]);
    expect(readdirSync(cwd).sort()).toEqual(["device.key", "device.pem"]);
  });
});
