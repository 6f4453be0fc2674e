/**
 * The claim a first enrollment (a self-signed PKCSReq) takes on its transactionID before its challenge and issue
 * hook (`enrollment/claim.ts`; RFC 8894 §3.3.3): every way the hook can end leaves the store as a retry needs it.
 * Two servers on one MemoryTransactionStore stand for two replicas (each has its own in-process wait). Cross-replica
 * PENDING and `transaction_id_in_use` on a real Redis: packages/redis, rfc8894.server.replicas-one-issuance.
 */
import { describe, expect, it } from "vitest";
import { LocalKey, MemoryTransactionStore, buildPkcsReq, createScepServer, createSelfSignedSigner, type IssueContext, type IssueHook, type ScepEvent, type ScepServer } from "../src/index.js";
import { NOW, afterClaimEnds, baseProfile, certPollAt, createDevice, createTestCa, hex, issuingHook, postPki, readReply, writeDeadClaim, type Device } from "./support/server-pki.js";

const ca = await createTestCa("Claim CA");
const CHALLENGE = "claim-static";
const LEASE_MS = 60_000;

/**
 * Two replicas sharing one store and one issue hook; `clock` moves both servers' and the store's time (with
 * `running`, it runs from NOW at the speed of real time, so claims lapse and renewals extend them as in production).
 */
function replicas(issue: IssueHook, o: { claimLeaseMs?: number; approvalLeaseMs?: number; running?: boolean } = {}) {
  const clock = { now: NOW };
  const started = performance.now();
  const now = o.running ? (): Date => new Date(NOW.getTime() + (performance.now() - started)) : (): Date => clock.now;
  const transactions = new MemoryTransactionStore({ now });
  const events: ScepEvent[] = [];
  const settled: Array<() => void> = [];
  const make = (): ScepServer =>
    createScepServer({
      profiles: [{ ...baseProfile(ca, CHALLENGE), transactions, issue, approvalLeaseMs: o.approvalLeaseMs ?? LEASE_MS, ...(o.claimLeaseMs ? { claimLeaseMs: o.claimLeaseMs } : {}) }],
      now,
      onEvent: (e) => {
        events.push(e);
        for (const s of settled.splice(0)) s();
      },
    });
  const nextEvent = (): Promise<void> => new Promise((resolve) => settled.push(resolve));
  return { a: make(), b: make(), transactions, events, clock, now, nextEvent };
}

async function send(server: ScepServer, device: Device, transactionId?: string) {
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  return { built, signer, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * An issuing hook (calls recorded in `calls`; `answer` as `issuingHook`'s) that holds the next call once `arm()`ed,
 * until `held.open()`; `entered` opens when it holds one.
 */
function gatedHook(calls: IssueContext[], answer?: Parameters<typeof issuingHook>[2]) {
  const held = gate();
  const entered = gate();
  const issue = issuingHook(ca, calls, answer);
  let armed = false;
  const hook: IssueHook = async (ctx) => {
    if (armed) {
      armed = false;
      entered.open();
      await held.promise;
    }
    return issue(ctx);
  };
  return { hook, held, entered, arm: () => void (armed = true) };
}

describe("RFC 8894 §3.3.3: a first enrollment's claim on its transactionID", () => {
  it("the hook answers FAILURE: the claim is let go, and a retry with the transactionID runs the hook again", async () => {
    const calls: IssueContext[] = [];
    let refuse = true;
    const r = replicas(issuingHook(ca, calls, () => (refuse ? { status: "FAILURE", failInfo: "badRequest", failInfoText: "not now" } : undefined)));
    const device = await createDevice({ cn: "claim-refused", challengePassword: CHALLENGE });
    const first = await send(r.a, device);
    expect([first.rep.status, first.rep.failInfoText]).toEqual(["FAILURE", "not now"]);
    expect(await r.transactions.get("p", first.built.transactionId)).toBeUndefined();
    refuse = false;
    const retry = await send(r.b, device);
    expect(retry.rep.status).toBe("SUCCESS");
    expect(calls).toHaveLength(2);
  });

  it("another key's request under an ISSUED transaction's transactionID, with a wrong challenge: FAILURE, and the record stays for the first device's re-send (no claim erases it before the challenge)", async () => {
    const calls: IssueContext[] = [];
    const r = replicas(issuingHook(ca, calls));
    const device = await createDevice({ cn: "claim-recorded", challengePassword: CHALLENGE });
    const intruder = await createDevice({ cn: "claim-intruder", challengePassword: "wrong" });
    const recorded = r.nextEvent();
    const first = await send(r.a, device);
    await recorded;
    const refused = await send(r.b, intruder, first.built.transactionId);
    expect([refused.rep.status, r.events.at(-1)?.reason]).toEqual(["FAILURE", "bad_challenge"]);
    const again = await send(r.b, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(r.events.at(-1)).toMatchObject({ reason: "issued_resent" });
    expect(calls).toHaveLength(1);
  });

  it("the hook throws (500): the claim is let go, and a retry runs the hook again", async () => {
    let calls = 0;
    const hook = issuingHook(ca);
    const r = replicas(async (ctx) => {
      if (++calls === 1) throw new Error("the CA is down");
      return hook(ctx);
    });
    const device = await createDevice({ cn: "claim-threw", challengePassword: CHALLENGE });
    const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
    const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW });
    expect((await postPki(r.a, "/scep", built.der)).status).toBe(500);
    expect(await r.transactions.get("p", built.transactionId)).toBeUndefined();
    expect((await send(r.b, device)).rep.status).toBe("SUCCESS");
    expect(calls).toBe(2);
  });

  it("the hook answers PENDING: the claim becomes the PENDING transaction an operator approves, and the CertPoll gets the certificate", async () => {
    const calls: IssueContext[] = [];
    const r = replicas(issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })));
    const device = await createDevice({ cn: "claim-pending", challengePassword: CHALLENGE });
    const first = await send(r.a, device);
    expect(first.rep.status).toBe("PENDING");
    const tid = first.built.transactionId;
    const tx = await r.transactions.get("p", tid);
    expect([tx?.status, tx?.direct, tx?.challengeValidated, hex(tx?.signerCertificate) !== ""]).toEqual(["PENDING", undefined, true, true]);
    expect((await r.b.pending()).map((t) => t.transactionId)).toEqual([tid]);
    await r.b.approve("p", tid);
    const polled = await certPollAt(r.a, "/scep", ca, device, tid);
    expect(polled.status).toBe("SUCCESS");
    expect(hex(polled.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
    expect(calls).toHaveLength(2);
  });

  it("while the hook runs, the claim is no request to approve: pending() leaves it out and approve refuses it", async () => {
    const held = gate();
    const entered = gate();
    const hook = issuingHook(ca);
    const r = replicas(async (ctx) => {
      entered.open();
      await held.promise;
      return hook(ctx);
    });
    const device = await createDevice({ cn: "claim-not-approvable", challengePassword: CHALLENGE });
    const first = send(r.a, device);
    await entered.promise;
    const [claim] = await r.transactions.list("p", { status: "ISSUING" });
    expect(claim?.direct).toBe(true);
    expect(await r.a.pending()).toEqual([]);
    await expect(r.b.approve("p", claim!.transactionId)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    held.open();
    expect((await first).rep.status).toBe("SUCCESS");
  });

  it("a claim found taken whose holder finishes before it is read: the same key with other extensions is not handed the holder's certificate, it is enrolled as policy enrolls it", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook);
    const device = await createDevice({ cn: "claim-race", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "claim-race", challengePassword: CHALLENGE, keys: device.keys, san: { dns: ["other.claim-race.example"] } });
    const tid = "claim-race-transaction";
    // `other`'s policy phase finds nothing; at its claim's create the device's claim is live (refused), and by its read
    // the device's enrollment has finished (ISSUED).
    let finished: Promise<Awaited<ReturnType<typeof send>>> | undefined;
    const create = r.transactions.create.bind(r.transactions);
    r.transactions.create = async (tx) => {
      if (!finished && hex(tx.csr) === hex(other.csr)) {
        arm();
        const recorded = r.nextEvent();
        finished = send(r.a, device, tid);
        await entered.promise;
        const refused = await create(tx);
        held.open();
        await finished;
        await recorded;
        return refused;
      }
      return create(tx);
    };
    const raced = await send(r.b, other, tid);
    const first = (await finished!).rep;
    expect([first.status, raced.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(hex(raced.rep.certificate!.der)).not.toBe(hex(first.certificate!.der));
    expect(r.events.at(-1)).toMatchObject({ reason: "issued" });
    expect(calls).toHaveLength(2);
    const tx = await r.transactions.get("p", tid);
    expect(hex(tx?.certificate)).toBe(hex(raced.rep.certificate!.der)); // replaced once issued, as policy replaces it
  });

  it("a hook slower than the lease, with nobody taking the transactionID over: its certificate is still recorded, and the re-send gets it (no second issuance)", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook);
    arm();
    const device = await createDevice({ cn: "claim-slow-hook", challengePassword: CHALLENGE });
    const slow = send(r.a, device);
    await entered.promise;
    r.clock.now = new Date(NOW.getTime() + LEASE_MS); // the claim's lease lapses while the hook runs
    const recorded = r.nextEvent();
    held.open();
    const first = (await slow).rep;
    expect(first.status).toBe("SUCCESS");
    await recorded;
    expect(r.events.at(-1)).toMatchObject({ outcome: "success", reason: "issued" });
    const tx = await r.transactions.get("p", (await slow).built.transactionId);
    expect([tx?.status, hex(tx?.certificate)]).toEqual(["ISSUED", hex(first.certificate!.der)]);
    const again = await send(r.b, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.certificate!.der));
    expect(r.events.at(-1)).toMatchObject({ reason: "issued_resent" });
    expect(calls).toHaveLength(1);
  });

  it("a claim whose lease lapsed (its replica stalled mid-issue) is taken over: the new holder issues and its record stands; the late holder's ISSUED write is refused (issued_not_recorded)", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook, { claimLeaseMs: 300 });
    // The stalled replica renews nothing (its event loop is stuck in the hook, as far as the store can tell).
    const transition = r.transactions.transition.bind(r.transactions);
    r.transactions.transition = async (profile, tid, from, update, expect) => (from === "ISSUING" && update.status === "ISSUING" ? undefined : transition(profile, tid, from, update, expect));
    arm();
    const device = await createDevice({ cn: "claim-takeover", challengePassword: CHALLENGE });
    const stalled = send(r.a, device);
    await entered.promise;
    expect((await send(r.b, device)).rep.status).toBe("PENDING"); // within the lease (the frozen clock): waited for it, then PENDING
    r.clock.now = new Date(NOW.getTime() + LEASE_MS);
    const takenOver = await send(r.b, device);
    expect(takenOver.rep.status).toBe("SUCCESS");
    const recorded = r.nextEvent();
    held.open();
    const late = (await stalled).rep;
    expect(late.status).toBe("SUCCESS"); // the device is never refused a certificate it was issued
    await recorded;
    expect(r.events.at(-1)).toMatchObject({ outcome: "success", reason: "issued_not_recorded" });
    const tx = await r.transactions.get("p", takenOver.built.transactionId);
    expect([tx?.status, hex(tx?.certificate)]).toEqual(["ISSUED", hex(takenOver.rep.certificate!.der)]);
    const again = await send(r.a, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(takenOver.rep.certificate!.der));
    expect(calls).toHaveLength(2);
  });

  it("a replica that died mid-issue holds the transactionID one claimLeaseMs at most: on another replica, the device's re-send and another subject under that transactionID wait for its claim to lapse and are issued", async () => {
    const calls: IssueContext[] = [];
    const r = replicas(issuingHook(ca, calls), { claimLeaseMs: 600, running: true });
    const device = await createDevice({ cn: "claim-dead-holder", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "claim-dead-holder-other", challengePassword: CHALLENGE, keys: device.keys });
    const tid = "claim-dead-holder-transaction";
    expect(await writeDeadClaim(r.transactions, device, tid, r.now(), 600)).toBe(true);
    // Before: the re-send was answered PENDING from the dead claim (and its CertPolls, once it lapsed, badCertId), the
    // other subject FAILURE transaction_id_in_use, for the whole lease (then approvalLeaseMs, 5 minutes).
    const [resent, another] = await Promise.all([send(r.b, device, tid), send(r.a, other, tid)]);
    expect([resent.rep.status, another.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(calls.map((c) => c.csr.subject).sort()).toEqual([expect.stringContaining("claim-dead-holder"), expect.stringContaining("claim-dead-holder-other")]);
    expect(hex(resent.rep.certificate!.der)).not.toBe(hex(another.rep.certificate!.der));
    expect(r.events.filter((e) => e.reason === "transaction_id_in_use" || e.reason === "still_pending")).toEqual([]);
  });

  it("a hook slower than many claim leases keeps its claim (renewed every third of claimLeaseMs): the same request on another replica waits, then gets PENDING, never a second issuance; then both get the one certificate", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook, { claimLeaseMs: 300, running: true });
    arm();
    const device = await createDevice({ cn: "claim-renewed", challengePassword: CHALLENGE });
    const slow = send(r.a, device);
    await entered.promise;
    await new Promise((resolve) => setTimeout(resolve, 700)); // more than two leases into the hook
    const copy = await send(r.b, device); // waits claimLeaseMs and a second: the claim is renewed all along
    expect(copy.rep.status).toBe("PENDING");
    expect(calls).toHaveLength(0); // the held call records itself once let through: no other call went by
    // Renewed, not leased long: it lapses within one claimLeaseMs of now (before: approvalLeaseMs after it was taken).
    const claim = await r.transactions.get("p", copy.built.transactionId);
    const left = claim!.expiresAt.getTime() - r.now().getTime();
    expect([claim?.status, left > 0 && left <= 300]).toEqual(["ISSUING", true]);
    const recorded = r.nextEvent();
    held.open();
    const first = (await slow).rep;
    expect(first.status).toBe("SUCCESS");
    await recorded;
    const again = await send(r.b, device);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.certificate!.der));
    expect(calls).toHaveLength(1);
  });

  it("a claim let go just before the wait's last read (the holder's hook answered FAILURE just then): the waiting request takes the transactionID and is issued, not told FAILURE badCertId unknown_transaction", async () => {
    const gate = { open: (): void => undefined };
    const opened = new Promise<void>((resolve) => (gate.open = resolve));
    const hook = issuingHook(ca);
    let first = true;
    const r = replicas(
      async (ctx) => {
        if (!first) return hook(ctx);
        first = false;
        await opened;
        return { status: "FAILURE", failInfo: "badRequest", failInfoText: "not now" };
      },
      { claimLeaseMs: 300, running: true },
    );
    const holder = await createDevice({ cn: "claim-end-holder", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "claim-end-other", challengePassword: CHALLENGE });
    const tid = "claim-end-transaction";
    const held = send(r.a, holder, tid);
    while ((await r.transactions.get("p", tid)) === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    const get = r.transactions.get.bind(r.transactions);
    let firstGet: number | undefined;
    r.transactions.get = async (profile, transactionId) => {
      firstGet ??= performance.now(); // the waiting request's policy read
      // The wait's last read (one lease and a second after it began): the holder lets go just before it.
      if (performance.now() - firstGet >= 300 + 1000 - 5) {
        gate.open();
        await held;
      }
      return get(profile, transactionId);
    };
    const waited = await send(r.b, other, tid);
    expect([waited.rep.status, waited.rep.failInfo]).toEqual(["SUCCESS", undefined]);
    expect((await held).rep.status).toBe("FAILURE");
  });

  it("claimLeaseMs under 300 ms, over 2^31 - 1 ms (its renewal timer would fire every millisecond), or not a number: createScepServer throws ERR_INVALID_ARGUMENT naming the option", () => {
    for (const claimLeaseMs of [0, 299, 2_147_483_648, 7e9, Number.NaN, Number.POSITIVE_INFINITY, "1000" as unknown as number]) {
      expect(() => createScepServer({ profiles: [{ ...baseProfile(ca, CHALLENGE), issue: issuingHook(ca), claimLeaseMs }] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringContaining("claimLeaseMs") }));
    }
  });

  it("an issue hook that never settles (an upstream call without a timeout) keeps its claim approvalLeaseMs at most: renewals stop, and the device's re-send on another replica is issued", async () => {
    const hook = issuingHook(ca);
    let first = true;
    const r = replicas(
      async (ctx) => {
        if (first) {
          first = false;
          return new Promise<never>(() => undefined);
        }
        return hook(ctx);
      },
      { claimLeaseMs: 300, approvalLeaseMs: 600, running: true },
    );
    let renewals = 0;
    const transition = r.transactions.transition.bind(r.transactions);
    r.transactions.transition = async (profile, tid, from, update, expect) => {
      if (from === "ISSUING" && update.status === "ISSUING") renewals++;
      return transition(profile, tid, from, update, expect);
    };
    const device = await createDevice({ cn: "claim-never-settles", challengePassword: CHALLENGE });
    void send(r.a, device);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const counted = renewals;
    expect(counted).toBeGreaterThan(0); // it was renewed while within approvalLeaseMs
    const resent = await send(r.b, device);
    expect(resent.rep.status).toBe("SUCCESS"); // before the limit: PENDING, for as long as the process lived
    expect(renewals).toBe(counted);
  });

  it("the same request on another replica while the hook runs, finished within the wait: it waits and gets that certificate (issued_resent); the hook runs once and its record stands", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook);
    arm();
    const device = await createDevice({ cn: "claim-wait-then-resent", challengePassword: CHALLENGE });
    const first = send(r.a, device);
    await entered.promise;
    const copy = send(r.b, device);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the copy waits on the claim
    held.open();
    const [issued, resent] = [(await first).rep, (await copy).rep];
    expect([issued.status, resent.status]).toEqual(["SUCCESS", "SUCCESS"]);
    // Before: the waiting copy's next create replaced the ISSUED record, ran the hook again and got a second certificate.
    expect(hex(resent.certificate!.der)).toBe(hex(issued.certificate!.der));
    expect(calls).toHaveLength(1);
    expect(r.events.some((e) => e.reason === "issued_resent")).toBe(true);
    const tx = await r.transactions.get("p", (await first).built.transactionId);
    expect(hex(tx?.certificate)).toBe(hex(issued.certificate!.der));
  });

  it("a first enrollment signed by another CA's certificate (a manufacturer's IDevID) takes the claim too: its copy on another replica while the hook runs gets that certificate (issued_resent), not a second one; the hook runs once", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls);
    const r = replicas(hook);
    arm();
    const device = await createDevice({ cn: "claim-idevid-signed", challengePassword: CHALLENGE });
    const maker = await createTestCa("Claim Manufacturer CA");
    const idevid = await createDevice({ cn: "claim-idevid-0001" });
    const signer = LocalKey.from(await maker.issue(idevid.csr), idevid.keys.privateKey);
    const sendSigned = async (server: ScepServer) => {
      const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW });
      return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
    };
    const first = sendSigned(r.a);
    await entered.promise;
    const copy = sendSigned(r.b);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the copy waits on the claim
    held.open();
    const [issued, resent] = [(await first).rep, (await copy).rep];
    // Before: a request that was not self-signed took no claim: the copy ran the hook too and got a second certificate.
    expect([issued.status, resent.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(hex(resent.certificate!.der)).toBe(hex(issued.certificate!.der));
    expect(calls.map((c) => c.renewal)).toEqual([false]);
    expect(r.events.map((e) => e.reason).sort()).toEqual(["issued", "issued_resent"]);
  });

  it("the hook answers PENDING and another subject under the transactionID arrives at that moment: the claim becomes PENDING in one fenced transition, the other is refused (transaction_id_in_use), never issued over it", async () => {
    const calls: IssueContext[] = [];
    const r = replicas(issuingHook(ca, calls, (ctx) => (ctx.csr.subject.includes("handoff-pending") ? { status: "PENDING" } : undefined)));
    const device = await createDevice({ cn: "handoff-pending", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "handoff-other", challengePassword: CHALLENGE });
    const tid = "handoff-gap-transaction";
    // The other request arrives right after the holder's first write once its hook answered PENDING (before: the
    // claim let go, and the PENDING record not created yet).
    let raced: ReturnType<typeof send> | undefined;
    afterClaimEnds(r.transactions, (id) => (raced = send(r.b, other, id)));
    const first = await send(r.a, device, tid);
    const refused = await raced!;
    // Before: the other was issued, then the holder's create replaced its ISSUED record with this PENDING one.
    expect([first.rep.status, refused.rep.status, refused.rep.failInfo]).toEqual(["PENDING", "FAILURE", "badRequest"]);
    expect(r.events.find((e) => e.reason === "transaction_id_in_use")).toBeDefined();
    expect(calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("handoff-pending")]);
    const tx = await r.transactions.get("p", tid);
    expect([tx?.status, hex(tx?.csr), hex(tx?.signerCertificate), tx?.direct, tx?.challengeValidated]).toEqual(["PENDING", hex(device.csr), hex(first.signer.certificate.der), undefined, true]);
  });

  it("the hook answers PENDING and the device re-sends on another replica at that moment: the re-send is answered from the PENDING record, the hook runs once", async () => {
    const calls: IssueContext[] = [];
    const r = replicas(issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })));
    const device = await createDevice({ cn: "handoff-resend", challengePassword: CHALLENGE });
    const tid = "handoff-resend-transaction";
    let resent: ReturnType<typeof send> | undefined;
    afterClaimEnds(r.transactions, (id) => (resent = send(r.b, device, id)));
    const first = await send(r.a, device, tid);
    expect([first.rep.status, (await resent!).rep.status]).toEqual(["PENDING", "PENDING"]);
    // Before: the re-send took the let-go claim and ran the hook a second time.
    expect(calls).toHaveLength(1);
    await r.a.approve("p", tid);
    expect((await certPollAt(r.b, "/scep", ca, device, tid)).status).toBe("SUCCESS");
  });

  it("a claim that lapsed while the hook ran (its replica stalled) and was taken over by another subject, issued: the late PENDING answer finds it gone, the ISSUED record stands, the late request is refused (transaction_id_in_use)", async () => {
    const calls: IssueContext[] = [];
    const { hook, held, entered, arm } = gatedHook(calls, (ctx) => (ctx.csr.subject.includes("handoff-late") ? { status: "PENDING" } : undefined));
    const r = replicas(hook, { claimLeaseMs: 300 });
    // The stalled replica renews nothing.
    const transition = r.transactions.transition.bind(r.transactions);
    r.transactions.transition = async (profile, tid, from, update, expect) => (from === "ISSUING" && update.status === "ISSUING" ? undefined : transition(profile, tid, from, update, expect));
    arm();
    const device = await createDevice({ cn: "handoff-late", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "handoff-taker", challengePassword: CHALLENGE });
    const tid = "handoff-late-transaction";
    const stalled = send(r.a, device, tid);
    await entered.promise;
    r.clock.now = new Date(NOW.getTime() + LEASE_MS);
    const recorded = r.nextEvent();
    const taker = await send(r.b, other, tid);
    expect(taker.rep.status).toBe("SUCCESS");
    await recorded;
    held.open();
    const late = (await stalled).rep;
    // Before: PENDING, its create having replaced the taker's ISSUED record (the taker's re-send then got no certificate).
    expect([late.status, late.failInfo, r.events.at(-1)?.reason]).toEqual(["FAILURE", "badRequest", "transaction_id_in_use"]);
    const tx = await r.transactions.get("p", tid);
    expect([tx?.status, hex(tx?.certificate)]).toEqual(["ISSUED", hex(taker.rep.certificate!.der)]);
    const again = await send(r.a, other, tid);
    expect(hex(again.rep.certificate!.der)).toBe(hex(taker.rep.certificate!.der));
    expect(calls).toHaveLength(2);
  });
});
