/**
 * Step 5 of PROXY.md's checks (PKIOperation only): the challenge lifecycle of
 * the CA's type, measured with the injected clock.
 *
 * - `ndes` / `smallstep`: the challenge (inside the CSR, which the proxy does
 *   not open) was fetched when the MDM rendered the profile; valid while
 *   `now < challengeRetrievedAt + ttl` (57 / 4 minutes by default; all in ms
 *   since 1970). A record without `challengeRetrievedAt`, or with one more
 *   than `MAX_CHALLENGE_RETRIEVED_AHEAD_MS` (24 hours) ahead of `now` (a unit
 *   mistake, not clock skew), fails (`challenge_failed`, requeued).
 * - `custom`: when the record keeps a `challengeHash` (the challenge of the URL it was last registered with), an
 *   identifier with another challenge is `challenge_superseded`: nothing is consumed and the caller does not
 *   requeue (the MDM already delivered the current URL). Then the identifier's challenge is consumed from the `ChallengeStore`
 *   under the CA's name: atomic and one-shot, so a second use, or a race of
 *   two replicas, fails. The consume carries the request's `consumption` id,
 *   so the handler can release exactly this consume when the upstream provably
 *   did not issue, and, for a PKCSReq whose signature verifies, its re-send
 *   `binding` (`resend-binding.ts`), recorded with the spent mark. When the
 *   consume fails and the store has `isSpentBy`, a request whose binding is the
 *   one the spending consume recorded is the re-send of that PKCSReq (RFC 8894
 *   §3.3.1, §3.3.3): valid, `resend: true`, nothing consumed; the store records
 *   the match, after which the spending consume is never released (the CA may
 *   issue for the re-send). Any other binding is consumed once more (the
 *   spending consume may have been released in between): refused unless that
 *   consume passes. A store without
 *   `isSpentBy` refuses it as before, and is given no binding (none is computed:
 *   it costs a signature check, done only after the refusals that need none).
 *
 * A store error propagates (the handler answers 503 or 500).
 *
 * @module
 */
import type { ChallengeStore } from "@scep/core";
import { MAX_CHALLENGE_RETRIEVED_AHEAD_MS, challengeTtlMs, type CaConfig } from "../cas/ca-config.js";
import type { ProxyIdentifier } from "../identifier.js";
import { challengeHash } from "../stores/challenge-hash.js";
import type { ProfileRecord } from "../stores/profile-store.js";

/**
 * The verdict: valid, or why not. `resend`: the request is the re-send of the PKCSReq that spent the challenge (nothing
 * consumed). `bound`: the request's consume recorded a re-send binding, so while the challenge stays spent the same
 * PKCSReq sent again is forwarded (also true with `resend`: its own re-send matches too).
 */
export type ChallengeCheck = { ok: true; resend?: true; bound?: true } | { ok: false; reason: "challenge_expired" | "challenge_failed" | "challenge_superseded" };

/** Checks the challenge of one PKIOperation; see the module comment. */
export async function checkChallenge(
  ca: CaConfig,
  record: ProfileRecord,
  id: ProxyIdentifier,
  context: { nowMs: number; challenges: ChallengeStore | undefined; consumption: string; binding?: (() => Promise<string | undefined>) | undefined },
): Promise<ChallengeCheck> {
  if (ca.type === "custom") {
    const store = context.challenges;
    if (!store || id.challenge === undefined || id.challenge === "") return { ok: false, reason: "challenge_failed" };
    if (record.challengeHash !== undefined && (await challengeHash(id.challenge)) !== record.challengeHash) return { ok: false, reason: "challenge_superseded" };
    // Read here, after the cheap refusals above: it verifies the message's signature.
    const binding = await context.binding?.();
    const consumed = await store.consume(id.challenge, { profile: ca.name, consumption: context.consumption, ...(binding === undefined ? {} : { binding }) });
    if (consumed) return binding === undefined ? { ok: true } : { ok: true, bound: true };
    // Spent: by this very request's first send? (Read after the consume: a consume that raced ours and won wrote its
    // binding in the same atomic step, so a re-send arriving before the first send's answer matches too.) A match is
    // recorded by the store in the same step, so the first send's release can no longer un-spend the challenge.
    if (binding !== undefined && store.isSpentBy) {
      if (await store.isSpentBy(id.challenge, { profile: ca.name, binding })) return { ok: true, resend: true, bound: true };
      // Not matched: the spending consume may have been released (its upstream proved it issued nothing) between the
      // consume above and this look, leaving the challenge consumable; one more consume takes it as if this request
      // had come after the release (a re-send of that PKCSReq would otherwise be refused, and its profile requeued).
      const again = await store.consume(id.challenge, { profile: ca.name, consumption: context.consumption, binding });
      if (again) return { ok: true, bound: true };
    }
    return { ok: false, reason: "challenge_failed" };
  }
  const retrievedAt = record.challengeRetrievedAt;
  if (typeof retrievedAt !== "number" || !Number.isFinite(retrievedAt)) return { ok: false, reason: "challenge_failed" };
  const ttl = challengeTtlMs(ca);
  // A fetch time more than 24 hours ahead of the clock is no clock skew but a wrong record (microseconds, i.e.
  // milliseconds × 1000, land thousands of years ahead): taken as it is, the window would outlast the CA's own (NDES
  // keeps a challenge 60 minutes) by years, and the profile would never be requeued. Invalid, so it is requeued with a
  // fresh fetch. The bound is not the window: an MDM clock minutes ahead (past Smallstep's 4) must not requeue forever.
  if (retrievedAt > context.nowMs + MAX_CHALLENGE_RETRIEVED_AHEAD_MS) return { ok: false, reason: "challenge_failed" };
  return context.nowMs < retrievedAt + ttl ? { ok: true } : { ok: false, reason: "challenge_expired" };
}
