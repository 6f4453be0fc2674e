/**
 * What every CertRep carries back (RFC 8894 §3.2.1.5, INTEROP quirks 5 and
 * 10): the request's transactionID, a recipientNonce equal to the request's
 * senderNonce, a fresh senderNonce, the request's digest, and on SUCCESS the
 * request's content cipher (DES, 3DES, AES) unless
 * `algorithmPolicy.responseCipher` upgrades it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  buildCertPoll,
  buildGetCert,
  buildPkcsReq,
  createScepServer,
  type BuiltRequest,
  type CertRep,
  type ContentCipher,
  type DigestAlgorithm,
  type ScepServer,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, csrFor, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "nonce-secret";
const CIPHERS: ContentCipher[] = ["des", "des3", "aes128", "aes192", "aes256"];
let ca: TestCa;
let device: Device;
let server: ScepServer;
let upgrading: ScepServer;

beforeAll(async () => {
  ca = await createTestCa("Nonce CA");
  device = await createDevice({ cn: "nonce-device", challengePassword: CHALLENGE });
  const base = { path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static" as const, password: CHALLENGE } };
  server = createScepServer({
    profiles: [
      {
        ...base,
        name: "p",
        issue: issuingHook(ca, [], (ctx) => (ctx.approved || !ctx.transactionId.startsWith("PEND") ? undefined : { status: "PENDING" })),
        getCert: async () => ca.cert,
      },
    ],
    now: () => NOW,
  });
  upgrading = createScepServer({
    profiles: [{ ...base, issue: issuingHook(ca), algorithmPolicy: { responseCipher: (c) => (c === "des" || c === "des3" ? "aes256" : c) } }],
    now: () => NOW,
  });
});

/** Checks the echo rules every CertRep follows, then returns it. */
function expectEchoes(rep: CertRep, built: BuiltRequest): CertRep {
  expect(rep.transactionId).toBe(built.transactionId);
  expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
  expect(rep.senderNonce.length).toBe(16);
  expect(hex(rep.senderNonce)).not.toBe(hex(built.senderNonce));
  return rep;
}

async function exchange(s: ScepServer, built: BuiltRequest): Promise<CertRep> {
  // readReply itself refuses a wrong transactionID or recipientNonce; check them explicitly too.
  return expectEchoes(await readReply(await postPki(s, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] }), built);
}

describe("SUCCESS replies use the request's content cipher and digest", () => {
  for (const cipher of CIPHERS) {
    for (const digest of ["sha1", "sha256", "sha512"] as DigestAlgorithm[]) {
      it(`${cipher} + ${digest}`, async () => {
        const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher, digest, now: NOW });
        const rep = await exchange(server, built);
        expect(rep.status).toBe("SUCCESS");
        expect(rep.contentCipher).toBe(cipher);
        expect(rep.digestAlgorithm).toBe(digest);
        expect(rep.certificates[0]!.subject).toBe("CN=nonce-device, O=scep-sdk server tests");
      });
    }
  }
});

describe("responseCipher upgrades the reply's cipher", () => {
  for (const [requested, answered] of [
    ["des", "aes256"],
    ["des3", "aes256"],
    ["aes128", "aes128"],
    ["aes192", "aes192"],
  ] as [ContentCipher, ContentCipher][]) {
    it(`${requested} is answered with ${answered}`, async () => {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher: requested, now: NOW });
      const rep = await exchange(upgrading, built);
      expect(rep.status).toBe("SUCCESS");
      expect(rep.contentCipher).toBe(answered);
    });
  }
});

describe("every kind of CertRep echoes the transactionID and nonce", () => {
  it("FAILURE (bad challenge), with the request's digest", async () => {
    const built = await buildPkcsReq({ csr: await csrFor(device.keys, "nonce-device", "wrong"), signer: device.signer, recipient: ca.cert, digest: "sha1", cipher: "des3", now: NOW });
    const rep = await exchange(server, built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(rep.digestAlgorithm).toBe("sha1");
    expect(rep.contentCipher).toBeUndefined();
  });

  it("FAILURE for a message that failed to decode (signature broken)", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, digest: "sha512", now: NOW });
    const tampered = built.der.slice();
    tampered[tampered.length - 1]! ^= 0x80;
    const rep = expectEchoes(await readReply(await postPki(server, "/scep", tampered), built, { caCertificates: [ca.cert] }), built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck" });
    expect(rep.digestAlgorithm).toBe("sha512");
  });

  it("FAILURE for a cipher the policy refuses (badAlg)", async () => {
    const strict = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca), algorithmPolicy: { ciphers: ["aes128", "aes256"] } }],
      now: () => NOW,
    });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher: "des", now: NOW });
    const rep = await exchange(strict, built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: "content cipher des is not allowed by policy" });
  });

  it("PENDING, then CertPoll PENDING and SUCCESS in the poll's own cipher", async () => {
    const tid = "PEND-NONCE-0001";
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher: "des3", transactionId: tid, now: NOW });
    expect((await exchange(server, built)).status).toBe("PENDING");
    const pollOpts = { signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId: tid, now: NOW };
    const poll1 = await buildCertPoll({ ...pollOpts, cipher: "aes192" });
    expect((await exchange(server, poll1)).status).toBe("PENDING");
    await server.approve("p", tid);
    const poll2 = await buildCertPoll({ ...pollOpts, cipher: "des" });
    const rep = await exchange(server, poll2);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.contentCipher).toBe("des");
    expect(hex(poll1.senderNonce)).not.toBe(hex(poll2.senderNonce));
  });

  it("GetCert SUCCESS in the request's cipher", async () => {
    const built = await buildGetCert({ signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: ca.cert.serialNumber, cipher: "aes128", digest: "sha1", now: NOW });
    const rep = await exchange(server, built);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.contentCipher).toBe("aes128");
    expect(rep.digestAlgorithm).toBe("sha1");
    expect(rep.certificates.map((c) => hex(c.der))).toEqual([hex(ca.cert.der)]);
  });

  it("two identical requests get two different reply senderNonces", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const a = await exchange(server, built);
    const b = await exchange(server, built);
    expect(hex(a.senderNonce)).not.toBe(hex(b.senderNonce));
  });
});
