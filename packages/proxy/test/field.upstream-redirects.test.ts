/**
 * A CA's SCEP URL that redirects, behind the proxy (PROXY.md "Forwarding"; RFC 9110 §15.4).
 *
 * PacketFence's SCEP server redirects its CA's URL without a trailing slash to the URL with one, and sscep, which
 * follows no redirect, could not enroll until the URL got the slash (inverse-inc/packetfence#1730,
 * https://github.com/inverse-inc/packetfence/pull/1730); an HTTP URL moved to HTTPS at a load balancer redirects the
 * same way (301, or 308). `HttpUpstream` followed them with fetch's `redirect: "follow"`: GetCACaps and GetCACert
 * came through, but the POSTed PKIOperation was re-sent as a GET without its body on a 301 or 302 (the CA refuses it:
 * no message) and failed outright on a 307 or 308 under Node 20 ("fetch failed"): every device's enrollment ended in
 * a 502. Now the POST goes again, body and all, to the new location; another origin does not get the CA URL's
 * credentials.
 */
import { manualClock } from "@scep/core/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { PKI_REPLY, startUpstream, wellBehaved, type Script, type UpstreamServer } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const AUTH = `Basic ${Buffer.from("mdm-svc:Sup3rSecret").toString("base64")}`;

let up: UpstreamServer;
let elsewhere: UpstreamServer;
let events: ProxyEvent[];

beforeAll(async () => {
  [up, elsewhere] = await Promise.all([startUpstream(), startUpstream()]);
});
afterAll(async () => {
  await Promise.all([up.close(), elsewhere.close()]);
});

beforeEach(() => {
  up.seen.length = 0;
  elsewhere.seen.length = 0;
  events = [];
});

/** A proxy whose only CA is the upstream at `/scep`, with credentials in its URL. */
async function proxyFor(): Promise<ScepProxy> {
  const clock = manualClock();
  const profiles = new MemoryProfileStore({ now: clock.now });
  await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
  const url = up.url.replace("http://", "http://mdm-svc:Sup3rSecret@");
  return createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url }]), now: clock.now, onEvent: (e) => events.push(e) });
}

async function post(proxy: ScepProxy): Promise<{ status: number; body: Buffer }> {
  const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** `/scep` redirects with `status` to `/scep/` (PacketFence's trailing slash), which answers like a SCEP server. */
const trailingSlash =
  (status: number): Script =>
  (req, res, socket) => {
    const u = new URL(req.rawUrl, "http://x");
    if (u.pathname === "/scep") res.writeHead(status, { location: `/scep/${u.search}` }).end();
    else wellBehaved()(req, res, socket);
  };

describe("RFC 9110 §15.4: the CA's URL redirects; the PKIOperation POST follows with its body (packetfence#1730)", () => {
  for (const status of [301, 302, 307, 308]) {
    it(`${status} to /scep/ → 200 with the CA's reply; the CA got one POST with the device's exact bytes and the credentials`, async () => {
      up.script(trailingSlash(status));
      const proxy = await proxyFor();
      expect(await post(proxy)).toEqual({ status: 200, body: PKI_REPLY });
      const pki = up.seen.filter((s) => s.operation === "PKIOperation");
      expect(pki.map((s) => [s.method, s.rawUrl])).toEqual([
        ["POST", "/scep?operation=PKIOperation"],
        ["POST", "/scep/?operation=PKIOperation"],
      ]);
      expect(pki[1]!.body).toEqual(MSG);
      expect(pki[1]!.headers.authorization).toBe(AUTH);
      expect(events.at(-1)).toMatchObject({ operation: "PKIOperation", status: 200 });
    });
  }

  it("308 to another origin (an HTTP → HTTPS move): 200; the other origin gets the body but not the credentials", async () => {
    up.script((req, res, socket) => {
      if (req.operation === "PKIOperation") res.writeHead(308, { location: `${elsewhere.url}?operation=PKIOperation` }).end();
      else wellBehaved()(req, res, socket);
    });
    elsewhere.script(wellBehaved());
    const proxy = await proxyFor();
    expect(await post(proxy)).toEqual({ status: 200, body: PKI_REPLY });
    expect(elsewhere.seen.map((s) => [s.method, s.rawUrl, s.body, s.headers.authorization])).toEqual([["POST", "/scep?operation=PKIOperation", MSG, undefined]]);
  });

  it("a redirect loop: given up after 5 redirects → 502 upstream failed, reason http with the redirect's status", async () => {
    up.script((req, res, socket) => {
      if (req.operation === "PKIOperation") res.writeHead(302, { location: `/scep?operation=PKIOperation` }).end();
      else wellBehaved()(req, res, socket);
    });
    const proxy = await proxyFor();
    const r = await post(proxy);
    expect([r.status, r.body.toString()]).toEqual([502, "upstream failed"]);
    expect(up.seen.filter((s) => s.operation === "PKIOperation")).toHaveLength(6);
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "http", status: 302 } });
  });
});
