/**
 * Every challenge policy as one validator returning one verdict shape: ok
 * (with optional `data` for the issue hook), or a stable reason label, a
 * failInfo and a text for the client (RFC 8894 §2.3, §3.2.1.4.5). The
 * enrollment's challenge phase runs the profile's validator and knows nothing
 * of the policy kinds.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { type ChallengeContext, type ChallengePolicy, type ChallengeVerdict, staticChallengeMatches } from "./challenge.js";
import { lateCall, type StoreCall } from "./store-call.js";
import { resendBinding } from "./resend-binding.js";
import { hookRefusal } from "./hook-refusal.js";

/** A validator's verdict, normalized. @group Server */
export type ChallengeOutcome =
  | {
      ok: true;
      data?: unknown;
      /** Undoes what accepting the challenge spent (a one-time challenge), for a request the server then fails before issuing. */
      release?: () => Promise<unknown>;
    }
  | { ok: false; reason: string; failInfo: FailInfo; failInfoText: string };

/**
 * Checks the challenge of one request. May reject with StoreUnavailableError (the server answers 503). `options.resend`:
 * the request is the re-send of one whose enrollment ended unanswered (its claim lapsed, `enrollment/claim.ts`), so a
 * one-time challenge that first send spent may pass for it. @group Server
 */
export type ChallengeValidator = (ctx: ChallengeContext, store: StoreCall, options?: { resend?: boolean }) => Promise<ChallengeOutcome>;

const OK: ChallengeOutcome = { ok: true };
const refuse = (failInfoText: string, reason = "bad_challenge", failInfo: FailInfo = "badRequest"): ChallengeOutcome => ({ ok: false, reason, failInfo, failInfoText });

/** A CSR without a challengePassword attribute: say so, not "mismatch" (the user forgot it; nothing was guessed wrong). */
const MISSING = (): ChallengeOutcome => refuse("no challenge password in the CSR", "missing_challenge");

/** No challenge: anyone can enroll (the profile acknowledged it). */
const none: ChallengeValidator = async () => OK;

/** A static shared secret, compared in constant time. */
function staticSecret(password: string): ChallengeValidator {
  return async ({ challenge }) => {
    if (challenge === undefined) return MISSING();
    return staticChallengeMatches(challenge, password) ? OK : refuse("challenge password mismatch");
  };
}

/**
 * A one-time challenge consumed from a {@link ChallengeStore} (atomic: one success per challenge). The consume records
 * the request's re-send binding (`resend-binding.ts`). When the challenge is found spent, the request resumes a lapsed
 * claim of its own first send (`options.resend`: that send's replica died, or could not let go of its claim or give
 * the challenge back, before any answer was recorded; RFC 8894 §3.3.3) and the store has `isSpentBy`, a request with
 * the binding of the one that spent it passes, consuming nothing; it gets no `release` (the store then never releases
 * the spending consume either: the re-send may be issued). Anything else with a spent challenge is refused as before,
 * also the re-send of a request that got its answer (a FAILURE, or a certificate whose record has expired since).
 */
function oneTime(policy: Extract<ChallengePolicy, { type: "store" }>): ChallengeValidator {
  return async (ctx, store, options) => {
    const { challenge, profile } = ctx;
    if (challenge === undefined) return MISSING();
    const challenges = policy.store;
    const binding = resendBinding(ctx);
    const consume = async (): Promise<boolean> => {
      try {
        return await store("challenge store", () => challenges.consume(challenge, { profile, binding }));
      } catch (error) {
        // A consume that answers after the timeout may still have spent the challenge, while the device was told 503
        // and will resend: put it back once the store answers.
        const late = lateCall(error);
        if (late && challenges.release) void late.then((spent) => spent && challenges.release!(challenge, { profile })).catch(() => undefined);
        throw error;
      }
    };
    let consumed = await consume();
    if (!consumed && options?.resend === true && challenges.isSpentBy) {
      // Spent: by this very request's first send? A match is recorded by the store in the same step, so that send's
      // release can no longer put the challenge back while this one is issued.
      if (await store("challenge store", () => challenges.isSpentBy!(challenge, { profile, binding }))) return OK;
      // Not matched: the spending consume may have been released between the consume above and this look; one more
      // consume takes the challenge as if this request had come after the release.
      consumed = await consume();
    }
    if (!consumed) return refuse("challenge password invalid or already used");
    return challenges.release ? { ok: true, release: () => store("challenge store", () => challenges.release!(challenge, { profile })) } : OK;
  };
}

/**
 * The user's validator; its verdict (boolean or object) normalized. Its `release` undoes a store write (a replay-cache
 * entry, a rate-limit hit) and runs while the server fails a request (a 503 for a store that is down, a 500): it is a
 * store call, bounded by `storeTimeoutMs`, so a store that hangs cannot hold that answer.
 */
function custom(policy: Extract<ChallengePolicy, { type: "custom" }>): ChallengeValidator {
  return async (ctx, store) => {
    const outcome = normalizeVerdict(await policy.validate(ctx));
    if (!outcome.ok || !outcome.release) return outcome;
    const release = outcome.release;
    return { ...outcome, release: () => store("challenge release", release) };
  };
}

/** Normalizes a {@link ChallengeVerdict}. @group Server */
export function normalizeVerdict(v: ChallengeVerdict): ChallengeOutcome {
  if (v === true) return OK;
  if (typeof v === "object" && v !== null && v.ok === true) {
    if (v.data === undefined && v.release === undefined) return OK;
    return { ok: true, ...(v.data !== undefined ? { data: v.data } : {}), ...(typeof v.release === "function" ? { release: v.release } : {}) };
  }
  // A JavaScript validator's refusal is checked as the issue hook's is: a failInfo outside RFC 8894's five ("denied")
  // made the CertRep unbuildable (HTTP 500), and a failInfoText of 42 went to the device as "42".
  if (typeof v === "object" && v !== null && v.ok === false) return { ok: false, ...hookRefusal(v, { reason: "bad_challenge", failInfoText: "challenge rejected" }) };
  return refuse("challenge rejected");
}

/** The validator of a policy. @group Server */
export function challengeValidator(policy: ChallengePolicy): ChallengeValidator {
  switch (policy.type) {
    case "none":
      return none;
    case "static":
      return staticSecret(policy.password);
    case "store":
      return oneTime(policy);
    case "custom":
      return custom(policy);
  }
}
