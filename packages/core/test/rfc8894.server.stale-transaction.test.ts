/**
 * A stored transaction never hands out a stale certificate (RFC 8894 §3.3.3;
 * issue 6 §3). The issue's sequence with an injected clock: PKCSReq for key K,
 * subject S, transactionID X answered PENDING; approve issues a 1-day
 * certificate; three days later the same K, S and X (new self-signed signer,
 * nonce, signingTime) must not get SUCCESS with the expired certificate: it is
 * a new enrollment (the challenge is checked again). A CertPoll for it gets
 * FAILURE badCertId (`stale_certificate`). The same for a certificate the
 * profile's `isRevoked` hook reports revoked.
 */
import { describe, expect, it } from "vitest";
import {
  CertificationRequest,
  LocalKey,
  MemoryTransactionStore,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  type Certificate,
  type IssueContext,
  type IssueResult,
  type ScepProfile,
  type TransactionStore,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, eventLog, hex, issuingHook, postPki, readReply, type Device, type TestCa, baseProfile } from "./support/server-pki.js";

const CHALLENGE = "stale-secret";

function setup(ca: TestCa, clock: () => Date, extra: Partial<ScepProfile> = {}) {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [
      {
        ...baseProfile(ca, CHALLENGE),
        // Approval issues a certificate valid for one day from the approval time.
        issue: async (ctx): Promise<IssueResult> => {
          calls.push(ctx);
          if (!ctx.approved) return { status: "PENDING" };
          const t = clock();
          return { status: "SUCCESS", certificate: await ca.issue(ctx.csr.der, { notBefore: t, notAfter: new Date(t.getTime() + DAY) }) };
        },
        transactionRetentionMs: 30 * DAY,
        ...extra,
      },
    ],
    onEvent: log.onEvent,
    now: clock,
  });
  return { server, calls, log };
}

/** A PKCSReq for the device's key and subject, signed by a fresh self-signed signer made at `at`. */
async function pkcsReq(ca: TestCa, device: Device, at: Date, csr = device.csr) {
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: at });
  const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: at });
  return { built, signer };
}

async function certPoll(ca: TestCa, server: ReturnType<typeof setup>["server"], device: Device, transactionId: string, at: Date) {
  const built = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId, now: at });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
}

describe("RFC 8894 §3.3.3: an expired stored certificate is never handed out again", () => {
  it("three days after a 1-day certificate was approved, the same K, S, X is a new enrollment (PENDING again, hook called), not SUCCESS", async () => {
    const ca = await createTestCa("Stale CA");
    let clock = NOW;
    const s = setup(ca, () => clock);
    const device = await createDevice({ cn: "stale-device", challengePassword: CHALLENGE });
    const first = await pkcsReq(ca, device, clock);
    expect((await readReply(await postPki(s.server, "/scep", first.built.der), first.built)).status).toBe("PENDING");
    const tx = await s.server.approve("p", first.built.transactionId);
    const issued = tx.certificate!;

    // Within the day: the re-send gets the certificate (a client polling by re-sending).
    clock = new Date(NOW.getTime() + DAY / 2);
    const again = await pkcsReq(ca, device, clock);
    const fresh = await readReply(await postPki(s.server, "/scep", again.built.der), again.built, { decrypter: again.signer });
    expect(fresh.status).toBe("SUCCESS");
    expect(hex(fresh.certificates[0]!.der)).toBe(hex(issued));

    clock = new Date(NOW.getTime() + 3 * DAY);
    const late = await pkcsReq(ca, device, clock);
    expect(late.built.transactionId).toBe(first.built.transactionId);
    const before = s.calls.length;
    const rep = await readReply(await postPki(s.server, "/scep", late.built.der), late.built, { decrypter: late.signer });
    expect(rep.status).toBe("PENDING");
    expect(s.calls.length).toBe(before + 1);
    expect(s.calls.at(-1)).toMatchObject({ approved: false, renewal: false, transactionId: first.built.transactionId });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "pending", reason: "pending_approval" });
    // The new transaction replaced the stale one; approving it issues a fresh certificate.
    const renewed = await s.server.approve("p", first.built.transactionId);
    expect(hex(renewed.certificate)).not.toBe(hex(issued));
  });

  it("the new enrollment checks the challenge again: a wrong one gets FAILURE bad_challenge, never the stale certificate", async () => {
    const ca = await createTestCa("Stale CA 2");
    let clock = NOW;
    const s = setup(ca, () => clock);
    const device = await createDevice({ cn: "stale-challenge", challengePassword: CHALLENGE });
    const first = await pkcsReq(ca, device, clock);
    await postPki(s.server, "/scep", first.built.der);
    await s.server.approve("p", first.built.transactionId);
    clock = new Date(NOW.getTime() + 3 * DAY);
    const wrongCsr = (await createDevice({ cn: "stale-challenge", challengePassword: "wrong", keys: device.keys })).csr;
    const late = await pkcsReq(ca, device, clock, wrongCsr);
    const rep = await readReply(await postPki(s.server, "/scep", late.built.der), late.built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge password mismatch" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "bad_challenge" });
  });

  it("a CertPoll for a transaction whose certificate has expired: FAILURE badCertId, stale_certificate", async () => {
    const ca = await createTestCa("Stale CA 3");
    let clock = NOW;
    const s = setup(ca, () => clock);
    const device = await createDevice({ cn: "stale-poll", challengePassword: CHALLENGE });
    const first = await pkcsReq(ca, device, clock);
    await postPki(s.server, "/scep", first.built.der);
    await s.server.approve("p", first.built.transactionId);
    clock = new Date(NOW.getTime() + DAY - 1);
    expect((await certPoll(ca, s.server, device, first.built.transactionId, clock)).status).toBe("SUCCESS");
    clock = new Date(NOW.getTime() + DAY + 1000);
    expect(await certPoll(ca, s.server, device, first.built.transactionId, clock)).toMatchObject({
      status: "FAILURE",
      failInfo: "badCertId",
      failInfoText: "the certificate issued for this transaction has expired or was revoked; send a new enrollment request",
    });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "stale_certificate", failInfo: "badCertId" });
  });

  it("with the default retention (1 day) the finished transaction is simply gone three days later: CertPoll unknown_transaction", async () => {
    const ca = await createTestCa("Stale CA 4");
    let clock = NOW;
    const s = setup(ca, () => clock, { transactionRetentionMs: undefined as unknown as number });
    const device = await createDevice({ cn: "stale-retention", challengePassword: CHALLENGE });
    const first = await pkcsReq(ca, device, clock);
    await postPki(s.server, "/scep", first.built.der);
    await s.server.approve("p", first.built.transactionId);
    clock = new Date(NOW.getTime() + 3 * DAY);
    expect(await certPoll(ca, s.server, device, first.built.transactionId, clock)).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "no pending request with this transactionID" });
  });
});

describe("RFC 8894 §3.3.3: a revoked stored certificate is never handed out again (isRevoked hook)", () => {
  it("a re-sent PKCSReq becomes a new enrollment and a CertPoll gets badCertId once isRevoked says so", async () => {
    const ca = await createTestCa("Revoking CA");
    const revoked = new Set<string>();
    const asked: Certificate[] = [];
    const s = setup(ca, () => NOW, {
      isRevoked: async (cert) => {
        asked.push(cert);
        return revoked.has(cert.serialNumberHex);
      },
    });
    const device = await createDevice({ cn: "revoked-device", challengePassword: CHALLENGE });
    const first = await pkcsReq(ca, device, NOW);
    await postPki(s.server, "/scep", first.built.der);
    const tx = await s.server.approve("p", first.built.transactionId);
    const issuedSerial = LocalKey.from(tx.certificate!, device.keys.privateKey).certificate.serialNumberHex;
    expect((await certPoll(ca, s.server, device, first.built.transactionId, NOW)).status).toBe("SUCCESS");
    expect(asked.map((c) => c.serialNumberHex)).toEqual([issuedSerial]);

    revoked.add(issuedSerial);
    expect(await certPoll(ca, s.server, device, first.built.transactionId, NOW)).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate issued for this transaction has expired or was revoked; send a new enrollment request" });
    const before = s.calls.length;
    const again = await pkcsReq(ca, device, NOW);
    expect((await readReply(await postPki(s.server, "/scep", again.built.der), again.built)).status).toBe("PENDING");
    expect(s.calls.length).toBe(before + 1);
  });
});

describe("RFC 8894 §3.3.3, two replicas on one store: a re-send whose stored certificate is stale is issued once", () => {
  it("both replicas read the stale ISSUED record; the one that checks it later does not erase the other's claim, and one certificate is issued", async () => {
    // The record is left in place (the claim's create replaces it atomically). An unconditional delete by the later
    // replica removed the first replica's live claim (ISSUING), took its own and ran the issue hook too: two
    // certificates for one transactionID. The order is forced, not left to timing:
    // 1. B reads the stale record (its isRevoked is called), and only then does A's isRevoked answer;
    // 2. A takes the claim and runs its hook, which waits; only then does B's isRevoked answer;
    // 3. A's hook goes on once B has found A's claim (B's store read an ISSUING record: B waits in the claim loop), or,
    //    on the old code, once B runs a hook of its own.
    const ca = await createTestCa("Stale Race CA");
    const device = await createDevice({ cn: "stale-race", challengePassword: CHALLENGE });
    const start = Date.now();
    const clock = (): Date => new Date(NOW.getTime() + (Date.now() - start)); // moves: distinct fencing tokens
    const transactions = new MemoryTransactionStore({ now: clock });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const old = await ca.issue(device.csr, { notAfter: new Date(NOW.getTime() + DAY) });
    await transactions.create({ profile: "p", transactionId: built.transactionId, status: "ISSUED", csr: device.csr, signerCertificate: new Uint8Array(0), renewal: false, createdAt: NOW, updatedAt: NOW, expiresAt: new Date(NOW.getTime() + DAY), certificate: old.der, direct: true });
    const isOld = (c: Certificate): boolean => Buffer.from(c.der).equals(Buffer.from(old.der));
    const gate = (): { open: () => void; opened: Promise<void> } => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { open, opened };
    };
    const bReadStale = gate();
    const aIssuing = gate();
    const aMayIssue = gate();
    // B's view of the shared store: the same records, its reads watched for A's claim.
    const bTransactions: TransactionStore = {
      get: async (profile, id) => {
        const tx = await transactions.get(profile, id);
        if (tx?.status === "ISSUING") aMayIssue.open();
        return tx;
      },
      create: (tx) => transactions.create(tx),
      transition: (profile, id, from, update, expect) => transactions.transition(profile, id, from, update, expect),
      list: (profile, options) => transactions.list(profile, options),
      delete: (profile, id) => transactions.delete(profile, id),
    };
    const calls: IssueContext[] = [];
    const issue = issuingHook(ca, calls);
    const a = createScepServer({
      profiles: [
        {
          ...baseProfile(ca, CHALLENGE),
          transactions,
          isRevoked: async (c) => (await bReadStale.opened, isOld(c)),
          issue: async (ctx) => {
            aIssuing.open();
            await aMayIssue.opened;
            return issue(ctx);
          },
        },
      ],
      now: clock,
    });
    const b = createScepServer({
      profiles: [
        {
          ...baseProfile(ca, CHALLENGE),
          transactions: bTransactions,
          isRevoked: async (c) => {
            bReadStale.open();
            await aIssuing.opened;
            return isOld(c);
          },
          issue: async (ctx) => {
            aMayIssue.open();
            return issue(ctx);
          },
        },
      ],
      now: clock,
    });
    const [ra, rb] = await Promise.all([postPki(a, "/scep", built.der), postPki(b, "/scep", built.der)]);
    const repA = await readReply(ra, built, { decrypter: device.signer, caCertificates: [ca.cert] });
    const repB = await readReply(rb, built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect(calls).toHaveLength(1);
    expect([repA.status, repB.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(repB.certificate?.serialNumberHex).toBe(repA.certificate?.serialNumberHex);
    expect(isOld(repA.certificate!)).toBe(false);
  });
});
