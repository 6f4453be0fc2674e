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
 */
import { createServer, type Server } from "node:http";
import express5 from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, generateCsr, readCertRep } from "../../core/src/index.js";
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
