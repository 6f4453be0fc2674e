/**
 * GET PKIOperation `message` spellings through an adapter over real HTTP (RFC 8894 §4.3, INTEROP quirk 1), one suite
 * for @scep/express and @scep/hono. Fleet's SCEP proxy read the query with a form decoder that turned every literal
 * `+` into a space and answered 400 (fleetdm/fleet#45291, https://github.com/fleetdm/fleet/issues/45291); macOS
 * escapes only `=` (smallstep/certificates#1570, https://github.com/smallstep/certificates/pull/1570); sscep sends
 * 64-column lines joined by %0A with `+` as %2B (micromdm/scep#100, https://github.com/micromdm/scep/issues/100);
 * micromdm's client sent URL-safe base64 (micromdm/scep#249, https://github.com/micromdm/scep/issues/249). The
 * request line is written byte for byte with node:http, so nothing re-encodes it.
 */
import { createServer, request, type RequestListener, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, readCertRep, toBase64, type BuiltRequest } from "../../src/index.js";
import { close, createFixture, listen, type Fixture } from "./adapter-fixture.js";

/** The suite, for the adapter `name` (in the test names and transactionIDs), mounted on node:http by `listener`. */
export function getMessageSpellingsSuite(name: string, listener: (fx: Fixture) => RequestListener): void {
  let fx: Fixture;
  let server: Server;
  let base: string;
  let built: BuiltRequest;
  let b64: string;

  beforeAll(async () => {
    fx = await createFixture();
    server = createServer(listener(fx));
    base = await listen(server);
    const r = fx.pki.requesters.rsa;
    for (let i = 0; i < 40; i++) {
      built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: fx.pki.ca.certificate, transactionId: `${name.toUpperCase()}-GET-${i}` });
      b64 = toBase64(built.der);
      if (b64.includes("+") && b64.includes("/") && b64.endsWith("=")) return;
    }
    throw new Error("no request whose base64 has +, / and =");
  });

  afterAll(async () => {
    await close(server);
  });

  /** GETs `path` exactly as written. */
  function rawGet(path: string): Promise<{ status: number; contentType: string | undefined; body: Uint8Array }> {
    const { port } = new URL(base);
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, contentType: res.headers["content-type"], body: new Uint8Array(Buffer.concat(chunks)) }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  describe(`RFC 8894 §4.3 through ${name}: every GET message spelling issues a certificate`, () => {
    const spellings: [string, (s: string) => string][] = [
      ["literal + (fleet#45291) and raw /, = escaped (macOS, smallstep#1570)", (s) => s.replace(/=/g, "%3D")],
      ["nothing escaped at all", (s) => s],
      ["sscep: 64-column lines joined by %0A, + as %2B (micromdm#100)", (s) => (s.match(/.{1,64}/g) ?? []).join("%0A").replace(/\+/g, "%2B").replace(/=/g, "%3D")],
      ["URL-safe alphabet without padding (micromdm#249)", (s) => s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")],
      ["fully percent-encoded", (s) => encodeURIComponent(s)],
    ];
    for (const [spelling, encode] of spellings) {
      it(spelling, async () => {
        const res = await rawGet(`/scep?operation=PKIOperation&message=${encode(b64)}`);
        expect(res.status).toBe(200);
        expect(res.contentType).toBe("application/x-pki-message");
        const rep = await readCertRep(res.body, { request: built, decrypter: fx.pki.requesters.rsa.signer, caCertificates: [fx.pki.ca.certificate] });
        expect(rep.status).toBe("SUCCESS");
        expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
      });
    }

    it("iOS: + sent as %20 → the spaces are read as +", async () => {
      const res = await rawGet(`/scep?operation=PKIOperation&message=${b64.replace(/\+/g, "%20").replace(/=/g, "%3D")}`);
      expect(res.status).toBe(200);
      const rep = await readCertRep(res.body, { request: built, decrypter: fx.pki.requesters.rsa.signer, caCertificates: [fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
    });

    it("no 5xx for any of them", () => {
      expect(fx.events.filter((e) => e.status >= 500)).toEqual([]);
    });
  });
}
