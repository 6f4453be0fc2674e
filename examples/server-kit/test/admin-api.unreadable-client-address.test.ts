/**
 * Reading the client's address never fails an admin request: served through the kit's `serveFetch` (what the Express
 * example mounts the admin API with), a request whose socket address cannot be read (Node's HTTP/2 compatibility
 * socket throws `ERR_HTTP2_SOCKET_UNBOUND` once its stream is gone) is answered as if no address were known, and
 * `admin.fetch` answers a `meta` that is null or whose `remoteAddress` getter throws the same way: a 401 with its
 * audit line, without an address, never a 500. A readable address goes into the audit line as `clientAddress`, the
 * name the SCEP event lines use. Real HTTP requests over loopback; a real server and embedded CA.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryChallengeStore, createScepServer } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { createAdminApi, type AdminApi } from "../src/admin-api.js";
import { peerAddress, serveFetch } from "../src/node-fetch.js";
import { unbound, UNREADABLE_METAS } from "./support/unreadable-address.js";

const TOKEN = "unreadable-address-admin-token";
const lines: Record<string, unknown>[] = [];
const errors: unknown[] = [];
let dir: string;
let admin: AdminApi;
let http: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-unreadable-address-"));
  const ca = await openFileCa({ dataDir: dir });
  const server = createScepServer({ profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, issue: async () => ({ status: "PENDING" }) }] });
  admin = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: (l) => void lines.push(l), ca, challenges: new MemoryChallengeStore() });
  http = createServer((req, res) => serveFetch((r, meta) => admin.fetch(r, meta), unbound(req), res, (e) => void (errors.push(e), res.writeHead(500).end())));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("a request whose socket address cannot be read", () => {
  it("is answered 401 with an audit line without an address; nothing reaches onError", async () => {
    const res = await fetch(`${base}/admin/scep/pending`);
    await res.text();
    expect(res.status).toBe(401);
    expect(lines.at(-1)).toEqual({ type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/scep/pending" });
    expect(errors).toEqual([]);
  });

  it("peerAddress gives undefined for it (and for no request) instead of throwing", () => {
    const req = unbound(Object.assign(Object.create(null) as IncomingMessage, { socket: {} }));
    expect(peerAddress(req)).toBeUndefined();
    expect(peerAddress(undefined)).toBeUndefined();
  });
});

describe("admin.fetch with a meta it cannot read an address from", () => {
  it.each(UNREADABLE_METAS)("%s: 401 with an audit line without an address", async (_name, meta) => {
    const res = await admin.fetch(new Request("http://localhost/admin/scep/pending"), meta() as never);
    expect(res.status).toBe(401);
    expect(lines.at(-1)).toEqual({ type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/scep/pending" });
  });
});

describe("the audit line's address field", () => {
  it("is clientAddress, the name the SCEP event lines use (not remoteAddress), cut to 64 characters like theirs", async () => {
    await admin.fetch(new Request("http://localhost/admin/scep/pending"), { remoteAddress: "192.0.2.7" });
    expect(lines.at(-1)).toEqual({ type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/scep/pending", clientAddress: "192.0.2.7" });
    await admin.fetch(new Request("http://localhost/admin/scep/pending"), { remoteAddress: "x".repeat(1000) });
    expect(lines.at(-1)!.clientAddress).toBe(`${"x".repeat(63)}…`);
  });
});
