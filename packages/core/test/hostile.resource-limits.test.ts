/**
 * Resource limits (issue 12 §3), each enforced before the expensive work it
 * guards and each shown here: ASN.1 nesting depth and element count and
 * certificates per SignedData before any signature check or RSA decryption
 * (the decrypter is never called), CSR attributes, extensions and SANs
 * before the CSR's signature is checked, a challenge over 16 KiB before any
 * validator sees it. The POST body limit (64 KiB, HTTP 413) is held by
 * rfc8894.server.wire.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  LIMITS,
  buildPkcsReq,
  createScepServer,
  decodePkiMessage,
  generateCsr,
  parseGetCaCertResponse,
  toPem,
  type Decrypter,
  type ScepServer,
} from "../src/index.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import * as der from "../src/lib/der.js";
import { x509 } from "../src/lib/x509.js";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let device: Device;
let decryptCalls = 0;
/** The CA key, counting every private-key operation. */
let counting: Decrypter;

beforeAll(async () => {
  ca = await createTestCa("Limits CA");
  device = await createDevice({ cn: "limits-device", challengePassword: "limits-secret" });
  counting = {
    certificate: ca.key.certificate,
    decrypt: (k, p) => {
      decryptCalls++;
      return ca.key.decrypt(k, p);
    },
  };
});

/** decodePkiMessage's error for `bytes`, and how many RSA decryptions it cost. */
async function decodeError(bytes: Uint8Array): Promise<{ error: unknown; decrypts: number }> {
  const before = decryptCalls;
  try {
    await decodePkiMessage(bytes, { decrypters: [counting] });
    return { error: undefined, decrypts: decryptCalls - before };
  } catch (error) {
    return { error, decrypts: decryptCalls - before };
  }
}

function server(validate?: () => boolean): { server: ScepServer; log: ReturnType<typeof eventLog>; validated: { n: number } } {
  const log = eventLog();
  const validated = { n: 0 };
  const s = createScepServer({
    profiles: [
      {
        name: "p",
        path: "/scep",
        caCertificate: ca.cert,
        signer: ca.key,
        decrypters: [counting],
        challenge: {
          type: "custom",
          validate: () => {
            validated.n++;
            return validate ? validate() : true;
          },
        },
        issue: issuingHook(ca),
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server: s, log, validated };
}

describe("ASN.1 nesting depth and element count (LIMITS.asn1Depth, LIMITS.asn1Elements)", () => {
  it(`indefinite-length nesting deeper than ${LIMITS.asn1Depth}: ERR_ASN1 'ASN.1 nesting too deep', no RSA operation; the server answers 400`, async () => {
    const depth = LIMITS.asn1Depth + 2;
    const bytes = new Uint8Array(depth * 4);
    for (let i = 0; i < depth; i++) bytes.set([0x30, 0x80], i * 2);
    const { error, decrypts } = await decodeError(bytes);
    expect(error).toMatchObject({ code: "ERR_ASN1", message: "ASN.1 nesting too deep" });
    expect(decrypts).toBe(0);
    const s = server();
    const res = await postPki(s.server, "/scep", bytes);
    expect([res.status, await res.text()]).toEqual([400, "malformed PKIOperation: ASN.1 nesting too deep\n"]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "rejected", reason: "decode_error" });
  });

  it("20,000 levels of definite-length nesting: a typed error, not a stack overflow (definite lengths are never walked recursively)", async () => {
    let inner: Uint8Array = new Uint8Array([0x05, 0x00]);
    for (let i = 0; i < 20_000; i++) inner = der.encode(der.seq(inner));
    const { error, decrypts } = await decodeError(inner);
    expect(error).toMatchObject({ name: "Asn1Error", code: "ERR_ASN1" });
    expect(decrypts).toBe(0);
  });

  it(`a constructed element with ${LIMITS.asn1Elements + 1} elements: ERR_ASN1, no RSA operation`, async () => {
    const nulls = new Uint8Array((LIMITS.asn1Elements + 1) * 2).fill(0).map((_, i) => (i % 2 === 0 ? 0x05 : 0x00));
    const { error, decrypts } = await decodeError(der.encode(der.tlv(der.Tag.SEQUENCE, nulls)));
    expect(error).toMatchObject({ code: "ERR_ASN1", message: `ASN.1 constructed element with more than ${LIMITS.asn1Elements} elements` });
    expect(decrypts).toBe(0);
    expect(der.children(der.parse(der.encode(der.tlv(der.Tag.SEQUENCE, nulls.subarray(2)))))).toHaveLength(LIMITS.asn1Elements);
  });
});

describe("certificates per SignedData (LIMITS.signedDataCertificates)", () => {
  async function withCertificates(n: number): Promise<Uint8Array> {
    return buildSignedData({ content: new Uint8Array([0x04, 0x00]), certificates: Array.from({ length: n }, () => device.signer.certificate.der), signer: device.signer });
  }

  it(`${LIMITS.signedDataCertificates + 1} certificates: ERR_MESSAGE_MALFORMED before any is parsed or a signature checked, no RSA operation`, async () => {
    const { error, decrypts } = await decodeError(await withCertificates(LIMITS.signedDataCertificates + 1));
    expect(error).toMatchObject({ code: "ERR_MESSAGE_MALFORMED", message: `a SignedData with more than ${LIMITS.signedDataCertificates} certificates` });
    expect(decrypts).toBe(0);
  });

  it(`${LIMITS.signedDataCertificates} certificates pass the limit (the message fails later, for what it is)`, async () => {
    const { error } = await decodeError(await withCertificates(LIMITS.signedDataCertificates));
    expect(error).toMatchObject({ name: expect.any(String) });
    expect((error as Error).message).not.toContain("certificates");
  });
});

describe("certificates in a PEM GetCACert reply (LIMITS.signedDataCertificates, RFC 8894 §4.2.1)", () => {
  // A PKCS#7 reply was held to 32 certificates; a PEM bundle (some servers send one) had no bound, and a client paired
  // every two certificates of it while choosing the recipient and the CA: 4,000 certificates (4.6 MB) cost minutes.
  const pem = (n: number) => new TextEncoder().encode(Array.from({ length: n }, (_, i) => toPem("CERTIFICATE", i % 2 ? device.signer.certificate.der : ca.cert.der)).join(""));

  it(`${LIMITS.signedDataCertificates + 1} PEM certificates: ERR_MESSAGE_MALFORMED before any is parsed`, () => {
    expect(() => parseGetCaCertResponse(pem(LIMITS.signedDataCertificates + 1), "application/x-pem-file")).toThrow(
      expect.objectContaining({ code: "ERR_MESSAGE_MALFORMED", message: `GetCACert PEM reply with more than ${LIMITS.signedDataCertificates} certificates (${LIMITS.signedDataCertificates + 1})` }),
    );
  });

  it(`${LIMITS.signedDataCertificates} PEM certificates are read (each once)`, () => {
    expect(parseGetCaCertResponse(pem(LIMITS.signedDataCertificates)).map((c) => c.subject)).toHaveLength(2);
  });
});

describe("CSR attributes, extensions and subjectAltNames (LIMITS.csrAttributes, csrExtensions, csrSubjectAltNames)", () => {
  it(`${LIMITS.csrSubjectAltNames + 1} SANs: ERR_CSR_INVALID; ${LIMITS.csrSubjectAltNames} are fine`, async () => {
    const dns = (n: number) => Array.from({ length: n }, (_, i) => `h${i}.example`);
    const over = await generateCsr({ keys: device.keys, subject: "CN=many-sans", san: { dns: dns(LIMITS.csrSubjectAltNames + 1) } });
    expect(() => new CertificationRequest(over)).toThrow(expect.objectContaining({ code: "ERR_CSR_INVALID", message: `a PKCS#10 request with more than ${LIMITS.csrSubjectAltNames} subjectAltNames` }));
    const at = await generateCsr({ keys: device.keys, subject: "CN=many-sans", san: { dns: dns(LIMITS.csrSubjectAltNames) } });
    expect(new CertificationRequest(at).subjectAltNames.dns).toHaveLength(LIMITS.csrSubjectAltNames);
  });

  it(`${LIMITS.csrExtensions + 1} requested extensions: ERR_CSR_INVALID, before the signature check (a broken signature is not what it reports)`, async () => {
    const extensions = Array.from({ length: LIMITS.csrExtensions + 1 }, (_, i) => new x509.Extension(`1.3.6.1.4.1.99999.${i}`, false, new Uint8Array([0x05, 0x00]).buffer));
    const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=many-extensions", keys: device.keys, signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, extensions });
    const bytes = new Uint8Array(req.rawData);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // the signature no longer verifies
    expect(() => new CertificationRequest(bytes)).toThrow(expect.objectContaining({ code: "ERR_CSR_INVALID", message: `a PKCS#10 request with more than ${LIMITS.csrExtensions} requested extensions` }));
  });

  it(`${LIMITS.csrAttributes + 1} attributes: ERR_CSR_INVALID`, async () => {
    const attributes = Array.from({ length: LIMITS.csrAttributes + 1 }, (_, i) => new x509.Attribute(`1.3.6.1.4.1.99999.${i}`, [new Uint8Array([0x05, 0x00]).buffer]));
    const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=many-attributes", keys: device.keys, signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, attributes });
    expect(() => new CertificationRequest(new Uint8Array(req.rawData))).toThrow(expect.objectContaining({ code: "ERR_CSR_INVALID", message: `a PKCS#10 request with more than ${LIMITS.csrAttributes} attributes` }));
  });

  it("the client side refuses the same CSR before sending it (buildPkcsReq parses it with the same limits)", async () => {
    const csr = await generateCsr({ keys: device.keys, subject: "CN=many-sans", challengePassword: "x", san: { dns: Array.from({ length: LIMITS.csrSubjectAltNames + 1 }, (_, i) => `h${i}.example`) } });
    await expect(buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW })).rejects.toMatchObject({ code: "ERR_CSR_INVALID", message: `a PKCS#10 request with more than ${LIMITS.csrSubjectAltNames} subjectAltNames` });
  });
});

describe(`challenge length (LIMITS.challengeBytes = ${LIMITS.challengeBytes})`, () => {
  async function enrollWith(challengePassword: string) {
    const s = server();
    const csr = await generateCsr({ keys: device.keys, subject: "CN=long-challenge", challengePassword });
    const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer });
    return { rep, s };
  }

  it("one byte over: FAILURE badRequest challenge_too_long, the validator never sees it", async () => {
    const { rep, s } = await enrollWith("a".repeat(LIMITS.challengeBytes + 1));
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", `the challenge password is longer than ${LIMITS.challengeBytes} bytes`]);
    expect(s.validated.n).toBe(0);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "challenge_too_long" });
  });

  it("counted in UTF-8 bytes: 5,462 three-byte characters (16,386 bytes) are over, exactly 16 KiB is not", async () => {
    expect((await enrollWith("€".repeat(5462))).rep.failInfoText).toBe(`the challenge password is longer than ${LIMITS.challengeBytes} bytes`);
    const { rep, s } = await enrollWith("a".repeat(LIMITS.challengeBytes));
    expect(rep.status).toBe("SUCCESS");
    expect(s.validated.n).toBe(1);
  });
});
