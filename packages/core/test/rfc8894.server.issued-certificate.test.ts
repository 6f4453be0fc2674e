/**
 * The certificate an issue hook or an operator hands the server must certify
 * the request's public key: the client looks for the certificate of its own
 * key in a SUCCESS CertRep (RFC 8894 §3.3.2) and fails the enrollment without
 * it. A fresh user approved a PENDING transaction with another device's
 * certificate: the server recorded it ISSUED and logged a success, the device
 * failed with "holds no certificate for the requested key", and the
 * transaction could not be approved again. Now the server refuses such a
 * certificate before recording anything: an immediate issue answers 500 (a
 * hook fault, like a hook that throws; the one-time challenge is given back),
 * `approve()` throws ERR_INVALID_ARGUMENT for an operator's certificate and
 * ERR_ISSUE_HOOK for the hook's, and the transaction stays PENDING.
 *
 * Also here: a chain entry given as a PEM bundle stands for all of its
 * certificates (it was cut to the first).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  MemoryChallengeStore,
  MemoryTransactionStore,
  buildPkcsReq,
  createScepServer,
  type IssueResult,
  type ScepServer,
} from "../src/index.js";
import { samePublicKey } from "../src/lib/node-crypto.js";
import { NOW, baseProfile, certPollAt, createDevice, createTestCa, eventLog, hex, pemFile, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let other: TestCa;
let server: ScepServer;
let challenges: MemoryChallengeStore;
const log = eventLog();
/** What the hook does: issue for the request, issue for another device's key, or answer PENDING. */
let mode: "right" | "wrong-key" | "garbage" | "pending" | "bundle" = "right";
let stranger: Device;
/** What onUndelivered was told. */
const undelivered: { transactionId: string; reason: string; subject: string }[] = [];

beforeAll(async () => {
  ca = await createTestCa("Issued Check CA");
  other = await createTestCa("Issued Check Other CA");
  stranger = await createDevice({ cn: "stranger" });
  challenges = new MemoryChallengeStore({ now: () => NOW });
  server = createScepServer({
    profiles: [
      {
        ...baseProfile(ca, { type: "store", store: challenges }),
        transactions: new MemoryTransactionStore({ now: () => NOW }),
        onUndelivered: (u) => void undelivered.push({ transactionId: u.transactionId, reason: u.reason, subject: u.certificate.subject }),
        issue: async (ctx): Promise<IssueResult> => {
          if (mode === "pending") return { status: "PENDING" }; // to an approval too, where it is unusable
          if (mode === "garbage") return { status: "SUCCESS", certificate: new TextEncoder().encode("not a certificate") };
          if (mode === "wrong-key") return { status: "SUCCESS", certificate: await ca.issue(stranger.csr, { notAfter: ctx.notAfterMax }) };
          const certificate = await ca.issue(ctx.csr.der, { notAfter: ctx.notAfterMax });
          if (mode === "bundle") return { status: "SUCCESS", certificate, chain: [pemFile(ca.cert, other.cert)] };
          return { status: "SUCCESS", certificate };
        },
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
});

async function submit(device: Device) {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  return { built, res: await postPki(server, "/scep", built.der) };
}

const poll = (device: Device, transactionId: string) => certPollAt(server, "/scep", ca, device, transactionId);

describe("RFC 8894 §3.3.2: the issued certificate certifies the requester's key", () => {
  it("an issue hook answering SUCCESS with another key's certificate: HTTP 500 and an error event, not a success; onUndelivered told (wrong_key); the challenge is given back", async () => {
    mode = "wrong-key";
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "hook-wrong-key", challengePassword: challenge });
    const { built, res } = await submit(device);
    expect(res.status).toBe(500);
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", transactionId: built.transactionId, outcome: "error", status: 500 });
    // The certificate exists and is not delivered: the issuer is told, to revoke it.
    expect(undelivered.at(-1)).toEqual({ transactionId: built.transactionId, reason: "wrong_key", subject: "CN=stranger, O=scep-sdk server tests" });
    // The resend, once the hook is mended, enrolls with the same one-time challenge.
    mode = "right";
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(CertificationRequest.from(device.csr).spki));
  });

  it("an issue hook answering SUCCESS with bytes that are no certificate: HTTP 500, the resend enrolls once mended", async () => {
    mode = "garbage";
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "hook-garbage", challengePassword: challenge });
    const { built, res } = await submit(device);
    expect(res.status).toBe(500);
    mode = "right";
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });

  it("approve() with an operator-supplied certificate for another key: ERR_INVALID_ARGUMENT, the transaction stays PENDING, the right one then issues", async () => {
    mode = "pending";
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "approve-wrong-key", challengePassword: challenge });
    const { built, res } = await submit(device);
    expect((await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] })).status).toBe("PENDING");
    const wrong = await ca.issue(stranger.csr, { notAfter: new Date(NOW.getTime() + 86_400_000) });
    await expect(server.approve("p", built.transactionId, { certificate: wrong })).rejects.toMatchObject({
      name: "InvalidArgumentError",
      code: "ERR_INVALID_ARGUMENT",
      message: "the issued certificate (CN=stranger, O=scep-sdk server tests) is not for the request's public key (CSR CN=approve-wrong-key, O=scep-sdk server tests)",
    });
    expect((await server.pending("p")).map((t) => t.transactionId)).toContain(built.transactionId);
    expect((await poll(device, built.transactionId)).status).toBe("PENDING");
    const right = await ca.issue(device.csr, { notAfter: new Date(NOW.getTime() + 86_400_000) });
    expect((await server.approve("p", built.transactionId, { certificate: right })).status).toBe("ISSUED");
    const rep = await poll(device, built.transactionId);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.der)).toBe(hex(right.der));
  });

  it("approve() whose issue hook answers another key's certificate, bytes that are no certificate, or PENDING: ERR_ISSUE_HOOK, the transaction stays PENDING, onUndelivered told only of the certificate", async () => {
    mode = "pending";
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "approve-hook-wrong-key", challengePassword: challenge });
    const { built } = await submit(device);
    mode = "wrong-key";
    await expect(server.approve("p", built.transactionId)).rejects.toMatchObject({
      name: "IssueHookError",
      code: "ERR_ISSUE_HOOK",
      message: "the issue hook's answer: the issued certificate (CN=stranger, O=scep-sdk server tests) is not for the request's public key (CSR CN=approve-hook-wrong-key, O=scep-sdk server tests)",
    });
    expect((await server.pending("p")).map((t) => t.transactionId)).toContain(built.transactionId);
    expect(undelivered.at(-1)).toEqual({ transactionId: built.transactionId, reason: "wrong_key", subject: "CN=stranger, O=scep-sdk server tests" });
    const told = undelivered.length;
    mode = "garbage";
    await expect(server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_ISSUE_HOOK", cause: { code: "ERR_INVALID_ARGUMENT" } });
    mode = "pending";
    await expect(server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_ISSUE_HOOK", message: "the issue hook answered PENDING to an approved request" });
    expect((await server.pending("p")).map((t) => t.transactionId)).toContain(built.transactionId);
    expect(undelivered.length).toBe(told); // nothing was issued for bytes that are no certificate, or for PENDING
    mode = "right";
    expect((await server.approve("p", built.transactionId)).status).toBe("ISSUED");
    expect((await poll(device, built.transactionId)).status).toBe("SUCCESS");
  });
});

describe("a chain entry given as a PEM bundle stands for every certificate in it", () => {
  it("issue hook: chain [one PEM file holding two CA certificates] → the CertRep carries the issued certificate and both", async () => {
    mode = "bundle";
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "bundle-chain", challengePassword: challenge });
    const { built, res } = await submit(device);
    const rep = await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.slice(1).map((c) => hex(c.der))).toEqual([hex(ca.cert.der), hex(other.cert.der)]);
  });

  it("Certificate.dersOf: a Certificate, DER, one PEM block, a bundle", () => {
    const bundle = ca.cert.toPem() + other.cert.toPem();
    expect(Certificate.dersOf(ca.cert).map(hex)).toEqual([hex(ca.cert.der)]);
    expect(Certificate.dersOf(ca.cert.der).map(hex)).toEqual([hex(ca.cert.der)]);
    expect(Certificate.dersOf(ca.cert.toPem()).map(hex)).toEqual([hex(ca.cert.der)]);
    expect(Certificate.dersOf(new TextEncoder().encode(bundle)).map(hex)).toEqual([hex(ca.cert.der), hex(other.cert.der)]);
  });
});

describe("the key comparison: the same public key, whatever its SPKI's encoding", () => {
  it("samePublicKey: byte-equal; RSA parameters absent against NULL (a CA re-encodes the CSR's key); another key; garbage", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const der = (k: import("node:crypto").KeyObject) => new Uint8Array(k.export({ format: "der", type: "spki" }));
    const a = der(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey);
    const b = der(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey);
    // The same key with its AlgorithmIdentifier's NULL parameters left out (30 0b instead of 30 0d … 05 00).
    const body = Buffer.concat([Buffer.from("300b06092a864886f70d010101", "hex"), a.subarray(3 + 15)]);
    const withoutNull = new Uint8Array(Buffer.concat([Buffer.from([0x30, 0x81, body.length]), body]));
    expect(hex(withoutNull)).not.toBe(hex(a));
    expect(samePublicKey(a, a.slice())).toBe(true);
    expect(samePublicKey(a, withoutNull)).toBe(true);
    expect(samePublicKey(a, b)).toBe(false);
    expect(samePublicKey(a, new Uint8Array([0x30, 0x00]))).toBe(false);
  });

  it("samePublicKey: a P-256 point compressed (SEC 1 §2.3.3) against the same point uncompressed; RSA against EC leaves no OpenSSL error behind", async () => {
    const { ECDH, createPrivateKey, generateKeyPairSync } = await import("node:crypto");
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const uncompressed = new Uint8Array(ec.publicKey.export({ format: "der", type: "spki" }));
    const compressedPoint = ECDH.convertKey(uncompressed.subarray(uncompressed.length - 65), "prime256v1", undefined, undefined, "compressed") as Buffer;
    // SPKI of id-ecPublicKey/prime256v1 with a 33-byte compressed point (BIT STRING of 34 bytes).
    const compressed = new Uint8Array(Buffer.concat([Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"), compressedPoint]));
    expect(compressed.length).toBe(59);
    expect(samePublicKey(uncompressed, compressed)).toBe(true);
    expect(samePublicKey(compressed, new Uint8Array(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" })))).toBe(false);

    const rsa = new Uint8Array(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" }));
    expect(samePublicKey(rsa, uncompressed)).toBe(false);
    // The next key read must not find a stale error (KeyObject.equals on two key types leaves one).
    expect(createPrivateKey(ec.privateKey.export({ format: "pem", type: "sec1" })).asymmetricKeyType).toBe("ec");
  });
});
