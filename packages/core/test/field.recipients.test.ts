/**
 * Field reports about which certificate a client encrypts its request to (RFC 8894 §2.2, §3.2.2, §4.2.1.2), rebuilt
 * against our server with an RA (a CA that has an RA sign and decrypt) and the real micromdm `scepclient` 2.1.0 over
 * loopback HTTP. Its `-ca-fingerprint` picks the GetCACert certificate it encrypts to, so it can send exactly what the
 * reported clients sent.
 *
 * - sscep encrypted to the CA certificate where NDES wanted its RA; NDES could not decrypt and answered with an HTTP
 *   error page, so the client printed only "wrong (or missing) MIME content type" (certnanny/sscep#60,
 *   https://github.com/certnanny/sscep/issues/60). CertNanny took the first certificate of the GetCACert reply as the
 *   RA, which is not the RA when Windows puts the CA first (certnanny/CertNanny#82,
 *   https://github.com/certnanny/CertNanny/issues/82). Here: a request encrypted to the CA gets a CertRep the client
 *   reads, FAILURE badMessageCheck, and nothing is issued.
 * - micromdm's client picked its recipients from the GetCACert set by position, and assumed the set was a chain in
 *   order (micromdm/scep#159, https://github.com/micromdm/scep/issues/159; its NDES path crashed on an RA set,
 *   micromdm/scep#72, https://github.com/micromdm/scep/issues/72). Here: the set is RA first, then the CA; pinned to the
 *   RA it enrolls, and the certificate is issued by the CA. Pinned to the CA of an RA set it cannot read the reply
 *   ("pkcs7: No certificate for signer", as micromdm/scep#158, https://github.com/micromdm/scep/issues/158, reports
 *   against NDES): it looks for the signer only among the certificates it pinned. The reply carries its RA signer, and
 *   OpenSSL verifies it through the CA.
 */
import { createServer, type Server } from "node:http";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScepServer, parseGetCaCertResponse, readCertRep, type IssueContext, type LocalKey, type ScepEvent, type ScepServer } from "../src/index.js";
import { opensslCmsVerify, randomChallenge, runScepclient } from "../../../test-support/peers";
import { close, listen } from "./support/adapter-fixture.js";
import { createTestCa, hex, issuingHook, type TestCa } from "./support/server-pki.js";

const CHALLENGE = randomChallenge();
let ca: TestCa;
let ra: LocalKey;
let scep: ScepServer;
let http: Server;
let url: string;
const calls: IssueContext[] = [];
const events: ScepEvent[] = [];
/** The bodies of the PKIOperation replies, in order. */
const replies: Uint8Array[] = [];

beforeAll(async () => {
  ca = await createTestCa("Field Recipients CA");
  ra = await ca.ra("CN=Field Recipients RA, O=scep-sdk server tests");
  scep = createScepServer({
    profiles: [{ name: "ra", path: "/scep", caCertificate: ca.cert, signer: ra, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, calls) }],
    onEvent: (e) => events.push(e),
  });
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", async () => {
      const r = await scep.handle({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      if (req.url!.includes("operation=PKIOperation")) replies.push(r.body);
      res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
    });
  });
  url = `${await listen(http)}/scep`;
});

afterAll(async () => {
  await close(http);
});

const fingerprint = (der: Uint8Array): string => new X509Certificate(Buffer.from(der)).fingerprint256;

describe("RFC 8894 §4.2.1.2: an RA set, and a client that encrypts to the wrong certificate (sscep#60, CertNanny#82, micromdm#159, micromdm#72)", () => {
  it("GetCACert serves the RA first, then the CA, as application/x-x509-ca-ra-cert", async () => {
    const res = await scep.fetch(new Request(`${url}?operation=GetCACert&message=CAIdentifier`));
    expect(res.headers.get("content-type")).toBe("application/x-x509-ca-ra-cert");
    const set = parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer()));
    expect(set.map((c) => hex(c.der))).toEqual([hex(ra.certificate.der), hex(ca.cert.der)]);
  });

  it("scepclient pinned to the CA encrypts to it: a FAILURE badMessageCheck CertRep carrying the RA that signed it, exit 1, nothing issued", async () => {
    events.length = 0;
    replies.length = 0;
    const r = await runScepclient({ url, challenge: CHALLENGE, cn: "field-recipients-ca", caFingerprint: fingerprint(ca.cert.der), timeoutMs: 30_000 });
    expect(r.ok).toBe(false);
    expect(events.find((e) => e.operation === "PKCSReq")).toMatchObject({ outcome: "failure", reason: "no_recipient", failInfo: "badMessageCheck", status: 200 });
    expect(calls).toEqual([]);
    // scepclient 2.1 checks a CertRep's signer only among the certificates it pinned, so it cannot read a reply the
    // RA signed once pinned to the CA ("No certificate for signer"). The reply itself verifies with the RA it carries,
    // chained to the CA, as OpenSSL (sscep's CMS code) checks it.
    expect(r.stdout + r.stderr).toContain("No certificate for signer");
    expect(replies).toHaveLength(1);
    await opensslCmsVerify(replies[0]!, ca.cert.toPem());
    expect(await readCertRep(replies[0]!, { caCertificates: [ca.cert] })).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "the envelope is not encrypted to any configured key" });
  }, 60_000);

  it("scepclient pinned to the RA encrypts to it and enrolls; the certificate is the CA's", async () => {
    const r = await runScepclient({ url, challenge: CHALLENGE, cn: "field-recipients-ra", caFingerprint: fingerprint(ra.certificate.der), timeoutMs: 30_000 });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    const cert = new X509Certificate(r.certPem!);
    expect(cert.subject).toContain("CN=field-recipients-ra");
    expect(cert.checkIssued(new X509Certificate(Buffer.from(ca.cert.der)))).toBe(true);
    expect(calls).toHaveLength(1);
  }, 60_000);
});
