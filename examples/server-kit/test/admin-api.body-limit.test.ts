/**
 * The admin API's JSON bodies are at most 4096 bytes, counted as bytes: the limit counted UTF-16 characters, so a
 * body of 2,047 characters and ~6,000 bytes ("€" is three bytes in UTF-8) got through. Refused with 400 whether the
 * body declares its length or not. A real @scep/core server on a real embedded CA.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScepServer, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "body-limit-admin-token";
let dir: string;
let ca: FileCa;
let server: ScepServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-body-limit-"));
  ca = await openFileCa({ dataDir: dir });
  server = createScepServer({ profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, issue: async () => ({ status: "PENDING" }) }] });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const post = async (body: BodyInit, extraHeaders: Record<string, string> = {}): Promise<[number, unknown]> => {
  const api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca });
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...extraHeaders };
  const res = await api.fetch(new Request("http://127.0.0.1/admin/scep/reject", { method: "POST", headers, body, duplex: "half" } as RequestInit));
  return [res.status, await res.json()];
};

describe("admin API: the JSON body limit counts bytes", () => {
  const big = JSON.stringify({ transactionId: "tx-1", note: "€".repeat(2000) });

  it("2,047 characters, over 4096 bytes: 400, as a string body and as a stream", async () => {
    expect(big.length).toBeLessThan(4096);
    expect(Buffer.byteLength(big)).toBeGreaterThan(4096);
    const refused = [400, { error: "the body is larger than 4096 bytes" }];
    expect(await post(big)).toEqual(refused);
    const stream = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) });
    expect(await post(stream)).toEqual(refused);
  });

  it("a declared Content-Length over the limit: 400 before the body is read (a stream that never ends)", async () => {
    const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) });
    expect(await post(endless, { "content-length": "6000" })).toEqual([400, { error: "the body is larger than 4096 bytes" }]);
  });

  it("a body of 4096 bytes is read", async () => {
    const exact = JSON.stringify({ transactionId: "tx-none", note: "x".repeat(4096 - 37) });
    expect(Buffer.byteLength(exact)).toBe(4096);
    expect(await post(exact)).toEqual([404, { error: "no pending transaction tx-none in profile /scep" }]);
  });
});
