/**
 * Field reports about the envelope's key transport, rebuilt against our server
 * (RFC 8894 §3.2.2 and §3.3.2, RFC 5652 §6.2.1, RFC 8017 §7.1).
 *
 * - Windows' SCEP client wraps the content key with RSAES-OAEP through CNG; a
 *   server that decrypted it but answered in another key transport did not
 *   work until it answered in OAEP too (NeySlim/ultimate-ca-manager#228,
 *   https://github.com/NeySlim/ultimate-ca-manager/issues/228). NDES answers an
 *   OAEP request in OAEP as well (test/vectors/public/ndes.certrep-success.oaep-aes128.der).
 *   Fixed here: a SUCCESS CertRep now uses the request's key transport and OAEP hash.
 * - An EC client key cannot receive a key-transport envelope; one server
 *   issued the certificate anyway and then failed to build the reply, leaving
 *   an orphaned certificate and an HTTP error (OmniTrustILM/core#1889,
 *   https://github.com/OmniTrustILM/core/pull/1889). We refuse before issuing.
 * - After an RA certificate rollover, a client that had not fetched GetCACert
 *   again still encrypted to the old RA; the server decrypted with the newest
 *   key only and failed (openxpki/openxpki#745,
 *   https://github.com/openxpki/openxpki/issues/745). The envelope's recipient
 *   picks the key among all configured decrypters.
 * - sscep followed a typo in the SCEP draft and named the CA's own issuer
 *   (the root) in GetCertInitial's IssuerAndSubject (certnanny/sscep#52,
 *   https://github.com/certnanny/sscep/pull/52). The transactionID finds the
 *   transaction; the names it carries do not refuse the poll.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  MemoryTransactionStore,
  buildCertPoll,
  buildGetCert,
  buildGetCrl,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  generateCsr,
  type BuiltRequest,
  type DigestAlgorithm,
  type KeyTransport,
  type ScepServer,
} from "../src/index.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { NOW, createDevice, hex, issuingHook, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-kt";
const { ca, device, calls, log, server, profile } = await staticScep({ caName: "Field Key Transport CA", deviceCn: "field-kt-device", challenge: CHALLENGE });

/** The reply envelope's recipient, read off the wire (what the client has to unwrap). */
function replyRecipient(body: Uint8Array): { transport: KeyTransport; oaepHash?: DigestAlgorithm } {
  const sd = parseSignedData(body);
  const env = parseEnvelopedData(sd.content!);
  expect(env.recipients.length).toBe(1);
  const r = env.recipients[0]!;
  return r.oaepHash ? { transport: r.transport, oaepHash: r.oaepHash } : { transport: r.transport };
}

describe("RFC 8894 §3.3.2: a SUCCESS reply wraps its content key the way the request did (UCM#228, NDES)", () => {
  const cases: { name: string; keyTransport?: KeyTransport; oaepHash?: DigestAlgorithm; expected: { transport: KeyTransport; oaepHash?: DigestAlgorithm } }[] = [
    { name: "RSAES-PKCS1-v1_5 request → PKCS#1 v1.5 reply", keyTransport: "rsaes-pkcs1-v1_5", expected: { transport: "rsaes-pkcs1-v1_5" } },
    { name: "Windows CNG: RSAES-OAEP (SHA-1, empty parameters) → OAEP SHA-1 reply", keyTransport: "rsaes-oaep", oaepHash: "sha1", expected: { transport: "rsaes-oaep", oaepHash: "sha1" } },
    { name: "RSAES-OAEP with SHA-256 and MGF1-SHA-256 → the same OAEP parameters", keyTransport: "rsaes-oaep", oaepHash: "sha256", expected: { transport: "rsaes-oaep", oaepHash: "sha256" } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const built = await buildPkcsReq({
        csr: device.csr,
        signer: device.signer,
        recipient: ca.cert,
        now: NOW,
        cipher: "aes128",
        ...(c.keyTransport ? { keyTransport: c.keyTransport } : {}),
        ...(c.oaepHash ? { oaepHash: c.oaepHash } : {}),
      });
      const res = await postPki(server, "/scep", built.der);
      const body = new Uint8Array(await res.clone().arrayBuffer());
      const rep = await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.keyTransport).toBe(c.expected.transport);
      expect(rep.contentCipher).toBe("aes128");
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
      expect(replyRecipient(body)).toEqual(c.expected);
    });
  }
});

describe("RFC 8894 §3.3.2: an EC requester key cannot receive the reply; refused before anything is issued (OmniTrustILM#1889)", () => {
  it("a PKCSReq signed with a P-256 self-signed certificate → FAILURE badAlg, issue hook never called, no 5xx", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const subject = "CN=field-ec-device, O=scep-sdk server tests";
    const signer = await createSelfSignedSigner({ keys, subject, now: NOW });
    const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
    const before = calls.length;
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect(res.status).toBe(200);
    const rep = await readReply(res, built, { caCertificates: [ca.cert] });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", transactionId: built.transactionId });
    expect(rep.failInfoText).toMatch(/EC/);
    expect(calls.length).toBe(before);
    expect(log.events.filter((e) => e.status >= 500)).toEqual([]);
  });
});

describe("RFC 8894 §3.3.2: every SUCCESS path wraps the reply the way its own request did: CertPoll after approval, GetCert, GetCRL (§3.3.3, §3.3.4)", () => {
  const oaep = { keyTransport: "rsaes-oaep" as const, oaepHash: "sha256" as const };
  let manual: ScepServer;
  let crl: Uint8Array;

  beforeAll(async () => {
    crl = await ca.crl([]);
    manual = createScepServer({
      profiles: [
        {
          ...profile,
          name: "p",
          transactions: new MemoryTransactionStore({ now: () => NOW }),
          issue: issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })),
          getCert: async () => device.signer.certificate,
          getCrl: async () => crl,
        },
      ],
      now: () => NOW,
    });
  });

  async function send(built: BuiltRequest): Promise<{ status: string; recipient: ReturnType<typeof replyRecipient> }> {
    const res = await postPki(manual, "/scep", built.der);
    const body = new Uint8Array(await res.clone().arrayBuffer());
    const rep = await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] });
    return { status: rep.status, recipient: rep.status === "SUCCESS" ? replyRecipient(body) : { transport: "rsaes-pkcs1-v1_5" } };
  }

  it("a PKCSReq in PKCS#1 v1.5 made PENDING, then a CertPoll in OAEP SHA-256 → the SUCCESS follows the CertPoll", async () => {
    const pkcsReq = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    expect((await send(pkcsReq)).status).toBe("PENDING");
    await manual.approve("p", pkcsReq.transactionId);
    const subject = CertificationRequest.from(device.csr).subjectDer;
    const poll = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject, transactionId: pkcsReq.transactionId, now: NOW, ...oaep });
    expect(await send(poll)).toEqual({ status: "SUCCESS", recipient: { transport: "rsaes-oaep", oaepHash: "sha256" } });
  });

  it("a CertPoll whose IssuerAndSubject names another issuer than the issuing CA (sscep#52) → SUCCESS after approval", async () => {
    const router = await createDevice({ cn: "field-kt-sscep52", challengePassword: CHALLENGE });
    const read = async (built: BuiltRequest) => readReply(await postPki(manual, "/scep", built.der), built, { decrypter: router.signer, caCertificates: [ca.cert] });
    const pkcsReq = await buildPkcsReq({ csr: router.csr, signer: router.signer, recipient: ca.cert, now: NOW });
    expect((await read(pkcsReq)).status).toBe("PENDING");
    await manual.approve("p", pkcsReq.transactionId);
    const subject = CertificationRequest.from(router.csr).subjectDer;
    const rootName = new Uint8Array([0x30, 0x11, 0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x06, ...new TextEncoder().encode("Root X")]);
    expect(hex(rootName)).not.toBe(hex(ca.cert.subjectDer));
    const poll = await buildCertPoll({ signer: router.signer, recipient: ca.cert, issuerName: rootName, subject, transactionId: pkcsReq.transactionId, now: NOW });
    const rep = await read(poll);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(router.signer.certificate.spki));
  });

  it("GetCert and GetCRL in OAEP SHA-256 → OAEP SHA-256 replies; in PKCS#1 v1.5 → PKCS#1 v1.5", async () => {
    const query = { signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: device.signer.certificate.serialNumber, now: NOW };
    expect(await send(await buildGetCert({ ...query, ...oaep }))).toEqual({ status: "SUCCESS", recipient: { transport: "rsaes-oaep", oaepHash: "sha256" } });
    expect(await send(await buildGetCrl({ ...query, ...oaep }))).toEqual({ status: "SUCCESS", recipient: { transport: "rsaes-oaep", oaepHash: "sha256" } });
    expect(await send(await buildGetCert(query))).toEqual({ status: "SUCCESS", recipient: { transport: "rsaes-pkcs1-v1_5" } });
  });
});

describe("RFC 5652 §6.2.1 / RFC 8894 §2.2: the envelope's recipient picks the decrypter, old RA included (openxpki#745)", () => {
  it("a request encrypted to the previous RA after a rollover → SUCCESS; to the new RA → SUCCESS; to neither → FAILURE badMessageCheck", async () => {
    const [oldRa, newRa, strangerRa] = await Promise.all([ca.ra("CN=Field RA 2025"), ca.ra("CN=Field RA 2026"), ca.ra("CN=Field RA unconfigured")]);
    const rolled = createScepServer({ profiles: [{ ...profile, signer: newRa, decrypters: [newRa, oldRa], issue: issuingHook(ca) }], now: () => NOW, onEvent: log.onEvent });
    for (const [recipient, expected] of [
      [oldRa, "SUCCESS"],
      [newRa, "SUCCESS"],
    ] as const) {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: recipient.certificate, now: NOW });
      const rep = await readReply(await postPki(rolled, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert, newRa.certificate] });
      expect([rep.status, hex(rep.certificates[0]?.spki)]).toEqual([expected, hex(device.signer.certificate.spki)]);
    }
    const lost = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: strangerRa.certificate, now: NOW });
    const rep = await readReply(await postPki(rolled, "/scep", lost.der), lost, { caCertificates: [ca.cert, newRa.certificate] });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "the envelope is not encrypted to any configured key" });
  });
});
