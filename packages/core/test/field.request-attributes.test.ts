/**
 * Field reports about a request's SignedData and its SCEP attributes, rebuilt
 * against our server (RFC 8894 §3.2.1, RFC 5652 §5.3). Each request here is
 * hand-assembled from our own CMS pieces so one field can be spelled the way
 * the reported client spelled it; the envelope, the CSR and the RSA signature
 * are real.
 *
 * - jscep's user sent messageType as a T61String where PrintableString is
 *   specified, and got "Corrupt pki message" (seize-the-dave/jscep#27,
 *   https://github.com/seize-the-dave/jscep/issues/27): we read any string type.
 * - Extra signed attributes (cryptlib's randomNonce) are allowed next to the
 *   SCEP ones (seize-the-dave/jscep#96, https://github.com/seize-the-dave/jscep/issues/96).
 * - transactionID spellings differ by client: sscep hex of an MD5 (certnanny/sscep#136,
 *   https://github.com/certnanny/sscep/issues/136), base64 of a SHA-256 with `+`, `/`, `=`
 *   (micromdm/scep#224, https://github.com/micromdm/scep/issues/224). The server
 *   must not recompute it, only echo it.
 * - A custom client's SHA-256 AlgorithmIdentifiers had absent parameters where
 *   others write NULL (micromdm/scep#224); RFC 5754 §2 allows both.
 * - Legacy clients (micromdm's scepclient among them) sign the signed
 *   attributes in the order they wrote them rather than DER SET OF order; a
 *   server that re-sorts before verifying answers "crypto/rsa: verification
 *   error" (smallstep/certificates#1723, https://github.com/smallstep/certificates/issues/1723;
 *   smallstep/certificates#2776, https://github.com/smallstep/certificates/pull/2776).
 *   The signature covers the attributes as sent (RFC 5652 §5.4).
 * - senderNonce of another length than 16 bytes is echoed as it came. A
 *   missing or unreadable senderNonce or messageType (empty, not a number) in
 *   a request whose signature verifies is answered FAILURE badRequest
 *   (RFC 8894 §3.3.2.2, no recipientNonce), and our client reports that
 *   FAILURE; a missing transactionID, or any of these under a signature that
 *   does not verify, is HTTP 400, never a 5xx. * - The same custom client next sent a CSR whose CertificationRequestInfo
 *   fields stood directly in the outer SEQUENCE, next to the signature
 *   algorithm and signature, and micromdm's server answered with an ASN.1 "tags
 *   don't match" error (micromdm/scep#224): a CSR that does not parse is
 *   FAILURE badRequest saying so, nothing issued, never a 5xx.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as nc from "../src/lib/node-crypto.js";
import * as oids from "../src/oids.js";
import { attribute } from "../src/cms/signed-data.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { DIGEST_OID } from "../src/algorithms.js";
import { createScepServer, readCertRep, type DecryptParams, type Decrypter } from "../src/index.js";
import { hex, postPki, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-attrs";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const RANDOM_NONCE = "1.2.840.113549.1.9.25.3";
const { ca, device, log, server, profile } = await staticScep({ caName: "Field Attributes CA", deviceCn: "field-attrs-device", challenge: CHALLENGE });

interface Spelling {
  /** null: no messageType attribute. */
  messageType?: der.Der | null;
  /** null: no transactionID attribute. */
  transactionId?: der.Der | null;
  /** Flip a bit of the signature. */
  badSignature?: boolean;
  /** null: no senderNonce attribute. */
  senderNonce?: Uint8Array | null;
  extra?: der.Der[];
  /** Write the SHA-256 AlgorithmIdentifiers without their NULL parameters. */
  absentParameters?: boolean;
  /** Sign and send the attributes in the order written (contentType, messageDigest, SCEP), not DER SET OF order. */
  unsorted?: boolean;
  /** What the envelope holds instead of the device's CSR. */
  content?: Uint8Array;
}

/** A PKCSReq from `device` to `ca` whose attributes are spelled as given (RFC 8894 §3.2, RFC 5652 §5). */
async function pkcsReq(s: Spelling = {}): Promise<Uint8Array> {
  const envelope = buildEnvelopedData({ content: s.content ?? device.csr, recipient: ca.cert, cipher: "aes128" });
  const digestAlg = s.absentParameters ? der.seq(der.oid(DIGEST_OID.sha256)) : der.algId(DIGEST_OID.sha256, der.NULL);
  const sigAlg = s.absentParameters ? der.seq(der.oid(SHA256_WITH_RSA)) : der.algId(SHA256_WITH_RSA, der.NULL);
  const list = [
    attribute(oids.id_contentType, der.oid(oids.id_data)),
    attribute(oids.id_messageDigest, der.octetString(nc.digest("sha256", envelope))),
    ...(s.messageType === null ? [] : [attribute(oids.id_messageType, s.messageType ?? der.printable("19"))]),
    ...(s.transactionId === null ? [] : [attribute(oids.id_transactionID, s.transactionId ?? der.printable("FIELD-ATTRS-1"))]),
    ...(s.senderNonce === null ? [] : [attribute(oids.id_senderNonce, der.octetString(s.senderNonce ?? new Uint8Array(16).fill(0x11)))]),
    ...(s.extra ?? []),
  ];
  const attrs = s.unsorted ? der.tlv(der.Tag.SET, ...list) : der.setOf(list);
  if (s.unsorted) expect(hex(der.encode(attrs))).not.toBe(hex(der.encode(der.setOf(list))));
  const signature = await device.signer.sign(der.encode(attrs), { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" });
  if (s.badSignature) signature[signature.length - 1]! ^= 1;
  const signerInfo = der.seq(der.int(1), device.signer.certificate.issuerAndSerialNumber(), digestAlg, der.tlv(0xa0, ...attrs.body), sigAlg, der.octetString(signature));
  const signedData = der.seq(
    der.int(1),
    der.tlv(der.Tag.SET, digestAlg),
    der.seq(der.oid(oids.id_data), der.ctx(0, der.octetString(envelope))),
    der.ctx(0, device.signer.certificate.der),
    der.tlv(der.Tag.SET, signerInfo),
  );
  return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, signedData)));
}

async function send(s: Spelling = {}) {
  const res = await postPki(server, "/scep", await pkcsReq(s));
  return res;
}

async function reply(s: Spelling = {}) {
  const res = await send(s);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/x-pki-message");
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: device.signer, caCertificates: [ca.cert] });
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("RFC 8894 §3.2.1.2 messageType: any string type is read (jscep#27)", () => {
  const spellings: [string, der.Der][] = [
    ["PrintableString (as specified)", der.printable("19")],
    ["T61String (jscep#27)", der.tlv(der.Tag.T61_STRING, text("19"))],
    ["UTF8String", der.utf8("19")],
    ["IA5String", der.tlv(der.Tag.IA5_STRING, text("19"))],
  ];
  for (const [name, value] of spellings) {
    it(`${name} → SUCCESS`, async () => {
      const rep = await reply({ messageType: value });
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
    });
  }

  it("a messageType that is not a number, signature verified → FAILURE badRequest naming it, without recipientNonce (§3.3.2.2)", async () => {
    const rep = await reply({ messageType: der.printable("PKCSReq") });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "messageType is not a number", transactionId: "FIELD-ATTRS-1" });
    expect(rep.recipientNonce).toBeUndefined();
  });

  it("a messageType that is not a number under a signature that does not verify → HTTP 400 naming the signature (no sender to answer)", async () => {
    const res = await send({ messageType: der.printable("PKCSReq"), badSignature: true });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("malformed PKIOperation: the SignedData signature does not verify\n");
  });

  it("a missing messageType, signature verified → FAILURE badRequest naming it (§3.3.2.2)", async () => {
    const rep = await reply({ messageType: null });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "missing messageType attribute (RFC 8894 §3.2.1.2)", transactionId: "FIELD-ATTRS-1" });
    expect(hex(rep.recipientNonce)).toBe(hex(new Uint8Array(16).fill(0x11)));
  });

  it("neither messageType nor senderNonce → one FAILURE badRequest naming both", async () => {
    const rep = await reply({ messageType: null, senderNonce: null });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "missing messageType attribute (RFC 8894 §3.2.1.2) and senderNonce attribute (RFC 8894 §3.2.1.5)" });
  });

  it("a number that is not a request type (CertRep, 3) → FAILURE badRequest naming it", async () => {
    const rep = await reply({ messageType: der.printable("3") });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "messageType 3 is not a request" });
  });
});

describe("RFC 8894 §3.2.1.1 transactionID missing: HTTP 400, since no CertRep can answer without one", () => {
  it("a verified request without transactionID → HTTP 400 with a short reason naming it (no 5xx)", async () => {
    const res = await send({ transactionId: null });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("malformed PKIOperation: missing transactionID attribute (RFC 8894 §3.2.1.1): without one no CertRep can answer the request\n");
  });
});

describe("RFC 8894 §3.2.1.1 transactionID: echoed exactly, never recomputed (sscep#136, micromdm#224)", () => {
  const ids: [string, der.Der, string][] = [
    ["sscep: hex of an MD5 of the key", der.printable("D41D8CD98F00B204E9800998ECF8427E"), "D41D8CD98F00B204E9800998ECF8427E"],
    ["base64 of a SHA-256, with + / and =", der.printable("YPJlORD/cw9EEou5rqz1o6fyLuNyJ6xl3FmI3NqSQ+Y="), "YPJlORD/cw9EEou5rqz1o6fyLuNyJ6xl3FmI3NqSQ+Y="],
    ["a UTF8String with non-ASCII text", der.utf8("tx-Grüße-1"), "tx-Grüße-1"],
    ["a free-form text (EJBCA/sscep debug builds)", der.printable("SSCEP transactionId"), "SSCEP transactionId"],
  ];
  for (const [name, value, expected] of ids) {
    it(name, async () => {
      const rep = await reply({ transactionId: value });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.transactionId).toBe(expected);
    });
  }
});

describe("RFC 8894 §3.2.1.5 senderNonce: echoed as recipientNonce whatever its length", () => {
  for (const length of [8, 16, 20, 32]) {
    it(`${length} bytes → SUCCESS with recipientNonce equal to it`, async () => {
      const nonce = new Uint8Array(length).map((_, i) => i + 1);
      const rep = await reply({ senderNonce: nonce });
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.recipientNonce)).toBe(hex(nonce));
      expect(rep.senderNonce.length).toBe(16);
      expect(hex(rep.senderNonce)).not.toBe(hex(nonce));
    });
  }

  it("a missing senderNonce, signature verified → FAILURE badRequest naming it, signed, without recipientNonce (§3.3.2.2)", async () => {
    const rep = await reply({ senderNonce: null });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "missing senderNonce attribute (RFC 8894 §3.2.1.5)", transactionId: "FIELD-ATTRS-1" });
    expect(rep.recipientNonce).toBeUndefined();
    expect(rep.senderNonce.length).toBe(16);
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "message_malformed", operation: "PKCSReq", transactionId: "FIELD-ATTRS-1" });
  });

  it("our client, holding the request it sent, reports that FAILURE (failInfo and text), though it has no recipientNonce", async () => {
    const res = await send({ senderNonce: new Uint8Array(0) });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const request = { transactionId: "FIELD-ATTRS-1", senderNonce: new Uint8Array(16).fill(0x11) };
    const rep = await readCertRep(bytes, { decrypter: device.signer, caCertificates: [ca.cert], request });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "senderNonce has a bad length" });
    expect(rep.recipientNonce).toBeUndefined();
  });

  it("a SUCCESS without the request's nonce as recipientNonce is still refused (another request's answer)", async () => {
    const bytes = new Uint8Array(await (await send({ senderNonce: new Uint8Array(16).fill(0x22) })).arrayBuffer());
    const request = { transactionId: "FIELD-ATTRS-1", senderNonce: new Uint8Array(16).fill(0x11) };
    await expect(readCertRep(bytes, { decrypter: device.signer, caCertificates: [ca.cert], request })).rejects.toMatchObject({
      code: "ERR_CERTREP",
      message: "the CertRep's recipientNonce does not match the request's senderNonce",
    });
  });

  it("a missing senderNonce under a signature that does not verify → HTTP 400 (no sender to answer)", async () => {
    const res = await send({ senderNonce: null, badSignature: true });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^malformed PKIOperation: /);
  });

  it("an empty senderNonce, signature verified → FAILURE badRequest naming it, without recipientNonce (§3.3.2.2)", async () => {
    const rep = await reply({ senderNonce: new Uint8Array(0) });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "senderNonce has a bad length", transactionId: "FIELD-ATTRS-1" });
    expect(rep.recipientNonce).toBeUndefined();
  });

  it("a senderNonce of 65 bytes under a signature that does not verify → HTTP 400 naming the signature (no sender to answer)", async () => {
    const res = await send({ senderNonce: new Uint8Array(65), badSignature: true });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("malformed PKIOperation: the SignedData signature does not verify\n");
  });
});

describe("RFC 8894 §3.2.1: other signed attributes are allowed (jscep#96)", () => {
  it("a randomNonce (cryptlib) next to the SCEP attributes → SUCCESS", async () => {
    const rep = await reply({ extra: [attribute(RANDOM_NONCE, der.octetString(new Uint8Array(16).fill(0x5a)))] });
    expect(rep.status).toBe("SUCCESS");
  });

  it("an unknown private attribute with a SEQUENCE value → SUCCESS", async () => {
    const rep = await reply({ extra: [attribute("1.3.6.1.4.1.99999.1", der.seq(der.int(7), der.utf8("x")))] });
    expect(rep.status).toBe("SUCCESS");
  });
});

describe("RFC 5652 §5.4: the signature covers the signed attributes as sent, sorted or not (smallstep#1723, #2776)", () => {
  it("attributes in written order (contentType, messageDigest, messageType, …), signed so → SUCCESS", async () => {
    const rep = await reply({ unsorted: true });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });
});

describe("RFC 5754 §2 / RFC 4055 §5: SHA-256 AlgorithmIdentifiers with absent or NULL parameters (micromdm#224)", () => {
  it("digestAlgorithm and signatureAlgorithm without parameters → SUCCESS, reply digest SHA-256", async () => {
    const rep = await reply({ absentParameters: true });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.digestAlgorithm).toBe("sha256");
  });

  it("with NULL parameters → SUCCESS", async () => {
    expect((await reply()).status).toBe("SUCCESS");
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});

describe("RFC 8894 §3.3.2.2: a request refused for its messageType or senderNonce is refused before its envelope is opened", () => {
  // The CA's real LocalKey does the decryption; the wrapper only counts the private-key operations asked of it.
  let decrypts = 0;
  const counting: Decrypter = {
    certificate: ca.key.certificate,
    decrypt: (encryptedKey: Uint8Array, params: DecryptParams) => {
      decrypts++;
      return ca.key.decrypt(encryptedKey, params);
    },
  };
  const counted = createScepServer({ profiles: [{ ...profile, decrypters: [counting] }], now: () => new Date("2026-01-15T12:00:00Z") });

  async function decryptsFor(s: Spelling): Promise<{ decrypts: number; status?: string; failInfoText?: string }> {
    decrypts = 0;
    const res = await postPki(counted, "/scep", await pkcsReq(s));
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: device.signer, caCertificates: [ca.cert] });
    return { decrypts, status: rep.status, ...(rep.failInfoText !== undefined ? { failInfoText: rep.failInfoText } : {}) };
  }

  const refused: [string, Spelling, string][] = [
    ["no messageType", { messageType: null }, "missing messageType attribute (RFC 8894 §3.2.1.2)"],
    ["no senderNonce", { senderNonce: null }, "missing senderNonce attribute (RFC 8894 §3.2.1.5)"],
    ["a messageType that is no number", { messageType: der.printable("PKCSReq") }, "messageType is not a number"],
    ["a messageType that is no request (CertRep)", { messageType: der.printable("3") }, "messageType 3 is not a request"],
    ["an empty senderNonce", { senderNonce: new Uint8Array(0) }, "senderNonce has a bad length"],
  ];
  for (const [name, spelling, text] of refused) {
    it(`${name}: FAILURE badRequest, and the CA key decrypted nothing`, async () => {
      expect(await decryptsFor(spelling)).toEqual({ decrypts: 0, status: "FAILURE", failInfoText: text });
    });
  }

  it("the same request with its attributes whole: SUCCESS, one decryption (the counter sees the real work)", async () => {
    expect(await decryptsFor({})).toEqual({ decrypts: 1, status: "SUCCESS" });
  });
});

describe("RFC 2986 §4: a CSR that is not a CertificationRequest (micromdm#224)", () => {
  it("the CertificationRequestInfo flattened into the outer SEQUENCE → FAILURE as for a bad padding (no padding oracle), the event naming csr_invalid, nothing issued", async () => {
    const [info, alg, sig] = der.children(der.parse(device.csr));
    const flattened = der.encode(der.seq(...der.children(info).map((f) => der.raw(f)), der.raw(alg), der.raw(sig)));
    const issued = log.events.filter((e) => e.outcome === "success").length;
    const rep = await reply({ content: flattened });
    expect(rep.status).toBe("FAILURE");
    // The wire answer is a bad padding's (server.padding-oracle.test.ts); the operator's event says what it was.
    expect(rep.failInfo).toBe("badMessageCheck");
    expect(rep.failInfoText).toBe("could not decrypt the envelope");
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "csr_invalid", failInfo: "badMessageCheck" });
    expect(log.events.filter((e) => e.outcome === "success").length).toBe(issued);
  });
});
