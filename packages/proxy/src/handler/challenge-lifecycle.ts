/**
 * Step 5 of PROXY.md's checks (PKIOperation only): the challenge lifecycle of
 * the CA's type, measured with the injected clock.
 *
 * - `ndes` / `smallstep`: the challenge (inside the CSR, which the proxy does
 *   not open) was fetched when the MDM rendered the profile; valid while
 *   `now < challengeRetrievedAt + ttl` (57 / 4 minutes by default). A record
 *   without `challengeRetrievedAt` fails.
 * - `custom`: when the record keeps a `challengeHash` (the challenge of the URL it was last registered with), an
 *   identifier with another challenge is `challenge_superseded`: nothing is consumed and the caller does not
 *   requeue (the MDM already delivered the current URL). Then the identifier's challenge is consumed from the `ChallengeStore`
 *   under the CA's name: atomic and one-shot, so a second use, or a race of
 *   two replicas, fails. The consume carries the request's `consumption` id,
 *   so the handler can release exactly this consume when the upstream provably
 *   did not issue.
 *
 * A store error propagates (the handler answers 503 or 500).
 *
 * @module
 */
import type { ChallengeStore } from "@scep/core";
import { challengeTtlMs, type CaConfig } from "../cas/ca-config.js";
import type { ProxyIdentifier } from "../identifier.js";
import { challengeHash } from "../stores/challenge-hash.js";
import type { ProfileRecord } from "../stores/profile-store.js";

/** The verdict: valid, or why not. */
export type ChallengeCheck = { ok: true } | { ok: false; reason: "challenge_expired" | "challenge_failed" | "challenge_superseded" };

/** Checks the challenge of one PKIOperation; see the module comment. */
export async function checkChallenge(
  ca: CaConfig,
  record: ProfileRecord,
  id: ProxyIdentifier,
  context: { nowMs: number; challenges: ChallengeStore | undefined; consumption: string },
): Promise<ChallengeCheck> {
  if (ca.type === "custom") {
    if (!context.challenges || id.challenge === undefined || id.challenge === "") return { ok: false, reason: "challenge_failed" };
    if (record.challengeHash !== undefined && (await challengeHash(id.challenge)) !== record.challengeHash) return { ok: false, reason: "challenge_superseded" };
    const consumed = await context.challenges.consume(id.challenge, { profile: ca.name, consumption: context.consumption });
    return consumed ? { ok: true } : { ok: false, reason: "challenge_failed" };
  }
  const retrievedAt = record.challengeRetrievedAt;
  if (typeof retrievedAt !== "number" || !Number.isFinite(retrievedAt)) return { ok: false, reason: "challenge_failed" };
  return context.nowMs < retrievedAt + challengeTtlMs(ca) ? { ok: true } : { ok: false, reason: "challenge_expired" };
}
