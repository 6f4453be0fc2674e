/**
 * An admin path that is no route is 404, and its one-line `error` names every route the API has (method and path,
 * `[/{transactionId}]` where the ID may be the rest of the path), read from the route table: an operator who
 * mistypes a path (or uses one from another version) learns the right one from the answer. Only after
 * authentication: without the token the answer is 401 and names nothing. Each route the list names answers its
 * method (not this 404) and 405s the other, so the list cannot drift from what answers. A real @scep/core server.
 * (Found by a user: the 404 said only `no admin route /admin/scep/pendng`.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryChallengeStore, createScepServer } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { createAdminApi, type AdminApi } from "../src/admin-api.js";

const TOKEN = "unknown-route-admin-token";
const ROUTES =
  "GET /admin/scep/profiles, GET /admin/scep/activity, GET /admin/scep/pending, POST /admin/scep/approve[/{transactionId}], " +
  "POST /admin/scep/reject[/{transactionId}], POST /admin/scep/challenges, GET /admin/scep/certificates, POST /admin/scep/revoke, " +
  "POST /admin/scep/reload-trust, GET /admin/scep/stats";

let dir: string;
let api: AdminApi;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-unknown-route-"));
  const ca = await openFileCa({ dataDir: dir });
  const server = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.certificateDer, signer: ca.signer, challenge: { type: "static", password: "pw" }, issue: async () => ({ status: "PENDING" }) }],
  });
  api = createAdminApi({ token: TOKEN, server, defaultProfile: "/scep", log: () => {}, ca, challenges: new MemoryChallengeStore() });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const call = async (method: string, path: string, token: string | null = TOKEN): Promise<[number, string]> => {
  const res = await api.fetch(new Request(`http://127.0.0.1${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } }));
  return [res.status, await res.text()];
};

describe("admin API: a path that is no route", () => {
  it("is 404 naming every route, in one line, for a typo, a path outside /admin/scep/ and a rest of path no route takes", async () => {
    for (const path of ["/admin/scep/pendng", "/admin/foo", "/admin", "/admin/scep/pending/extra", "/admin/scep/stats/"]) {
      const [status, body] = await call("GET", path);
      expect([path, status, JSON.parse(body)]).toEqual([path, 404, { error: `no admin route ${path}; routes: ${ROUTES}` }]);
      expect(body).not.toContain("\\n");
      expect(body).not.toContain(TOKEN);
    }
    // Any method: the path is what is unknown.
    const [status, body] = await call("POST", "/admin/scep/nope");
    expect([status, JSON.parse(body)]).toEqual([404, { error: `no admin route /admin/scep/nope; routes: ${ROUTES}` }]);
  });

  it("names nothing without the token (401) or with a wrong one (403)", async () => {
    const [none, noneBody] = await call("GET", "/admin/scep/pendng", null);
    const [wrong, wrongBody] = await call("GET", "/admin/scep/pendng", "wrong-token-wrong-token");
    expect([none, wrong]).toEqual([401, 403]);
    for (const body of [noneBody, wrongBody]) expect(body).not.toContain("routes");
  });

  it("lists only routes that answer: each one's method is routed (not this 404), the other method is 405", async () => {
    for (const entry of ROUTES.split(", ")) {
      const [method, path] = entry.replace("[/{transactionId}]", "").split(" ") as [string, string];
      const [status, body] = await call(method, path);
      expect({ entry, routed: !body.includes("no admin route") }).toEqual({ entry, routed: true });
      expect(status).not.toBe(405);
      const other = method === "GET" ? "POST" : "GET";
      expect({ entry, status: (await call(other, path))[0] }).toEqual({ entry, status: 405 });
    }
    // The ID as the rest of the path is routed for approve and reject (404 naming the transaction, not the routes).
    const [status, body] = await call("POST", "/admin/scep/approve/no-such-id");
    expect([status, JSON.parse(body)]).toEqual([404, { error: "no pending transaction no-such-id in profile /scep" }]);
  });
});
