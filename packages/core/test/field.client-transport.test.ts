/**
 * Field reports about SCEP clients on the wire, rebuilt against our
 * `ScepClient` (RFC 8894 §4).
 *
 * - sscep stopped on a GetCACaps reply whose Content-Type was not text/plain;
 *   RFC 8894 §4.1 says clients SHOULD ignore it (certnanny/sscep#126,
 *   https://github.com/certnanny/sscep/issues/126).
 * - A server that answers GetCACert with an HTML page (a portal, a 404 page)
 *   must give the caller a typed error, not a crash (seize-the-dave/jscep#68,
 *   https://github.com/seize-the-dave/jscep/issues/68; certnanny/sscep#160,
 *   https://github.com/certnanny/sscep/issues/160).
 * - micromdm's client sent GET PKIOperation in URL-safe base64, which servers
 *   decode with the standard alphabet (micromdm/scep#249,
 *   https://github.com/micromdm/scep/issues/249); a literal `+` in the query is
 *   read as a space by form decoders such as Go's `url.Values` (fleetdm/fleet#45291,
 *   https://github.com/fleetdm/fleet/issues/45291). Ours sends standard base64
 *   with `+`, `/` and `=` percent-encoded; a real micromdm scepserver, which
 *   form-decodes the query, issues from it.
 * - A server that sorted the reply's certificates by encoding put the CA
 *   first and Apple's client paired the CA's key with its own (22008,
 *   NeySlim/ultimate-ca-manager#228, https://github.com/NeySlim/ultimate-ca-manager/issues/228;
 *   how many certificates a reply holds: seize-the-dave/jscep#48,
 *   https://github.com/seize-the-dave/jscep/issues/48): our reader finds the
 *   issued certificate by role and key, not by position.
 * - Dogtag answered SUCCESS with no envelope and sscep failed with "illegal size
 *   of payload" (dogtagpki/pki#4198, https://github.com/dogtagpki/pki/issues/4198):
 *   our reader says so with a typed ERR_CERTREP (it threw a bare ASN.1
 *   "element truncated" error before).
 * - EJBCA in CA mode without a default CA answers GetCACaps and GetCACert 404
 *   unless their `message` names the CA (Keyfactor/ejbca-ce#503,
 *   https://github.com/Keyfactor/ejbca-ce/issues/503); sscep's `-i` did not reach
 *   GetCACaps (certnanny/sscep#148, https://github.com/certnanny/sscep/issues/148),
 *   micromdm's client grew `-cacert-message` for it (micromdm/scep#152,
 *   https://github.com/micromdm/scep/pull/152), and a made-up default
 *   `message=CAIdentifier` names no CA at all (certnanny/sscep#190,
 *   https://github.com/certnanny/sscep/pull/190). Ours sends no `message` unless
 *   told, and `caIdentifier` on both GetCACaps and GetCACert (it had no way to
 *   send one before).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LocalKey,
  ScepClient,
  buildCertRep,
  buildPkcsReq,
  createSelfSignedSigner,
  decodePkiMessage,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  toBase64,
} from "../src/index.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import { MessageType } from "../src/message/types.js";
import { randomChallenge, startMicromdmServer, type MicromdmServer } from "../../../test-support/peers";
import { NOW, createDevice, createTestCa, hex, staticScep, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let device: Device;

beforeAll(async () => {
  ca = await createTestCa("Field Client CA");
  device = await createDevice({ cn: "field-client-device", challengePassword: "pw" });
});

/** A fetch that answers every request with `status`, `contentType` and `body`, recording the URLs. */
function fixedFetch(status: number, contentType: string | null, body: Uint8Array | string, urls: URL[] = []): typeof fetch {
  return async (input) => {
    urls.push(new URL(input instanceof Request ? input.url : String(input)));
    const headers: Record<string, string> = contentType === null ? {} : { "content-type": contentType };
    return new Response(typeof body === "string" ? body : (body as Uint8Array<ArrayBuffer>), { status, headers });
  };
}

describe("RFC 8894 §4.1: GetCACaps' Content-Type is ignored (sscep#126)", () => {
  for (const contentType of ["text/plain", "text/html; charset=ISO-8859-1", "application/octet-stream", null]) {
    it(`${contentType ?? "(no content-type)"}, CRLF lines`, async () => {
      const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(200, contentType, "POSTPKIOperation\r\nRenewal\r\nSHA-256\r\nAES\r\n") });
      const caps = await client.getCaCaps();
      expect(caps.list).toEqual(["POSTPKIOperation", "Renewal", "SHA-256", "AES"]);
      expect(caps.has("postpkioperation")).toBe(true);
    });
  }
});

describe("RFC 8894 §4.2: GetCACert answered by something that is not SCEP (jscep#68, sscep#160)", () => {
  it("an HTML page with 200 → ERR_MESSAGE_MALFORMED", async () => {
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(200, "text/html;charset=ISO-8859-1", "<html><body>Certificate Services</body></html>") });
    await expect(client.getCaCert()).rejects.toMatchObject({
      code: "ERR_MESSAGE_MALFORMED",
      message: "GetCACert reply (content-type text/html;charset=ISO-8859-1, 46 bytes) is neither a certificate nor a PKCS#7: is the URL a SCEP endpoint?",
    });
    // enroll() fails the same way, before anything is sent (RFC 8894 §3.3: GetCACert comes first)
    await expect(client.enroll({ csr: new Uint8Array([0x30, 0]), signer: undefined as never })).rejects.toMatchObject({ code: "ERR_MESSAGE_MALFORMED" });
  });

  it("a PKCS#7 without certificates → ERR_MESSAGE_MALFORMED that says so", async () => {
    const empty = await buildSignedData({ certificates: [] }); // degenerate, no certificate
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(200, "application/x-x509-ca-ra-cert", empty) });
    await expect(client.getCaCert()).rejects.toMatchObject({ code: "ERR_MESSAGE_MALFORMED", message: "GetCACert PKCS#7 holds no certificate" });
  });

  it("a 404 HTML page → ERR_TRANSPORT with the status", async () => {
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(404, "text/html", "<h1>Not Found</h1>") });
    await expect(client.getCaCert()).rejects.toMatchObject({ code: "ERR_TRANSPORT", status: 404, message: "GetCACert: HTTP 404 (Not Found)" });
  });

  it("a framework's multi-line 404 page (Express, a typo in the URL's path) → one line with the page's text, no markup", async () => {
    const page = '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /scpe</pre>\n</body>\n</html>\n';
    const client = new ScepClient({ url: "http://ca.test/scpe", fetch: fixedFetch(404, "text/html; charset=utf-8", page) });
    await expect(client.getCaCert()).rejects.toMatchObject({ code: "ERR_TRANSPORT", status: 404, message: "GetCACert: HTTP 404 (Cannot GET /scpe)" });
  });

  it("a long plain-text error body → its first 200 characters on one line", async () => {
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(503, "text/plain", `overloaded\n\n${"x".repeat(300)}`) });
    await expect(client.getCaCert()).rejects.toMatchObject({ code: "ERR_TRANSPORT", status: 503, message: `GetCACert: HTTP 503 (overloaded ${"x".repeat(188)}…)` });
  });

  it("the DER certificate under any content type (or none) is read", async () => {
    for (const contentType of ["application/x-x509-ca-cert", "application/octet-stream", null]) {
      const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(200, contentType, ca.cert.der) });
      const certs = await client.getCaCert();
      expect(certs.map((c) => hex(c.der))).toEqual([hex(ca.cert.der)]);
    }
  });
});

describe("RFC 8894 §4.3: GET PKIOperation carries standard base64, percent-encoded (micromdm#249, fleet#45291)", () => {
  it("the query holds %2B, %2F and %3D, never '-', '_', or a raw '+'; it decodes back to the exact DER", async () => {
    // Draw requests until the base64 has all three characters that need escaping.
    let der: Uint8Array | undefined;
    for (let i = 0; i < 40 && !der; i++) {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: `GET-${i}` });
      const b64 = toBase64(built.der);
      if (b64.includes("+") && b64.includes("/") && b64.endsWith("=")) der = built.der;
    }
    expect(der).toBeDefined();
    const urls: URL[] = [];
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: fixedFetch(200, "application/x-pki-message", new Uint8Array([0x30, 0x00]), urls) });
    await client.pkiOperation(der!, { post: false });
    const raw = urls[0]!.search;
    const message = /[?&]message=([^&]*)/.exec(raw)![1]!;
    expect(message).toMatch(/%2B/);
    expect(message).toMatch(/%2F/);
    expect(message).toMatch(/%3D$/);
    expect(message).not.toMatch(/[-_+ ]/);
    expect(hex(Buffer.from(decodeURIComponent(message), "base64"))).toBe(hex(der));
    // A form decoder (Go's url.Values, what micromdm and Fleet use) gets the same bytes.
    expect(hex(Buffer.from(new URLSearchParams(raw).get("message")!, "base64"))).toBe(hex(der));
  });
});

describe("RFC 8894 §3.3.2.1: a SUCCESS CertRep without its envelope is a typed error (dogtag#4198)", () => {
  it("SUCCESS with an empty eContent → ERR_CERTREP", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const req = await decodePkiMessage(built.der, { decrypters: ca.key });
    // What Dogtag sent: pkiStatus SUCCESS, but the pkcsPKIEnvelope is empty.
    const body = await buildSignedData({
      content: new Uint8Array(),
      certificates: [ca.cert.der],
      signer: ca.key,
      digest: "sha256",
      attributes: encodeScepAttributes({ messageType: MessageType.CertRep, transactionId: req.transactionId, senderNonce: new Uint8Array(16).fill(9), recipientNonce: req.senderNonce, pkiStatus: "0" }),
    });
    await expect(readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert] })).rejects.toMatchObject({ code: "ERR_CERTREP", message: "a SUCCESS CertRep without pkcsPKIEnvelope" });
    // The same reply with PENDING is fine: PENDING has no envelope.
    const pending = await buildCertRep({ request: req, signer: ca.key, status: "PENDING", now: NOW });
    expect((await readCertRep(pending, { request: built, caCertificates: [ca.cert] })).status).toBe("PENDING");
  });
});

describe("RFC 8894 §3.3.2.1: the issued certificate is found by role, whatever the order of the reply (UCM#228, jscep#48)", () => {
  it("[CA, issued] and [issued, CA]: certificate is the one for the requested key, and the end entity without it", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const req = await decodePkiMessage(built.der, { decrypters: ca.key });
    const issued = await ca.issue(device.csr);
    for (const certificates of [[ca.cert, issued], [issued, ca.cert]]) {
      const body = await buildCertRep({ request: req, signer: ca.key, status: "SUCCESS", certificates, now: NOW });
      const byKey = await readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert], requestedKey: device.signer.certificate.spki });
      expect(hex(byKey.certificate!.der)).toBe(hex(issued.der));
      expect(byKey.certificates.map((c) => hex(c.der))).toEqual(certificates.map((c) => hex(c.der)));
      const byRole = await readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
      expect(hex(byRole.certificate!.der)).toBe(hex(issued.der));
    }
  });
});

describe("interop: our client's GET PKIOperation against a real micromdm scepserver (micromdm#249, fleet#45291)", () => {
  let micromdm: MicromdmServer;
  const challenge = randomChallenge();
  beforeAll(async () => {
    micromdm = await startMicromdmServer({ challenge });
  }, 60_000);
  afterAll(async () => {
    await micromdm?.stop();
  });

  it("enroll({ post: false }) gets a certificate; several requests cover base64 with '+'", async () => {
    const client = new ScepClient({ url: micromdm.url });
    const caCert = (await client.getCaCert())[0]!;
    let sawPlus = false;
    for (let i = 0; i < 4; i++) {
      const keys = await generateRsaKeyPair(2048);
      const subject = `CN=field-get-${i}`;
      const signer: LocalKey = await createSelfSignedSigner({ keys, subject, now: new Date() });
      const csr = await generateCsr({ keys, subject, challengePassword: challenge });
      const rep = await client.enroll({ csr, signer, post: false });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.certificate!.issuer).toBe(caCert.subject);
      expect(hex(rep.certificate!.spki)).toBe(hex(signer.certificate.spki));
      sawPlus ||= toBase64(rep.request.der).includes("+");
    }
    expect(sawPlus).toBe(true);
  }, 120_000);
});

describe("RFC 8894 §3.5.1, §4.2: the CA identifier of a multi-CA server (ejbca-ce#503, sscep#148, micromdm#152, sscep#190)", () => {
  /**
   * A server in front of several CAs that, like EJBCA in CA mode without a default CA, answers GetCACaps and GetCACert
   * 404 with an HTML page unless `message` names its CA exactly (read from the raw query); PKIOperation needs no name.
   */
  async function multiCaServer(caName: string) {
    const scep = await staticScep({ caName: "Field Multi-CA", deviceCn: "field-multi-ca-device", challenge: "multi-ca-pw" });
    const urls: string[] = [];
    const serve: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      urls.push(request.url);
      const url = new URL(request.url);
      const op = url.searchParams.get("operation");
      const message = /(?:^|&)message=([^&]*)/.exec(url.search.slice(1))?.[1];
      if ((op === "GetCACaps" || op === "GetCACert") && (message === undefined || decodeURIComponent(message) !== caName)) {
        return new Response("<html><body>The message parameter does not name a CA, and no default CA is defined.</body></html>", { status: 404, headers: { "content-type": "text/html" } });
      }
      return scep.server.fetch(request);
    };
    return { ...scep, urls, serve };
  }

  it("caIdentifier is the message of GetCACaps and GetCACert, percent-encoded (a space as %20); the enrollment goes through", async () => {
    const m = await multiCaServer("Management CA");
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: m.serve, caIdentifier: "Management CA" });
    const rep = await client.enroll({ csr: m.device.csr, signer: m.device.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(m.device.signer.certificate.spki));
    expect(rep.caps.has("POSTPKIOperation")).toBe(true);
    const gets = m.urls.filter((u) => !u.includes("operation=PKIOperation"));
    expect(gets.sort()).toEqual(["http://ca.test/scep?operation=GetCACaps&message=Management%20CA", "http://ca.test/scep?operation=GetCACert&message=Management%20CA"]);
  });

  it("caIdentifier is percent-encoded but for RFC 3986's unreserved characters: + & / = ! ' ( ) * and non-ASCII escaped, as @scep/proxy sends it upstream", async () => {
    const urls: string[] = [];
    const serve: typeof fetch = async (input) => (urls.push(String(input)), new Response("POSTPKIOperation\n", { status: 200 }));
    await new ScepClient({ url: "http://ca.test/scep", fetch: serve, caIdentifier: "My CA+1&x=/é!'()*~" }).getCaCaps();
    expect(urls).toEqual(["http://ca.test/scep?operation=GetCACaps&message=My%20CA%2B1%26x%3D%2F%C3%A9%21%27%28%29%2A~"]);
  });

  it("without caIdentifier no message is sent at all (never a made-up CAIdentifier), and such a server's 404 is a typed transport error", async () => {
    const m = await multiCaServer("Management CA");
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: m.serve });
    await expect(client.getCaCert()).rejects.toMatchObject({ name: "TransportError", code: "ERR_TRANSPORT", status: 404 });
    expect(m.urls).toEqual(["http://ca.test/scep?operation=GetCACert"]);
  });

  it("an empty or non-string caIdentifier is ERR_INVALID_ARGUMENT from the constructor", () => {
    for (const caIdentifier of ["", 7 as unknown as string]) {
      expect(() => new ScepClient({ url: "http://ca.test/scep", caIdentifier })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "caIdentifier must be a non-empty string" }));
    }
  });

  it("a caIdentifier with a lone surrogate (no percent-encoding exists for it) is ERR_INVALID_ARGUMENT from the constructor, not a URIError from getCaCaps", async () => {
    const urls: string[] = [];
    const serve: typeof fetch = async (input) => (urls.push(String(input)), new Response("POSTPKIOperation\n", { status: 200 }));
    for (const caIdentifier of ["CA\uD800", "\uDC00"]) {
      expect(() => new ScepClient({ url: "http://ca.test/scep", fetch: serve, caIdentifier })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "caIdentifier must be well-formed UTF-16 (it has a lone surrogate)" }),
      );
    }
    // A well-formed astral character is fine: percent-encoded as its UTF-8.
    await new ScepClient({ url: "http://ca.test/scep", fetch: serve, caIdentifier: "CA \u{1F512}" }).getCaCaps();
    expect(urls).toEqual(["http://ca.test/scep?operation=GetCACaps&message=CA%20%F0%9F%94%92"]);
  });
});
