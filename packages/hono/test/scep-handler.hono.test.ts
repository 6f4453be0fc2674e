/**
 * @scep/hono: the middleware and the standalone app, through `app.request()`
 * (no network) and through @hono/node-server on loopback (real HTTP): caps,
 * GetCACert, a PKCSReq round trip with the core client, 413 on a big body, and
 * foreign paths passed on to the next handler with their body unread.
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "./support/core.js";
import { scepApp, scepHandler } from "../src/index.js";
import { CAPS as CAP_LIST, close, createFixture, enroll, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

const CAPS = CAP_LIST.join("\n");

let fx: Fixture;
let app: Hono;
beforeAll(async () => {
  fx = await createFixture();
  app = new Hono();
  app.use(scepHandler(fx.server));
  app.post("/echo", async (c) => c.json({ got: await c.req.json() }));
  app.get("/health", (c) => c.text("ok"));
});

describe("scepHandler through app.request()", () => {
  it("answers GetCACaps", async () => {
    const res = await app.request("/scep?operation=GetCACaps");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe(CAPS);
  });

  it("enrolls with the core client (its fetch is app.request)", async () => {
    const r = fx.pki.requesters.rsa;
    const client = new ScepClient({ url: "http://localhost/scep", fetch: (input, init) => Promise.resolve(app.request(input instanceof URL ? input.href : (input as string), init)) });
    const rep = await client.enroll({ csr: r.csr, signer: r.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
  });

  it("passes foreign paths to the next handler with the body unread", async () => {
    expect(await (await app.request("/health")).text()).toBe("ok");
    const res = await app.request("/echo", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1 }) });
    expect(await res.json()).toEqual({ got: { a: 1 } });
    const missing = await app.request("/nothing-here");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("404 Not Found");
  });

  it("fallthrough: false returns the server's 404", async () => {
    const strict = new Hono().use(scepHandler(fx.server, { fallthrough: false }));
    const res = await strict.request("/nothing-here");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no SCEP endpoint at this path\n");
  });

  it("scepApp serves SCEP on every path, with the server's 404 elsewhere", async () => {
    const only = scepApp(fx.server);
    expect(await (await only.request("/scep/pkiclient.exe?operation=GetCACaps")).text()).toBe(CAPS);
    const res = await only.request("/other");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no SCEP endpoint at this path\n");
    const mounted = new Hono().get("/health", (c) => c.text("ok")).route("/", only);
    expect(await (await mounted.request("/health")).text()).toBe("ok");
    expect(await (await mounted.request("/scep?operation=GetCACaps")).text()).toBe(CAPS);
  });
});

describe("routing by owns() (issue 7 points 9, 10, 12)", () => {
  it("foreign paths go to the next handler and the server emits no event for them", async () => {
    const before = fx.events.length;
    expect(await (await app.request("/health")).text()).toBe("ok");
    expect((await app.request("/favicon.ico")).status).toBe(404);
    expect((await app.request("/api/users", { method: "POST", body: "x" })).status).toBe(404);
    expect(fx.events.length).toBe(before);
  });

  it("a path a profile owns is answered by the server whatever the status: GetNextCACert without a next CA", async () => {
    const res = await app.request("/scep?operation=GetNextCACert");
    expect([res.status, await res.text()]).toEqual([404, "no next CA certificate is configured\n"]);
    expect(fx.events.at(-1)).toMatchObject({ operation: "GetNextCACert", reason: "no_next_ca", status: 404 });
  });

  it("under a prefix: app.mount('/pki', scepApp(server).fetch) serves profile /scep at /pki/scep", async () => {
    const outer = new Hono().get("/health", (c) => c.text("ok"));
    outer.mount("/pki", scepApp(fx.server).fetch);
    expect(await (await outer.request("/pki/scep?operation=GetCACaps")).text()).toBe(CAPS);
    const r = fx.pki.requesters.rsa;
    const client = new ScepClient({ url: "http://localhost/pki/scep", fetch: (input, init) => Promise.resolve(outer.request(input instanceof URL ? input.href : (input as string), init)) });
    expect((await client.enroll({ csr: r.csr, signer: r.signer })).status).toBe("SUCCESS");
    expect(await (await outer.request("/health")).text()).toBe("ok");
  });

  it("mounts any handler with owns() and fetch() unchanged", async () => {
    const health = { owns: (path: string) => path === "/healthz", fetch: async () => new Response("healthy", { status: 503 }) };
    const other = new Hono().use(scepHandler(health)).get("/other", (c) => c.text("other"));
    const res = await other.request("/healthz");
    expect([res.status, await res.text()]).toEqual([503, "healthy"]);
    expect(await (await other.request("/other")).text()).toBe("other");
  });
});

describe("scepHandler over @hono/node-server on loopback", () => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = createServer(getRequestListener(app.fetch));
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("answers GetCACaps and GetCACert", async () => {
    expect(await (await fetch(`${base}/scep?operation=GetCACaps`)).text()).toBe(CAPS);
    const certs = await new ScepClient({ url: `${base}/scep` }).getCaCert();
    expect(certs.map((c) => c.subject)).toEqual(["CN=SCEP Test CA, O=scep-sdk tests"]);
  });

  it("enrolls by POST PKIOperation", async () => {
    const rep = await enroll(fx.pki, `${base}/scep`);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.issuer).toBe("CN=SCEP Test CA, O=scep-sdk tests");
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200 });
  });

  it("answers a wrong challenge with a FAILURE CertRep (badRequest)", async () => {
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=intruder", challengePassword: "wrong" });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=intruder" });
    const rep = await new ScepClient({ url: `${base}/scep` }).enroll({ csr, signer });
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", "challenge password mismatch"]);
  });

  it("answers 413 to a 100 KiB PKIOperation (the server's 64 KiB limit)", async () => {
    const res = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array(100 * 1024).fill(0x30) });
    expect(res.status).toBe(413);
    expect(await res.text()).toBe("message too large\n");
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_too_large", status: 413 });
  });

  it("passes foreign paths on", async () => {
    const res = await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ b: 2 }) });
    expect(await res.json()).toEqual({ got: { b: 2 } });
  });
});

describe("a GET PKIOperation whose message is over the server's limit, over @hono/node-server on loopback", () => {
  it("is answered 414 URI Too Long (RFC 9110 §15.5.15: the message is in the target URI), not 413", async () => {
    const small = await createFixture({ maxBodyBytes: 1024 });
    const app = new Hono();
    app.use(scepHandler(small.server));
    const http = createServer(getRequestListener(app.fetch));
    const base = await listen(http);
    try {
      // Over 4/3 of 1 KiB plus 1 KiB of base64, and well under Node's 16 KiB request-line limit (431).
      const res = await fetch(`${base}/scep?operation=PKIOperation&message=${"A".repeat(4000)}`);
      expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([414, "text/plain; charset=utf-8", "URI too long\n"]);
      expect(small.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "uri_too_long", status: 414 });
    } finally {
      await close(http);
    }
  });
});
