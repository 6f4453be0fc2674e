/**
 * `GET /admin/scep/activity` names the client: each entry carries the `clientAddress` of its event (the TCP peer as
 * the adapter passed it), here 127.0.0.1 for a real SCEP request over loopback (a node:http server passing the socket's peer to `handle`), read back
 * through the admin API over loopback too. A real server and embedded CA.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivityLog, MemoryChallengeStore, createScepServer } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";
import { serveFetch } from "../src/node-fetch.js";

const TOKEN = "activity-client-address-token";
let dir: string;
let http: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-activity-address-"));
  const ca = await openFileCa({ dataDir: dir });
  const activity = new ActivityLog();
  const server = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, issue: async () => ({ status: "PENDING" }) }],
    onEvent: [activity.sink],
  });
  const admin = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca, challenges: new MemoryChallengeStore(), activity });
  http = createServer((req, res) => {
    if (admin.owns(req.url!.split("?")[0]!)) return serveFetch((r, meta) => admin.fetch(r, meta), req, res, () => res.writeHead(500).end());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      void server.handle({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) }, { remoteAddress: req.socket.remoteAddress }).then((r) => {
        res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
      });
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("GET /admin/scep/activity", () => {
  it("an entry of a refused PKIOperation has clientAddress 127.0.0.1", async () => {
    const refused = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", headers: { "content-type": "application/x-pki-message" }, body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) });
    await refused.text();
    expect(refused.status).toBe(400);
    const res = await fetch(`${base}/admin/scep/activity`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const { activity } = (await res.json()) as { activity: Record<string, unknown>[] };
    expect(activity).toHaveLength(1);
    expect(activity[0]).toMatchObject({ operation: "PKIOperation", outcome: "rejected", status: 400, clientAddress: "127.0.0.1" });
  });
});
