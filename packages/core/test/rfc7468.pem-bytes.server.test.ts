/**
 * RFC 7468 PEM given as bytes where the server and the codec take a
 * certificate as `Certificate | Uint8Array`: an issue hook's certificate and
 * chain (immediate and on approval), `approve()`'s own certificate and chain,
 * a GetCert hook's answer, `buildGetCaCertResponse`, `buildCertRep`'s extra
 * certificates. Before, only the immediate hook's certificate went through
 * `Certificate.from`; PEM file bytes anywhere else reached the wire as if
 * they were DER (RFC 8894 §3.3.2 and §4.2 carry DER certificates), and the
 * client could not parse the reply.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  MemoryTransactionStore,
  buildCertRep,
  buildGetCaCertResponse,
  buildGetNextCaCertResponse,
  buildPkcsReq,
  createScepServer,
  parseGetCaCertResponse,
  parseGetNextCaCertResponse,
  readCertRep,
  decodePkiMessage,
  type IssueResult,
  type ScepServer,
} from "../src/index.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { NOW, baseProfile, certPollAt, createDevice, createTestCa, enrollAt, hex, pemFile, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "pem-bytes-secret";

let ca: TestCa;
let server: ScepServer;
/** What the hook answers: PEM bytes for the certificate and for the chain, or PENDING. */
let mode: "pem" | "pending" = "pem";

beforeAll(async () => {
  ca = await createTestCa("PEM Bytes Server CA");
  server = createScepServer({
    profiles: [
      {
        ...baseProfile(ca, CHALLENGE),
        transactions: new MemoryTransactionStore({ now: () => NOW }),
        issue: async (ctx): Promise<IssueResult> => {
          if (mode === "pending" && !ctx.approved) return { status: "PENDING" };
          const issued = await ca.issue(ctx.csr.der, { notAfter: ctx.notAfterMax });
          return { status: "SUCCESS", certificate: pemFile(issued), chain: [pemFile(ca.cert)] };
        },
      },
    ],
    now: () => NOW,
  });
});

const submit = (device: Device) => enrollAt(server, "/scep", ca, device);
const poll = (device: Device, transactionId: string) => certPollAt(server, "/scep", ca, device, transactionId);

/** The reply's certificates: the device's (its public key) first, then the CA's, all DER. */
function expectDeviceThenCa(certificates: readonly Certificate[], device: Device, cn: string): void {
  expect(certificates.map((c) => c.subject)).toEqual([`CN=${cn}, O=scep-sdk server tests`, "CN=PEM Bytes Server CA, O=scep-sdk server tests"]);
  expect(hex(certificates[0]!.spki)).toBe(hex(CertificationRequest.from(device.csr).spki));
  expect(hex(certificates[1]!.der)).toBe(hex(ca.cert.der));
}

describe("RFC 7468 PEM bytes from hooks and operators reach the wire as DER (RFC 8894 §3.3.2)", () => {
  it("an issue hook answering SUCCESS with PEM bytes for the certificate and the chain: the CertRep holds both as DER", async () => {
    mode = "pem";
    const device = await createDevice({ cn: "pem-immediate", challengePassword: CHALLENGE });
    const { rep } = await submit(device);
    expect(rep.status).toBe("SUCCESS");
    expectDeviceThenCa(rep.certificates, device, "pem-immediate");
  });

  it("approve() runs the hook, which answers PEM bytes: the next CertPoll is SUCCESS with DER", async () => {
    mode = "pending";
    const device = await createDevice({ cn: "pem-approved-by-hook", challengePassword: CHALLENGE });
    const { built, rep } = await submit(device);
    expect(rep.status).toBe("PENDING");
    const tx = await server.approve("p", built.transactionId);
    expect(tx.status).toBe("ISSUED");
    expect(tx.certificate![0]).toBe(0x30);
    const polled = await poll(device, built.transactionId);
    expect(polled.status).toBe("SUCCESS");
    expectDeviceThenCa(polled.certificates, device, "pem-approved-by-hook");
  });

  it("approve() given the certificate and chain as PEM bytes: stored and delivered as DER", async () => {
    mode = "pending";
    const device = await createDevice({ cn: "pem-approved-by-operator", challengePassword: CHALLENGE });
    const { built } = await submit(device);
    const issued = await ca.issue(device.csr, { notAfter: new Date(NOW.getTime() + 86_400_000) });
    const tx = await server.approve("p", built.transactionId, { certificate: pemFile(issued), chain: [pemFile(ca.cert)] });
    expect(hex(tx.certificate)).toBe(hex(issued.der));
    expect(tx.chain!.map(hex)).toEqual([hex(ca.cert.der)]);
    const polled = await poll(device, built.transactionId);
    expect(polled.status).toBe("SUCCESS");
    expectDeviceThenCa(polled.certificates, device, "pem-approved-by-operator");
  });
});

describe("RFC 7468 PEM bytes given to the codec's builders", () => {
  it("buildGetCaCertResponse (RFC 8894 §4.2.1): one certificate as PEM bytes is answered as its DER", async () => {
    const reply = await buildGetCaCertResponse([pemFile(ca.cert)]);
    expect(reply.contentType).toBe("application/x-x509-ca-cert");
    expect(hex(reply.body)).toBe(hex(ca.cert.der));
  });

  it("buildGetCaCertResponse (RFC 8894 §4.2.1.2): CA and RA as PEM bytes give a PKCS#7 of both DER certificates", async () => {
    const ra = await ca.ra("CN=PEM Bytes RA");
    const reply = await buildGetCaCertResponse([pemFile(ca.cert), pemFile(ra.certificate)]);
    expect(reply.contentType).toBe("application/x-x509-ca-ra-cert");
    expect(parseGetCaCertResponse(reply.body).map((c) => hex(c.der))).toEqual([hex(ca.cert.der), hex(ra.certificate.der)]);
  });

  it("buildGetCaCertResponse (RFC 8894 §4.2.1.2): one PEM bundle holding CA and RA gives a PKCS#7 of both, not the CA alone", async () => {
    const ra = await ca.ra("CN=PEM Bundle GetCACert RA");
    const reply = await buildGetCaCertResponse([pemFile(ca.cert, ra.certificate)]);
    expect(reply.contentType).toBe("application/x-x509-ca-ra-cert");
    expect(parseGetCaCertResponse(reply.body).map((c) => hex(c.der))).toEqual([hex(ca.cert.der), hex(ra.certificate.der)]);
  });

  it("buildGetNextCaCertResponse (RFC 8894 §4.7): one PEM bundle holding the next CA and RA gives both", async () => {
    const next = await createTestCa("PEM Bundle Next CA");
    const nextRa = await next.ra("CN=PEM Bundle Next RA");
    const reply = await buildGetNextCaCertResponse({ certificates: [pemFile(next.cert, nextRa.certificate)], signer: ca.key, now: NOW });
    expect(parseGetNextCaCertResponse(reply.body, [ca.cert]).map((c) => hex(c.der))).toEqual([hex(next.cert.der), hex(nextRa.certificate.der)]);
  });

  it("parseGetCaCertResponse: a PEM reply with an explanatory preamble (not only one that starts with '-----')", () => {
    expect(parseGetCaCertResponse(pemFile(ca.cert)).map((c) => hex(c.der))).toEqual([hex(ca.cert.der)]);
  });

  it("buildCertRep (RFC 8894 §3.3.2): certificates and extraCertificates given as PEM bytes are DER in the reply", async () => {
    const device = await createDevice({ cn: "pem-codec", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const request = await decodePkiMessage(built.der, { decrypters: ca.key });
    const issued = await ca.issue(device.csr, { notAfter: new Date(NOW.getTime() + 86_400_000) });
    const reply = await buildCertRep({ request, signer: ca.key, status: "SUCCESS", certificates: [pemFile(issued), pemFile(ca.cert)], extraCertificates: [pemFile(ca.cert)], now: NOW });
    const rep = await readCertRep(reply, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expectDeviceThenCa(rep.certificates, device, "pem-codec");
  });

  it("buildCertRep (RFC 8894 §3.3.2): a PEM bundle in certificates or extraCertificates gives every certificate it holds, not only its first", async () => {
    const device = await createDevice({ cn: "pem-bundle", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const request = await decodePkiMessage(built.der, { decrypters: ca.key });
    const issued = await ca.issue(device.csr, { notAfter: new Date(NOW.getTime() + 86_400_000) });
    const [ra1, ra2] = [(await ca.ra("CN=PEM Bundle RA 1")).certificate, (await ca.ra("CN=PEM Bundle RA 2")).certificate];
    const reply = await buildCertRep({ request, signer: ca.key, status: "SUCCESS", certificates: [pemFile(issued, ca.cert)], extraCertificates: [pemFile(ra1, ra2)], now: NOW });
    // The degenerate certs-only SignedData inside the envelope, decoded by the codec's own reader.
    const rep = await readCertRep(reply, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => hex(c.der))).toEqual([hex(issued.der), hex(ca.cert.der)]);
    // The signed reply's own certificates: the signer's, then both of the bundle's.
    expect(parseSignedData(reply).certificates.map((c) => hex(c.der))).toEqual([hex(ca.cert.der), hex(ra1.der), hex(ra2.der)]);
  });
});
