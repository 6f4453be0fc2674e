/**
 * RFC 9110 §9.3.2 and §15.5.6 for the admin API and page of a running example server (Express or Hono), over real
 * sockets: HEAD of every GET route (and of the pre-0.2 aliases, the page, its script, and a refusal) gets the GET's
 * status and header fields, Content-Length included, and no content; a wrong method gets 405 with an `Allow` naming
 * the methods the route answers, HEAD listed with GET. (Found by a user: HEAD of `GET` routes was 405 `Allow: GET`.)
 */
import { expect } from "vitest";
import { exchange } from "../../../../packages/core/test/support/head-vs-get.js";

/** Admin GET targets that answer 200 with the token (the Express and Hono examples have an embedded CA). */
export const ADMIN_GET_TARGETS = [
  "/admin/scep/profiles",
  "/admin/scep/activity?limit=5",
  "/admin/scep/pending",
  "/admin/scep/certificates?pageSize=5",
  "/admin/scep/stats",
  "/admin/pending",
  "/admin/stats",
];

/** GET then HEAD of each admin target on 127.0.0.1:`port`, then the 405s. */
export async function expectAdminHeadLikeGet(port: number, token: string): Promise<void> {
  const auth = { authorization: `Bearer ${token}` };
  const targets: [string, Record<string, string>, number][] = [
    ...ADMIN_GET_TARGETS.map((t): [string, Record<string, string>, number] => [t, auth, 200]),
    ["/admin/scep", {}, 200],
    ["/admin/scep/app.js", {}, 200],
    ["/admin/scep/profiles", {}, 401],
    ["/admin/scep/profiles", { authorization: "Bearer wrong-token-wrong-token" }, 403],
    ["/admin/scep/nope", auth, 404],
    ["/admin/scep/activity?limit=0", auth, 400],
  ];
  for (const [target, headers, status] of targets) {
    const get = await exchange(port, "GET", target, headers);
    const head = await exchange(port, "HEAD", target, headers);
    expect({ target, status: get.status, length: get.headers["content-length"] }).toEqual({ target, status, length: String(get.body.length) });
    expect(get.body.length).toBeGreaterThan(0);
    expect({ target, status: head.status, headers: head.headers, body: head.body.length }).toEqual({ target, status: get.status, headers: get.headers, body: 0 });
  }
  for (const [method, target, allow] of [
    ["POST", "/admin/scep/profiles", "GET, HEAD"],
    ["DELETE", "/admin/scep/stats", "GET, HEAD"],
    ["PUT", "/admin/scep", "GET, HEAD"],
    ["GET", "/admin/scep/challenges", "POST"],
    ["HEAD", "/admin/scep/approve", "POST"],
  ] as const) {
    const res = await exchange(port, method, target, auth);
    expect({ method, target, status: res.status, allow: res.headers.allow }).toEqual({ method, target, status: 405, allow });
  }
}
