/**
 * serveFetch (how every example mounts its admin API on node:http and Express) hands the handler a body larger than
 * its 16 KiB cap as a prefix longer than any handler's limit, so the handler refuses it. A chunked body (no
 * Content-Length) whose first chunk was already over the cap reached the handler empty: the admin API read it as
 * `{}`, and `POST /admin/scep/challenges` issued a one-time challenge (201) for a 64 KiB body it should have refused,
 * `POST reload-trust` reloaded the default profile. A real @scep/core server on a real embedded CA, over loopback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryChallengeStore, createScepServer } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";
import { serveFetch } from "../src/node-fetch.js";

const TOKEN = "large-chunked-body-token";
let dir: string;
let http: Server;
let port: number;
const issued: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-node-fetch-body-"));
  const ca = await openFileCa({ dataDir: dir });
  const challenges = new MemoryChallengeStore();
  const server = createScepServer({ profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "store", store: challenges }, issue: async () => ({ status: "PENDING" }) }] });
  const api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: (e) => void (e.action === "challenge" && issued.push(String(e.profile))), ca, challenges });
  http = createServer((req, res) => serveFetch(api.fetch, req, res, () => res.writeHead(500).end()));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = (http.address() as AddressInfo).port;
}, 60_000);
afterAll(async () => {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** POSTs `body` as one chunk of a chunked body (no Content-Length). */
function postChunked(path: string, body: string): Promise<[number, unknown]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve([res.statusCode!, JSON.parse(Buffer.concat(chunks).toString("utf8"))]));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("serveFetch: a chunked body over the cap", () => {
  it("a 64 KiB chunked body to POST challenges: 400 too large, no challenge issued", async () => {
    const big = JSON.stringify({ ttlSeconds: 600, note: "x".repeat(64 * 1024) });
    expect(await postChunked("/admin/scep/challenges", big)).toEqual([400, { error: "the body is larger than 4096 bytes" }]);
    expect(issued).toEqual([]);
  });

  it("a small chunked body is read whole", async () => {
    expect(await postChunked("/admin/scep/challenges", JSON.stringify({ ttlSeconds: 600 }))).toEqual([201, expect.objectContaining({ profile: "/scep", expiresInSeconds: 600 })]);
    expect(issued).toEqual(["/scep"]);
  });
});
