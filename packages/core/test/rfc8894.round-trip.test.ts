/**
 * RFC 8894 round trips, property-tested with fast-check: what our client
 * builds, our server decodes to the same content (every content cipher ×
 * digest × signature algorithm × key transport × message type), and what our
 * server answers (CertRep SUCCESS / FAILURE / PENDING, GetCACaps, GetCACert,
 * GetNextCACert), our client reads back.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CA_CAPS_CONTENT_TYPE,
  CA_CERT_CONTENT_TYPE,
  CA_RA_CERT_CONTENT_TYPE,
  DIGEST_LENGTH,
  NEXT_CA_CERT_CONTENT_TYPE,
  type Certificate,
  buildCaCaps,
  buildCertPoll,
  buildCertRep,
  buildGetCaCertResponse,
  buildGetCert,
  buildGetCrl,
  buildGetNextCaCertResponse,
  buildPkcsReq,
  decodePkiMessage,
  parseCaCaps,
  parseGetCaCertResponse,
  parseGetNextCaCertResponse,
  readCertRep,
  selectRecipient,
  selectSigner,
  toPem,
  type BuiltRequest,
  type ContentCipher,
  type DigestAlgorithm,
  type FailInfo,
  type KeyTransport,
  type LocalKey,
  type MessageTypeName,
  type PkiRequest,
  type ScepError,
  type SignatureAlgorithm,
} from "../src/index.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { toHex } from "../src/lib/bytes.js";
import * as der from "../src/lib/der.js";
import { x509 } from "../src/lib/x509.js";
import { NOW, createTestPki, type RequesterKind, type TestPki } from "./support/pki.js";
import { capturedCa } from "./support/vectors.js";

const CIPHERS: readonly ContentCipher[] = ["des", "des3", "aes128", "aes192", "aes256"];
const DIGESTS: readonly DigestAlgorithm[] = ["sha1", "sha224", "sha256", "sha384", "sha512"];
const TRANSPORTS: readonly KeyTransport[] = ["rsaes-pkcs1-v1_5", "rsaes-oaep"];
const TYPES: readonly MessageTypeName[] = ["PKCSReq", "RenewalReq", "CertPoll", "GetCert", "GetCRL"];
const TYPE_NUMBER: Record<string, number> = { PKCSReq: 19, RenewalReq: 17, CertPoll: 20, GetCert: 21, GetCRL: 22 };
const FAIL_INFOS: readonly FailInfo[] = ["badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId"];

interface SignatureCase {
  name: string;
  requester: RequesterKind;
  /** What the client is told to sign with. */
  build: (d: DigestAlgorithm) => SignatureAlgorithm;
  /** What the server must read back. */
  decoded: (d: DigestAlgorithm) => SignatureAlgorithm;
}

const SIGNATURES: readonly SignatureCase[] = [
  {
    name: "rsa-pkcs1 (sha*WithRSAEncryption)",
    requester: "rsa",
    build: (digest) => ({ scheme: "rsa-pkcs1", digest, rsaOid: "withDigest" }),
    decoded: (digest) => ({ scheme: "rsa-pkcs1", digest, rsaOid: "withDigest" }),
  },
  {
    name: "rsa-pkcs1 (rsaEncryption)",
    requester: "rsa",
    build: (digest) => ({ scheme: "rsa-pkcs1", digest, rsaOid: "rsaEncryption" }),
    decoded: (digest) => ({ scheme: "rsa-pkcs1", digest, rsaOid: "rsaEncryption" }),
  },
  {
    name: "rsa-pss",
    requester: "rsa",
    build: (digest) => ({ scheme: "rsa-pss", digest }),
    decoded: (digest) => ({ scheme: "rsa-pss", digest, saltLength: DIGEST_LENGTH[digest] }),
  },
  ...(["p256", "p384", "p521"] as const).map(
    (kind): SignatureCase => ({
      name: `ecdsa ${kind.toUpperCase().replace("P", "P-")}`,
      requester: kind,
      build: (digest) => ({ scheme: "ecdsa", digest }),
      decoded: (digest) => ({ scheme: "ecdsa", digest }),
    }),
  ),
];

/** PrintableString characters (X.680 §41.4). */
const PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?";
const printableArb = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...PRINTABLE.split("")), minLength: 1, maxLength: max });

/** A serial number INTEGER's content octets: positive, minimally encoded. */
const serialArb = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => {
  const out = b.slice();
  out[0] = (out[0]! & 0x7f) | 0x01;
  return out;
});

/** A one-RDN Name with a UTF8String CN. */
function cnName(cn: string): Uint8Array {
  return der.encode(der.seq(der.tlv(der.Tag.SET, der.seq(der.oid("2.5.4.3"), der.utf8(cn)))));
}

const inputArb = fc.record({
  transactionId: printableArb(64),
  senderNonce: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  serial: serialArb,
  subjectCn: fc.string({ minLength: 1, maxLength: 40 }),
});

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

async function buildRequest(
  type: MessageTypeName,
  requester: { signer: LocalKey; csr: Uint8Array },
  common: {
    cipher: ContentCipher;
    digest: DigestAlgorithm;
    signatureAlgorithm: SignatureAlgorithm;
    keyTransport: KeyTransport;
    transactionId: string;
    senderNonce: Uint8Array;
  },
  extra: { serial: Uint8Array; subject: Uint8Array },
): Promise<BuiltRequest> {
  const base = { ...common, signer: requester.signer, recipient: pki.ca.certificate, now: NOW };
  switch (type) {
    case "PKCSReq":
      return buildPkcsReq({ ...base, csr: requester.csr });
    case "RenewalReq":
      return buildPkcsReq({ ...base, csr: requester.csr, renewal: true });
    case "CertPoll":
      return buildCertPoll({ ...base, issuer: pki.ca.certificate, subject: extra.subject });
    case "GetCert":
      return buildGetCert({ ...base, issuer: pki.ca.certificate.subjectDer, serialNumber: extra.serial });
    case "GetCRL":
      return buildGetCrl({ ...base, issuer: pki.ca.certificate.subjectDer, serialNumber: extra.serial });
    default:
      throw new Error(`not a request type: ${type}`);
  }
}

describe("client-built requests decode server-side to the same content", () => {
  const combos = CIPHERS.flatMap((cipher) => DIGESTS.flatMap((digest) => SIGNATURES.map((sig) => [cipher, digest, sig.name, sig] as const)));

  it.each(combos)("%s + %s + %s: every key transport × message type", async (cipher, digest, _name, sig) => {
    const requester = pki.requesters[sig.requester];
    for (const keyTransport of TRANSPORTS) {
      for (const type of TYPES) {
        await fc.assert(
          fc.asyncProperty(inputArb, async (input) => {
            const subject = cnName(input.subjectCn);
            const built = await buildRequest(
              type,
              requester,
              { cipher, digest, signatureAlgorithm: sig.build(digest), keyTransport, transactionId: input.transactionId, senderNonce: input.senderNonce },
              { serial: input.serial, subject },
            );
            expect(built.messageType).toBe(TYPE_NUMBER[type]);
            const req = await decodePkiMessage(built.der, { decrypters: [pki.ca] });
            expect(req.messageTypeName).toBe(type);
            expect(req.messageType).toBe(TYPE_NUMBER[type]);
            expect(req.transactionId).toBe(input.transactionId);
            expect(toHex(req.senderNonce)).toBe(toHex(input.senderNonce));
            expect(req.signingTime?.toISOString()).toBe(NOW.toISOString());
            expect(req.contentCipher).toBe(cipher);
            expect(req.digestAlgorithm).toBe(digest);
            expect(req.signatureAlgorithm).toEqual(sig.decoded(digest));
            expect(req.keyTransport).toBe(keyTransport);
            expect(req.recipient).toBe(pki.ca);
            expect(toHex(req.signerCertificate.der)).toBe(toHex(requester.signer.certificate.der));
            if (type === "PKCSReq" || type === "RenewalReq") {
              expect(toHex(req.csr!.der)).toBe(toHex(requester.csr));
              expect(req.csr!.challengePassword).toBe("s3cret");
            } else expect(req.csr).toBeUndefined();
            if (type === "CertPoll") {
              expect(toHex(req.issuerAndSubject!.issuer)).toBe(toHex(pki.ca.certificate.subjectDer));
              expect(toHex(req.issuerAndSubject!.subject)).toBe(toHex(subject));
            } else expect(req.issuerAndSubject).toBeUndefined();
            if (type === "GetCert" || type === "GetCRL") {
              expect(toHex(req.issuerAndSerialNumber!.issuer)).toBe(toHex(pki.ca.certificate.subjectDer));
              expect(toHex(req.issuerAndSerialNumber!.serialNumber)).toBe(toHex(input.serial));
            } else expect(req.issuerAndSerialNumber).toBeUndefined();
          }),
          { numRuns: 2 },
        );
      }
    }
  });

  it("defaults: AES-128 (RFC 8894 §3.5.2's AES), SHA-256, sha256WithRSAEncryption, PKCS#1 v1.5, 16-byte nonce, transactionID = SHA-256 of the CSR key (hex)", async () => {
    const r = pki.requesters.rsa;
    const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: pki.ca.certificate, now: NOW });
    const req = await decodePkiMessage(built.der, { decrypters: pki.ca });
    expect(req.contentCipher).toBe("aes128");
    expect(req.digestAlgorithm).toBe("sha256");
    expect(req.signatureAlgorithm).toEqual({ scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" });
    expect(req.keyTransport).toBe("rsaes-pkcs1-v1_5");
    expect(req.senderNonce).toHaveLength(16);
    const { createHash } = await import("node:crypto");
    expect(req.transactionId).toBe(createHash("sha256").update(req.csr!.spki).digest("hex").toUpperCase());
    const ec = pki.requesters.p384;
    const ecReq = await decodePkiMessage((await buildPkcsReq({ csr: ec.csr, signer: ec.signer, recipient: pki.ca.certificate, now: NOW })).der, { decrypters: pki.ca });
    expect(ecReq.signatureAlgorithm).toEqual({ scheme: "ecdsa", digest: "sha256" });
    expect(ecReq.csr!.publicKeyInfo).toEqual({ type: "ec", curve: "secp384r1" });
  });
});

// ---------------------------------------------------------------- CertRep

/** The SignerInfo's signatureAlgorithm AlgorithmIdentifier, as encoded. */
function signerInfoSignatureAlgorithmDer(bytes: Uint8Array): string {
  const [, contentT] = der.children(der.parse(bytes));
  const sd = der.children(der.explicit(contentT!, 0, "content"));
  const signerInfos = der.children(sd[sd.length - 1]!);
  expect(signerInfos).toHaveLength(1);
  const f = der.children(signerInfos[0]!);
  expect(f[3]!.tag).toBe(0xa0); // signedAttrs
  return toHex(der.raw(f[4]!));
}

/** rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters. */
const RSA_ENCRYPTION_NULL = "300d06092a864886f70d0101010500";

describe("CertRep round trips (buildCertRep → readCertRep)", () => {
  let issued: Certificate;
  beforeAll(async () => {
    issued = await pki.issue(pki.requesters.rsa.csr, "7a11");
  });

  async function decodedRequest(cipher: ContentCipher, digest: DigestAlgorithm, transactionId: string, senderNonce: Uint8Array): Promise<{ built: BuiltRequest; req: PkiRequest }> {
    const r = pki.requesters.rsa;
    const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: pki.ca.certificate, cipher, digest, transactionId, senderNonce, now: NOW });
    return { built, req: await decodePkiMessage(built.der, { decrypters: pki.ca }) };
  }

  it.each(CIPHERS)("SUCCESS answers a %s request in kind, and the issued certificate comes back", async (cipher) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DIGESTS),
        printableArb(64),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        async (digest, transactionId, senderNonce) => {
          const { built, req } = await decodedRequest(cipher, digest, transactionId, senderNonce);
          const reply = await buildCertRep({ request: req, signer: pki.ca, status: "SUCCESS", certificates: [issued, pki.ca.certificate], now: NOW });
          const rep = await readCertRep(reply, { decrypter: pki.requesters.rsa.signer, request: built });
          expect(rep.status).toBe("SUCCESS");
          expect(rep.transactionId).toBe(transactionId);
          expect(toHex(rep.recipientNonce!)).toBe(toHex(senderNonce));
          expect(rep.senderNonce).toHaveLength(16);
          expect(toHex(rep.senderNonce)).not.toBe(toHex(senderNonce));
          expect(rep.contentCipher).toBe(cipher);
          expect(rep.keyTransport).toBe("rsaes-pkcs1-v1_5");
          expect(rep.digestAlgorithm).toBe(digest);
          expect(rep.signerCertificate.subject).toBe(pki.ca.certificate.subject);
          expect(rep.certificates.map((c) => toHex(c.der))).toEqual([toHex(issued.der), toHex(pki.ca.certificate.der)]);
          expect(rep.certificates[0]!.serialNumberHex).toBe("7a11");
          expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
          expect(rep.failInfo).toBeUndefined();
          expect(signerInfoSignatureAlgorithmDer(reply)).toBe(RSA_ENCRYPTION_NULL);
          // The envelope is addressed to the requester's certificate.
          const env = parseEnvelopedData(parseSignedData(reply).content!);
          expect(env.cipher).toBe(cipher);
        },
      ),
      { numRuns: 8 },
    );
  });

  it("every reply gets a fresh senderNonce", async () => {
    const { req } = await decodedRequest("aes128", "sha256", "T-1", new Uint8Array(16).fill(7));
    const nonces = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const rep = await readCertRep(await buildCertRep({ request: req, signer: pki.ca, status: "PENDING", now: NOW }));
      nonces.add(toHex(rep.senderNonce));
    }
    expect(nonces.size).toBe(8);
  });

  it.each(FAIL_INFOS)("FAILURE with failInfo %s and failInfoText reads back", async (failInfo) => {
    await fc.assert(
      fc.asyncProperty(printableArb(64), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.string({ minLength: 1, maxLength: 80 }), async (transactionId, senderNonce, text) => {
        const { built, req } = await decodedRequest("des3", "sha1", transactionId, senderNonce);
        const reply = await buildCertRep({ request: req, signer: pki.ca, status: "FAILURE", failInfo, failInfoText: text, now: NOW });
        const rep = await readCertRep(reply, { decrypter: pki.requesters.rsa.signer, request: built });
        expect(rep.status).toBe("FAILURE");
        expect(rep.failInfo).toBe(failInfo);
        expect(rep.failInfoText).toBe(text);
        expect(rep.transactionId).toBe(transactionId);
        expect(toHex(rep.recipientNonce!)).toBe(toHex(senderNonce));
        expect(rep.senderNonce).toHaveLength(16);
        expect(rep.digestAlgorithm).toBe("sha1");
        expect(rep.certificates).toEqual([]);
        expect(rep.contentCipher).toBeUndefined();
        expect(parseSignedData(reply).content).toEqual(new Uint8Array()); // empty eContent, as micromdm sends
        expect(signerInfoSignatureAlgorithmDer(reply)).toBe(RSA_ENCRYPTION_NULL);
      }),
      { numRuns: 5 },
    );
  });

  it("FAILURE defaults to badRequest; a failed decode's `request` is enough to answer", async () => {
    const { built } = await decodedRequest("aes256", "sha256", "T-partial", new Uint8Array([1, 2, 3, 4]));
    let err: ScepError | undefined;
    try {
      await decodePkiMessage(built.der, { decrypters: capturedCa() });
    } catch (e) {
      err = e as ScepError;
    }
    expect(err?.code).toBe("ERR_NO_RECIPIENT");
    const partial = err!.request!;
    const reply = await buildCertRep({
      request: { transactionId: partial.transactionId!, senderNonce: partial.senderNonce!, digestAlgorithm: partial.digestAlgorithm! },
      signer: pki.ca,
      status: "FAILURE",
      now: NOW,
    });
    const rep = await readCertRep(reply, { request: built });
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toBeUndefined();
    expect(rep.transactionId).toBe("T-partial");
  });

  it("PENDING echoes transactionID and nonce, carries no envelope", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CIPHERS), fc.constantFrom(...DIGESTS), printableArb(64), fc.uint8Array({ minLength: 1, maxLength: 64 }), async (cipher, digest, transactionId, senderNonce) => {
        const { built, req } = await decodedRequest(cipher, digest, transactionId, senderNonce);
        const reply = await buildCertRep({ request: req, signer: pki.ca, status: "PENDING", now: NOW });
        const rep = await readCertRep(reply, { decrypter: pki.requesters.rsa.signer, request: built });
        expect(rep.status).toBe("PENDING");
        expect(rep.failInfo).toBeUndefined();
        expect(rep.transactionId).toBe(transactionId);
        expect(toHex(rep.recipientNonce!)).toBe(toHex(senderNonce));
        expect(rep.senderNonce).toHaveLength(16);
        expect(rep.digestAlgorithm).toBe(digest);
        expect(rep.certificates).toEqual([]);
        expect(parseSignedData(reply).content).toEqual(new Uint8Array()); // empty eContent, as micromdm sends
        expect(signerInfoSignatureAlgorithmDer(reply)).toBe(RSA_ENCRYPTION_NULL);
      }),
      { numRuns: 10 },
    );
  });

  it("a GetCRL SUCCESS carries the CRL", async () => {
    const crl = await x509.X509CrlGenerator.create({
      issuer: pki.ca.certificate.subject,
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + 86_400_000),
      entries: [{ serialNumber: "7a11", revocationDate: NOW }],
      signingKey: pki.caKeys.privateKey,
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    });
    const r = pki.requesters.rsa;
    const built = await buildGetCrl({ signer: r.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate.subjectDer, serialNumber: issued.serialNumber, now: NOW });
    const req = await decodePkiMessage(built.der, { decrypters: pki.ca });
    const reply = await buildCertRep({ request: req, signer: pki.ca, status: "SUCCESS", crl: new Uint8Array(crl.rawData), now: NOW });
    const rep = await readCertRep(reply, { decrypter: r.signer, request: built });
    expect(rep.certificates).toEqual([]);
    expect(rep.crls.map(toHex)).toEqual([toHex(new Uint8Array(crl.rawData))]);
  });

  it("an explicit contentCipher overrides the request's (what policy.responseCipher feeds)", async () => {
    const { built, req } = await decodedRequest("des3", "sha256", "T-resp", new Uint8Array(16).fill(1));
    const reply = await buildCertRep({ request: req, signer: pki.ca, status: "SUCCESS", certificates: [issued], contentCipher: "aes256", now: NOW });
    const rep = await readCertRep(reply, { decrypter: pki.requesters.rsa.signer, request: built });
    expect(rep.contentCipher).toBe("aes256");
    expect(rep.certificates[0]!.serialNumberHex).toBe("7a11");
  });
});

// ---------------------------------------------------------------- GetCACaps

describe("GetCACaps", () => {
  it("builds one capability per line (LF), deduplicated, with the text/plain type", () => {
    expect(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard", "AES"])).toBe("AES\nPOSTPKIOperation\nSHA-256\nSCEPStandard");
    expect(CA_CAPS_CONTENT_TYPE).toBe("text/plain");
  });

  it("parses LF and CRLF, ignores blank lines and padding, keeps unknown capabilities, has() is case-insensitive", () => {
    const caps = parseCaCaps("AES\r\nDES3\r\n\r\n  SHA-512 \r\nX-Vendor-Thing\r\n");
    expect(caps.list).toEqual(["AES", "DES3", "SHA-512", "X-Vendor-Thing"]);
    expect(caps.has("aes")).toBe(true);
    expect(caps.has("sha-512")).toBe(true);
    expect(caps.has("x-vendor-thing")).toBe(true);
    expect(caps.has("Renewal")).toBe(false);
    expect(parseCaCaps("Renewal\nGetNextCACert\n").list).toEqual(["Renewal", "GetNextCACert"]);
    expect(parseCaCaps("").list).toEqual([]);
  });

  it("reads capabilities a server separates by spaces, commas, semicolons or NULs instead of lines, each once, BOM dropped", () => {
    for (const body of ["AES, POSTPKIOperation,SHA-256", "AES POSTPKIOperation\tSHA-256", "AES;POSTPKIOperation; SHA-256;", "AES\0POSTPKIOperation\0SHA-256\0", "\uFEFFAES\nPOSTPKIOperation\nSHA-256\nAES\n"]) {
      const caps = parseCaCaps(body);
      expect(caps.list, JSON.stringify(body)).toEqual(["AES", "POSTPKIOperation", "SHA-256"]);
      expect(caps.has("postpkioperation")).toBe(true);
    }
  });

  it("parse(build(caps)) keeps every capability, in order, whatever the line ending", () => {
    const token = fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".split("")), minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), fc.constantFrom("\n", "\r\n"), (caps, eol) => {
        const unique = [...new Set(caps)];
        expect(parseCaCaps(buildCaCaps(caps)).list).toEqual(unique);
        const parsed = parseCaCaps(buildCaCaps(caps).split("\n").join(eol) + eol);
        expect(parsed.list).toEqual(unique);
        for (const c of unique) {
          expect(parsed.has(c.toUpperCase())).toBe(true);
          expect(parsed.has(c.toLowerCase())).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------- GetCACert / GetNextCACert

describe("GetCACert, GetNextCACert and recipient selection", () => {
  let raSign: LocalKey;
  let raEncrypt: LocalKey;
  beforeAll(async () => {
    raSign = await pki.ra("CN=SCEP RA signing, O=scep-sdk tests", x509.KeyUsageFlags.digitalSignature, "0a01");
    raEncrypt = await pki.ra("CN=SCEP RA encryption, O=scep-sdk tests", x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.dataEncipherment, "0a02");
  });

  it("one CA certificate is sent as DER, application/x-x509-ca-cert", async () => {
    const reply = await buildGetCaCertResponse([pki.ca.certificate]);
    expect(reply.contentType).toBe(CA_CERT_CONTENT_TYPE);
    expect(reply.contentType).toBe("application/x-x509-ca-cert");
    expect(toHex(reply.body)).toBe(toHex(pki.ca.certificate.der));
    expect(parseGetCaCertResponse(reply.body, reply.contentType).map((c) => toHex(c.der))).toEqual([toHex(pki.ca.certificate.der)]);
  });

  it("CA + RA certificates are sent as a degenerate PKCS#7, application/x-x509-ca-ra-cert", async () => {
    const certs = [raSign.certificate, raEncrypt.certificate, pki.ca.certificate];
    const reply = await buildGetCaCertResponse(certs);
    expect(reply.contentType).toBe(CA_RA_CERT_CONTENT_TYPE);
    expect(reply.contentType).toBe("application/x-x509-ca-ra-cert");
    const sd = parseSignedData(reply.body);
    expect(sd.signerInfos).toEqual([]);
    expect(sd.content).toBeUndefined();
    expect(sd.contentType).toBe("1.2.840.113549.1.7.1");
    expect(sd.certificates.map((c) => toHex(c.der))).toEqual(certs.map((c) => toHex(c.der)));
    const parsed = parseGetCaCertResponse(reply.body, reply.contentType);
    expect(parsed.map((c) => c.subject)).toEqual(["CN=SCEP RA signing, O=scep-sdk tests", "CN=SCEP RA encryption, O=scep-sdk tests", "CN=SCEP Test CA, O=scep-sdk tests"]);
    // Some servers answer PEM; that parses too.
    const pem = certs.map((c) => toPem("CERTIFICATE", c.der)).join("");
    expect(parseGetCaCertResponse(new TextEncoder().encode(pem)).map((c) => c.subject)).toEqual(parsed.map((c) => c.subject));
  });

  it("selectRecipient picks the keyEncipherment certificate, in any order; selectSigner the signing RA", async () => {
    const all = [raSign.certificate, raEncrypt.certificate, pki.ca.certificate];
    fc.assert(
      fc.property(fc.shuffledSubarray(all, { minLength: 3, maxLength: 3 }), (order) => {
        expect(selectRecipient(order).subject).toBe("CN=SCEP RA encryption, O=scep-sdk tests");
        expect(selectSigner(order).subject).toBe("CN=SCEP RA signing, O=scep-sdk tests");
      }),
    );
    // Only the CA has keyEncipherment: the CA.
    expect(selectRecipient([raSign.certificate, pki.ca.certificate]).subject).toBe("CN=SCEP Test CA, O=scep-sdk tests");
    // The micromdm bench CA has no keyEncipherment at all: still the one to use.
    expect(selectRecipient([capturedCa().certificate]).subject).toBe("C=US, O=bench-ca-2048, OU=SCEP CA");
    // A request built to the selected RA decodes with the RA's key.
    const r = pki.requesters.rsa;
    const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: selectRecipient(all), now: NOW });
    const req = await decodePkiMessage(built.der, { decrypters: [pki.ca, raEncrypt] });
    expect(req.recipient).toBe(raEncrypt);
  });

  it("GetNextCACert is signed by the current CA and verifies against it", async () => {
    const nextCa = await pki.ra("CN=SCEP Test CA 2, O=scep-sdk tests", x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.keyEncipherment, "0b01");
    const reply = await buildGetNextCaCertResponse({ certificates: [nextCa.certificate, raEncrypt.certificate], signer: pki.ca, now: NOW });
    expect(reply.contentType).toBe(NEXT_CA_CERT_CONTENT_TYPE);
    expect(reply.contentType).toBe("application/x-x509-next-ca-cert");
    const next = parseGetNextCaCertResponse(reply.body, [pki.ca.certificate]);
    expect(next.map((c) => toHex(c.der))).toEqual([toHex(nextCa.certificate.der), toHex(raEncrypt.certificate.der)]);
    expect(signerInfoSignatureAlgorithmDer(reply.body)).toBe(RSA_ENCRYPTION_NULL);

    // Not signed by a CA we trust.
    expect(() => parseGetNextCaCertResponse(reply.body, [capturedCa().certificate])).toThrow(expect.objectContaining({ code: "ERR_CERTREP" }));
    // One flipped byte inside the signed content.
    const tampered = reply.body.slice();
    const inner = toHex(tampered).indexOf(toHex(nextCa.certificate.der.subarray(40, 56))) / 2;
    tampered[inner] = tampered[inner]! ^ 0x01;
    expect(() => parseGetNextCaCertResponse(tampered, [pki.ca.certificate])).toThrow(expect.objectContaining({ code: "ERR_DIGEST_MISMATCH", failInfo: "badMessageCheck" }));
  });
});

