/**
 * RFC 8894 conformance against real messages: every captured and public vector
 * in test/vectors/ decodes, verifies and (where we hold the key) decrypts to
 * exactly the values pinned here. See test/vectors/README.md for provenance.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Certificate,
  LocalKey,
  decodePkiMessage,
  fromBase64Lenient,
  fromPem,
  parseCaCaps,
  parseGetCaCertResponse,
  readCertRep,
  type PkiRequest,
  type ScepError,
} from "../src/index.js";
import { findSigner, parseSignedData, signerAlgorithms, verifySignerInfo } from "../src/cms/signed-data.js";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { readScepAttributes } from "../src/message/attributes.js";
import { toHex } from "../src/lib/bytes.js";
import { signedDataToBer } from "./support/ber.js";
import { appleCa, capturedCa, vector, vectorPath, vectorText } from "./support/vectors.js";

const hex = toHex;

async function rejection(p: Promise<unknown>): Promise<ScepError> {
  try {
    await p;
  } catch (e) {
    return e as ScepError;
  }
  throw new Error("expected a rejection");
}

function signerAlgs(bytes: Uint8Array): ReturnType<typeof signerAlgorithms> {
  return signerAlgorithms(parseSignedData(bytes).signerInfos[0]!);
}

/** Every vector file, so a new one cannot slip in untested. */
const COVERED = new Set<string>();
const covers = (name: string): string => (COVERED.add(name), name);

// Vectors read inside test bodies below (the tables register theirs).
covers("public/cryptlib.req2.der");
covers("public/cryptlib.req1.der");
covers("public/cryptlib.resp1.der");
covers("public/cryptlib.resp0.der");
covers("captured/getcacaps.micromdm-scepserver.txt");
covers("captured/getcacert.micromdm-scepserver.der");
covers("captured/ca.pem");
covers("public/apple-ios.sceptest.mobileconfig");
covers("public/ndes.ca-and-ra.pem");
covers("captured/ca.key");
covers("public/apple-ios.ca.key");
covers("public/apple-ios.ca.pem");

// ---------------------------------------------------------------- requests

interface RequestCase {
  file: string;
  decrypter: () => LocalKey;
  messageType: 19 | 17;
  transactionId: string;
  senderNonce: string;
  signingTime: string;
  digest: string;
  signature: PkiRequest["signatureAlgorithm"];
  cipher: string;
  signer: { subject: string; serial: string };
  csr: { subject: string; challengePassword: string | undefined; signature: PkiRequest["signatureAlgorithm"]; bits: number };
}

const MM_TID = "1JxfXke0Pq0zNyQv6cFS09t2bZ4=";
const SS_TID = "877AF6E65AE7441CFCFD27A6087B9904B7F65E2E";
const MM_CSR = { subject: "C=US, O=scep-client, OU=MDM, CN=fixture-mm", challengePassword: "secret", signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" }, bits: 2048 } as const;

const REQUESTS: RequestCase[] = [
  {
    file: "captured/pkcsreq.micromdm-scepclient.des-sha1.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: MM_TID,
    senderNonce: "f34798130cbb092415af2c8d1e0ccb66",
    signingTime: "2026-11-22T14:03:17.000Z",
    digest: "sha1",
    signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" },
    cipher: "des",
    signer: { subject: "O=scep-client, CN=SCEP SIGNER", serial: "8ec99cfd57d76d13fc01d32147e17c63" },
    csr: MM_CSR,
  },
  {
    // The upstream MANIFEST says challenge `WRONG` and CN
    // `fixture-mm-badchallenge`; the bytes (checked with `openssl cms -decrypt`
    // + `openssl req -text`) hold challenge `secret` and CN `fixture-mm`, the
    // same CSR content as the des-sha1 capture. Only the senderNonce, signing
    // time and signer certificate differ. We pin what is really there.
    file: "captured/pkcsreq.micromdm-scepclient.wrong-challenge.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: MM_TID,
    senderNonce: "bff28da6bc7f823334e151e8682d45d6",
    signingTime: "2026-11-22T14:03:42.000Z",
    digest: "sha1",
    signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" },
    cipher: "des",
    signer: { subject: "O=scep-client, CN=SCEP SIGNER", serial: "cd61b444d3866fdb104a0169d00bb270" },
    csr: MM_CSR,
  },
  {
    file: "captured/pkcsreq.strongswan.des3-sha1.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: SS_TID,
    senderNonce: "a3cd4e99d93cea3d1c62ab49ebc3c5cd",
    signingTime: "2026-11-22T14:03:17.000Z",
    digest: "sha1",
    signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" },
    cipher: "des3",
    signer: { subject: "CN=fixture-ss-des3-sha1-pkcs1", serial: SS_TID.toLowerCase() },
    csr: { subject: "CN=fixture-ss-des3-sha1-pkcs1", challengePassword: "secret", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" }, bits: 2048 },
  },
  {
    file: "captured/pkcsreq.strongswan.des3-sha256.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: SS_TID,
    senderNonce: "66594af4b539bf81729738bc244d9a1b",
    signingTime: "2026-11-22T14:03:17.000Z",
    digest: "sha256",
    signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
    cipher: "des3",
    signer: { subject: "CN=fixture-ss-des3-sha256-pkcs1", serial: SS_TID.toLowerCase() },
    csr: { subject: "CN=fixture-ss-des3-sha256-pkcs1", challengePassword: "secret", signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" }, bits: 2048 },
  },
  {
    file: "captured/pkcsreq.strongswan.des3-sha512.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: SS_TID,
    senderNonce: "74bb46a62c40b18cf3d915fa69e576f5",
    signingTime: "2026-11-22T14:03:42.000Z",
    digest: "sha512",
    signature: { scheme: "rsa-pkcs1", digest: "sha512", rsaOid: "withDigest" },
    cipher: "des3",
    signer: { subject: "CN=fixture-ss-des3-sha512-pkcs1", serial: SS_TID.toLowerCase() },
    csr: { subject: "CN=fixture-ss-des3-sha512-pkcs1", challengePassword: "secret", signature: { scheme: "rsa-pkcs1", digest: "sha512", rsaOid: "withDigest" }, bits: 2048 },
  },
  {
    file: "captured/pkcsreq.strongswan.des3-sha256-pss.der",
    decrypter: capturedCa,
    messageType: 19,
    transactionId: SS_TID,
    senderNonce: "2f4d5444b4d175ca6790b4ee29c102fc",
    signingTime: "2026-11-22T14:03:42.000Z",
    digest: "sha256",
    signature: { scheme: "rsa-pss", digest: "sha256", saltLength: 32 },
    cipher: "des3",
    signer: { subject: "CN=fixture-ss-des3-sha256-pss", serial: SS_TID.toLowerCase() },
    csr: { subject: "CN=fixture-ss-des3-sha256-pss", challengePassword: "secret", signature: { scheme: "rsa-pss", digest: "sha256", saltLength: 32 }, bits: 2048 },
  },
  {
    file: "public/apple-ios.pkcsreq.des3-sha1.der",
    decrypter: appleCa,
    messageType: 19,
    transactionId: "A13090761A30F66664F85D37433D2065E1112BA1",
    // iOS sends an 8-byte senderNonce, not 16.
    senderNonce: "ae7fe8816cc6bedd",
    signingTime: "2016-05-31T11:30:13.000Z",
    digest: "sha1",
    // Apple writes the SignerInfo signature algorithm as plain rsaEncryption.
    signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "rsaEncryption" },
    cipher: "des3",
    signer: { subject: "CN=MDM SCEP SIGNER, C=US", serial: "01" },
    // The profile had no Challenge, so the CSR carries no challengePassword.
    csr: { subject: "CN=com.apple.security.scep.063D7953-1338-4BF0-8F99-913382996224", challengePassword: undefined, signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" }, bits: 1024 },
  },
];

describe("requests from real clients decode, verify and decrypt", () => {
  it.each(REQUESTS.map((c) => [covers(c.file), c] as const))("%s", async (_file, c) => {
    const decrypter = c.decrypter();
    const req = await decodePkiMessage(vector(c.file), { decrypters: [decrypter] });
    expect(req.messageType).toBe(c.messageType);
    expect(req.messageTypeName).toBe("PKCSReq");
    expect(req.transactionId).toBe(c.transactionId);
    expect(hex(req.senderNonce)).toBe(c.senderNonce);
    expect(req.signingTime?.toISOString()).toBe(c.signingTime);
    expect(req.digestAlgorithm).toBe(c.digest);
    expect(req.signatureAlgorithm).toEqual(c.signature);
    expect(req.contentCipher).toBe(c.cipher);
    expect(req.keyTransport).toBe("rsaes-pkcs1-v1_5");
    expect(req.recipient).toBe(decrypter);
    expect(req.signerCertificate.subject).toBe(c.signer.subject);
    expect(req.signerCertificate.serialNumberHex).toBe(c.signer.serial);
    expect(req.signerCertificate.isSelfIssued).toBe(true);
    expect(req.certificates.map((x) => x.subject)).toEqual([c.signer.subject]);
    const csr = req.csr!;
    expect(csr.subject).toBe(c.csr.subject);
    expect(csr.challengePassword).toBe(c.csr.challengePassword);
    expect(csr.signatureAlgorithm).toEqual(c.csr.signature);
    expect(csr.publicKeyInfo).toEqual({ type: "rsa", bits: c.csr.bits });
    expect(csr.verify()).toBe(true);
    expect(req.issuerAndSubject).toBeUndefined();
    expect(req.issuerAndSerialNumber).toBeUndefined();
  });

  it("micromdm and strongSwan requests carry the client's own key in the CSR and the signer certificate", async () => {
    const ca = capturedCa();
    for (const c of REQUESTS.filter((r) => r.file.startsWith("captured/"))) {
      const req = await decodePkiMessage(vector(c.file), { decrypters: ca });
      expect(hex(req.csr!.spki)).toBe(hex(req.signerCertificate.spki));
    }
  });

  it("Apple's request still decodes when sent as BER (indefinite lengths, constructed eContent OCTET STRING)", async () => {
    // The stored smallstep vector is definite-length DER throughout (checked
    // with `openssl asn1parse`: no `l=inf`, no constructed OCTET STRING),
    // although iOS devices send BER on the wire (INTEROP quirk 3). We rebuild
    // that wire form from it: the signed attributes keep their DER bytes, so
    // the signature still verifies, and the messageDigest covers the joined
    // segments.
    const derBytes = vector("public/apple-ios.pkcsreq.des3-sha1.der");
    expect(derBytes[1]).toBe(0x82); // definite length
    const ber = signedDataToBer(derBytes, 128);
    expect(hex(ber.subarray(0, 2))).toBe("3080");
    expect(ber.length).toBeGreaterThan(derBytes.length);
    const fromDer = await decodePkiMessage(derBytes, { decrypters: appleCa() });
    const fromBer = await decodePkiMessage(ber, { decrypters: appleCa() });
    expect(fromBer.transactionId).toBe("A13090761A30F66664F85D37433D2065E1112BA1");
    expect(hex(fromBer.senderNonce)).toBe("ae7fe8816cc6bedd");
    expect(fromBer.contentCipher).toBe("des3");
    expect(fromBer.signatureAlgorithm).toEqual({ scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "rsaEncryption" });
    expect(hex(fromBer.csr!.der)).toBe(hex(fromDer.csr!.der));
    expect(fromBer.csr!.subject).toBe("CN=com.apple.security.scep.063D7953-1338-4BF0-8F99-913382996224");
  });

  it("a request encrypted to another CA fails with ERR_NO_RECIPIENT after the signature verified", async () => {
    const e = await rejection(decodePkiMessage(vector("public/apple-ios.pkcsreq.des3-sha1.der"), { decrypters: capturedCa() }));
    expect(e.code).toBe("ERR_NO_RECIPIENT");
    expect(e.failInfo).toBe("badMessageCheck");
    expect(e.request).toMatchObject({ messageType: 19, transactionId: "A13090761A30F66664F85D37433D2065E1112BA1", digestAlgorithm: "sha1", signatureVerified: true });
  });
});

// ---------------------------------------------------------------- MD5 (libscep)

describe("libscep.pkcsreq.md5.pem: a PKCSReq signed with MD5", () => {
  const file = covers("public/libscep.pkcsreq.md5.pem");
  // The file is bare base64 of the DER message (no PEM armour).
  const bytes = (): Uint8Array => fromBase64Lenient(vectorText(file))!;
  const TID = "3AF9F8D181027109E35BE1DA32302CF6";
  const NONCE = "00e24d405bac183ef966498253bb52ee";

  it("is a DES-CBC PKCSReq to serial 03 of the OpenXPKI test Root CA", () => {
    const b = bytes();
    expect(b.length).toBe(2574);
    const sd = parseSignedData(b);
    expect(sd.signerInfos[0]!.digestOid).toBe("1.2.840.113549.2.5");
    expect(signerAlgs(b)).toEqual({ digest: "md5", signature: { scheme: "rsa-pkcs1", digest: "md5", rsaOid: "rsaEncryption" } });
    expect(sd.certificates.map((c) => c.subject)).toEqual(["C=AU, ST=Some-State, O=Internet Widgits Pty Ltd"]);
    const si = sd.signerInfos[0]!;
    verifySignerInfo(si, findSigner(si.sid, sd.certificates)!, sd.content!);
    const env = parseEnvelopedData(sd.content!);
    expect(env.cipher).toBe("des");
    expect(env.recipients).toHaveLength(1);
    expect(env.recipients[0]!.transport).toBe("rsaes-pkcs1-v1_5");
    const rid = env.recipients[0]!.rid as { issuer: Uint8Array; serialNumber: Uint8Array };
    expect(hex(rid.serialNumber)).toBe("03");
    expect(rid.issuer).toBeDefined();
  });

  it("the default policy refuses it: ERR_ALGORITHM_NOT_ALLOWED / badAlg, with the sender identified", async () => {
    const e = await rejection(decodePkiMessage(bytes(), { decrypters: capturedCa() }));
    expect(e.name).toBe("AlgorithmNotAllowedError");
    expect(e.code).toBe("ERR_ALGORITHM_NOT_ALLOWED");
    expect(e.failInfo).toBe("badAlg");
    expect(e.message).toBe("SignerInfo: digest md5 is not allowed by policy");
    expect(e.request?.transactionId).toBe(TID);
    expect(hex(e.request!.senderNonce!)).toBe(NONCE);
    expect(e.request?.messageType).toBe(19);
    expect(e.request?.digestAlgorithm).toBe("md5");
    expect(e.request?.signatureVerified).toBeUndefined();
  });

  it("with allowMd5 it passes the digest check and the signature, then fails at the envelope (ERR_NO_RECIPIENT)", async () => {
    const e = await rejection(decodePkiMessage(bytes(), { decrypters: capturedCa(), policy: { allowMd5: true } }));
    expect(e.code).toBe("ERR_NO_RECIPIENT");
    expect(e.failInfo).toBe("badMessageCheck");
    expect(e.request).toMatchObject({ messageType: 19, transactionId: TID, digestAlgorithm: "md5", signatureVerified: true });
    expect(hex(e.request!.senderNonce!)).toBe(NONCE);
  });
});

// ---------------------------------------------------------------- CertReps

interface CertRepCase {
  file: string;
  caCertificates: () => Certificate[];
  status: "SUCCESS" | "FAILURE";
  failInfo?: string;
  transactionId: string;
  senderNonce: string;
  recipientNonce: string;
  signer: string;
  signerInMessage: boolean;
  algorithms: ReturnType<typeof signerAlgorithms>;
  cipher?: string;
  keyTransport?: string;
}

const benchCa = (): Certificate[] => [capturedCa().certificate];
const BENCH = "C=US, O=bench-ca-2048, OU=SCEP CA";

const CERTREPS: CertRepCase[] = [
  {
    file: "captured/certrep-failure-badrequest.micromdm-scepserver.der",
    caCertificates: benchCa,
    status: "FAILURE",
    failInfo: "badRequest",
    transactionId: MM_TID,
    // micromdm echoes the request's senderNonce as its own senderNonce too.
    senderNonce: "bff28da6bc7f823334e151e8682d45d6",
    recipientNonce: "bff28da6bc7f823334e151e8682d45d6",
    signer: BENCH,
    signerInMessage: true,
    algorithms: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" } },
  },
  {
    file: "captured/certrep-success.micromdm-scepserver.to-micromdm-client.der",
    caCertificates: benchCa,
    status: "SUCCESS",
    transactionId: MM_TID,
    senderNonce: "f34798130cbb092415af2c8d1e0ccb66",
    recipientNonce: "f34798130cbb092415af2c8d1e0ccb66",
    signer: BENCH,
    signerInMessage: true,
    // sha1WithRSAEncryption (parameters absent), the `withDigest` form strongSwan
    // refuses. The upstream MANIFEST says sha256WithRSAEncryption; the bytes
    // (and `openssl cms -cmsout -print`) say 1.2.840.113549.1.1.5.
    algorithms: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" } },
    cipher: "des",
    keyTransport: "rsaes-pkcs1-v1_5",
  },
  {
    file: "captured/certrep-success.micromdm-scepserver.to-strongswan.der",
    caCertificates: benchCa,
    status: "SUCCESS",
    transactionId: SS_TID,
    senderNonce: "66594af4b539bf81729738bc244d9a1b",
    recipientNonce: "66594af4b539bf81729738bc244d9a1b",
    signer: BENCH,
    signerInMessage: true,
    algorithms: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "withDigest" } },
    // The request was DES-EDE3; micromdm always answers DES-CBC (INTEROP quirk 5).
    cipher: "des",
    keyTransport: "rsaes-pkcs1-v1_5",
  },
  {
    file: "public/micromdm.certrep-success.to-apple-ios.der",
    caCertificates: () => Certificate.fromPem(vectorText("public/apple-ios.ca.pem")),
    status: "SUCCESS",
    transactionId: "A13090761A30F66664F85D37433D2065E1112BA1",
    // This (older) micromdm sent no senderNonce at all.
    senderNonce: "",
    recipientNonce: "ae7fe8816cc6bedd",
    signer: "C=USA, O=etcd-ca, OU=CA",
    signerInMessage: true,
    algorithms: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "rsaEncryption" } },
    cipher: "des",
    keyTransport: "rsaes-pkcs1-v1_5",
  },
  {
    file: "public/ndes.certrep-success.oaep-aes128.der",
    caCertificates: () => Certificate.fromPem(vectorText("public/ndes.ca-and-ra.pem")),
    status: "SUCCESS",
    transactionId: "HVvzN0228V+AW+dUuDe8OPyDXD0=",
    senderNonce: "e3455dc58f7e5b4488f5a79f2a9450fe",
    recipientNonce: "d99d3154de07114059af075c5c17d573",
    signer: "C=US, CN=CERT-PROV-CA-MSCEP-RA",
    // NDES leaves its signer certificate out of the SignedData (INTEROP quirk 7).
    signerInMessage: false,
    algorithms: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "rsaEncryption" } },
    cipher: "aes128",
    keyTransport: "rsaes-oaep",
  },
  {
    file: "public/cryptlib.resp2.der",
    caCertificates: () => [],
    status: "SUCCESS",
    transactionId: "7XXEY-ERLPU-2JDR9",
    // cryptlib sends randomNonce (1.2.840.113549.1.9.25.3), no senderNonce.
    senderNonce: "",
    recipientNonce: "e8c57d516909026f3463f8e907fc9856",
    signer: "C=NZ, O=Dave's Wetaburgers, OU=SCEP CA cert, CN=Dave's SCEP CA",
    signerInMessage: true,
    algorithms: { digest: "sha256", signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "rsaEncryption" } },
    cipher: "aes128",
    keyTransport: "rsaes-pkcs1-v1_5",
  },
];

describe("CertReps from real servers verify and read back", () => {
  it.each(CERTREPS.map((c) => [covers(c.file), c] as const))("%s", async (_file, c) => {
    const bytes = vector(c.file);
    const rep = await readCertRep(bytes, { caCertificates: c.caCertificates() });
    expect(rep.status).toBe(c.status);
    expect(rep.failInfo).toBe(c.failInfo);
    expect(rep.failInfoText).toBeUndefined();
    expect(rep.transactionId).toBe(c.transactionId);
    expect(hex(rep.senderNonce)).toBe(c.senderNonce);
    expect(hex(rep.recipientNonce!)).toBe(c.recipientNonce);
    expect(rep.signerCertificate.subject).toBe(c.signer);
    expect(rep.digestAlgorithm).toBe(c.algorithms.digest);
    expect(signerAlgs(bytes)).toEqual(c.algorithms);
    expect(rep.contentCipher).toBe(c.cipher);
    expect(rep.keyTransport).toBe(c.keyTransport);
    expect(rep.certificates).toEqual([]); // no decrypter given
    const inMessage = parseSignedData(bytes).certificates.some((x) => x.subject === c.signer);
    expect(inMessage).toBe(c.signerInMessage);
  });

  it("NDES's CertRep cannot be verified without the GetCACert set (its signer is not in the message)", async () => {
    const e = await rejection(readCertRep(vector("public/ndes.certrep-success.oaep-aes128.der")));
    expect(e.code).toBe("ERR_CERTREP");
    expect(e.message).toBe("the CertRep's signer certificate is neither in the message nor among the CA certificates");
  });

  it("NDES's envelope: RSAES-OAEP (SHA-1) key transport to the device, AES-128-CBC", () => {
    const env = parseEnvelopedData(parseSignedData(vector("public/ndes.certrep-success.oaep-aes128.der")).content!);
    expect(env.cipher).toBe("aes128");
    expect(env.iv).toHaveLength(16);
    expect(env.recipients.map((r) => [r.transport, r.oaepHash])).toEqual([["rsaes-oaep", "sha1"]]);
  });

  const decryptable = [
    {
      request: "captured/pkcsreq.micromdm-scepclient.des-sha1.der",
      reply: "captured/certrep-success.micromdm-scepserver.to-micromdm-client.der",
      key: covers("captured/micromdm-client.key"),
      issued: { subject: "C=US, O=scep-client, OU=MDM, CN=fixture-mm", serial: "02" },
    },
    {
      request: "captured/pkcsreq.strongswan.des3-sha256.der",
      reply: "captured/certrep-success.micromdm-scepserver.to-strongswan.der",
      key: covers("captured/strongswan-client.key"),
      issued: { subject: "CN=fixture-ss-des3-sha256-pkcs1", serial: "04" },
    },
  ];

  it.each(decryptable)("$reply decrypts with the client key and yields the issued certificate", async (c) => {
    const req = await decodePkiMessage(vector(c.request), { decrypters: capturedCa() });
    const client = LocalKey.from(req.signerCertificate, vectorText(c.key));
    const rep = await readCertRep(vector(c.reply), { decrypter: client, caCertificates: benchCa(), request: req });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.crls).toEqual([]);
    expect(rep.certificates).toHaveLength(1);
    const issued = rep.certificates[0]!;
    expect(issued.subject).toBe(c.issued.subject);
    expect(issued.serialNumberHex).toBe(c.issued.serial);
    expect(issued.issuer).toBe(BENCH);
    expect(issued.notBefore.toISOString()).toBe("2026-11-22T14:03:17.000Z");
    expect(issued.notAfter.toISOString()).toBe("2027-11-22T14:03:17.000Z");
    // Issued for the key in the CSR, and signed by the CA.
    expect(hex(issued.spki)).toBe(hex(req.csr!.spki));
    const ca = new X509Certificate(capturedCa().certificate.der);
    expect(new X509Certificate(issued.der).verify(ca.publicKey)).toBe(true);
  });

  it("the FAILURE answers the wrong-challenge request (transactionID and nonce pair up)", async () => {
    const req = await decodePkiMessage(vector("captured/pkcsreq.micromdm-scepclient.wrong-challenge.der"), { decrypters: capturedCa() });
    const rep = await readCertRep(vector("captured/certrep-failure-badrequest.micromdm-scepserver.der"), { caCertificates: benchCa(), request: req });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
  });

  it("a CertRep paired with the wrong request is refused (recipientNonce check)", async () => {
    const req = await decodePkiMessage(vector("captured/pkcsreq.micromdm-scepclient.des-sha1.der"), { decrypters: capturedCa() });
    const e = await rejection(readCertRep(vector("captured/certrep-failure-badrequest.micromdm-scepserver.der"), { request: req }));
    expect(e.code).toBe("ERR_CERTREP");
    expect(e.message).toBe("the CertRep's recipientNonce does not match the request's senderNonce");
  });
});

// ---------------------------------------------------------------- cryptlib layers

describe("cryptlib layered samples", () => {
  const CA = "C=NZ, O=Dave's Wetaburgers, OU=SCEP CA cert, CN=Dave's SCEP CA";
  const USER = "C=NZ, O=Dave's Wetaburgers, OU=Procurement, CN=Test SCEP PKI user";
  const cryptlibCa = (): Certificate => parseSignedData(vector("public/cryptlib.resp2.der")).certificates[0]!;

  it("req2 (the whole PKCSReq) verifies; its SCEP attributes and the extra randomNonce are read", () => {
    const bytes = vector("public/cryptlib.req2.der");
    const sd = parseSignedData(bytes);
    expect(sd.contentType).toBe("1.2.840.113549.1.7.1");
    expect(sd.certificates.map((c) => [c.subject, c.serialNumberHex, c.isSelfIssued])).toEqual([[USER, "5cb8398f4c872739", true]]);
    const si = sd.signerInfos[0]!;
    expect(signerAlgorithms(si)).toEqual({ digest: "sha256", signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "rsaEncryption" } });
    verifySignerInfo(si, findSigner(si.sid, sd.certificates)!, sd.content!);
    expect([...si.attributes.keys()]).toContain("1.2.840.113549.1.9.25.3");
    const attrs = readScepAttributes(si.attributes);
    expect(attrs.messageType).toBe(19);
    expect(attrs.transactionId).toBe("7XXEY-ERLPU-2JDR9");
    expect(hex(attrs.senderNonce)).toBe("e8c57d516909026f3463f8e907fc9856");
    // req1 is exactly req2's pkcsPKIEnvelope.
    expect(hex(sd.content!)).toBe(hex(vector("public/cryptlib.req1.der")));
  });

  it("req2 through decodePkiMessage: signature verified, then no key for Dave's SCEP CA (ERR_NO_RECIPIENT)", async () => {
    const e = await rejection(decodePkiMessage(vector("public/cryptlib.req2.der"), { decrypters: capturedCa() }));
    expect(e.code).toBe("ERR_NO_RECIPIENT");
    expect(e.request).toMatchObject({ messageType: 19, transactionId: "7XXEY-ERLPU-2JDR9", digestAlgorithm: "sha256", signatureVerified: true });
    expect(hex(e.request!.senderNonce!)).toBe("e8c57d516909026f3463f8e907fc9856");
  });

  it("req1 (EnvelopedData): AES-128-CBC, RSAES-PKCS1-v1_5 to Dave's SCEP CA", () => {
    const env = parseEnvelopedData(vector("public/cryptlib.req1.der"));
    expect(env.cipher).toBe("aes128");
    expect(hex(env.iv)).toBe("02cd49fbc55be5230f73dec57dcdf49f");
    expect(env.encryptedContent).toHaveLength(672);
    expect(env.recipients).toHaveLength(1);
    const r = env.recipients[0]!;
    expect(r.transport).toBe("rsaes-pkcs1-v1_5");
    expect(r.encryptedKey).toHaveLength(192); // RSA-1536
    expect(findSigner(r.rid, [cryptlibCa()])?.subject).toBe(CA);
  });

  it("resp1 (EnvelopedData): AES-128-CBC, RSAES-PKCS1-v1_5 back to the requester", () => {
    const env = parseEnvelopedData(vector("public/cryptlib.resp1.der"));
    expect(env.cipher).toBe("aes128");
    expect(hex(env.iv)).toBe("ca74bd8e67f71ee2ab21d3f09bf61bfe");
    expect(env.encryptedContent).toHaveLength(848);
    expect(env.recipients.map((r) => r.transport)).toEqual(["rsaes-pkcs1-v1_5"]);
    const requester = parseSignedData(vector("public/cryptlib.req2.der")).certificates;
    expect(findSigner(env.recipients[0]!.rid, requester)?.subject).toBe(USER);
    expect(hex(parseSignedData(vector("public/cryptlib.resp2.der")).content!)).toBe(hex(vector("public/cryptlib.resp1.der")));
  });

  it("resp0 (degenerate SignedData): the issued certificate, signed by Dave's SCEP CA", () => {
    const sd = parseSignedData(vector("public/cryptlib.resp0.der"));
    expect(sd.signerInfos).toEqual([]);
    expect(sd.content).toBeUndefined();
    expect(sd.crls).toEqual([]);
    expect(sd.certificates.map((c) => [c.subject, c.serialNumberHex, c.issuer])).toEqual([[USER, "54b8488fa1aeeb46", CA]]);
    const issued = new X509Certificate(sd.certificates[0]!.der);
    expect(issued.verify(new X509Certificate(cryptlibCa().der).publicKey)).toBe(true);
  });

  it("resp2 (the whole CertRep) answers req2 and carries the CA and its root", async () => {
    const req = readScepAttributes(parseSignedData(vector("public/cryptlib.req2.der")).signerInfos[0]!.attributes);
    const rep = await readCertRep(vector("public/cryptlib.resp2.der"), { request: req });
    expect(rep.status).toBe("SUCCESS");
    const certs = parseSignedData(vector("public/cryptlib.resp2.der")).certificates;
    expect(certs.map((c) => [c.subject, c.serialNumberHex])).toEqual([
      [CA, "24cc285c1674f207"],
      ["C=NZ, O=Dave's Wetaburgers and CA, OU=Certification Division, CN=Dave Himself", "3afea8da7b9280ff"],
    ]);
    expect(new X509Certificate(certs[0]!.der).verify(new X509Certificate(certs[1]!.der).publicKey)).toBe(true);
  });
});

// ---------------------------------------------------------------- the rest

describe("GetCACaps, GetCACert, keys and certificates", () => {
  it("getcacaps.micromdm-scepserver.txt parses (LF, no trailing newline)", () => {
    const caps = parseCaCaps(vectorText("captured/getcacaps.micromdm-scepserver.txt"));
    expect(caps.list).toEqual(["Renewal", "SHA-1", "SHA-256", "AES", "DES3", "SCEPStandard", "POSTPKIOperation"]);
    expect(caps.has("postpkioperation")).toBe(true);
    expect(caps.has("SHA-512")).toBe(false);
  });

  it("getcacert.micromdm-scepserver.der is the CA certificate as DER", () => {
    const certs = parseGetCaCertResponse(vector("captured/getcacert.micromdm-scepserver.der"), "application/x-x509-ca-cert");
    expect(certs).toHaveLength(1);
    expect(certs[0]!.subject).toBe(BENCH);
    expect(certs[0]!.isCa).toBe(true);
    expect(hex(certs[0]!.der)).toBe(hex(fromPem(vectorText("captured/ca.pem"), "CERTIFICATE")[0]!));
  });

  it("the captured CA key (PEM-encrypted, empty passphrase) matches ca.pem", () => {
    const ca = capturedCa();
    expect(ca.keyType).toBe("rsa");
    // keyCertSign + cRLSign only: clients encrypt to it anyway, so recipient
    // selection must fall back to the CA when nothing has keyEncipherment.
    expect([...ca.certificate.keyUsage!]).toEqual(["keyCertSign", "cRLSign"]);
    expect(ca.certificate.isCa).toBe(true);
    expect(new X509Certificate(ca.certificate.der).verify(new X509Certificate(ca.certificate.der).publicKey)).toBe(true);
  });

  it("the Apple CA key matches apple-ios.ca.pem, which the mobileconfig embeds", () => {
    const ca = appleCa();
    expect(ca.certificate.subject).toBe("C=USA, O=etcd-ca, OU=CA");
    const profile = vectorText("public/apple-ios.sceptest.mobileconfig");
    const data = /<key>PayloadCertificateFileName<\/key>\s*<string>ca\.crt<\/string>\s*<key>PayloadContent<\/key>\s*<data>([^<]+)<\/data>/.exec(profile);
    const pem = new TextDecoder().decode(fromBase64Lenient(data![1]!.replace(/\s+/g, ""))!);
    expect(hex(Certificate.fromPem(pem)[0]!.der)).toBe(hex(ca.certificate.der));
    expect(profile).toContain("<string>http://localhost:9001/scep</string>");
  });

  it("ndes.ca-and-ra.pem holds the NDES RA certificate (signing only)", () => {
    const certs = Certificate.fromPem(vectorText("public/ndes.ca-and-ra.pem"));
    expect(certs.map((c) => [c.subject, c.serialNumberHex, c.issuer, c.isCa])).toEqual([
      ["C=US, CN=CERT-PROV-CA-MSCEP-RA", "4700000002f5400d7585dd8788000000000002", "DC=org, DC=example, CN=example-CERT-PROV-CA", false],
    ]);
    expect([...certs[0]!.keyUsage!]).toEqual(["digitalSignature"]);
  });

  it("every vector file is covered by a test above", () => {
    const files = ["captured", "public"].flatMap((d) =>
      readdirSync(vectorPath(d))
        .filter((f) => !f.endsWith(".md"))
        .map((f) => `${d}/${f}`),
    );
    expect(files.length).toBe(28);
    expect(files.filter((f) => !COVERED.has(f))).toEqual([]);
  });
});

