/**
 * The lease of a first enrollment's claim (`claim.ts`) kept alive while the
 * enrollment holds it: every third of `claimLeaseMs` its holder moves the
 * claim's `expiresAt` one lease past now (up to `approvalLeaseMs` after it was
 * taken), fenced by the claim's `updatedAt`
 * (which stays, so it remains the fencing token of the ISSUED record and of
 * the release). A holder that stalls or dies stops renewing, and its claim
 * lapses within one lease (RFC 8894 §3.3.3: the device's re-send, on any
 * replica, is then issued).
 *
 * @module
 */
import type { ServerContext } from "../context.js";
import type { Enrollment } from "./enrollment.js";

/** The renewal timers of the claims held now. */
const renewals = new WeakMap<Enrollment, ReturnType<typeof setInterval>>();

/**
 * Renews the claim taken at `at` every third of `claimLeaseMs` while the enrollment holds it (`e.claim` is `at`): a
 * fenced ISSUING→ISSUING transition that moves only `expiresAt`, never past `at` + `approvalLeaseMs` (the longest a
 * claim is held, default 5 minutes). Stops at the first tick after the claim was let go or recorded, once a renewal
 * finds it gone (taken over after a stall), or at that limit. A renewal that fails (store down) is
 * tried again at the next tick; the lease lapses if none succeeds. The timer never keeps the process alive.
 */
export function keepRenewed(ctx: ServerContext, e: Enrollment, at: Date): void {
  const p = e.profile;
  let renewing = false;
  const timer = setInterval(() => {
    if (e.claim !== at) return stopRenewing(e);
    if (renewing) return;
    // Never past approvalLeaseMs from when it was taken: a hook that never settles (an upstream call without a
    // timeout) lets go of the transactionID then, as before renewals, and this timer ends.
    const now = ctx.now().getTime();
    const until = at.getTime() + p.leaseMs;
    if (now >= until) return stopRenewing(e);
    renewing = true;
    const expiresAt = new Date(Math.min(now + p.claimLeaseMs, until));
    ctx
      .store("transaction store", () => p.transactions.transition(p.name, e.request.transactionId, "ISSUING", { status: "ISSUING", updatedAt: at, expiresAt }, { updatedAt: at }))
      .then(
        (renewed) => {
          if (!renewed) stopRenewing(e);
        },
        () => undefined,
      )
      .finally(() => (renewing = false));
  }, p.claimLeaseMs / 3);
  timer.unref?.();
  renewals.set(e, timer);
}

/** Stops renewing the enrollment's claim (it was let go, or recorded ISSUED). */
export function stopRenewing(e: Enrollment): void {
  const timer = renewals.get(e);
  if (timer === undefined) return;
  clearInterval(timer);
  renewals.delete(e);
}
