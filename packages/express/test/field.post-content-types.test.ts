/**
 * A PKIOperation POSTed with the form content type, through @scep/express over real HTTP (RFC 8894 §4.3).
 *
 * Dogtag's SCEP servlet read a POST's form parameters, which consumed the body holding the PKIMessage, and its fix
 * had to read the body whatever the Content-Type: "many SCEP clients" send none or another than
 * `application/x-pki-message` (dogtagpki/pki#542, https://github.com/dogtagpki/pki/pull/542). Java's
 * HttpURLConnection, .NET's WebClient and `curl --data-binary` label a body they were given no type for
 * `application/x-www-form-urlencoded`, and in an Express app `express.urlencoded()` then takes that body. Mounted
 * before the body parsers (as the README says), the middleware gets every such PKIOperation whole, and the app's own
 * form routes still get their parsed bodies.
 *
 * Mounted after them (the usual mistake), the parser has taken the body before the middleware asks for it: the server
 * answers 400 with what happened and what to do (event reason `body_already_read`), not `empty message`, never a 5xx,
 * with real body-parser 2 (Express 5) and 1 (Express 4) parsers; `express.raw()`'s Buffer is the body's bytes and is
 * used. A plain handler without `handle` (a web `Request`) gets the same answer.
 */
import { createServer, type Server } from "node:http";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BODY_ALREADY_READ_TEXT, buildPkcsReq, generateCsr, readCertRep, type FetchHandler } from "../../core/src/index.js";
import { scepMiddleware } from "../src/index.js";
import { CHALLENGE, close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
let http: Server;
let base: string;

beforeAll(async () => {
  fx = await createFixture();
  const app = express5();
  app.use(scepMiddleware(fx.server));
  app.use(express5.urlencoded({ extended: false }));
  app.use(express5.json());
  app.post("/login", (req, res) => void res.json({ user: (req.body as { user?: string }).user ?? null }));
  http = createServer(app);
  base = await listen(http);
});
afterAll(() => close(http));

describe("RFC 8894 §4.3 through @scep/express mounted before express.urlencoded() (dogtag#542)", () => {
  const types: (string | null)[] = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", "application/json", "text/plain", null];
  types.forEach((contentType, i) => {
    it(`a PKIOperation POSTed as ${contentType ?? "no Content-Type"} → SUCCESS`, async () => {
      const r = fx.pki.requesters.rsa;
      // A CSR of its own (another SAN): the same request twice would be a re-send answered from the record.
      const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`form-${i}.example.test`] } });
      const built = await buildPkcsReq({ csr, signer: r.signer, recipient: fx.pki.ca.certificate });
      const res = await fetch(`${base}/scep/pkiclient.exe?operation=PKIOperation`, {
        method: "POST",
        body: built.der as Uint8Array<ArrayBuffer>,
        ...(contentType === null ? {} : { headers: { "content-type": contentType } }),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      expect(res.status, Buffer.from(body).toString("latin1").slice(0, 120)).toBe(200);
      const rep = await readCertRep(body, { request: built, decrypter: r.signer, caCertificates: [fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
    });
  });

  it("the app's own form route still gets its parsed body (the middleware leaves paths it does not own untouched)", async () => {
    const res = await fetch(`${base}/login`, { method: "POST", body: "user=alice", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(await res.json()).toEqual({ user: "alice" });
  });
});

/** A PKIOperation (a PKCSReq with a CSR of its own, `tag` in its SAN: no re-send of an earlier one) for the RSA requester. */
async function pkcsReq(tag: string) {
  const r = fx.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`${tag}.example.test`] } });
  return buildPkcsReq({ csr, signer: r.signer, recipient: fx.pki.ca.certificate });
}

describe("RFC 8894 §4.3 through @scep/express mounted after a body parser: a clear 400, not 'empty message'", () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map(close)));
  /** An app with `parsers` mounted before the middleware (for `handler`, default the SCEP server itself). */
  async function appAfter(parsers: unknown[], express: typeof express5 | typeof express4 = express5, handler: FetchHandler = fx.server): Promise<string> {
    const app = express();
    for (const parser of parsers) app.use(parser as Parameters<typeof app.use>[0]);
    app.use(scepMiddleware(handler));
    const server = createServer(app);
    servers.push(server);
    return listen(server);
  }
  const post = (at: string, body: Uint8Array, contentType: string) =>
    fetch(`${at}/scep/pkiclient.exe?operation=PKIOperation`, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers: { "content-type": contentType } });

  const parsed = [
    ["express.urlencoded() (body-parser 2, Express 5)", () => appAfter([express5.urlencoded({ extended: false })]), "application/x-www-form-urlencoded"],
    ["express.text() (body-parser 2, Express 5)", () => appAfter([express5.text({ type: "*/*" })]), "application/x-pki-message"],
    ["express.json() then express.urlencoded() (body-parser 1, Express 4)", () => appAfter([express4.json(), express4.urlencoded({ extended: false })], express4), "application/x-www-form-urlencoded"],
    ["express.text() (body-parser 1, Express 4)", () => appAfter([express4.text({ type: "*/*" })], express4), "application/x-pki-message"],
  ] as const;
  parsed.forEach(([name, app, contentType], i) => {
    it(`${name} took the body: 400 with what to do, event body_already_read`, async () => {
      const at = await app();
      const res = await post(at, (await pkcsReq(`parsed-${i}`)).der, contentType);
      expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([400, "text/plain; charset=utf-8", `${BODY_ALREADY_READ_TEXT}\n`]);
      expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_already_read", status: 400 });
      // What needs no body still works behind the parser.
      const caps = await fetch(`${at}/scep?operation=GetCACaps`);
      expect(caps.status).toBe(200);
    });
  });

  it("a handler without handle (a web Request, as @scep/proxy's) gets the same 400 behind express.urlencoded()", async () => {
    const plain: FetchHandler = { fetch: (request) => fx.server.fetch(request), owns: (path) => fx.server.owns(path) };
    const at = await appAfter([express5.urlencoded({ extended: false })], express5, plain);
    const res = await post(at, (await pkcsReq("plain")).der, "application/x-www-form-urlencoded");
    expect([res.status, await res.text()]).toEqual([400, `${BODY_ALREADY_READ_TEXT}\n`]);
    expect(fx.events.at(-1)).toMatchObject({ reason: "body_already_read", status: 400 });
  });

  it("a parser whose type does not match leaves the body unread (body-parser 1 still sets req.body = {}): SUCCESS", async () => {
    for (const [express, tag] of [[express5, "e5"], [express4, "e4"]] as const) {
      const at = await appAfter([express.urlencoded({ extended: false }), express.json()], express);
      const built = await pkcsReq(`unmatched-${tag}`);
      const res = await post(at, built.der, "application/x-pki-message");
      expect(res.status).toBe(200);
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: fx.pki.requesters.rsa.signer, caCertificates: [fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
    }
  });

  it("express.raw() left the bytes in req.body (a Buffer): they are the body, SUCCESS", async () => {
    for (const [express, tag] of [[express5, "e5"], [express4, "e4"]] as const) {
      const at = await appAfter([express.raw({ type: "*/*" })], express);
      const built = await pkcsReq(`raw-${tag}`);
      const res = await post(at, built.der, "application/x-www-form-urlencoded");
      expect(res.status).toBe(200);
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: fx.pki.requesters.rsa.signer, caCertificates: [fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
    }
  });
});
