/**
 * The ISSUED record of a directly issued certificate (RFC 8894 §3.3.3, `enrollment/record.ts`) settles within
 * `storeTimeoutMs`, as the docs say: its `create` and the `get` that follows a refused `create` share one deadline.
 * Each under its own deadline, a store that refused late and then hung held the late event and the in-flight wait
 * of an identical request for up to twice `storeTimeoutMs`. Timers are faked (setTimeout only), so no test waits on
 * the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MessageType, type Transaction } from "../src/index.js";
import type { ServerContext } from "../src/server/context.js";
import type { Enrollment } from "../src/server/enrollment/enrollment.js";
import { recordIssued } from "../src/server/enrollment/record.js";
import { createStoreCall } from "../src/server/store-call.js";

const TIMEOUT_MS = 1000;
const CERT = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x07);

/** A transaction store whose ISSUED `create` answers `false` after `refuseAfterMs` (never when undefined) and whose `get` answers after `getAfterMs` (never when undefined). */
function store(refuseAfterMs: number | undefined, getAfterMs: number | undefined, found?: Transaction) {
  const calls: string[] = [];
  const after = <T>(ms: number | undefined, value: T): Promise<T> => new Promise((resolve) => void (ms !== undefined && setTimeout(resolve, ms, value)));
  return {
    calls,
    transactions: {
      create: (): Promise<boolean> => (calls.push("create"), after(refuseAfterMs, false)),
      get: (): Promise<Transaction | undefined> => (calls.push("get"), after(getAfterMs, found)),
    },
  };
}

function enrollment(transactions: unknown): Enrollment {
  const profile = { name: "p", retentionMs: 86_400_000, caChain: [], transactions };
  const request = { messageType: MessageType.PKCSReq, transactionId: "tx-1", signerCertificate: { isSelfIssued: true, der: Uint8Array.of(0x30, 0x00) } };
  return { profile, request, csr: { der: Uint8Array.of(0x30, 0x00) }, renewal: false, issued: { certificate: { der: CERT }, chain: [Uint8Array.of(0x30, 0x00)] } } as unknown as Enrollment;
}

/** recordIssued's answer once `ms` of fake time has passed: undefined while it has not settled. */
async function settledAfter(e: Enrollment, ms: number): Promise<boolean | undefined> {
  const ctx: ServerContext = { now: () => new Date("2026-03-01T10:00:00Z"), maxBody: 65536, store: createStoreCall(TIMEOUT_MS) };
  let result: boolean | undefined;
  void recordIssued(ctx, e).then((r) => (result = r));
  await vi.advanceTimersByTimeAsync(ms);
  return result;
}

describe("the ISSUED record settles within storeTimeoutMs, create and get together", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a create that never answers: false at storeTimeoutMs, no get", async () => {
    const s = store(undefined, 0);
    expect(await settledAfter(enrollment(s.transactions), TIMEOUT_MS)).toBe(false);
    expect(s.calls).toEqual(["create"]);
  });

  it("a create refused just before storeTimeoutMs, then a get that never answers: false at storeTimeoutMs, not twice it", async () => {
    const s = store(TIMEOUT_MS - 100, undefined);
    const e = enrollment(s.transactions);
    expect(await settledAfter(e, TIMEOUT_MS)).toBe(false);
    expect(s.calls).toEqual(["create", "get"]);
  });

  it("a create refused at once, then a get that never answers: false at storeTimeoutMs", async () => {
    const s = store(0, undefined);
    expect(await settledAfter(enrollment(s.transactions), TIMEOUT_MS)).toBe(false);
    expect(s.calls).toEqual(["create", "get"]);
  });

  it("a create refused late and a get finding this certificate's ISSUED record, both within the deadline: true", async () => {
    const found = { status: "ISSUED", certificate: CERT } as Transaction;
    const s = store(TIMEOUT_MS / 2, TIMEOUT_MS / 4, found);
    expect(await settledAfter(enrollment(s.transactions), TIMEOUT_MS - 1)).toBe(true);
  });

  it("a create refused only after the deadline: no get is sent for an answer nobody reads", async () => {
    const s = store(TIMEOUT_MS + 500, 0);
    expect(await settledAfter(enrollment(s.transactions), TIMEOUT_MS)).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.calls).toEqual(["create"]);
  });
});
