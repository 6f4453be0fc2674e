/**
 * The conformance suite every {@link TransactionStore} runs: the memory
 * store, `@scep/redis`, and a store of your own (Postgres, DynamoDB).
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Transaction, TransactionStatus, TransactionStore, TransactionUpdate } from "../server/transaction-store.js";
import { manualClock, type ManualClock } from "./manual-clock.js";

/** What the suite hands a store factory for each test. */
export interface StoreFactoryContext {
  /**
   * The test's clock: the store must decide expiry with it (the suites move
   * it by hand; it starts at the wall clock).
   */
  now: () => Date;
}

/** Options of {@link transactionStoreConformance}. */
export interface TransactionStoreConformanceOptions<S extends TransactionStore = TransactionStore> {
  /** Name shown in the test report, e.g. `"postgres"`. */
  name: string;
  /** Creates the store under test, wired to `context.now`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made (connections, tables); called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

const HOUR = 3_600_000;
// Lifetimes stay long on the wall clock too: a store may also hand them to its backend (a Redis TTL), and a
// loaded test machine must not expire a record the test still reads.
const MINUTE = 60_000;

/** Every byte value, twice, with 0x00 and 0xff at both ends: catches text decoding and NUL truncation. */
function allBytes(tag: number): Uint8Array {
  const b = new Uint8Array(514);
  for (let i = 0; i < 512; i++) b[i + 1] = (i + tag) & 0xff;
  b[0] = 0x00;
  b[513] = 0xff;
  return b;
}

function hex(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined;
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** A comparable plain view of a transaction (bytes as hex, dates as ms). */
function view(tx: Transaction | undefined): Record<string, unknown> | undefined {
  if (tx === undefined) return undefined;
  return {
    profile: tx.profile,
    transactionId: tx.transactionId,
    status: tx.status,
    csr: hex(tx.csr),
    signerCertificate: hex(tx.signerCertificate),
    renewal: tx.renewal,
    createdAt: tx.createdAt.getTime(),
    updatedAt: tx.updatedAt.getTime(),
    expiresAt: tx.expiresAt.getTime(),
    certificate: hex(tx.certificate),
    chain: tx.chain?.map((c) => hex(c)),
    failInfo: tx.failInfo,
    failInfoText: tx.failInfoText,
    reason: tx.reason,
    challengeValidated: tx.challengeValidated,
    challengeData: tx.challengeData,
    direct: tx.direct,
  };
}

function expectTypes(tx: Transaction): void {
  for (const b of [tx.csr, tx.signerCertificate, tx.certificate, ...(tx.chain ?? [])]) {
    if (b !== undefined) expect(b).toBeInstanceOf(Uint8Array);
  }
  for (const d of [tx.createdAt, tx.updatedAt, tx.expiresAt]) expect(d).toBeInstanceOf(Date);
  expect(typeof tx.renewal).toBe("boolean");
}

let profileCounter = 0;

/**
 * Registers the TransactionStore conformance tests (vitest `describe`/`it`)
 * for one implementation. Call it at the top level of a test file.
 *
 * What it holds a store to: every field round-trips (bytes binary-safe,
 * including 0x00 and 0xff; Dates to the millisecond); `create` refuses over a
 * live PENDING or ISSUING record and replaces a finished or expired one;
 * `transition` is a compare-and-set on the status (of N concurrent calls at
 * most one wins, an approve racing a reject included); a record past its
 * `expiresAt` (by the injected clock, or set past by a transition: how the
 * server lets an enrollment's claim go) is gone for `get`, `transition`, `list`
 * and `create`; `list` returns the oldest `createdAt` first, honours `limit`
 * (default 1000) and the status filter; profiles never see each other's
 * records, even when a profile name contains `:`, `{`, `}` or a NUL; a status
 * that is not a `TransactionStatus` (in `create`, `transition`'s `from` or
 * `update.status`, `list`'s filter) rejects with InvalidArgumentError
 * (`ERR_INVALID_ARGUMENT`, `status must be one of PENDING, ISSUING, ISSUED,
 * REJECTED`) and changes nothing, whether or not the record exists.
 *
 * Each test uses profile names of its own, so a store whose backend outlives
 * the test (a shared Redis or database) needs no cleanup between tests.
 *
 * @example
 * ```ts
 * // test/transaction-store.test.ts
 * import { MemoryTransactionStore } from "@scep/core";
 * import { transactionStoreConformance } from "@scep/core/testing";
 *
 * // your store in place of MemoryTransactionStore: it must decide expiry with the suite's clock
 * transactionStoreConformance({
 *   name: "memory",
 *   create: ({ now }) => new MemoryTransactionStore({ now }),
 * });
 * ```
 */
export function transactionStoreConformance<S extends TransactionStore>(options: TransactionStoreConformanceOptions<S>): void {
  describe(`TransactionStore conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let store: S;
    let created: S[] = [];

    beforeEach(async () => {
      clock = manualClock();
      store = await options.create({ now: clock.now });
      created = [store];
    });
    afterEach(async () => {
      for (const s of created) await options.cleanup?.(s);
    });

    /** A profile name no other test (or earlier run against the same backend) uses. */
    const profile = (label = "p"): string => `${label}-${++profileCounter}-${Math.random().toString(36).slice(2, 10)}`;

    const sample = (p: string, transactionId: string, overrides: Partial<Transaction> = {}): Transaction => {
      const now = clock.now();
      return {
        profile: p,
        transactionId,
        status: "PENDING",
        csr: allBytes(1),
        signerCertificate: allBytes(2),
        renewal: false,
        createdAt: now,
        updatedAt: now,
        expiresAt: new Date(now.getTime() + HOUR),
        ...overrides,
      };
    };

    describe("round trip", () => {
      it("returns every field of a PENDING record as written: bytes binary-safe (0x00, 0xff), Dates to the ms", async () => {
        const p = profile();
        const tx = sample(p, "tid/+=1", { renewal: true, createdAt: new Date(clock.now().getTime() - 1234) });
        expect(await store.create(tx)).toBe(true);
        const got = await store.get(p, "tid/+=1");
        expect(got).toBeDefined();
        expectTypes(got!);
        expect(view(got)).toEqual(view(tx));
        expect(got!.certificate).toBeUndefined();
        expect(got!.chain).toBeUndefined();
        expect(got!.failInfo).toBeUndefined();
        expect(got!.failInfoText).toBeUndefined();
      });

      it("returns an ISSUED record's certificate, chain (order kept) and direct flag, and a REJECTED record's failInfo and UTF-8 text", async () => {
        const p = profile();
        const issued = sample(p, "issued", {
          status: "ISSUED",
          certificate: allBytes(3),
          chain: [allBytes(4), new Uint8Array([0x30, 0x00]), allBytes(5)],
          direct: true,
        });
        const rejected = sample(p, "rejected", { status: "REJECTED", failInfo: "badCertId", failInfoText: "denied: ünïcödé ✓ \u0000 end" });
        expect(await store.create(issued)).toBe(true);
        expect(await store.create(rejected)).toBe(true);
        const a = await store.get(p, "issued");
        const b = await store.get(p, "rejected");
        expectTypes(a!);
        expectTypes(b!);
        expect(view(a)).toEqual(view(issued));
        expect(view(b)).toEqual(view(rejected));
      });

      it("returns a PENDING record's challengeValidated and challengeData (JSON text, UTF-8) and a REJECTED record's reason", async () => {
        const p = profile();
        const pending = sample(p, "validated", { challengeValidated: true, challengeData: JSON.stringify({ device: "ünï ✓", n: [1, 2] }) });
        const vetoed = sample(p, "vetoed", { status: "REJECTED", failInfo: "badRequest", failInfoText: "not confirmed", reason: "webhook_notification_failed" });
        expect(await store.create(pending)).toBe(true);
        expect(await store.create(vetoed)).toBe(true);
        expect(view(await store.get(p, "validated"))).toEqual(view(pending));
        expect((await store.get(p, "validated"))!.challengeData).toBe('{"device":"ünï ✓","n":[1,2]}');
        expect(view(await store.get(p, "vetoed"))).toEqual(view(vetoed));
        const claimed = await store.transition(p, "validated", "PENDING", { status: "ISSUING", updatedAt: clock.now() });
        expect([claimed!.challengeValidated, claimed!.challengeData]).toEqual([true, '{"device":"ünï ✓","n":[1,2]}']);
        const rejected = await store.transition(p, "validated", "ISSUING", { status: "REJECTED", updatedAt: clock.now(), failInfo: "badRequest", reason: "confirm_rejected" });
        expect(rejected!.reason).toBe("confirm_rejected");
      });

      it("keeps the stored record apart from the objects passed in and handed out", async () => {
        const p = profile();
        const tx = sample(p, "t1");
        await store.create(tx);
        const expected = view(tx);
        tx.csr[0] = 0x55;
        tx.status = "ISSUED";
        const got = await store.get(p, "t1");
        got!.signerCertificate[0] = 0x66;
        got!.createdAt.setTime(0);
        expect(view(await store.get(p, "t1"))).toEqual(expected);
      });

      it("keeps the stored record apart from Node Buffers passed in (Buffer.prototype.slice is a view, not a copy)", async () => {
        const p = profile();
        const csr = Buffer.from(allBytes(1));
        const certificate = Buffer.from(allBytes(3));
        const tx = sample(p, "t1", { csr, signerCertificate: Buffer.from(allBytes(2)) });
        await store.create(tx);
        const expected = view(await store.get(p, "t1"));
        csr.fill(0x55);
        expect(view(await store.get(p, "t1"))).toEqual(expected);
        await store.transition(p, "t1", "PENDING", { status: "ISSUED", updatedAt: clock.now(), certificate, chain: [certificate] });
        const issued = view(await store.get(p, "t1"));
        certificate.fill(0x66);
        expect(view(await store.get(p, "t1"))).toEqual(issued);
      });

      it("answers undefined for an unknown transaction", async () => {
        expect(await store.get(profile(), "nope")).toBeUndefined();
      });
    });

    describe("create", () => {
      for (const status of ["PENDING", "ISSUING"] as const) {
        it(`refuses (false) over a live ${status} record and leaves it unchanged`, async () => {
          const p = profile();
          const first = sample(p, "t", { status });
          expect(await store.create(first)).toBe(true);
          clock.advance(1000);
          expect(await store.create(sample(p, "t", { csr: new Uint8Array([1, 2, 3]) }))).toBe(false);
          expect(view(await store.get(p, "t"))).toEqual(view(first));
        });
      }

      for (const status of ["ISSUED", "REJECTED"] as const) {
        it(`replaces a finished ${status} record whole (no field of the old record survives)`, async () => {
          const p = profile();
          const old = sample(p, "t", { status, certificate: allBytes(7), chain: [allBytes(8)], failInfo: "badRequest", failInfoText: "old", direct: true });
          expect(await store.create(old)).toBe(true);
          clock.advance(1000);
          const fresh = sample(p, "t", { csr: new Uint8Array([9, 9, 9]) });
          expect(await store.create(fresh)).toBe(true);
          const got = await store.get(p, "t");
          expect(view(got)).toEqual(view(fresh));
          expect(got!.certificate).toBeUndefined();
          expect(got!.chain).toBeUndefined();
          expect(got!.failInfo).toBeUndefined();
          expect(got!.failInfoText).toBeUndefined();
          expect(got!.direct).toBeUndefined();
        });
      }

      it("replaces a PENDING record once it is past its expiresAt (by the injected clock)", async () => {
        const p = profile();
        await store.create(sample(p, "t", { expiresAt: new Date(clock.now().getTime() + 60_000) }));
        clock.advance(60_001);
        const fresh = sample(p, "t", { csr: new Uint8Array([4, 5]) });
        expect(await store.create(fresh)).toBe(true);
        expect(view(await store.get(p, "t"))).toEqual(view(fresh));
      });

      it("is atomic: of 20 concurrent creates of one transaction exactly one returns true, and its record is the stored one", async () => {
        const p = profile();
        const attempts = Array.from({ length: 20 }, (_, i) => sample(p, "race", { csr: new Uint8Array([i, 0x00, 0xff]) }));
        const results = await Promise.all(attempts.map((tx) => store.create(tx)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = attempts[results.indexOf(true)]!;
        expect(view(await store.get(p, "race"))).toEqual(view(winner));
      });
    });

    describe("transition (compare-and-set on status)", () => {
      it("with expect.updatedAt (a claim as fencing token): applies only while the record's updatedAt is that instant; of 10 concurrent takeovers of one claim exactly one wins", async () => {
        const p = profile();
        await store.create(sample(p, "fenced"));
        const claimedAt = clock.now();
        const claim = await store.transition(p, "fenced", "PENDING", { status: "ISSUING", updatedAt: claimedAt });
        expect(claim?.updatedAt.getTime()).toBe(claimedAt.getTime());
        clock.advance(300_000);
        const stale = { updatedAt: new Date(claimedAt.getTime() - 1) };
        expect(await store.transition(p, "fenced", "ISSUING", { status: "ISSUING", updatedAt: clock.now() }, stale)).toBeUndefined();
        const takeovers = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.transition(p, "fenced", "ISSUING", { status: "ISSUING", updatedAt: new Date(clock.now().getTime() + i) }, { updatedAt: claimedAt })),
        );
        const won = takeovers.filter((t) => t !== undefined);
        expect(won).toHaveLength(1);
        // The first claimant, taken over, can no longer finish; the winner can.
        expect(await store.transition(p, "fenced", "ISSUING", { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(3) }, { updatedAt: claimedAt })).toBeUndefined();
        const done = await store.transition(p, "fenced", "ISSUING", { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(3) }, { updatedAt: won[0]!.updatedAt });
        expect(done?.status).toBe("ISSUED");
      });

      it("an enrollment's claim (ISSUING, direct, no signer certificate): created over nothing, refused over itself, moved to ISSUED keeping direct; or let go by a fenced transition to a past expiresAt, after which get and list miss it and create takes the key", async () => {
        const p = profile();
        const claimedAt = clock.now();
        const claim = sample(p, "claim", { status: "ISSUING", direct: true, signerCertificate: new Uint8Array(0), expiresAt: new Date(claimedAt.getTime() + 300_000) });
        expect(await store.create(claim)).toBe(true);
        expect(await store.create({ ...claim, csr: allBytes(7) })).toBe(false);
        expect(view(await store.get(p, "claim"))).toEqual(view(claim));
        const update: TransactionUpdate = { status: "ISSUED", updatedAt: clock.now(), expiresAt: new Date(claimedAt.getTime() + HOUR), certificate: allBytes(3) };
        const issued = await store.transition(p, "claim", "ISSUING", update, { updatedAt: claimedAt });
        expect(view(issued)).toEqual(view({ ...claim, ...update }));
        expect(issued?.direct).toBe(true);

        await store.create(claim);
        const letGo = await store.transition(p, "claim", "ISSUING", { status: "REJECTED", updatedAt: clock.now(), expiresAt: new Date(0) }, { updatedAt: claimedAt });
        expect(letGo?.status).toBe("REJECTED");
        expect(await store.get(p, "claim")).toBeUndefined();
        expect((await store.list(p)).map((t) => t.transactionId)).toEqual([]);
        expect(await store.transition(p, "claim", "REJECTED", { status: "PENDING", updatedAt: clock.now() })).toBeUndefined();
        expect(await store.create(sample(p, "claim"))).toBe(true);
        expect((await store.get(p, "claim"))?.status).toBe("PENDING");
      });

      it("an enrollment's claim that keeps a signer certificate (a first enrollment signed with another key than the CSR's: an IDevID, an RA) moved to ISSUED keeps it byte for byte", async () => {
        const p = profile();
        const claimedAt = clock.now();
        const claim = sample(p, "signed", { status: "ISSUING", direct: true, signerCertificate: allBytes(6), expiresAt: new Date(claimedAt.getTime() + MINUTE) });
        expect(await store.create(claim)).toBe(true);
        expect(view(await store.get(p, "signed"))).toEqual(view(claim));
        const update: TransactionUpdate = { status: "ISSUED", updatedAt: clock.now(), expiresAt: new Date(claimedAt.getTime() + HOUR), certificate: allBytes(3) };
        const expected = view({ ...claim, ...update });
        expect(view(await store.transition(p, "signed", "ISSUING", update, { updatedAt: claimedAt }))).toEqual(expected);
        expect(view(await store.get(p, "signed"))).toEqual(expected);
      });

      it("an enrollment's claim handed to PENDING in one fenced transition: gains signerCertificate, renewal, challengeValidated, challengeData, loses direct (false clears it), keeps csr and createdAt; a stale fence changes nothing", async () => {
        const p = profile();
        const claimedAt = clock.now();
        const claim = sample(p, "handoff", { status: "ISSUING", direct: true, signerCertificate: new Uint8Array(0), expiresAt: new Date(claimedAt.getTime() + MINUTE) });
        expect(await store.create(claim)).toBe(true);
        clock.advance(1500);
        const update: TransactionUpdate = {
          status: "PENDING",
          updatedAt: clock.now(),
          expiresAt: new Date(clock.now().getTime() + HOUR),
          signerCertificate: allBytes(5),
          renewal: true,
          challengeValidated: true,
          challengeData: '{"device":"ü-7","n":[1,2]}',
          direct: false,
        };
        expect(await store.transition(p, "handoff", "ISSUING", update, { updatedAt: new Date(claimedAt.getTime() + 1) })).toBeUndefined();
        expect(view(await store.get(p, "handoff"))).toEqual(view(claim));
        const pending = await store.transition(p, "handoff", "ISSUING", update, { updatedAt: claimedAt });
        const expected = view({ ...claim, ...update, direct: undefined });
        expectTypes(pending!);
        expect(view(pending)).toEqual(expected);
        expect(view(await store.get(p, "handoff"))).toEqual(expected);
        expect((await store.list(p, { status: "PENDING" })).map(view)).toEqual([expected]);
        expect(await store.list(p, { status: "ISSUING" })).toEqual([]);
        // A live PENDING record now: create refuses over it; an approver's claim of it is not a first enrollment's.
        expect(await store.create(sample(p, "handoff"))).toBe(false);
        const approving = await store.transition(p, "handoff", "PENDING", { status: "ISSUING", updatedAt: clock.now() });
        expect(approving?.direct).toBeUndefined();
        // challengeValidated: false clears it too; fields the update leaves out stay.
        const back = await store.transition(p, "handoff", "ISSUING", { status: "PENDING", updatedAt: clock.now(), challengeValidated: false });
        expect(view(back)).toEqual({ ...expected, updatedAt: clock.now().getTime(), challengeValidated: undefined });
      });

      it("PENDING → ISSUED returns the updated record with the certificate and chain, and get agrees", async () => {
        const p = profile();
        const tx = sample(p, "t");
        await store.create(tx);
        clock.advance(5000);
        const update: TransactionUpdate = { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(9), chain: [allBytes(10), allBytes(11)] };
        const done = await store.transition(p, "t", "PENDING", update);
        const expected = view({ ...tx, ...update });
        expectTypes(done!);
        expect(view(done)).toEqual(expected);
        expect(view(await store.get(p, "t"))).toEqual(expected);
      });

      it("PENDING → REJECTED stores failInfo and failInfoText", async () => {
        const p = profile();
        const tx = sample(p, "t");
        await store.create(tx);
        const update: TransactionUpdate = { status: "REJECTED", updatedAt: clock.now(), failInfo: "badRequest", failInfoText: "operator said no" };
        expect(view(await store.transition(p, "t", "PENDING", update))).toEqual(view({ ...tx, ...update }));
        expect(view(await store.get(p, "t"))).toEqual(view({ ...tx, ...update }));
      });

      it("PENDING → ISSUING → ISSUED, and ISSUING → PENDING when issuance failed", async () => {
        const p = profile();
        await store.create(sample(p, "a"));
        await store.create(sample(p, "b"));
        expect((await store.transition(p, "a", "PENDING", { status: "ISSUING", updatedAt: clock.now() }))?.status).toBe("ISSUING");
        expect((await store.transition(p, "a", "ISSUING", { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(1) }))?.status).toBe("ISSUED");
        expect((await store.transition(p, "b", "PENDING", { status: "ISSUING", updatedAt: clock.now() }))?.status).toBe("ISSUING");
        expect((await store.transition(p, "b", "ISSUING", { status: "PENDING", updatedAt: clock.now() }))?.status).toBe("PENDING");
        expect((await store.get(p, "b"))?.status).toBe("PENDING");
      });

      it("returns undefined and changes nothing when the status is not `from`", async () => {
        const p = profile();
        const tx = sample(p, "t", { status: "ISSUED", certificate: allBytes(2) });
        await store.create(tx);
        expect(await store.transition(p, "t", "PENDING", { status: "REJECTED", updatedAt: clock.now(), failInfo: "badRequest" })).toBeUndefined();
        expect(view(await store.get(p, "t"))).toEqual(view(tx));
      });

      it("returns undefined for an unknown transaction and does not create one", async () => {
        const p = profile();
        expect(await store.transition(p, "ghost", "PENDING", { status: "ISSUED", updatedAt: clock.now() })).toBeUndefined();
        expect(await store.get(p, "ghost")).toBeUndefined();
        expect(await store.list(p)).toEqual([]);
      });

      it("returns undefined for a record past its expiresAt", async () => {
        const p = profile();
        await store.create(sample(p, "t", { expiresAt: new Date(clock.now().getTime() + MINUTE) }));
        clock.advance(MINUTE + 1);
        expect(await store.transition(p, "t", "PENDING", { status: "ISSUED", updatedAt: clock.now() })).toBeUndefined();
        expect(await store.get(p, "t")).toBeUndefined();
      });

      it("moves expiresAt when the update carries one", async () => {
        const p = profile();
        const tx = sample(p, "t", { expiresAt: new Date(clock.now().getTime() + MINUTE) });
        await store.create(tx);
        const later = new Date(clock.now().getTime() + 2 * HOUR);
        const done = await store.transition(p, "t", "PENDING", { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(3), expiresAt: later });
        expect(done?.expiresAt.getTime()).toBe(later.getTime());
        clock.advance(HOUR);
        expect((await store.get(p, "t"))?.status).toBe("ISSUED");
        clock.advance(HOUR + 1);
        expect(await store.get(p, "t")).toBeUndefined();
      });

      it("is atomic: of 20 concurrent PENDING → ISSUING transitions exactly one wins", async () => {
        const p = profile();
        await store.create(sample(p, "t"));
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.transition(p, "t", "PENDING", { status: "ISSUING", updatedAt: clock.now() })),
        );
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
        expect((await store.get(p, "t"))?.status).toBe("ISSUING");
      });

      it("an approve racing a reject (10 of each, interleaved): exactly one wins and the stored record is the winner's, whole", async () => {
        const p = profile();
        const tx = sample(p, "t");
        await store.create(tx);
        const updates: TransactionUpdate[] = Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? { status: "ISSUED", updatedAt: new Date(clock.now().getTime() + i), certificate: allBytes(i) }
            : { status: "REJECTED", updatedAt: new Date(clock.now().getTime() + i), failInfo: "badRequest", failInfoText: `reject ${i}` },
        );
        const results = await Promise.all(updates.map((u) => store.transition(p, "t", "PENDING", u)));
        const winners = results.flatMap((r, i) => (r === undefined ? [] : [i]));
        expect(winners).toHaveLength(1);
        const expected = view({ ...tx, ...updates[winners[0]!]! });
        expect(view(results[winners[0]!])).toEqual(expected);
        expect(view(await store.get(p, "t"))).toEqual(expected);
      });
    });

    describe("expiry (by the injected clock)", () => {
      it("get sees a record until its expiresAt and not after", async () => {
        const p = profile();
        await store.create(sample(p, "t", { expiresAt: new Date(clock.now().getTime() + 10_000) }));
        clock.advance(9_999);
        expect((await store.get(p, "t"))?.transactionId).toBe("t");
        clock.advance(2);
        expect(await store.get(p, "t")).toBeUndefined();
      });

      it("list leaves out records past their expiresAt", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        await store.create(sample(p, "short", { createdAt: new Date(t0), expiresAt: new Date(t0 + MINUTE) }));
        await store.create(sample(p, "long", { createdAt: new Date(t0 + 1), expiresAt: new Date(t0 + HOUR) }));
        expect((await store.list(p)).map((t) => t.transactionId)).toEqual(["short", "long"]);
        clock.advance(MINUTE + 1);
        expect((await store.list(p)).map((t) => t.transactionId)).toEqual(["long"]);
        expect((await store.list(p, { status: "PENDING" })).map((t) => t.transactionId)).toEqual(["long"]);
      });
    });

    describe("list", () => {
      it("returns the oldest createdAt first, whatever the insertion order, with every field", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        const order = [5, 1, 9, 3, 7, 0, 8, 2, 6, 4];
        const txs = order.map((n) => sample(p, `t${n}`, { createdAt: new Date(t0 - 10_000 + n * 100), csr: new Uint8Array([n, 0, 255]) }));
        for (const tx of txs) await store.create(tx);
        const listed = await store.list(p);
        expect(listed.map((t) => t.transactionId)).toEqual(["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"]);
        for (const t of listed) expectTypes(t);
        expect(listed.map(view)).toEqual([...txs].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map(view));
      });

      it("honours limit, keeping the oldest", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        for (let n = 9; n >= 0; n--) await store.create(sample(p, `t${n}`, { createdAt: new Date(t0 + n) }));
        expect((await store.list(p, { limit: 3 })).map((t) => t.transactionId)).toEqual(["t0", "t1", "t2"]);
        expect((await store.list(p, { limit: 1 })).map((t) => t.transactionId)).toEqual(["t0"]);
      });

      it("returns at most 1000 records without a limit", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        for (let batch = 0; batch < 1005; batch += 67) {
          const ids = Array.from({ length: Math.min(67, 1005 - batch) }, (_, i) => batch + i);
          await Promise.all(ids.map((n) => store.create(sample(p, `t${String(n).padStart(4, "0")}`, { createdAt: new Date(t0 + n) }))));
        }
        const listed = await store.list(p);
        expect(listed).toHaveLength(1000);
        expect(listed[0]!.transactionId).toBe("t0000");
        expect(listed[999]!.transactionId).toBe("t0999");
      });

      it("filters by status, following transitions", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        for (let n = 0; n < 6; n++) await store.create(sample(p, `t${n}`, { createdAt: new Date(t0 + n) }));
        await store.transition(p, "t1", "PENDING", { status: "ISSUED", updatedAt: clock.now(), certificate: allBytes(1) });
        await store.transition(p, "t4", "PENDING", { status: "REJECTED", updatedAt: clock.now(), failInfo: "badRequest" });
        await store.transition(p, "t2", "PENDING", { status: "ISSUING", updatedAt: clock.now() });
        const ids = async (status?: TransactionStatus): Promise<string[]> =>
          (await store.list(p, status ? { status } : undefined)).map((t) => t.transactionId);
        expect(await ids("PENDING")).toEqual(["t0", "t3", "t5"]);
        expect(await ids("ISSUED")).toEqual(["t1"]);
        expect(await ids("REJECTED")).toEqual(["t4"]);
        expect(await ids("ISSUING")).toEqual(["t2"]);
        expect(await ids()).toEqual(["t0", "t1", "t2", "t3", "t4", "t5"]);
        expect((await store.list(p, { status: "PENDING", limit: 2 })).map((t) => t.transactionId)).toEqual(["t0", "t3"]);
        expect((await store.list(p, { status: "ISSUED" }))[0]!.status).toBe("ISSUED");
      });

      it("a replaced record appears once, with its new createdAt and status", async () => {
        const p = profile();
        const t0 = clock.now().getTime();
        await store.create(sample(p, "a", { createdAt: new Date(t0), status: "ISSUED" }));
        await store.create(sample(p, "b", { createdAt: new Date(t0 + 10) }));
        await store.create(sample(p, "a", { createdAt: new Date(t0 + 20) }));
        expect((await store.list(p)).map((t) => [t.transactionId, t.status])).toEqual([
          ["b", "PENDING"],
          ["a", "PENDING"],
        ]);
        expect(await store.list(p, { status: "ISSUED" })).toEqual([]);
      });

      it("returns [] for a profile with no records", async () => {
        expect(await store.list(profile())).toEqual([]);
      });
    });

    describe("delete", () => {
      it("removes the record from get and list; deleting an unknown one is not an error", async () => {
        const p = profile();
        await store.create(sample(p, "a"));
        await store.create(sample(p, "b"));
        await store.delete(p, "a");
        expect(await store.get(p, "a")).toBeUndefined();
        expect((await store.list(p)).map((t) => t.transactionId)).toEqual(["b"]);
        await expect(store.delete(p, "a")).resolves.toBeUndefined();
        await expect(store.delete(profile(), "never")).resolves.toBeUndefined();
        expect(await store.create(sample(p, "a"))).toBe(true);
      });
    });

    describe("a status that is not a TransactionStatus (every implementation: InvalidArgumentError, one line, nothing changed)", () => {
      const invalid = (message: string): unknown => expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message });
      const ONE_OF = "must be one of PENDING, ISSUING, ISSUED, REJECTED";

      it("create refuses it and stores nothing", async () => {
        const p = profile();
        await expect(store.create(sample(p, "t", { status: "DONE" as TransactionStatus }))).rejects.toEqual(invalid(`status ${ONE_OF}`));
        await expect(store.create(sample(p, "u", { status: "pending" as TransactionStatus }))).rejects.toEqual(invalid(`status ${ONE_OF}`));
        expect(await store.get(p, "t")).toBeUndefined();
        expect(await store.list(p)).toEqual([]);
      });

      it("transition refuses a bad from or update.status, for a record that exists and one that does not, and changes nothing", async () => {
        const p = profile();
        const tx = sample(p, "t");
        await store.create(tx);
        for (const id of ["t", "absent"]) {
          await expect(store.transition(p, id, "WAITING" as TransactionStatus, { status: "ISSUING", updatedAt: clock.now() })).rejects.toEqual(invalid(`from ${ONE_OF}`));
          await expect(store.transition(p, id, "PENDING", { status: "APPROVED" as TransactionStatus, updatedAt: clock.now() })).rejects.toEqual(invalid(`update.status ${ONE_OF}`));
        }
        expect(view(await store.get(p, "t"))).toEqual(view(tx));
        expect(await store.get(p, "absent")).toBeUndefined();
      });

      it("list refuses a bad status filter", async () => {
        const p = profile();
        await store.create(sample(p, "t"));
        await expect(store.list(p, { status: "Pending" as TransactionStatus })).rejects.toEqual(invalid(`status ${ONE_OF}`));
      });
    });

    describe("profile isolation", () => {
      it("the same transactionID in two profiles is two records", async () => {
        const a = profile("a");
        const b = profile("b");
        const ta = sample(a, "same", { csr: new Uint8Array([0xaa]) });
        const tb = sample(b, "same", { csr: new Uint8Array([0xbb]) });
        expect(await store.create(ta)).toBe(true);
        expect(await store.create(tb)).toBe(true);
        await store.transition(a, "same", "PENDING", { status: "REJECTED", updatedAt: clock.now(), failInfo: "badRequest" });
        expect((await store.get(b, "same"))?.status).toBe("PENDING");
        expect((await store.list(b)).map(view)).toEqual([view(tb)]);
        await store.delete(b, "same");
        expect((await store.get(a, "same"))?.status).toBe("REJECTED");
        expect(await store.list(b)).toEqual([]);
      });

      it("profile and transactionID never run together (\"a\" + \"b:c\" vs \"a:b\" + \"c\"; braces, NUL, unicode)", async () => {
        const base = profile("x");
        const pairs: Array<[string, string]> = [
          [base, "b:c"],
          [`${base}:b`, "c"],
          [`${base}\u0000b`, "c"],
          [base, "b\u0000c"],
          [`{${base}}`, "t"],
          [`${base}}`, "{t"],
          [`${base} ünï ✓`, "t"],
        ];
        const t0 = clock.now().getTime();
        for (const [i, [p, t]] of pairs.entries()) {
          const tx = sample(p, t, { csr: new Uint8Array([i]), createdAt: new Date(t0 + i) });
          expect(await store.create(tx), `${JSON.stringify(p)} / ${JSON.stringify(t)}`).toBe(true);
        }
        for (const [i, [p, t]] of pairs.entries()) {
          const got = await store.get(p, t);
          expect([got?.profile, got?.transactionId, hex(got?.csr)]).toEqual([p, t, hex(new Uint8Array([i]))]);
          expect((await store.list(p)).map((x) => x.transactionId)).toEqual(pairs.filter(([q]) => q === p).map(([, u]) => u));
        }
      });
    });
  });
}
