/**
 * RFC 8894 §3.3.3: a device whose SUCCESS reply was lost re-sends the same
 * PKCSReq (same transactionID, key, subject and CSR; a new self-signed
 * signer and senderNonce) and must get the certificate it was issued, not a
 * second one and not a refusal of its (one-time) challenge as already used
 * (openxpki#126, OmniTrustILM/core#544). The server records a transaction the
 * issue hook answered SUCCESS as ISSUED, for `transactionRetentionMs`.
 * Everything else about the transactionID stays: another key, another
 * challenge or other extensions is a new enrollment; a renewal gets a new
 * certificate; a record that cannot be written never costs the certificate.
 */
import { describe, expect, it, vi } from "vitest";
import {
  MemoryChallengeStore,
  MemoryTransactionStore,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  generateCsr,
  LocalKey,
  type ChallengePolicy,
  type DecryptParams,
  type Decrypter,
  type IssueContext,
  type ScepEvent,
  type ScepProfile,
  type Transaction,
  type TransactionStatus,
  type TransactionStore,
  type TransactionUpdate,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, eventLog, hex, issuingHook, postPki, readReply, baseProfile, type Device, type TestCa } from "./support/server-pki.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";
import { IN_FLIGHT_WAIT_MS } from "../src/server/enrollment/in-flight.js";

const ca: TestCa = await createTestCa("Resend CA");

function setup(challenge: string | ChallengePolicy, extra: Partial<ScepProfile> = {}, clock: () => Date = () => NOW, storeTimeoutMs?: number) {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const transactions = (extra.transactions as TransactionStore | undefined) ?? new MemoryTransactionStore({ now: clock });
  const server = createScepServer({
    profiles: [{ ...baseProfile(ca, challenge), issue: issuingHook(ca, calls), transactions, ...extra }],
    onEvent: log.onEvent,
    now: clock,
    ...(storeTimeoutMs !== undefined ? { storeTimeoutMs } : {}),
  });
  return { server, calls, log, transactions };
}

/**
 * The device's PKCSReq: its CSR (`csr`, default its own), transactionID (default: its key's hash), signed by a
 * self-signed signer made now (a re-send after a lost reply makes a new one, with a new senderNonce).
 */
async function send(server: ReturnType<typeof setup>["server"], device: Device, options: { csr?: Uint8Array; transactionId?: string; at?: Date } = {}) {
  const at = options.at ?? NOW;
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: at });
  const built = await buildPkcsReq({ csr: options.csr ?? device.csr, signer, recipient: ca.cert, now: at, ...(options.transactionId ? { transactionId: options.transactionId } : {}) });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

describe("RFC 8894 §3.3.3: a re-sent PKCSReq whose SUCCESS reply was lost gets the same certificate", () => {
  it("one-time challenge (store): the re-send gets the certificate issued first, not FAILURE 'already used'; the hook ran once", async () => {
    const challenges = new MemoryChallengeStore({ now: () => NOW });
    const s = setup({ type: "store", store: challenges });
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "resend-one-time", challengePassword: challenge });

    const first = await send(s.server, device); // the reply never reaches the device
    expect(first.rep.status).toBe("SUCCESS");
    const again = await send(s.server, device);
    expect(again.built.transactionId).toBe(first.built.transactionId);
    expect(again.built.senderNonce).not.toEqual(first.built.senderNonce);
    expect([again.rep.status, again.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(hex(again.rep.certificates[1]!.der)).toBe(hex(ca.cert.der));
    expect(s.calls).toHaveLength(1);
    expect(s.log.events.map((e) => [e.outcome, e.reason])).toEqual([
      ["success", "issued"],
      ["success", "issued_resent"],
    ]);
  });

  it("static challenge: the re-send gets the same certificate, not a second one", async () => {
    const s = setup("static-secret");
    const device = await createDevice({ cn: "resend-static", challengePassword: "static-secret", san: { dns: ["resend.example"] } });
    const first = await send(s.server, device);
    const again = await send(s.server, device);
    const third = await send(s.server, device);
    expect([first.rep.status, again.rep.status, third.rep.status]).toEqual(["SUCCESS", "SUCCESS", "SUCCESS"]);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(hex(third.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(s.calls).toHaveLength(1);
  });

  it("the transaction is recorded ISSUED for transactionRetentionMs with the certificate and the CSR; neither the signer certificate nor the profile's chain is copied", async () => {
    const s = setup("static-secret", { transactionRetentionMs: 2 * DAY });
    const device = await createDevice({ cn: "resend-record", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    const tx = (await s.transactions.get("p", first.built.transactionId))!;
    expect(tx).toMatchObject({ status: "ISSUED", renewal: false, profile: "p", transactionId: first.built.transactionId });
    expect(tx.expiresAt.getTime() - NOW.getTime()).toBe(2 * DAY);
    expect(hex(tx.certificate)).toBe(hex(first.rep.certificate!.der));
    expect(hex(tx.csr)).toBe(hex(device.csr));
    expect(tx.chain).toBeUndefined();
    // A re-send's reply is encrypted to the re-send's own signer certificate: the record keeps none (issue 13, goal 4).
    expect(tx.signerCertificate).toHaveLength(0);
    // Marked as issued at once by `direct`; `reason` stays free for what it means on a REJECTED record.
    expect([tx.direct, tx.reason]).toEqual([true, undefined]);
    // Nothing waits for an operator.
    expect(await s.server.pending("p")).toEqual([]);
  });

  it("a record written before `direct` existed (reason 'issued') is still read as issued at once: the re-send is issued_resent", async () => {
    const s = setup("static-secret");
    const device = await createDevice({ cn: "resend-old-record", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    const { direct: _, ...rest } = (await s.transactions.get("p", first.built.transactionId))!;
    expect(await s.transactions.create({ ...rest, reason: "issued" })).toBe(true);
    const again = await send(s.server, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(s.log.events.map((e) => e.reason)).toEqual(["issued", "issued_resent"]);
  });

  it("after transactionRetentionMs the record is gone: the re-send is a new enrollment (a one-time challenge is then refused as used)", async () => {
    let clock = NOW;
    const challenges = new MemoryChallengeStore({ now: () => clock });
    const s = setup({ type: "store", store: challenges }, {}, () => clock);
    const challenge = await challenges.issue({ profile: "p", ttlMs: 7 * DAY });
    const device = await createDevice({ cn: "resend-late", challengePassword: challenge });
    expect((await send(s.server, device)).rep.status).toBe("SUCCESS");
    clock = new Date(NOW.getTime() + DAY); // the default retention, 1 day
    const late = await send(s.server, device, { at: clock });
    expect([late.rep.status, late.rep.failInfoText]).toEqual(["FAILURE", "challenge password invalid or already used"]);
    expect(s.calls).toHaveLength(1);
  });

  it("a revoked recorded certificate is never handed out: the re-send is a new enrollment", async () => {
    const revoked = new Set<string>();
    const s = setup("static-secret", { isRevoked: (c) => revoked.has(c.serialNumberHex) });
    const device = await createDevice({ cn: "resend-revoked", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    revoked.add(first.rep.certificate!.serialNumberHex);
    const again = await send(s.server, device);
    expect(again.rep.status).toBe("SUCCESS");
    expect(again.rep.certificate!.serialNumberHex).not.toBe(first.rep.certificate!.serialNumberHex);
    expect(s.calls).toHaveLength(2);
  });
});

describe("RFC 8894 §3.3.3: what is not a re-send after SUCCESS stays as it was", () => {
  it("same transactionID, another key (static challenge): a new certificate for that key, as before", async () => {
    const s = setup("static-secret");
    const device = await createDevice({ cn: "resend-key-a", challengePassword: "static-secret" });
    const other = await createDevice({ cn: "resend-key-a", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    const second = await send(s.server, other, { transactionId: first.built.transactionId });
    expect(second.rep.status).toBe("SUCCESS");
    expect(hex(second.rep.certificate!.spki)).toBe(hex(other.signer.certificate.spki));
    expect(s.calls).toHaveLength(2);
  });

  it("same transactionID, another key (one-time challenge): FAILURE, the challenge was used, as before", async () => {
    const challenges = new MemoryChallengeStore({ now: () => NOW });
    const s = setup({ type: "store", store: challenges });
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "resend-key-b", challengePassword: challenge });
    const other = await createDevice({ cn: "resend-key-b", challengePassword: challenge });
    const first = await send(s.server, device);
    const second = await send(s.server, other, { transactionId: first.built.transactionId });
    expect([second.rep.status, second.rep.failInfoText]).toEqual(["FAILURE", "challenge password invalid or already used"]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge" });
  });

  it("same key and transactionID with a new one-time challenge, or other SANs: a new enrollment, checked and issued anew", async () => {
    const challenges = new MemoryChallengeStore({ now: () => NOW });
    const s = setup({ type: "store", store: challenges });
    const device = await createDevice({ cn: "resend-new-intent", challengePassword: await challenges.issue({ profile: "p" }) });
    const first = await send(s.server, device);
    const fresh = await challenges.issue({ profile: "p" });
    const second = await send(s.server, device, { csr: await generateCsr({ keys: device.keys, subject: device.subject, challengePassword: fresh }) });
    expect(second.built.transactionId).toBe(first.built.transactionId);
    expect(second.rep.status).toBe("SUCCESS");
    expect(second.rep.certificate!.serialNumberHex).not.toBe(first.rep.certificate!.serialNumberHex);
    // The new challenge is spent: it is not a free pass for a third request with yet other SANs.
    const third = await send(s.server, device, { csr: await generateCsr({ keys: device.keys, subject: device.subject, challengePassword: fresh, san: { dns: ["x.example"] } }) });
    expect([third.rep.status, third.rep.failInfoText]).toEqual(["FAILURE", "challenge password invalid or already used"]);
    expect(s.calls).toHaveLength(2);
  });

  it("a renewal (signed by the certificate issued) re-sent with the same transactionID gets a new certificate each time", async () => {
    const s = setup("static-secret");
    const device = await createDevice({ cn: "resend-renewal", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    const issued = LocalKey.from(first.rep.certificate!.der, device.keys.privateKey);
    const renew = async () => {
      const built = await buildPkcsReq({ csr: device.csr, signer: issued, recipient: ca.cert, now: NOW });
      return { built, rep: await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: issued, caCertificates: [ca.cert] }) };
    };
    const a = await renew();
    const b = await renew();
    expect(a.built.transactionId).toBe(first.built.transactionId);
    expect([a.rep.status, b.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(new Set([first, a, b].map((r) => r.rep.certificate!.serialNumberHex)).size).toBe(3);
    expect(s.calls.map((c) => c.renewal)).toEqual([false, true, true]);
  });
});

describe("RFC 8894 §3.3.3: a RenewalReq is never answered from the ISSUED record", () => {
  it("a RenewalReq signed by a self-signed certificate, with the recorded request's key, CSR and transactionID: refused as not chained (renewal_not_chained), not handed the recorded certificate", async () => {
    const s = setup("static-secret");
    const device = await createDevice({ cn: "resend-selfsigned-renewal", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    expect(first.rep.status).toBe("SUCCESS");
    const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
    const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, renewal: true });
    expect(built.transactionId).toBe(first.built.transactionId);
    const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
    expect([rep.status, rep.failInfo, rep.certificate]).toEqual(["FAILURE", "badRequest", undefined]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "failure", reason: "renewal_not_chained" });
    expect(s.calls).toHaveLength(1);
  });
});

describe("RFC 8894 §3.3.3: every PKCSReq that is not a renewal is a first enrollment, whatever signed it: its re-send gets the same certificate", () => {
  /** A server with a one-time challenge store (and `extra`), and a device whose CSR carries a fresh challenge of it. */
  async function oneTime(cn: string, extra: Partial<ScepProfile> = {}) {
    const challenges = new MemoryChallengeStore({ now: () => NOW });
    const s = setup({ type: "store", store: challenges }, extra);
    const device = await createDevice({ cn, challengePassword: await challenges.issue({ profile: "p" }) });
    return { s, device };
  }

  /** The device's CSR in a PKCSReq signed by `signer` (the reply is encrypted to it); transactionID from the CSR's key. */
  async function sendSignedBy(server: ReturnType<typeof setup>["server"], device: Device, signer: LocalKey) {
    const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW });
    return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
  }

  /** First request SUCCESS; the identical re-send (same transactionID, CSR, signer) gets the same certificate; the hook ran once. */
  async function expectSameCertificateOnResend(s: ReturnType<typeof setup>, device: Device, signer: LocalKey, reason: string) {
    const first = await sendSignedBy(s.server, device, signer); // the reply never reaches the device
    expect([first.rep.status, first.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
    const again = await sendSignedBy(s.server, device, signer);
    expect(again.built.transactionId).toBe(first.built.transactionId);
    expect([again.rep.status, again.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
    expect(again.rep.certificate!.serialNumberHex).toBe(first.rep.certificate!.serialNumberHex);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(s.calls.map((c) => c.renewal)).toEqual([false]);
    expect(s.log.events.map((e) => [e.operation, e.outcome, e.reason, e.renewal])).toEqual([
      ["PKCSReq", "success", "issued", false],
      ["PKCSReq", "success", reason, false],
    ]);
    const tx = (await s.transactions.get("p", first.built.transactionId))!;
    expect([tx.status, tx.direct, tx.renewal, hex(tx.certificate)]).toEqual(["ISSUED", true, false, hex(first.rep.certificate!.der)]);
  }

  it("signed by another CA's certificate (a manufacturer's IDevID, its own key): the re-send gets the same certificate, not FAILURE 'already used'", async () => {
    const { s, device } = await oneTime("first-idevid");
    const maker = await createTestCa("Manufacturer CA");
    const idevid = await createDevice({ cn: "idevid-0001" });
    const signer = LocalKey.from(await maker.issue(idevid.csr), idevid.keys.privateKey);
    await expectSameCertificateOnResend(s, device, signer, "issued_resent");
  });

  it("signed by this CA's expired certificate (a first enrollment, by its challenge): the re-send gets the same certificate", async () => {
    const { s, device } = await oneTime("first-expired-signer");
    const lapsed = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() - DAY) });
    await expectSameCertificateOnResend(s, device, LocalKey.from(lapsed.der, device.keys.privateKey), "issued_resent");
  });

  it("signed by this CA's certificate that is not yet valid: the re-send gets the same certificate", async () => {
    const { s, device } = await oneTime("first-future-signer");
    const future = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() + DAY), notAfter: new Date(NOW.getTime() + 30 * DAY) });
    await expectSameCertificateOnResend(s, device, LocalKey.from(future.der, device.keys.privateKey), "issued_resent");
  });

  it("signed by this CA's revoked certificate (isRevoked): the re-send gets the same certificate; only the signer is revoked", async () => {
    const revoked = new Set<string>();
    const { s, device } = await oneTime("first-revoked-signer", { isRevoked: (c) => revoked.has(c.serialNumberHex) });
    const old = await ca.issue(device.csr);
    revoked.add(old.serialNumberHex);
    await expectSameCertificateOnResend(s, device, LocalKey.from(old.der, device.keys.privateKey), "issued_resent");
  });

  it("signed by this CA's valid certificate for other names (an RA signing on behalf of the device, openxpki#337; renewalSameNames): the re-send gets the same certificate", async () => {
    const { s, device } = await oneTime("first-ra-signed");
    await expectSameCertificateOnResend(s, device, await ca.ra("CN=Enrollment RA, O=scep-sdk server tests"), "issued_resent");
  });

  it("a real renewal (PKCSReq signed by the valid certificate issued, asking for its names) sent twice still gets two certificates, after a first enrollment signed by another CA recorded with its transactionID", async () => {
    const { s, device } = await oneTime("renewal-after-idevid");
    const maker = await createTestCa("Manufacturer CA 2");
    const idevid = await createDevice({ cn: "idevid-0002" });
    const first = await sendSignedBy(s.server, device, LocalKey.from(await maker.issue(idevid.csr), idevid.keys.privateKey));
    expect(first.rep.status).toBe("SUCCESS");
    const issued = LocalKey.from(first.rep.certificate!.der, device.keys.privateKey);
    const a = await sendSignedBy(s.server, device, issued);
    const b = await sendSignedBy(s.server, device, issued);
    expect([a.built.transactionId, b.built.transactionId]).toEqual([first.built.transactionId, first.built.transactionId]);
    expect([a.rep.status, b.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(new Set([first, a, b].map((r) => r.rep.certificate!.serialNumberHex)).size).toBe(3);
    expect(s.calls.map((c) => c.renewal)).toEqual([false, true, true]);
    expect(s.log.events.map((e) => [e.reason, e.renewal])).toEqual([
      ["issued", false],
      ["issued", true],
      ["issued", true],
    ]);
  });
});

describe("RFC 8894 §3.3.3: a record that cannot be written never costs the issued certificate", () => {
  /** A store whose ISSUED write (the claim's ISSUING→ISSUED) fails or never answers; everything else as in memory. */
  class FailingIssuedRecords extends MemoryTransactionStore {
    constructor(readonly mode: "reject" | "hang") {
      super({ now: () => NOW });
    }
    override async transition(profile: string, id: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> {
      if (update.status !== "ISSUED") return super.transition(profile, id, from, update, expect);
      if (this.mode === "hang") return new Promise<Transaction | undefined>(() => undefined);
      throw new Error("redis: connection reset");
    }
  }

  for (const mode of ["reject", "hang"] as const) {
    it(`a create that ${mode === "reject" ? "rejects" : "never answers (storeTimeoutMs)"}: SUCCESS with the certificate, event reason issued_not_recorded, never a 5xx`, async () => {
      const s = setup("static-secret", { transactions: new FailingIssuedRecords(mode) }, () => NOW, 50);
      const device = await createDevice({ cn: `resend-unrecorded-${mode}`, challengePassword: "static-secret" });
      const first = await send(s.server, device);
      expect(first.rep.status).toBe("SUCCESS");
      expect(hex(first.rep.certificate!.spki)).toBe(hex(device.signer.certificate.spki));
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued_not_recorded", status: 200, serial: first.rep.certificate!.serialNumberHex });
      expect(await s.server.stats()[0]!.reasons).toMatchObject({ issued_not_recorded: 1 });
    });
  }
});

/** A promise and its settlers, for a store call the test decides when to answer. */
function held<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Events as they arrive, and a wait for the n-th (1-based). */
function eventWaiter() {
  const events: ScepEvent[] = [];
  const waiting: { n: number; resolve: (e: ScepEvent) => void }[] = [];
  const onEvent = (e: ScepEvent): void => {
    events.push(e);
    for (const w of waiting.filter((w) => w.n === events.length)) w.resolve(e);
  };
  const nth = (n: number): Promise<ScepEvent> => (events.length >= n ? Promise.resolve(events[n - 1]!) : new Promise((resolve) => waiting.push({ n, resolve })));
  return { events, onEvent, nth };
}

describe("RFC 8894 §3.3.3: a slow transaction store never holds the SUCCESS; the event says what became of the record", () => {
  /** Memory store whose ISSUED writes (the claim's ISSUING→ISSUED) wait for the test: it answers each (its own write first when resolving true). */
  class HeldIssuedRecords extends MemoryTransactionStore {
    readonly pending: ReturnType<typeof held<boolean>>[] = [];
    constructor() {
      super({ now: () => NOW });
    }
    override async transition(profile: string, id: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> {
      if (update.status !== "ISSUED") return super.transition(profile, id, from, update, expect);
      const h = held<boolean>();
      this.pending.push(h);
      return h.promise.then(async (ok) => (ok ? await super.transition(profile, id, from, update, expect) : undefined));
    }
  }

  function slowSetup(transactions: TransactionStore, storeTimeoutMs: number) {
    const calls: IssueContext[] = [];
    const log = eventWaiter();
    const server = createScepServer({
      profiles: [{ ...baseProfile(ca, "static-secret"), issue: issuingHook(ca, calls), transactions }],
      onEvent: log.onEvent,
      now: () => NOW,
      storeTimeoutMs,
    });
    return { server, calls, log };
  }

  it("a create that answers only after the reply: SUCCESS without waiting for it (storeTimeoutMs 5 s); the event follows with reason issued; the re-send gets that certificate", async () => {
    const store = new HeldIssuedRecords();
    const s = slowSetup(store, 5000);
    const device = await createDevice({ cn: "resend-slow-store", challengePassword: "static-secret" });
    const started = performance.now();
    const first = await send(s.server, device);
    const ms = performance.now() - started;
    expect(first.rep.status).toBe("SUCCESS");
    // The store has not answered: the reply did not wait for it, and no event guessed the record's fate.
    expect(store.pending).toHaveLength(1);
    expect(s.log.events).toEqual([]);
    expect(ms).toBeLessThan(2500); // 100 ms of waiting for the record, far below the 5 s store timeout
    store.pending[0]!.resolve(true);
    expect(await s.log.nth(1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200, serial: first.rep.certificate!.serialNumberHex });
    const again = await send(s.server, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(s.log.events.map((e) => e.reason)).toEqual(["issued", "issued_resent"]);
    expect(s.calls).toHaveLength(1);
  });

  it("a create that rejects after the reply left: the event says issued_not_recorded, counted once; no unhandled rejection", async () => {
    const unhandled = await unhandledRejectionsDuring(async () => {
      const store = new HeldIssuedRecords();
      const s = slowSetup(store, 5000);
      const device = await createDevice({ cn: "resend-late-reject", challengePassword: "static-secret" });
      const first = await send(s.server, device);
      expect(first.rep.status).toBe("SUCCESS");
      expect(s.log.events).toEqual([]);
      store.pending[0]!.reject(new Error("redis: connection reset"));
      expect(await s.log.nth(1)).toMatchObject({ outcome: "success", reason: "issued_not_recorded", status: 200 });
      expect(s.server.stats()[0]!.reasons).toEqual({ issued_not_recorded: 1 });
    });
    expect(unhandled).toEqual([]);
  });

  it("a create that never answers: SUCCESS at once; after storeTimeoutMs (400 ms) the event says issued_not_recorded; no unhandled rejection", async () => {
    const unhandled = await unhandledRejectionsDuring(async () => {
      const store = new HeldIssuedRecords(); // never settled by the test
      const s = slowSetup(store, 400);
      const device = await createDevice({ cn: "resend-hung-store", challengePassword: "static-secret" });
      const first = await send(s.server, device);
      expect(first.rep.status).toBe("SUCCESS");
      expect(s.log.events).toEqual([]);
      expect(await s.log.nth(1)).toMatchObject({ outcome: "success", reason: "issued_not_recorded", status: 200 });
    });
    expect(unhandled).toEqual([]);
  });
});

describe("RFC 8894 §3.3.3: a re-send reads its transaction once and asks isRevoked once", () => {
  /** The real memory store, counting get calls. */
  class CountingStore extends MemoryTransactionStore {
    gets = 0;
    constructor() {
      super({ now: () => NOW });
    }
    override async get(profile: string, transactionId: string): Promise<Transaction | undefined> {
      this.gets++;
      return super.get(profile, transactionId);
    }
  }

  it("after SUCCESS: the re-send costs one get and one isRevoked call, and gets the same certificate", async () => {
    const store = new CountingStore();
    let revokedAsks = 0;
    const s = setup("static-secret", { transactions: store, isRevoked: () => (revokedAsks++, false) });
    const device = await createDevice({ cn: "resend-one-read", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    const [gets, asks] = [store.gets, revokedAsks];
    const again = await send(s.server, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect([store.gets - gets, revokedAsks - asks]).toEqual([1, 1]);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "issued_resent" });
  });

  it("while PENDING: the re-send costs one get and gets PENDING", async () => {
    const store = new CountingStore();
    const s = setup("static-secret", { transactions: store, issue: async () => ({ status: "PENDING" }) });
    const device = await createDevice({ cn: "resend-one-read-pending", challengePassword: "static-secret" });
    expect((await send(s.server, device)).rep.status).toBe("PENDING");
    const gets = store.gets;
    expect((await send(s.server, device)).rep.status).toBe("PENDING");
    expect(store.gets - gets).toBe(1);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "still_pending" });
  });
});

describe("RFC 8894 §3.2.1.1, §3.3.3: a transactionID another key's request holds", () => {
  /** The failInfoText of `transaction_id_in_use`, true whether the holder waits PENDING or is being issued. */
  const IN_USE = "the transactionID is in use by a request for another key or subject (pending or being issued); send a new transactionID";

  it("another key's request with this transactionID waits PENDING: FAILURE badRequest transaction_id_in_use before the issue hook runs, and that PENDING record stays", async () => {
    const calls: IssueContext[] = [];
    const s = setup("static-secret", {
      issue: issuingHook(ca, calls, (ctx) => (ctx.csr.subject.includes("resend-refused-a") ? { status: "PENDING" } : undefined)),
    });
    const waiting = await createDevice({ cn: "resend-refused-a", challengePassword: "static-secret" });
    const other = await createDevice({ cn: "resend-refused-b", challengePassword: "static-secret" });
    const first = await send(s.server, waiting);
    expect(first.rep.status).toBe("PENDING");
    const second = await send(s.server, other, { transactionId: first.built.transactionId });
    expect([second.rep.status, second.rep.failInfo, second.rep.failInfoText]).toEqual(["FAILURE", "badRequest", IN_USE]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "transaction_id_in_use" });
    expect(calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("resend-refused-a")]);
    const tx = await s.transactions.get("p", first.built.transactionId);
    expect([tx?.status, hex(tx?.csr)]).toEqual(["PENDING", hex(waiting.csr)]);
  });

  it("another key's request with this transactionID is being issued (ISSUING, its hook running): FAILURE badRequest transaction_id_in_use, whose text does not call it pending; the holder is issued", async () => {
    const entered = held<void>();
    const release = held<void>();
    const calls: IssueContext[] = [];
    const issue = issuingHook(ca, calls);
    const s = setup("static-secret", { issue: async (ctx) => (entered.resolve(), await release.promise, issue(ctx)), claimLeaseMs: 300 });
    // A second replica on the same store: the other key's request waits for the claim there (a claimLeaseMs, the
    // shortest here, and a margin), not in this process (IN_FLIGHT_WAIT_MS, 10 s), before it is refused.
    const replica = setup("static-secret", { transactions: s.transactions, claimLeaseMs: 300 });
    const holder = await createDevice({ cn: "resend-issuing-a", challengePassword: "static-secret" });
    const other = await createDevice({ cn: "resend-issuing-b", challengePassword: "static-secret" });
    const first = send(s.server, holder);
    await entered.promise;
    const [claim] = await s.transactions.list("p", { status: "ISSUING" });
    expect(hex(claim?.csr)).toBe(hex(holder.csr));
    const second = await send(replica.server, other, { transactionId: claim!.transactionId });
    expect([second.rep.status, second.rep.failInfo, second.rep.failInfoText]).toEqual(["FAILURE", "badRequest", IN_USE]);
    expect(replica.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "transaction_id_in_use" });
    expect(replica.calls).toEqual([]);
    release.resolve();
    expect((await first).rep.status).toBe("SUCCESS");
    expect(calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("resend-issuing-a")]);
  });
});

describe("RFC 8894 §3.3.3: only a first enrollment is recorded (its re-send is the only one answered from a record)", () => {
  /** The real memory store, counting create calls. */
  class CountingCreates extends MemoryTransactionStore {
    creates = 0;
    constructor() {
      super({ now: () => NOW });
    }
    override async create(tx: Transaction): Promise<boolean> {
      this.creates++;
      return super.create(tx);
    }
  }

  it("self-signed first enrollment: one create; RenewalReq, PKCSReq signed by its valid certificate: none; the same PKCSReq signed by a lapsed one is a first enrollment's re-send, answered from the record", async () => {
    const store = new CountingCreates();
    const s = setup("static-secret", { transactions: store });
    const device = await createDevice({ cn: "resend-record-count", challengePassword: "static-secret" });
    const first = await send(s.server, device);
    expect([first.rep.status, store.creates]).toEqual(["SUCCESS", 1]);

    const issued = LocalKey.from(first.rep.certificate!.der, device.keys.privateKey);
    const lapsedCert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() - DAY) });
    const lapsed = LocalKey.from(lapsedCert.der, device.keys.privateKey);
    const signedBy = async (signer: LocalKey, renewal: boolean) => {
      const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, renewal });
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
      return [rep.status, s.log.events.at(-1)!.renewal, store.creates];
    };
    expect(await signedBy(issued, true)).toEqual(["SUCCESS", true, 1]); // RenewalReq
    expect(await signedBy(issued, false)).toEqual(["SUCCESS", true, 1]); // PKCSReq signed by this CA's certificate: a renewal
    expect(await signedBy(lapsed, false)).toEqual(["SUCCESS", false, 1]); // a first enrollment: the re-send of the recorded one
    expect(s.log.events.at(-1)!.reason).toBe("issued_resent");
    expect(s.calls).toHaveLength(3);
  });
});

describe("RFC 8894 §3.3.3: identical PKCSReqs at once, in one process, share one issuance", () => {
  it("the second, decoded while the first's issue hook runs, waits for it and gets the same certificate (issued_resent); the hook ran once", async () => {
    // Both requests are decrypted (counted on the real CA key) before the first's hook may answer.
    let decrypts = 0;
    const bothDecoded = held<void>();
    const counting: Decrypter = {
      certificate: ca.key.certificate,
      decrypt: (key: Uint8Array, params: DecryptParams) => {
        if (++decrypts === 2) bothDecoded.resolve();
        return ca.key.decrypt(key, params);
      },
    };
    const calls: IssueContext[] = [];
    const entered = held<void>();
    const hook = issuingHook(ca, calls);
    const s = setup("static-secret", {
      decrypters: [counting],
      issue: async (ctx) => {
        if (calls.length === 0) {
          entered.resolve();
          await bothDecoded.promise; // the first call holds until the second request is in the server
        }
        return hook(ctx);
      },
    });
    const device = await createDevice({ cn: "resend-concurrent", challengePassword: "static-secret" });
    const [a, b] = await Promise.all([send(s.server, device), entered.promise.then(() => send(s.server, device))]);
    expect([a.rep.status, b.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(b.built.transactionId).toBe(a.built.transactionId);
    expect(hex(b.rep.certificate!.der)).toBe(hex(a.rep.certificate!.der));
    expect(calls).toHaveLength(1);
    expect(s.log.events.map((e) => e.reason)).toEqual(["issued", "issued_resent"]);
  });

  it(`a hook that hangs holds the identical request back at most IN_FLIGHT_WAIT_MS (${IN_FLIGHT_WAIT_MS / 1000} s) in this process: then it goes on to the claim phase, which waits a claim lease more and answers PENDING`, async () => {
    const release = held<void>();
    const entered = held<void>();
    const calls: IssueContext[] = [];
    const hook = issuingHook(ca, calls);
    let hung = false;
    const s = setup("static-secret", {
      issue: async (ctx) => {
        if (!hung) {
          hung = true;
          entered.resolve();
          await release.promise; // the first request's hook hangs until the end of the test
        }
        return hook(ctx);
      },
    });
    const device = await createDevice({ cn: "resend-hung-hook", challengePassword: "static-secret" });
    const first = send(s.server, device);
    await entered.promise;
    const started = performance.now();
    const second = await send(s.server, device);
    const waited = performance.now() - started;
    // Then the first's claim on the transactionID (claim.ts, renewed while the hook hangs) answers it PENDING after
    // claimLeaseMs and a second more: no second issuance.
    expect(second.rep.status).toBe("PENDING");
    expect(s.log.events.at(-1)).toMatchObject({ reason: "still_pending" });
    expect(waited).toBeGreaterThanOrEqual(IN_FLIGHT_WAIT_MS - 50);
    expect(calls).toHaveLength(0); // the first's hook still hangs
    release.resolve();
    const issued = (await first).rep;
    expect(issued.status).toBe("SUCCESS");
    expect(calls).toHaveLength(1);
    await vi.waitFor(() => expect(s.log.events).toHaveLength(2)); // the first's record settled
    const again = await send(s.server, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(issued.certificate!.der));
  }, IN_FLIGHT_WAIT_MS + 30_000);

  it("another transactionID does not wait: a second device's request is issued while the first's hook is held", async () => {
    const release = held<void>();
    const calls: IssueContext[] = [];
    const hook = issuingHook(ca, calls);
    const s = setup("static-secret", {
      issue: async (ctx) => {
        if (ctx.csr.subject.includes("resend-held")) await release.promise;
        return hook(ctx);
      },
    });
    const held1 = await createDevice({ cn: "resend-held", challengePassword: "static-secret" });
    const free = await createDevice({ cn: "resend-free", challengePassword: "static-secret" });
    const first = send(s.server, held1);
    expect((await send(s.server, free)).rep.status).toBe("SUCCESS"); // while the first is held
    release.resolve();
    expect((await first).rep.status).toBe("SUCCESS");
  });
});
