/**
 * The ISSUED record of a directly issued certificate (RFC 8894 §3.3.3, `enrollment/record.ts`) settles within
 * `storeTimeoutMs`, as the docs say: it is one store call, the enrollment's claim (`enrollment/claim.ts`) moved
 * ISSUING→ISSUED, fenced by the claim's `updatedAt`, so a claim taken over since is not overwritten. Timers are faked
 * (setTimeout only), so no test waits on the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MessageType, type Transaction, type TransactionStatus, type TransactionUpdate } from "../src/index.js";
import type { ServerContext } from "../src/server/context.js";
import type { Enrollment } from "../src/server/enrollment/enrollment.js";
import { recordIssued } from "../src/server/enrollment/record.js";
import { createStoreCall } from "../src/server/store-call.js";

const TIMEOUT_MS = 1000;
const CERT = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x07);
const CLAIMED_AT = new Date("2026-03-01T09:59:00Z");

/** A transaction store whose `transition` answers `answer` after `afterMs` (never when undefined), recording its arguments. */
function store(afterMs: number | undefined, answer?: Transaction) {
  const calls: unknown[][] = [];
  return {
    calls,
    transactions: {
      transition: (profile: string, id: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> => {
        calls.push([profile, id, from, update, expect]);
        return new Promise((resolve) => void (afterMs !== undefined && setTimeout(resolve, afterMs, answer)));
      },
    },
  };
}

// A first enrollment, as the policy phase marks one (`firstEnrollment`): only its record is written. Self-signed: its
// signer certificate holds the CSR's key (one SPKI), so the record keeps no signer certificate (recorded-signer.ts).
function enrollment(transactions: unknown, claim: Date | null = CLAIMED_AT): Enrollment {
  const profile = { name: "p", retentionMs: 86_400_000, caChain: [], transactions };
  const spki = Uint8Array.of(0x30, 0x00);
  const request = { messageType: MessageType.PKCSReq, transactionId: "tx-1", signerCertificate: { isSelfIssued: true, der: Uint8Array.of(0x30, 0x00), spki } };
  return { profile, request, csr: { der: Uint8Array.of(0x30, 0x00), spki }, renewal: false, firstEnrollment: true, issued: { certificate: { der: CERT }, chain: [Uint8Array.of(0x30, 0x00)] }, ...(claim ? { claim } : {}) } as unknown as Enrollment;
}

/** recordIssued's answer once `ms` of fake time has passed: undefined while it has not settled. */
async function settledAfter(e: Enrollment, ms: number): Promise<boolean | undefined> {
  const ctx: ServerContext = { now: () => new Date("2026-03-01T10:00:00Z"), maxBody: 65536, store: createStoreCall(TIMEOUT_MS) };
  let result: boolean | undefined;
  void recordIssued(ctx, e).then((r) => (result = r));
  await vi.advanceTimersByTimeAsync(ms);
  return result;
}

describe("the ISSUED record: the claim's ISSUING→ISSUED, one store call within storeTimeoutMs", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fenced by the claim: from ISSUING, expecting the claim's updatedAt; the certificate, the chain that is not the profile's, retention; the claim is handed over", async () => {
    const s = store(0, { status: "ISSUED" } as Transaction);
    const e = enrollment(s.transactions);
    expect(await settledAfter(e, 1)).toBe(true);
    expect(s.calls).toEqual([["p", "tx-1", "ISSUING", { status: "ISSUED", updatedAt: new Date("2026-03-01T10:00:00Z"), expiresAt: new Date("2026-03-02T10:00:00Z"), certificate: CERT, chain: [Uint8Array.of(0x30, 0x00)] }, { updatedAt: CLAIMED_AT }]]);
    expect(e.claim).toBeUndefined(); // the pipeline does not let go of a claim that is (being) recorded
  });

  it("the claim was taken over since (the transition resolves undefined): false", async () => {
    const s = store(0, undefined);
    expect(await settledAfter(enrollment(s.transactions), 1)).toBe(false);
  });

  it("a transition that never answers: false at storeTimeoutMs", async () => {
    const s = store(undefined);
    const e = enrollment(s.transactions);
    expect(await settledAfter(e, TIMEOUT_MS - 1)).toBeUndefined();
    expect(await settledAfter(e, TIMEOUT_MS)).toBe(false);
  });

  it("no claim held: false, and nothing is written", async () => {
    const s = store(0, { status: "ISSUED" } as Transaction);
    expect(await settledAfter(enrollment(s.transactions, null), 1)).toBe(false);
    expect(s.calls).toEqual([]);
  });
});
