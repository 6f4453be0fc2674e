/**
 * No padding oracle on the wire (issue 12 §4; Bleichenbacher against
 * RSAES-PKCS1-v1_5 key transport, RFC 8894 §3.2.2): a PKCSReq whose content
 * key has a bad RSA padding and one whose padding is fine around the wrong
 * content key get the same answer from the server: HTTP status and headers,
 * the same number of response bytes, a FAILURE CertRep with the same
 * failInfo and text for the same transactionID and nonce, and the same event.
 * That their timing is indistinguishable too is measured by
 * `pnpm bench:oracle` (packages/core/bench/padding-oracle.ts), not asserted here.
 */
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { CIPHERS, createScepServer, readCertRep, type ScepEvent, type ScepServer } from "../src/index.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import * as der from "../src/lib/der.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import * as oids from "../src/oids.js";
import { oracleMessage, signedPkcsReq, type OracleKind } from "./support/oracle-messages.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

let pki: TestPki;
let server: ScepServer;
const events: ScepEvent[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  server = createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: pki.ca.certificate, signer: pki.ca, challenge: { type: "static", password: "oracle" }, issue: async () => ({ status: "FAILURE" }) }],
    onEvent: (e) => void events.push(e),
    now: () => NOW,
  });
});

function headerList(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((value, name) => out.push([name, value]));
  return out;
}

/** Everything the sender can observe about the answer to one message, except time. */
async function observe(kind: OracleKind, cipher: "aes256" | "des3") {
  const message = await oracleMessage(pki.ca, pki.requesters.rsa, kind, { cipher, transactionId: "ORACLE-1" });
  const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: message as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));
  const body = new Uint8Array(await res.arrayBuffer());
  const rep = await readCertRep(body, { caCertificates: [pki.ca.certificate], request: { transactionId: "ORACLE-1", senderNonce: new Uint8Array(16).fill(7) } });
  const { latencyMs: _latency, time, ...event } = events.at(-1)!;
  expect(time).toEqual(NOW);
  return {
    status: res.status,
    headers: headerList(res.headers),
    bytes: body.length,
    certRep: { status: rep.status, failInfo: rep.failInfo, failInfoText: rep.failInfoText, transactionId: rep.transactionId, certificates: rep.certificates.length },
    event,
  };
}

describe("RFC 8894 §3.2.2: bad RSA padding and a wrong content key get the same answer", () => {
  it.each(["aes256", "des3"] as const)("%s: same status, headers, size, CertRep and event, three messages of each kind", async (cipher) => {
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) for (const kind of ["bad-padding", "wrong-key"] as const) seen.push(await observe(kind, cipher));
    const expected = {
      status: 200,
      headers: [["content-type", "application/x-pki-message"]],
      bytes: (seen[0] as { bytes: number }).bytes,
      certRep: { status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "could not decrypt the envelope", transactionId: "ORACLE-1", certificates: 0 },
      event: { operation: "PKCSReq", outcome: "failure", reason: "decrypt_failed", failInfo: "badMessageCheck", status: 200, profile: "p", transactionId: "ORACLE-1" },
    };
    for (const s of seen) expect(s).toEqual(expected);
  });
});

/**
 * The CBC padding of the content itself (RFC 5652 §6.3), probed with the right content key: an attacker who captured
 * a device's PKCSReq keeps its key transport (the CA unwraps the device's own content key) and sends, under a
 * signature of its own, ciphertexts of its choosing (Vaudenay's padding oracle: the last byte of the next-to-last
 * block varied until the padding reads). If a good padding over content that is no CSR were answered otherwise than
 * a bad padding, each answer would tell one byte of the device's CSR, its challengePassword included. So a bad
 * padding, content that is not DER, DER that is not a CertificationRequest, and a CertificationRequest whose
 * signature does not verify all get the answer a bad padding gets. The event keeps the reason (the operator's side).
 */
describe("RFC 5652 §6.3: with the right content key, bad CBC padding and content that is not a verifying CSR get the same answer", () => {
  async function observeContent(cipher: "aes256" | "des3", plain: Uint8Array, pad: boolean) {
    const info = CIPHERS[cipher];
    const cek = randomBytes(info.keyLength);
    const iv = randomBytes(info.ivLength);
    const c = createCipheriv(cipher === "aes256" ? "aes-256-cbc" : "des-ede3-cbc", cek, iv);
    c.setAutoPadding(pad);
    const encrypted = Buffer.concat([c.update(plain), c.final()]);
    const encryptedKey = publicEncrypt({ key: createPublicKey({ key: Buffer.from(pki.ca.certificate.spki), format: "der", type: "spki" }), padding: constants.RSA_PKCS1_PADDING }, cek);
    const message = await signedPkcsReq(pki.ca, pki.requesters.rsa, { cipher, iv, encrypted, encryptedKey, transactionId: "ORACLE-2", senderNonce: new Uint8Array(16).fill(7), now: NOW });
    const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: message as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));
    const body = new Uint8Array(await res.arrayBuffer());
    const rep = await readCertRep(body, { caCertificates: [pki.ca.certificate], request: { transactionId: "ORACLE-2", senderNonce: new Uint8Array(16).fill(7) } });
    return {
      wire: { status: res.status, headers: headerList(res.headers), bytes: body.length, status2: rep.status, failInfo: rep.failInfo, failInfoText: rep.failInfoText, certificates: rep.certificates.length },
      reason: events.at(-1)!.reason,
    };
  }

  it.each(["aes256", "des3"] as const)("%s", async (cipher) => {
    const block = CIPHERS[cipher].ivLength;
    const csr = pki.requesters.rsa.csr;
    const badSignature = csr.slice();
    badSignature[badSignature.length - 1]! ^= 0x01;
    const unpadded = Buffer.alloc(Math.ceil(csr.length / block) * block + block, 0x41);
    unpadded[unpadded.length - 1] = 0; // no padding byte is 0
    const seen = {
      badPadding: await observeContent(cipher, unpadded, false),
      notDer: await observeContent(cipher, randomBytes(csr.length), true),
      notACsr: await observeContent(cipher, der.encode(der.octetString(randomBytes(csr.length))), true),
      truncatedCsr: await observeContent(cipher, csr.subarray(0, csr.length - 5), true),
      csrWithBadSignature: await observeContent(cipher, badSignature, true),
    };
    const expected = { status: 200, headers: [["content-type", "application/x-pki-message"]], bytes: seen.badPadding.wire.bytes, status2: "FAILURE", failInfo: "badMessageCheck", failInfoText: "could not decrypt the envelope", certificates: 0 };
    for (const [kind, s] of Object.entries(seen)) expect(s.wire, kind).toEqual(expected);
    expect(Object.values(seen).map((s) => s.reason)).toEqual(["decrypt_failed", "csr_invalid", "csr_invalid", "csr_invalid", "csr_invalid"]);
  });
});

/**
 * The same probe under another messageType (the sender chooses it): a CertPoll, GetCert or GetCRL's content has no
 * signature of its own, so the server must not open what it does not read. A CertPoll is answered from its
 * transactionID and a GetCert or GetCRL this profile does not serve is refused, the envelope unopened: a bad padding,
 * bytes that are not DER and a well-formed IssuerAndSubject or IssuerAndSerialNumber get one answer per type.
 */
describe("RFC 5652 §6.3: a CertPoll, GetCert or GetCRL carrying a captured envelope is answered without opening it", () => {
  async function answerTo(messageType: 20 | 21 | 22, plain: Uint8Array, pad: boolean): Promise<string> {
    const cek = randomBytes(32);
    const iv = randomBytes(16);
    const c = createCipheriv("aes-256-cbc", cek, iv);
    c.setAutoPadding(pad);
    const encrypted = Buffer.concat([c.update(plain), c.final()]);
    const encryptedKey = publicEncrypt({ key: createPublicKey({ key: Buffer.from(pki.ca.certificate.spki), format: "der", type: "spki" }), padding: constants.RSA_PKCS1_PADDING }, cek);
    const ktri = der.seq(der.int(0), pki.ca.certificate.issuerAndSerialNumber(), der.algId(oids.id_rsaEncryption, der.NULL), der.octetString(encryptedKey));
    const eci = der.seq(der.oid(oids.id_data), der.algId(CIPHERS.aes256.oid, der.octetString(iv)), der.tlv(0x80, encrypted));
    const envelope = der.encode(der.seq(der.oid(oids.id_envelopedData), der.ctx(0, der.seq(der.int(0), der.tlv(der.Tag.SET, ktri), eci))));
    const signer = pki.requesters.rsa.signer;
    const message = await buildSignedData({
      content: envelope,
      certificates: [signer.certificate.der],
      signer,
      digest: "sha256",
      signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
      attributes: encodeScepAttributes({ messageType, transactionId: "ORACLE-3", senderNonce: new Uint8Array(16).fill(7), signingTime: NOW }),
    });
    const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: message as Uint8Array<ArrayBuffer> }));
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) return `${res.status} ${new TextDecoder().decode(body)} ${events.at(-1)!.reason}`;
    const rep = await readCertRep(body, { caCertificates: [pki.ca.certificate], request: { transactionId: "ORACLE-3", senderNonce: new Uint8Array(16).fill(7) } });
    return `${res.status} ${body.length} ${rep.status} ${rep.failInfo} ${rep.failInfoText} ${events.at(-1)!.reason}`;
  }

  it.each([
    [20, "FAILURE badCertId no pending request with this transactionID"],
    [21, "FAILURE badRequest GetCert is not supported"],
    [22, "FAILURE badRequest GetCRL is not supported"],
  ] as const)("messageType %i: %s, whatever the envelope holds", async (messageType, answer) => {
    const issuer = pki.ca.certificate.subjectDer;
    const seen = [
      await answerTo(messageType, Buffer.alloc(32, 0), false), // a bad padding
      await answerTo(messageType, randomBytes(40), true), // no DER
      await answerTo(messageType, der.encode(der.seq(der.raw(der.parse(issuer)), der.raw(der.parse(issuer)))), true), // IssuerAndSubject
      await answerTo(messageType, der.encode(der.seq(der.raw(der.parse(issuer)), der.int(5))), true), // IssuerAndSerialNumber
    ];
    expect(new Set(seen).size, seen.join("\n")).toBe(1);
    expect(seen[0]).toContain(answer);
  });
});

/**
 * A profile that serves GetCert (the example servers do) must open a GetCert's envelope, so there the probe is
 * refused by its key transport: the device's own content key, already unwrapped by this server for the device's
 * ciphertext, is not unwrapped again for another (a client draws a fresh key per envelope and re-sends an envelope
 * whole). The device's exact re-send still passes.
 */
describe("RFC 5652 §6.3: a key transport already unwrapped is not unwrapped again for another ciphertext", () => {
  it("the device's PKCSReq, its exact re-send, then probes on its key transport as GetCerts: one answer, the hook never asked", async () => {
    const asked: unknown[] = [];
    const serving = createScepServer({
      profiles: [
        {
          name: "p",
          path: "/scep",
          caCertificate: pki.ca.certificate,
          signer: pki.ca,
          challenge: { type: "static", password: "oracle" },
          issue: async () => ({ status: "FAILURE" }),
          getCert: async (q) => void asked.push(q),
        },
      ],
      now: () => NOW,
    });
    const cek = randomBytes(32);
    const encryptedKey = publicEncrypt({ key: createPublicKey({ key: Buffer.from(pki.ca.certificate.spki), format: "der", type: "spki" }), padding: constants.RSA_PKCS1_PADDING }, cek);
    const encrypt = (plain: Uint8Array, pad = true) => {
      const iv = randomBytes(16);
      const c = createCipheriv("aes-256-cbc", cek, iv);
      c.setAutoPadding(pad);
      return { iv, encrypted: Buffer.concat([c.update(plain), c.final()]) };
    };
    const send = async (message: Uint8Array) => {
      const res = await serving.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: message as Uint8Array<ArrayBuffer> }));
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { caCertificates: [pki.ca.certificate], request: { transactionId: "ORACLE-4", senderNonce: new Uint8Array(16).fill(7) } });
      return `${rep.status} ${rep.failInfo} ${rep.failInfoText}`;
    };
    const device = await signedPkcsReq(pki.ca, pki.requesters.rsa, { cipher: "aes256", ...encrypt(pki.requesters.rsa.csr), encryptedKey, transactionId: "ORACLE-4", senderNonce: new Uint8Array(16).fill(7), now: NOW });
    const first = await send(device);
    expect(first).toMatch(/^FAILURE badRequest challenge/); // its CSR was read: the envelope was opened
    expect(await send(device)).toBe(first); // the exact re-send is opened again

    const issuer = pki.ca.certificate.subjectDer;
    const probes = [encrypt(Buffer.alloc(32, 0), false), encrypt(randomBytes(40)), encrypt(der.encode(der.seq(der.raw(der.parse(issuer)), der.int(5))))];
    const answers: string[] = [];
    for (const { iv, encrypted } of probes) {
      const ktri = der.seq(der.int(0), pki.ca.certificate.issuerAndSerialNumber(), der.algId(oids.id_rsaEncryption, der.NULL), der.octetString(encryptedKey));
      const eci = der.seq(der.oid(oids.id_data), der.algId(CIPHERS.aes256.oid, der.octetString(iv)), der.tlv(0x80, encrypted));
      const envelope = der.encode(der.seq(der.oid(oids.id_envelopedData), der.ctx(0, der.seq(der.int(0), der.tlv(der.Tag.SET, ktri), eci))));
      const signer = pki.requesters.p256.signer; // the attacker's own key
      const probe = await buildSignedData({
        content: envelope,
        certificates: [signer.certificate.der],
        signer,
        digest: "sha256",
        signatureAlgorithm: { scheme: "ecdsa", digest: "sha256" },
        attributes: encodeScepAttributes({ messageType: 21, transactionId: "ORACLE-4", senderNonce: new Uint8Array(16).fill(7), signingTime: NOW }),
      });
      answers.push(await send(probe));
    }
    expect(answers).toEqual(Array(3).fill("FAILURE badMessageCheck could not decrypt the envelope"));
    expect(asked).toEqual([]);
  });
});
