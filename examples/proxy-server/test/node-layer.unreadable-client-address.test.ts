/**
 * Reading the client's address never fails an admin or proxy request in the example's node:http layer: a request
 * whose socket address cannot be read (Node's HTTP/2 compatibility socket throws `ERR_HTTP2_SOCKET_UNBOUND` once its
 * stream is gone) is answered as if no address were known, and the admin API answers a `meta` that is null or whose
 * `remoteAddress` getter throws the same way: a 401 with its audit line, without an address, never a 500. Real HTTP
 * requests over loopback.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryChallengeStore } from "@scep/core";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy } from "@scep/proxy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminApi, EventLog } from "../src/admin-api.js";
import { serveFetch } from "../src/node-fetch.js";
import { unbound, UNREADABLE_METAS } from "../../server-kit/test/support/unreadable-address.js";

const TOKEN = "admin-token-0123456789abcdef";
const lines: Record<string, unknown>[] = [];
const errors: unknown[] = [];
const cas = new MemoryCaRegistry([{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }], { defaultName: "corp" });
const profiles = new MemoryProfileStore();
const challenges = new MemoryChallengeStore();
const proxy = createScepProxy({ cas, profiles, challenges, logger: { error: () => undefined } });
const admin = createAdminApi({ token: TOKEN, cas, profiles, challenges, proxyBase: () => "https://mdm.example/scep", events: new EventLog(), stats: () => proxy.stats(), log: (l) => lines.push(l) });

let http: Server;
let base: string;
beforeAll(async () => {
  http = createServer((req, res) => {
    const handler = req.url!.startsWith("/admin") ? admin.fetch : proxy.fetch;
    void serveFetch((r, meta) => handler(r, meta), unbound(req), res, { maxBodyBytes: 4096, onError: (e) => void errors.push(e) });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => http.close(r)));

describe("a request whose socket address cannot be read", () => {
  it("the admin API answers 401 and logs its audit line without an address; nothing reaches onError", async () => {
    const res = await fetch(`${base}/admin/profiles`);
    expect(res.status).toBe(401);
    expect(lines.at(-1)).toEqual({ type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/profiles" });
    expect(errors).toEqual([]);
  });

  it("the proxy answers its own 400 for a bad identifier; nothing reaches onError", async () => {
    const res = await fetch(`${base}/scep/not-an-identifier?operation=GetCACaps`);
    await res.text();
    expect(res.status).toBe(400);
    expect(errors).toEqual([]);
  });
});

describe("admin.fetch with a meta it cannot read an address from", () => {
  it.each(UNREADABLE_METAS)("%s: 401 with an audit line without an address", async (_name, meta) => {
    const res = await admin.fetch(new Request("http://localhost/admin/profiles"), meta() as never);
    expect(res.status).toBe(401);
    expect(lines.at(-1)).toEqual({ type: "admin-auth-failed", reason: "missing_token", method: "GET", path: "/admin/profiles" });
  });
});
