/**
 * RFC 8894 §3.3.3 across replicas: a device's re-send (or a relay's retry) of
 * a PKCSReq that lands on a second replica while the first is still running
 * the issue hook. Both replicas share one RedisTransactionStore on one real
 * redis-server (each its own connection); the first replica's hook is held
 * by a gate. The first enrollment's claim on the transactionID (an ISSUING
 * record, `enrollment/claim.ts`) makes the hook run once: the second replica
 * answers PENDING, and once the gate opens a re-send to either replica gets
 * the same certificate. Another key under the transactionID is refused
 * (`transaction_id_in_use`) before any hook runs. Before the claim, each
 * replica ran the hook and the device got two certificates.
 *
 * The claims here last CLAIM_LEASE_MS (600 ms, in Redis's own time: the key's
 * TTL): the held hook outlasts several, so its claim stands only because its
 * replica renews it; a request that finds it waits one lease and a second
 * before it is answered. A replica killed mid-issue (its claim written as
 * `claim.ts` writes it, then nobody renews or lets it go) holds the
 * transactionID one lease at most: the requests that find its claim wait,
 * then are issued.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildCertPoll, buildPkcsReq, CertificationRequest, createScepServer, createSelfSignedSigner, type IssueContext, type IssueHook, type ScepEvent, type ScepServer } from "@scep/core";
import { NOW, afterClaimEnds, baseProfile, certPollAt, createDevice, createTestCa, hex, issuingHook, postPki, readReply, writeDeadClaim, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Replicas Redis CA");
}, 60_000);

const CHALLENGE = "replicas-static";
const CLAIM_LEASE_MS = 600;
let prefixes = 0;

/** A promise and its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Two replicas (servers) on one Redis, each with its own connection and its own process-local state, a static
 * challenge (a copy of the request passes it on any replica: only the claim stops a second issuance). The first hook
 * call waits for `held.open()`; `entered` resolves once it is waiting. The hook issues, or answers as `answer` says
 * (`issuingHook`'s). `stores` are the replicas' own TransactionStores.
 */
function replicas(answer?: Parameters<typeof issuingHook>[2]) {
  const keyPrefix = `replicas-${++prefixes}:`;
  const calls: IssueContext[] = [];
  const events: ScepEvent[] = [];
  const held = gate();
  const entered = gate();
  const issuing = issuingHook(ca, [], answer);
  let first = true;
  const issue: IssueHook = async (ctx) => {
    calls.push(ctx); // on entry: the held call counts
    if (first) {
      first = false;
      entered.open();
      await held.promise;
    }
    return issuing(ctx);
  };
  const settled: Array<() => void> = [];
  const make = (transactions: RedisTransactionStore): ScepServer =>
    createScepServer({
      profiles: [{ ...baseProfile(ca, CHALLENGE), transactions, issue, claimLeaseMs: CLAIM_LEASE_MS }],
      now: () => NOW,
      onEvent: (e) => {
        events.push(e);
        for (const s of settled.splice(0)) s();
      },
    });
  // The next event (a SUCCESS's follows its record's write, which may settle after the reply left).
  const nextEvent = (): Promise<void> => new Promise((resolve) => settled.push(resolve));
  const stores = { a: new RedisTransactionStore(redis.client, { keyPrefix, now: () => NOW }), b: new RedisTransactionStore(redis.second, { keyPrefix, now: () => NOW }) };
  return { a: make(stores.a), b: make(stores.b), stores, calls, events, held, entered, nextEvent, transactions: new RedisTransactionStore(redis.client, { keyPrefix, now: () => NOW }) };
}

/** The device's PKCSReq (a new self-signed signer and senderNonce each time, as a re-send after a lost reply). */
async function send(server: ScepServer, device: Device, transactionId?: string) {
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

type Sent = Awaited<ReturnType<typeof send>>;

describe("RFC 8894 §3.3.3: one issuance per request across replicas sharing a RedisTransactionStore", () => {
  it("the same PKCSReq on the second replica while the first's hook runs: PENDING, the hook runs once, and a re-send to either replica gets the same certificate", async () => {
    const r = replicas();
    const device = await createDevice({ cn: "replica-claim", challengePassword: CHALLENGE });
    const first = send(r.a, device);
    await r.entered.promise;
    const copy = await send(r.b, device);
    expect(copy.rep.status).toBe("PENDING");
    expect(r.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "pending", reason: "still_pending" });
    expect(r.calls).toHaveLength(1);
    // The claim (an ISSUING record, `direct`) holds the transactionID; no operator sees it as a request to approve.
    expect(await r.b.pending()).toEqual([]);
    const claim = await r.transactions.get("p", copy.built.transactionId);
    expect([claim?.status, claim?.direct, hex(claim?.csr)]).toEqual(["ISSUING", true, hex(device.csr)]);
    // A CertPoll to the second replica meanwhile: PENDING too.
    const pollBuilt = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId: copy.built.transactionId, now: NOW });
    expect((await readReply(await postPki(r.b, "/scep", pollBuilt.der), pollBuilt, { decrypter: device.signer, caCertificates: [ca.cert] })).status).toBe("PENDING");

    const recorded = r.nextEvent();
    r.held.open();
    const issued = (await first).rep;
    expect(issued.status).toBe("SUCCESS");
    await recorded;
    expect(r.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
    for (const replica of [r.b, r.a]) {
      const again = await send(replica, device);
      expect(again.rep.status).toBe("SUCCESS");
      expect(hex(again.rep.certificate!.der)).toBe(hex(issued.certificate!.der));
      expect(r.events.at(-1)).toMatchObject({ reason: "issued_resent" });
    }
    expect(r.calls).toHaveLength(1);
    expect((await r.transactions.get("p", copy.built.transactionId))?.status).toBe("ISSUED");
  });

  it("another key under that transactionID on the second replica while the first's hook runs: FAILURE badRequest transaction_id_in_use, its hook never runs; the first is issued and recorded", async () => {
    const r = replicas();
    const device = await createDevice({ cn: "replica-owner", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "replica-other", challengePassword: CHALLENGE });
    const first = send(r.a, device);
    await r.entered.promise;
    const tid = (await r.transactions.list("p", { status: "ISSUING" }))[0]!.transactionId;
    const refused = await send(r.b, other, tid);
    expect([refused.rep.status, refused.rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
    expect(refused.rep.failInfoText).toMatch(/send a new transactionID/);
    expect(r.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "transaction_id_in_use" });
    expect(r.calls).toHaveLength(1); // the first's, still held
    const recorded = r.nextEvent();
    r.held.open();
    const issued = (await first).rep;
    expect(issued.status).toBe("SUCCESS");
    await recorded;
    const tx = await r.transactions.get("p", tid);
    expect([tx?.status, hex(tx?.certificate)]).toEqual(["ISSUED", hex(issued.certificate!.der)]);
    expect(r.calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("replica-owner")]);
  });
  it("a replica killed mid-issue leaves its claim behind: it lapses in Redis within claimLeaseMs, and the device's re-send and another subject under that transactionID, waiting on the other replicas, are both issued", async () => {
    const r = replicas();
    r.held.open(); // no hook call is held here
    const device = await createDevice({ cn: "replica-dead-holder", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "replica-dead-holder-other", challengePassword: CHALLENGE, keys: device.keys });
    const tid = "replica-dead-holder-transaction";
    // What the killed replica's claim phase wrote (claim.ts), with nothing left to renew it or let it go.
    expect(await writeDeadClaim(r.transactions, device, tid, NOW, CLAIM_LEASE_MS)).toBe(true);
    // Before: PENDING for the re-send (then badCertId once the claim lapsed) and transaction_id_in_use for the other
    // subject, for as long as the claim lived (approvalLeaseMs, 5 minutes).
    const [resent, another] = await Promise.all([send(r.b, device, tid), send(r.a, other, tid)]);
    expect([resent.rep.status, another.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(r.calls.map((c) => c.csr.subject).sort()).toEqual([expect.stringContaining("replica-dead-holder"), expect.stringContaining("replica-dead-holder-other")]);
    expect(r.events.filter((e) => e.reason === "transaction_id_in_use" || e.reason === "still_pending")).toEqual([]);
  });
  it("the same PKCSReq on the second replica while a hook shorter than the wait runs: it waits, then gets the first's certificate (issued_resent); the hook runs once", async () => {
    const r = replicas();
    const device = await createDevice({ cn: "replica-wait-resent", challengePassword: CHALLENGE });
    const first = send(r.a, device);
    await r.entered.promise;
    const copy = send(r.b, device);
    await new Promise((resolve) => setTimeout(resolve, 300)); // less than CLAIM_LEASE_MS and a second: the copy waits
    r.held.open();
    const [issued, resent] = [(await first).rep, (await copy).rep];
    expect([issued.status, resent.status]).toEqual(["SUCCESS", "SUCCESS"]);
    // Before: the copy's next create replaced the ISSUED record and the hook ran again (a second certificate).
    expect(hex(resent.certificate!.der)).toBe(hex(issued.certificate!.der));
    expect(r.calls).toHaveLength(1);
  });
  it("the first replica's hook answers PENDING and, right at that hand-off, another subject under the transactionID and the device's re-send reach the second replica: the claim became the PENDING record in one fenced transition (the other refused, the re-send PENDING, the hook run once); approved, the CertPoll gets the certificate", async () => {
    const r = replicas((ctx) => (ctx.csr.subject.includes("replica-handoff-device") && !ctx.approved ? { status: "PENDING" } : undefined));
    r.held.open(); // no hook call is held here
    const device = await createDevice({ cn: "replica-handoff-device", challengePassword: CHALLENGE });
    const other = await createDevice({ cn: "replica-handoff-other", challengePassword: CHALLENGE });
    const tid = "replica-handoff-transaction";
    // Both arrive right after the first replica's first write once its hook answered PENDING (before: its claim let go,
    // and its PENDING record not created yet).
    let gap: Promise<[Sent, Sent]> | undefined;
    afterClaimEnds(r.stores.a, (id) => (gap = (async (): Promise<[Sent, Sent]> => [await send(r.b, other, id), await send(r.b, device, id)])()));
    const first = await send(r.a, device, tid);
    const [refused, resent] = await gap!;
    // Before: the other subject was issued, the re-send ran the hook again, and the first replica's create then
    // replaced the other's ISSUED record with its PENDING one.
    expect([first.rep.status, refused.rep.status, refused.rep.failInfo, resent.rep.status]).toEqual(["PENDING", "FAILURE", "badRequest", "PENDING"]);
    expect(r.events.map((e) => e.reason)).toEqual(["transaction_id_in_use", "still_pending", "pending_approval"]); // the first replica answers once the gap is over
    expect(r.calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("replica-handoff-device")]);
    const tx = await r.transactions.get("p", tid);
    expect([tx?.status, hex(tx?.csr), tx?.direct, tx?.challengeValidated, tx?.signerCertificate.length !== 0]).toEqual(["PENDING", hex(device.csr), undefined, true, true]);
    expect((await r.b.pending()).map((t) => t.transactionId)).toEqual([tid]);
    await r.b.approve("p", tid);
    expect((await certPollAt(r.a, "/scep", ca, device, tid)).status).toBe("SUCCESS");
  });
});
