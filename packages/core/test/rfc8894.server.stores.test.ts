/**
 * The server's use of its stores (RFC 8894 §3.3.3 PENDING/CertPoll; issue 8):
 * approve and reject move a transaction out of PENDING exactly once (a race
 * has one winner and the issue hook runs once), a crashed approver's claim is
 * taken over after its lease, PENDING and finished records expire by the
 * injected clock, and a store that fails or hangs makes the request fail
 * closed with HTTP 503 + Retry-After while GetCACaps/GetCACert keep working.
 * Plus the bounds of the two in-memory stores.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  CertificationRequest,
  MemoryChallengeStore,
  MemoryTransactionStore,
  StoreUnavailableError,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  isScepError,
  isStoreUnavailable,
  InvalidArgumentError,
  type ChallengeStore,
  type IssueContext,
  type ScepProfile,
  type Transaction,
  type TransactionStore,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, eventLog, getOp, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "store-secret";
let ca: TestCa;

beforeAll(async () => {
  ca = await createTestCa("Store CA");
});

function pendingServer(options: { transactions?: TransactionStore; challenge?: ScepProfile["challenge"]; clock?: () => Date; storeTimeoutMs?: number; hook?: ScepProfile["issue"]; signer?: ScepProfile["signer"] } = {}) {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const clock = options.clock ?? (() => NOW);
  const transactions = options.transactions ?? new MemoryTransactionStore({ now: clock });
  const server = createScepServer({
    profiles: [
      {
        name: "p",
        path: "/scep",
        caCertificate: ca.cert,
        signer: options.signer ?? ca.key,
        ...(options.signer ? { decrypters: [ca.key] } : {}),
        challenge: options.challenge ?? { type: "static", password: CHALLENGE },
        transactions,
        issue: options.hook ?? issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })),
      },
    ],
    onEvent: log.onEvent,
    now: clock,
    ...(options.storeTimeoutMs !== undefined ? { storeTimeoutMs: options.storeTimeoutMs } : {}),
  });
  return { server, calls, log, transactions };
}

async function submit(server: ReturnType<typeof pendingServer>["server"], device: Device) {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  const res = await postPki(server, "/scep", built.der);
  return { built, res };
}

async function poll(server: ReturnType<typeof pendingServer>["server"], device: Device, transactionId: string) {
  const built = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId, now: NOW });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
}

describe("RFC 8894 §3.3.3: a PENDING transaction is decided exactly once", () => {
  it("an approve racing a reject: exactly one wins, the other gets ERR_TRANSACTION_STATE, CertPoll agrees with the winner", async () => {
    const s = pendingServer();
    const device = await createDevice({ cn: "race-approve-reject", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    const results = await Promise.allSettled([s.server.approve("p", built.transactionId), s.server.reject("p", built.transactionId)]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won.length).toBe(1);
    expect(lost.length).toBe(1);
    expect(lost[0]!.reason).toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    const winner = (won[0] as PromiseFulfilledResult<Transaction>).value;
    const rep = await poll(s.server, device, built.transactionId);
    expect(rep.status).toBe(winner.status === "ISSUED" ? "SUCCESS" : "FAILURE");
    expect(s.calls.filter((c) => c.approved).length).toBe(winner.status === "ISSUED" ? 1 : 0);
  });

  it("five concurrent approves: one issues (the hook runs once), four get ERR_TRANSACTION_STATE", async () => {
    const s = pendingServer();
    const device = await createDevice({ cn: "race-approvals", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => s.server.approve("p", built.transactionId)));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(4).fill("ERR_TRANSACTION_STATE"));
    expect(s.calls.filter((c) => c.approved).length).toBe(1);
  });

  it("while an approve runs the hook the transaction is ISSUING: CertPoll answers PENDING, pending() lists it, reject loses", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHook = new Promise<void>((r) => (entered = r));
    const calls: IssueContext[] = [];
    const inner = issuingHook(ca, calls);
    const s = pendingServer({
      hook: async (ctx) => {
        if (!ctx.approved) return { status: "PENDING" };
        entered();
        await gate;
        return inner(ctx);
      },
    });
    const device = await createDevice({ cn: "issuing-window", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    const approving = s.server.approve("p", built.transactionId);
    await inHook;
    expect((await s.transactions.get("p", built.transactionId))!.status).toBe("ISSUING");
    expect((await poll(s.server, device, built.transactionId)).status).toBe("PENDING");
    expect((await s.server.pending("p")).map((t) => [t.transactionId, t.status])).toEqual([[built.transactionId, "ISSUING"]]);
    await expect(s.server.reject("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    release();
    expect((await approving).status).toBe("ISSUED");
    expect((await poll(s.server, device, built.transactionId)).status).toBe("SUCCESS");
    expect(await s.server.pending("p")).toEqual([]);
  });

  it("a hook that throws during approve releases the claim (back to PENDING); a second approve issues", async () => {
    let fail = true;
    const calls: IssueContext[] = [];
    const inner = issuingHook(ca, calls);
    const s = pendingServer({
      hook: async (ctx) => {
        if (!ctx.approved) return { status: "PENDING" };
        if (fail) throw new Error("CA offline");
        return inner(ctx);
      },
    });
    const device = await createDevice({ cn: "approve-retry", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    await expect(s.server.approve("p", built.transactionId)).rejects.toThrow("CA offline");
    expect((await s.transactions.get("p", built.transactionId))!.status).toBe("PENDING");
    fail = false;
    expect((await s.server.approve("p", built.transactionId)).status).toBe("ISSUED");
  });

  it("a crashed approver's ISSUING claim is taken over once its 5-minute lease has lapsed, not before", async () => {
    let clock = NOW;
    const s = pendingServer({ clock: () => clock });
    const device = await createDevice({ cn: "stale-claim", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    // The approver claimed it and died.
    await s.transactions.transition("p", built.transactionId, "PENDING", { status: "ISSUING", updatedAt: NOW });
    clock = new Date(NOW.getTime() + 300_000 - 1);
    await expect(s.server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE", message: `no pending transaction ${built.transactionId}` });
    clock = new Date(NOW.getTime() + 300_000);
    const tx = await s.server.approve("p", built.transactionId);
    expect(tx).toMatchObject({ status: "ISSUED", updatedAt: clock, expiresAt: new Date(clock.getTime() + DAY) });
  });
});

describe("RFC 8894 §3.3.3: an approver's claim is a fencing token", () => {
  it("a slow approver whose lease lapsed is taken over: the taker issues, the slow one cannot overwrite it and gets ERR_TRANSACTION_STATE", async () => {
    let clock = NOW;
    const calls: IssueContext[] = [];
    let hold: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (hold = resolve));
    const s = pendingServer({
      clock: () => clock,
      hook: async (ctx) => {
        if (!ctx.approved) return { status: "PENDING" };
        const first = calls.length === 0;
        calls.push(ctx);
        if (first) await held; // the first approver stalls past its lease
        return { status: "SUCCESS", certificate: await ca.issue(ctx.csr.der, { notAfter: ctx.notAfterMax }) };
      },
    });
    const device = await createDevice({ cn: "slow-approver", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    const slow = s.server.approve("p", built.transactionId);
    await vi.waitFor(() => expect(calls.length).toBe(1));
    clock = new Date(NOW.getTime() + 300_000);
    const taken = await s.server.approve("p", built.transactionId);
    expect(taken.status).toBe("ISSUED");
    hold!();
    await expect(slow).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    expect((await s.transactions.get("p", built.transactionId))!.certificate).toEqual(taken.certificate);
  });

  it("two approvers taking over one lapsed claim at the same instant: one issues, the other gets ERR_TRANSACTION_STATE", async () => {
    let clock = NOW;
    const calls: IssueContext[] = [];
    const s = pendingServer({ clock: () => clock, hook: issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })) });
    const device = await createDevice({ cn: "double-takeover", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    await s.transactions.transition("p", built.transactionId, "PENDING", { status: "ISSUING", updatedAt: NOW }); // claimed, then the approver died
    clock = new Date(NOW.getTime() + 300_000);
    const results = await Promise.allSettled([s.server.approve("p", built.transactionId), s.server.approve("p", built.transactionId)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r): r is PromiseRejectedResult => r.status === "rejected")!.reason).toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    expect(calls.filter((c) => c.approved).length).toBe(1);
  });
});

describe("RFC 8894 §3.3.3: transactions expire by the injected clock", () => {
  it("a PENDING transaction is forgotten after pendingTtlMs (default 7 days): CertPoll FAILURE badCertId, approve ERR_TRANSACTION_STATE", async () => {
    let clock = NOW;
    const s = pendingServer({ clock: () => clock });
    const device = await createDevice({ cn: "pending-expiry", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    clock = new Date(NOW.getTime() + 7 * DAY - 1);
    expect((await poll(s.server, device, built.transactionId)).status).toBe("PENDING");
    clock = new Date(NOW.getTime() + 7 * DAY);
    expect(await poll(s.server, device, built.transactionId)).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
    await expect(s.server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE" });
  });

  it("a REJECTED transaction is kept for transactionRetentionMs (default 1 day), then forgotten", async () => {
    let clock = NOW;
    const s = pendingServer({ clock: () => clock });
    const device = await createDevice({ cn: "rejected-retention", challengePassword: CHALLENGE });
    const { built } = await submit(s.server, device);
    expect(await s.server.reject("p", built.transactionId, { failInfoText: "no" })).toMatchObject({ status: "REJECTED", expiresAt: new Date(NOW.getTime() + DAY) });
    clock = new Date(NOW.getTime() + DAY - 1);
    expect(await poll(s.server, device, built.transactionId)).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no" });
    clock = new Date(NOW.getTime() + DAY);
    expect(await poll(s.server, device, built.transactionId)).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "no pending request with this transactionID" });
  });
});

/** A store whose every call rejects with StoreUnavailableError (as a Redis store does when Redis is down). */
function downStore(retryAfterSeconds = 7): TransactionStore & ChallengeStore {
  const down = async (): Promise<never> => {
    throw new StoreUnavailableError("redis: connect ECONNREFUSED 127.0.0.1:6379", { retryAfterSeconds });
  };
  return { get: down, create: down, transition: down, list: down, delete: down, issue: down, consume: down };
}

/** A store whose every call never settles. */
function hungStore(): TransactionStore & ChallengeStore {
  const hang = (): Promise<never> => new Promise<never>(() => undefined);
  return { get: hang, create: hang, transition: hang, list: hang, delete: hang, issue: hang, consume: hang };
}

describe("issue 8: a store that is down or hangs fails closed with HTTP 503 + Retry-After", () => {
  it("storeTimeoutMs that is not an integer from 1 to 2^31 − 1 is refused by createScepServer (NaN or 0 made every store call time out: every enrollment 503)", () => {
    for (const bad of [Number.NaN, 0, -5, 1.5, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => pendingServer({ storeTimeoutMs: bad })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `storeTimeoutMs must be an integer number of milliseconds from 1 to 2147483647 (got ${typeof bad === "string" ? JSON.stringify(bad) : String(bad)})` }),
      );
    }
    expect(() => pendingServer({ storeTimeoutMs: 1 })).not.toThrow();
  });

  it("PKCSReq with the transaction store down: 503, Retry-After from the error, event store_unavailable, hook not called", async () => {
    const s = pendingServer({ transactions: downStore() });
    const device = await createDevice({ cn: "store-down", challengePassword: CHALLENGE });
    const { res } = await submit(s.server, device);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.text()).toBe("store unavailable, retry later\n");
    expect(s.calls.length).toBe(0);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", profile: "p", outcome: "error", reason: "store_unavailable", status: 503 });
  });

  // RFC 9110 §10.2.3: Retry-After is 1*DIGIT. A store of one's own may give any number: NaN went out as
  // `Retry-After: NaN`, Infinity as `Infinity`, 1e21 as `1e+21`, which no client reads as a delay.
  it("a store's Retry-After that is no whole number of seconds is sent as one: rounded up, 1 s to one day, 30 s for NaN", async () => {
    const device = await createDevice({ cn: "store-down-odd-retry", challengePassword: CHALLENGE });
    for (const [given, sent] of [[Number.NaN, "30"], [Number.POSITIVE_INFINITY, "86400"], [1e21, "86400"], [-3, "1"], [0, "1"], [1.2, "2"]] as const) {
      const { res } = await submit(pendingServer({ transactions: downStore(given) }).server, device);
      expect([given, res.status, res.headers.get("retry-after")]).toEqual([given, 503, sent]);
    }
  });

  it("a one-time challenge store that hangs: 503 after storeTimeoutMs with Retry-After 30, nothing issued", async () => {
    const calls: IssueContext[] = [];
    const s = pendingServer({ challenge: { type: "store", store: hungStore() }, storeTimeoutMs: 5, hook: issuingHook(ca, calls) });
    const device = await createDevice({ cn: "store-hung", challengePassword: "0123456789abcdef0123456789abcdef" });
    const { res } = await submit(s.server, device);
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "30"]);
    expect(calls.length).toBe(0);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "store_unavailable", status: 503 });
  });

  it("the hook answered PENDING but the transaction cannot be recorded: 503, not a PENDING the client could never poll", async () => {
    const working = new MemoryTransactionStore({ now: () => NOW });
    const failingCreate: TransactionStore = {
      get: (p, t) => working.get(p, t),
      create: async () => {
        throw new StoreUnavailableError("redis: READONLY");
      },
      transition: (p, t, f, u, x) => working.transition(p, t, f, u, x),
      list: (p, o) => working.list(p, o),
      delete: (p, t) => working.delete(p, t),
    };
    const s = pendingServer({ transactions: failingCreate });
    const device = await createDevice({ cn: "store-create-fails", challengePassword: CHALLENGE });
    const { res } = await submit(s.server, device);
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "30"]);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "store_unavailable" });
  });

  describe("a one-time challenge spent by a request the server failed goes back: the device's resend (§3.3.3) enrolls with it", () => {
    async function resend(s: ReturnType<typeof pendingServer>, device: Device) {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const first = await postPki(s.server, "/scep", built.der);
      return { built, first };
    }

    it("the challenge store answers after storeTimeoutMs: 503, and once it has answered the same message enrolls", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      let slow: (() => void) | undefined;
      const late: ChallengeStore = {
        issue: (o) => challenges.issue(o),
        consume: async (c, o) => {
          if (!slow) await new Promise<void>((resolve) => (slow = resolve)); // the first consume hangs past the timeout
          return challenges.consume(c, o);
        },
        release: (c, o) => challenges.release(c, o),
      };
      const calls: IssueContext[] = [];
      const s = pendingServer({ challenge: { type: "store", store: late }, storeTimeoutMs: 5, hook: issuingHook(ca, calls) });
      const device = await createDevice({ cn: "late-consume", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(503);
      const released = vi.spyOn(challenges, "release");
      slow!(); // the store answers now: it did spend the challenge, and the server gives it back
      await vi.waitFor(() => expect(released).toHaveBeenCalledTimes(1));
      expect(await released.mock.results[0]!.value).toBe(true);
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("SUCCESS");
      expect(calls.length).toBe(1);
      expect(await challenges.consume(challenge, { profile: "p" })).toBe(false); // spent by the enrollment that succeeded
    });

    it("the issue hook throws (500), then works: the resend enrolls with the same challenge", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const calls: IssueContext[] = [];
      let broken = true;
      const hook: ScepProfile["issue"] = async (ctx) => {
        if (broken) throw new Error("the CA's HSM is unplugged");
        return issuingHook(ca, calls)(ctx);
      };
      const s = pendingServer({ challenge: { type: "store", store: challenges }, hook });
      const device = await createDevice({ cn: "hook-throws", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(500);
      broken = false;
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("SUCCESS");
      expect(calls.length).toBe(1);
    });

    it("a custom validator's { ok: true, release }: called once when the issue hook throws (500), never after a FAILURE answer or an issuance", async () => {
      let released = 0;
      const challenge: ScepProfile["challenge"] = { type: "custom", validate: () => ({ ok: true, release: async () => void released++ }) };
      let answer: "throw" | "refuse" | "issue" = "throw";
      const hook: ScepProfile["issue"] = async (ctx) => {
        if (answer === "throw") throw new Error("the CA's HSM is unplugged");
        return answer === "refuse" ? { status: "FAILURE", failInfo: "badAlg" } : issuingHook(ca)(ctx);
      };
      const s = pendingServer({ challenge, hook });
      const device = await createDevice({ cn: "custom-release" });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      expect((await postPki(s.server, "/scep", built.der)).status).toBe(500);
      expect(released).toBe(1);
      answer = "refuse";
      const refused = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect([refused.status, refused.failInfo, released]).toEqual(["FAILURE", "badAlg", 1]);
      answer = "issue";
      const other = await createDevice({ cn: "custom-release-2" });
      const otherBuilt = await buildPkcsReq({ csr: other.csr, signer: other.signer, recipient: ca.cert, now: NOW });
      const rep = await readReply(await postPki(s.server, "/scep", otherBuilt.der), otherBuilt, { decrypter: other.signer, caCertificates: [ca.cert] });
      expect([rep.status, released]).toEqual(["SUCCESS", 1]);
    });

    it("the issue hook answers FAILURE (the CA refused): the challenge stays spent, a resend is refused as a used challenge", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      let refuse = true;
      const hook: ScepProfile["issue"] = async (ctx) => (refuse ? { status: "FAILURE", failInfo: "badAlg" } : issuingHook(ca)(ctx));
      const s = pendingServer({ challenge: { type: "store", store: challenges }, hook });
      const device = await createDevice({ cn: "hook-refuses", challengePassword: challenge });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const refused = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect([refused.status, refused.failInfo]).toEqual(["FAILURE", "badAlg"]);
      refuse = false;
      const again = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect([again.status, again.failInfo]).toEqual(["FAILURE", "badRequest"]);
      expect(s.log.events.at(-1)).toMatchObject({ reason: "bad_challenge" });
    });

    it("the transaction store cannot record a PENDING: 503, and the resend once it is back is PENDING with the same challenge", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const working = new MemoryTransactionStore({ now: () => NOW });
      let down = true;
      const flaky: TransactionStore = {
        get: (p, t) => working.get(p, t),
        create: async (t) => {
          if (down) throw new StoreUnavailableError("redis: READONLY");
          return working.create(t);
        },
        transition: (p, t, f, u, x) => working.transition(p, t, f, u, x),
        list: (p, o) => working.list(p, o),
        delete: (p, t) => working.delete(p, t),
      };
      const s = pendingServer({ transactions: flaky, challenge: { type: "store", store: challenges } });
      const device = await createDevice({ cn: "pending-create-fails", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(503);
      down = false;
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("PENDING");
    });

    /**
     * A transaction store whose first write of a PENDING record (a first enrollment's claim handed to PENDING, or a
     * create) answers only when told: `land()` records it, `fail()` refuses it.
     */
    function lateCreateStore() {
      const working = new MemoryTransactionStore({ now: () => NOW });
      let answer: ((landed: boolean) => void) | undefined;
      let settled = false;
      const held = async <T>(write: () => Promise<T>): Promise<T> => {
        const landed = await new Promise<boolean>((resolve) => (answer = resolve)); // hangs past storeTimeoutMs
        if (!landed) throw new StoreUnavailableError("redis: connection lost");
        return write();
      };
      const store: TransactionStore = {
        get: (p, t) => working.get(p, t),
        create: async (t) => (!settled && t.status === "PENDING" ? held(() => working.create(t)) : working.create(t)),
        transition: async (p, t, f, u, x) => (!settled && f === "ISSUING" && u.status === "PENDING" ? held(() => working.transition(p, t, f, u, x)) : working.transition(p, t, f, u, x)),
        list: (p, o) => working.list(p, o),
        delete: (p, t) => working.delete(p, t),
      };
      const settle = (landed: boolean): void => {
        settled = true;
        answer!(landed);
      };
      /** The write runs late, after the claim on `transactionId` lapsed and went away: it finds nothing to hand over. */
      const lapse = async (profile: string, transactionId: string): Promise<void> => {
        await working.delete(profile, transactionId);
        settle(true);
      };
      return { store, working, land: () => settle(true), fail: () => settle(false), lapse };
    }

    it("the PENDING record lands after storeTimeoutMs (503): it holds the challenge, a second device is refused, the resend polls PENDING", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const late = lateCreateStore();
      const released = vi.spyOn(challenges, "release");
      const s = pendingServer({ transactions: late.store, challenge: { type: "store", store: challenges }, storeTimeoutMs: 5 });
      const device = await createDevice({ cn: "pending-create-late", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(503);
      late.land();
      await vi.waitFor(async () => expect((await late.working.get("p", built.transactionId))?.status).toBe("PENDING"));
      const other = await createDevice({ cn: "second-use-late", challengePassword: challenge });
      const otherBuilt = await buildPkcsReq({ csr: other.csr, signer: other.signer, recipient: ca.cert, now: NOW });
      const refused = await readReply(await postPki(s.server, "/scep", otherBuilt.der), otherBuilt, { decrypter: other.signer, caCertificates: [ca.cert] });
      expect([refused.status, refused.failInfo]).toEqual(["FAILURE", "badRequest"]);
      expect(s.log.events.at(-1)).toMatchObject({ reason: "bad_challenge" });
      expect(released).not.toHaveBeenCalled();
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("PENDING");
    });

    it("the PENDING create times out (503), then fails: the challenge goes back once it has, and the resend is PENDING", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const late = lateCreateStore();
      const released = vi.spyOn(challenges, "release");
      const s = pendingServer({ transactions: late.store, challenge: { type: "store", store: challenges }, storeTimeoutMs: 5 });
      const device = await createDevice({ cn: "pending-create-late-fail", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(503);
      expect(released).not.toHaveBeenCalled(); // the outcome is not known yet
      late.fail();
      await vi.waitFor(() => expect(released).toHaveBeenCalledTimes(1));
      expect(await released.mock.results[0]!.value).toBe(true);
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("PENDING");
    });

    it("the PENDING hand-off times out (503), then runs after the claim lapsed and writes nothing: the challenge goes back, and the resend is a new enrollment, PENDING", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      const late = lateCreateStore();
      const released = vi.spyOn(challenges, "release");
      const s = pendingServer({ transactions: late.store, challenge: { type: "store", store: challenges }, storeTimeoutMs: 5 });
      const device = await createDevice({ cn: "pending-handoff-lapsed", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(503);
      expect(released).not.toHaveBeenCalled(); // the outcome is not known yet
      await late.lapse("p", built.transactionId);
      await vi.waitFor(() => expect(released).toHaveBeenCalledTimes(1));
      expect(await released.mock.results[0]!.value).toBe(true);
      expect(await late.working.get("p", built.transactionId)).toBeUndefined();
      // The challenge is back: the device's resend uses it again and waits for approval.
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("PENDING");
      expect((await late.working.get("p", built.transactionId))?.status).toBe("PENDING");
    });

    it("a PENDING transaction was recorded, then its CertRep could not be signed (500): the challenge stays with that transaction, a second device is refused, the resend polls PENDING", async () => {
      const challenges = new MemoryChallengeStore({ now: () => NOW });
      const challenge = await challenges.issue({ profile: "p" });
      let broken = true;
      const signer: ScepProfile["signer"] = {
        certificate: ca.key.certificate,
        sign: async (data, algorithm) => {
          if (broken) throw new Error("the signing HSM is unplugged");
          return ca.key.sign(data, algorithm);
        },
      };
      const s = pendingServer({ challenge: { type: "store", store: challenges }, signer });
      const device = await createDevice({ cn: "pending-reply-fails", challengePassword: challenge });
      const { built, first } = await resend(s, device);
      expect(first.status).toBe(500);
      expect((await s.transactions.get("p", built.transactionId))?.status).toBe("PENDING");
      broken = false;
      const other = await createDevice({ cn: "second-use", challengePassword: challenge });
      const otherBuilt = await buildPkcsReq({ csr: other.csr, signer: other.signer, recipient: ca.cert, now: NOW });
      const refused = await readReply(await postPki(s.server, "/scep", otherBuilt.der), otherBuilt, { decrypter: other.signer, caCertificates: [ca.cert] });
      expect([refused.status, refused.failInfo]).toEqual(["FAILURE", "badRequest"]);
      expect(s.log.events.at(-1)).toMatchObject({ reason: "bad_challenge" });
      const rep = await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("PENDING");
      expect(s.calls.length).toBe(1);
    });
  });

  it("GetCACaps and GetCACert never touch a store: 200 with every store down", async () => {
    const s = pendingServer({ transactions: downStore(), challenge: { type: "store", store: downStore() } });
    expect((await getOp(s.server, "/scep", "GetCACaps")).status).toBe(200);
    const cert = await getOp(s.server, "/scep", "GetCACert");
    expect([cert.status, cert.headers.get("content-type")]).toEqual([200, "application/x-x509-ca-cert"]);
  });

  it("approve, reject and pending reject with ERR_STORE_UNAVAILABLE", async () => {
    const s = pendingServer({ transactions: downStore() });
    await expect(s.server.approve("p", "T")).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7 });
    await expect(s.server.reject("p", "T")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(s.server.pending()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
  });
});

describe("StoreUnavailableError", () => {
  it("has code ERR_STORE_UNAVAILABLE, Retry-After 30 s by default, and keeps its cause", () => {
    const cause = new Error("ECONNREFUSED");
    const e = new StoreUnavailableError("redis down", { cause });
    expect([e.name, e.code, e.retryAfterSeconds, e.cause, e.message, isScepError(e)]).toEqual(["StoreUnavailableError", "ERR_STORE_UNAVAILABLE", 30, cause, "redis down", true]);
  });

  it("isStoreUnavailable: true for it and for its copy from a duplicate @scep/core (by code), false for anything else", () => {
    const copy = Object.assign(new Error("down"), { name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", failInfo: "badRequest" });
    const values = [new StoreUnavailableError("full", { capacity: 10 }), copy, new InvalidArgumentError("bad"), new Error("ERR_STORE_UNAVAILABLE"), { code: "ERR_STORE_UNAVAILABLE" }, undefined, "ERR_STORE_UNAVAILABLE"];
    expect(values.map((v) => isStoreUnavailable(v))).toEqual([true, true, false, false, false, false, false]);
  });
});

describe("MemoryTransactionStore", () => {
  const tx = (id: string, status: Transaction["status"], createdAt: Date, expiresAt = new Date(createdAt.getTime() + DAY)): Transaction => ({
    profile: "p",
    transactionId: id,
    status,
    csr: new Uint8Array([1, 2, 3]),
    signerCertificate: new Uint8Array([4, 5]),
    renewal: false,
    createdAt,
    updatedAt: createdAt,
    expiresAt,
  });
  const at = (ms: number): Date => new Date(NOW.getTime() + ms);

  it("create refuses over a PENDING or ISSUING record, replaces a finished or expired one", async () => {
    let clock = NOW;
    const store = new MemoryTransactionStore({ now: () => clock });
    expect(await store.create(tx("A", "PENDING", NOW))).toBe(true);
    expect(await store.create({ ...tx("A", "PENDING", NOW), renewal: true })).toBe(false);
    expect((await store.get("p", "A"))!.renewal).toBe(false);
    await store.transition("p", "A", "PENDING", { status: "ISSUING", updatedAt: NOW });
    expect(await store.create(tx("A", "PENDING", NOW))).toBe(false);
    await store.transition("p", "A", "ISSUING", { status: "ISSUED", updatedAt: NOW, certificate: new Uint8Array([9]) });
    expect(await store.create(tx("A", "PENDING", at(1)))).toBe(true);
    expect(await store.get("p", "A")).toMatchObject({ status: "PENDING", createdAt: at(1) });
    expect((await store.get("p", "A"))!.certificate).toBeUndefined();
    clock = at(2 * DAY);
    expect(await store.get("p", "A")).toBeUndefined();
    expect(await store.create(tx("A", "PENDING", clock))).toBe(true);
  });

  it("transition is a compare-and-set on status and returns the updated record", async () => {
    const store = new MemoryTransactionStore({ now: () => NOW });
    await store.create(tx("B", "PENDING", NOW));
    expect(await store.transition("p", "B", "ISSUING", { status: "ISSUED", updatedAt: NOW })).toBeUndefined();
    expect(await store.transition("p", "nope", "PENDING", { status: "ISSUED", updatedAt: NOW })).toBeUndefined();
    const done = await store.transition("p", "B", "PENDING", { status: "REJECTED", updatedAt: at(5), failInfo: "badCertId", failInfoText: "no", expiresAt: at(10) });
    expect(done).toMatchObject({ status: "REJECTED", updatedAt: at(5), failInfo: "badCertId", failInfoText: "no", expiresAt: at(10), createdAt: NOW });
    expect(Array.from(done!.csr)).toEqual([1, 2, 3]);
  });

  it("list: one profile, oldest createdAt first, by status, at most limit; expired records are left out", async () => {
    const store = new MemoryTransactionStore({ now: () => NOW });
    await store.create(tx("late", "PENDING", at(20)));
    await store.create(tx("early", "PENDING", at(-20)));
    await store.create(tx("gone", "PENDING", at(-DAY), at(0)));
    await store.create({ ...tx("other", "PENDING", at(0)), profile: "q" });
    await store.create(tx("mid", "REJECTED", at(0)));
    expect((await store.list("p")).map((t) => t.transactionId)).toEqual(["early", "mid", "late"]);
    expect((await store.list("p", { status: "PENDING" })).map((t) => t.transactionId)).toEqual(["early", "late"]);
    expect((await store.list("p", { limit: 1 })).map((t) => t.transactionId)).toEqual(["early"]);
    await store.delete("p", "early");
    expect((await store.list("p", { status: "PENDING" })).map((t) => t.transactionId)).toEqual(["late"]);
  });

  it("is bounded: a full store drops expired records first, then the oldest finished one; full of PENDING it refuses with ERR_STORE_UNAVAILABLE", async () => {
    let clock = NOW;
    const store = new MemoryTransactionStore({ now: () => clock, maxEntries: 3 });
    await store.create(tx("short", "PENDING", NOW, at(10)));
    await store.create(tx("done-old", "REJECTED", NOW));
    await store.create(tx("done-new", "ISSUED", at(1)));
    clock = at(10);
    expect(await store.create(tx("n1", "PENDING", clock))).toBe(true); // "short" expired: dropped
    expect((await store.list("p")).map((t) => t.transactionId).sort()).toEqual(["done-new", "done-old", "n1"]);
    expect(await store.create(tx("n2", "PENDING", clock))).toBe(true); // the oldest finished goes
    expect((await store.list("p")).map((t) => t.transactionId).sort()).toEqual(["done-new", "n1", "n2"]);
    expect(await store.create(tx("n3", "PENDING", clock))).toBe(true);
    await expect(store.create(tx("n4", "PENDING", clock))).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the transaction store is full (3 pending transactions)" });
  });

  it("full of finished records (a busy server records every issued certificate), one scan frees the oldest 1/64 of its room, so the next creates scan nothing", async () => {
    const store = new MemoryTransactionStore({ now: () => NOW, maxEntries: 128 });
    // Created newest first, so insertion order is not updatedAt order: the two oldest are the last two created.
    for (let i = 127; i >= 0; i--) await store.create(tx(`t${i}`, "ISSUED", at(i)));
    await store.create(tx("new-1", "ISSUED", at(1000)));
    const left = (await store.list("p")).map((t) => t.transactionId);
    expect(left).toHaveLength(127); // 128 − 2 (ceil(128 / 64)) + 1
    expect(left).not.toContain("t0");
    expect(left).not.toContain("t1");
    await store.create(tx("new-2", "ISSUED", at(1001))); // room left: nothing dropped
    expect(await store.list("p")).toHaveLength(128);
    expect(await store.get("p", "t2")).toBeDefined();
  });
});

describe("MemoryChallengeStore", () => {
  it("issues 32 base64url characters (24 random bytes), never starting with '-' (a command line would read it as an option)", async () => {
    const store = new MemoryChallengeStore({ now: () => NOW });
    const issued = await Promise.all(Array.from({ length: 2000 }, () => store.issue({ profile: "a" })));
    for (const c of issued) expect(c).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(issued.some((c) => c.includes("-"))).toBe(true); // still the whole base64url alphabet after the first
  });

  it("a consume under another profile returns false and does not burn the challenge", async () => {
    const store = new MemoryChallengeStore({ now: () => NOW });
    const c = await store.issue({ profile: "a" });
    expect(await store.consume(c, { profile: "b" })).toBe(false);
    expect(await store.consume(c, { profile: "a" })).toBe(true);
    expect(await store.consume(c, { profile: "a" })).toBe(false);
  });

  it("of 50 concurrent consumes exactly one succeeds", async () => {
    const store = new MemoryChallengeStore({ now: () => NOW });
    const c = await store.issue({ profile: "a" });
    const results = await Promise.all(Array.from({ length: 50 }, () => store.consume(c, { profile: "a" })));
    expect(results.filter(Boolean).length).toBe(1);
  });

  it("is bounded: a full store drops expired challenges, and refuses with ERR_STORE_UNAVAILABLE when all are live", async () => {
    let clock = NOW;
    const store = new MemoryChallengeStore({ now: () => clock, maxEntries: 2 });
    await store.issue({ profile: "a", ttlMs: 10 });
    const kept = await store.issue({ profile: "a", ttlMs: DAY });
    clock = at(10);
    const fresh = await store.issue({ profile: "a" });
    await expect(store.issue({ profile: "a" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the challenge store is full (2 live challenges)" });
    expect(await store.consume(kept, { profile: "a" })).toBe(true);
    expect(await store.consume(fresh, { profile: "a" })).toBe(true);
    function at(ms: number): Date {
      return new Date(NOW.getTime() + ms);
    }
  });
});
