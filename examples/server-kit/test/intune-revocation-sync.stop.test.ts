/**
 * The kit's periodic Intune revocation sync (scheduleRevocationSync) at shutdown and after a cut round:
 * - stop() aborts a round in progress through its signal (a round waiting on an Intune that does not answer held
 *   shutdown for each call's timeout and retries), and the cut round logs no `intune-error`;
 * - a round whose certificates were already revoked (by a round cut before its CRL) has the CRL re-signed.
 */
import { describe, expect, it } from "vitest";
import type { FileCa } from "@scep-examples/embedded-ca";
import type { IntuneRevocationSyncSummary } from "@scep/intune";
import { scheduleRevocationSync } from "../src/intune-revocation-sync.js";
import type { RevocationSync } from "../src/profiles.js";

const summary = (outcomes: string[]): IntuneRevocationSyncSummary =>
  ({
    downloaded: outcomes.length,
    succeeded: outcomes.length,
    failed: 0,
    retryable: 0,
    issuerMismatches: 0,
    uploaded: outcomes.length,
    items: outcomes.map((outcome, i) => ({ request: { requestContext: `ctx-${i}`, serialNumber: `0${i}` }, outcome, result: {} })),
  }) as unknown as IntuneRevocationSyncSummary;

describe("scheduleRevocationSync", () => {
  it("stop() aborts the round in progress through its signal and resolves once it ended; the cut round logs nothing", async () => {
    const lines: Record<string, unknown>[] = [];
    let seen: AbortSignal | undefined;
    const sync: RevocationSync = {
      everyMs: 3_600_000,
      ca: {} as FileCa,
      round: (signal) =>
        new Promise<IntuneRevocationSyncSummary>((_, reject) => {
          seen = signal;
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    };
    const scheduled = scheduleRevocationSync(sync, "intune", (l) => lines.push(l), async () => undefined);
    await new Promise((r) => setTimeout(r, 20)); // the first round starts on the next turn
    expect(seen).toBeInstanceOf(AbortSignal);
    await scheduled.stop();
    expect(seen!.aborted).toBe(true);
    expect(lines).toEqual([]);
  });

  it("a round that finds its certificates already revoked (a round cut before its CRL) has the CRL re-signed", async () => {
    let resigned = 0;
    const sync: RevocationSync = { everyMs: 3_600_000, ca: {} as FileCa, round: async () => summary(["already_revoked"]) };
    const scheduled = scheduleRevocationSync(sync, "intune", () => undefined, async () => void resigned++);
    await new Promise((r) => setTimeout(r, 20));
    await scheduled.stop();
    expect(resigned).toBe(1);
  });

  it("stop() waits for a revoke the cut round left under way (its store write) before it resolves", async () => {
    let finishRevoke!: () => void;
    const revokeUnderWay = new Promise<void>((r) => (finishRevoke = r));
    const sync: RevocationSync = {
      everyMs: 3_600_000,
      ca: {} as FileCa,
      round: (signal) => new Promise<IntuneRevocationSyncSummary>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true })),
      revokesSettled: () => revokeUnderWay,
    };
    const scheduled = scheduleRevocationSync(sync, "intune", () => undefined, async () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    let stopped = false;
    const stopping = scheduled.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    finishRevoke();
    await stopping;
    expect(stopped).toBe(true);
  });
});
