/**
 * A SCEP URL that redirects, rebuilt against our `ScepClient` over real loopback HTTP (RFC 8894 §4.1, §4.3;
 * RFC 9110 §15.4).
 *
 * - PacketFence's SCEP server answers its CA's URL without a trailing slash with a redirect to the URL with one, and
 *   sscep, which follows no redirect, could not enroll until the configured URL got the slash
 *   (inverse-inc/packetfence#1730, https://github.com/inverse-inc/packetfence/pull/1730). The same happens wherever an
 *   HTTP URL is redirected to HTTPS by a load balancer (301, or 308).
 * - A client on fetch's own `redirect: "follow"` gets GetCACaps and GetCACert through, then loses the enrollment:
 *   fetch re-sends a POST answered 301 or 302 as a GET without its body, which the server refuses ("missing message
 *   parameter"), and Node 20's fetch fails a 307 or 308 with a byte body outright ("fetch failed"). Ours sends the
 *   PKIOperation again, body and all, to the new location.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient } from "../src/index.js";
import { close, createFixture, enroll, listen, serveOverHttp, type Fixture } from "./support/adapter-fixture.js";

let fixture: Fixture;
let scep: Server;
let front: Server;
let scepBase: string;
let frontBase: string;
/** What reached the redirecting front: method, path and query. */
const atFront: string[] = [];
/** What reached the SCEP server: method, path, query and body length. */
const atScep: string[] = [];

beforeAll(async () => {
  fixture = await createFixture();
  const inner = serveOverHttp(fixture.server);
  scep = createServer((req, res) => {
    let length = 0;
    req.on("data", (c: Buffer) => (length += c.length)).on("end", () => atScep.push(`${req.method} ${req.url} ${length}`));
    inner.emit("request", req, res);
  });
  scepBase = await listen(scep);
  // `/r301/ca` → 301 → `/r301/ca/` (PacketFence's trailing slash), which the SCEP server serves; `/to-scep/308` →
  // 308 → the SCEP server on another origin (an HTTP → HTTPS redirect); `/loop` redirects to itself forever.
  front = createServer((req, res) => {
    atFront.push(`${req.method} ${req.url}`);
    const u = new URL(req.url!, "http://front");
    const slash = /^\/r(30[1278])\/ca$/.exec(u.pathname);
    const elsewhere = /^\/to-scep\/(30[1278])$/.exec(u.pathname);
    if (slash) res.writeHead(Number(slash[1]), { location: `${u.pathname}/${u.search}` }).end();
    else if (elsewhere) res.writeHead(Number(elsewhere[1]), { location: `${scepBase}/scep${u.search}` }).end();
    else if (u.pathname === "/loop") res.writeHead(302, { location: `/loop${u.search}` }).end();
    else if (u.pathname === "/see-other") res.writeHead(303, { location: `${scepBase}/scep${u.search}` }).end();
    else if (/^\/r30[1278]\/ca\/$/.test(u.pathname)) {
      req.url = `/scep/pkiclient.exe${u.search}`;
      scep.emit("request", req, res);
    } else res.writeHead(404, { "content-type": "text/plain" }).end("not here\n");
  });
  frontBase = await listen(front);
});

afterAll(async () => {
  await close(front);
  await close(scep);
});

describe("RFC 9110 §15.4: a PKIOperation POST answered with a redirect is sent again to the new location, body and all (packetfence#1730)", () => {
  for (const status of [301, 302, 307, 308]) {
    it(`${status} to the same URL with a trailing slash → SUCCESS; the SCEP server saw one POST with the whole body`, async () => {
      atScep.length = 0;
      const rep = await enroll(fixture.pki, `${frontBase}/r${status}/ca`);
      expect(rep.status).toBe("SUCCESS");
      const posts = atScep.filter((l) => l.startsWith("POST"));
      expect(posts).toHaveLength(1);
      expect(posts[0]).toMatch(/^POST \/scep\/pkiclient\.exe\?operation=PKIOperation [1-9]\d{2,}$/);
      expect(atScep.filter((l) => l.startsWith("GET") && l.includes("PKIOperation"))).toEqual([]);
    });
  }

  it("308 to another origin (an HTTP → HTTPS move) → SUCCESS", async () => {
    const rep = await enroll(fixture.pki, `${frontBase}/to-scep/308`);
    expect(rep.status).toBe("SUCCESS");
  });

  it("a redirect loop: the POST gives up after 5 redirects with a typed transport error naming the status", async () => {
    atFront.length = 0;
    const client = new ScepClient({ url: `${frontBase}/loop` });
    const error = await client.pkiOperation(new Uint8Array([0x30, 0x00])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", status: 302 });
    expect((error as Error).message).toBe("PKIOperation: HTTP 302");
    expect(atFront).toEqual(Array.from({ length: 6 }, () => "POST /loop?operation=PKIOperation"));
  });

  it("303 See Other is not followed with the body (it means: GET the answer elsewhere): ERR_TRANSPORT with status 303", async () => {
    const error = await new ScepClient({ url: `${frontBase}/see-other` }).pkiOperation(new Uint8Array([0x30, 0x00])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", status: 303 });
  });
});
