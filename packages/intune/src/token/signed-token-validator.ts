/**
 * Mode B: the signed-token challenge validator (certctl-compatible). The
 * challengePassword is a compact JWS minted by the MDM's connector and
 * verified locally against a trust-anchor pool, then bound to the CSR, checked
 * against a replay cache and a per-device rate limiter.
 *
 * @module
 */
import { type ChallengeStatus, type ChallengeStatusReporter, type FailInfo, isScepError } from "@scep/core";
import { IntuneConfigError } from "../errors.js";
import { MemoryRateLimiter, checkLimit, type RateLimit, type RateLimiter } from "../stores/rate-limiter.js";
import { MemoryReplayCache, checkTtl, type ReplayCache } from "../stores/replay-cache.js";
import { Spent } from "../stores/spent.js";
import type { ChallengeValidator, ValidatorVerdict, ValidationInput } from "../verdict.js";
import { STRICT_CLAIMS, readClaims, type SignedTokenClaims } from "./claims.js";
import { parseCompactJws, verifyCompactJws } from "./jws.js";
import type { TrustAnchorPool } from "./trust-anchors.js";
import { configFunction, configNumber } from "../lib/options.js";

/**
 * The reason labels of {@link SignedTokenValidator}, in gate order.
 *
 * @group Signed tokens
 */
export type SignedTokenReason =
  | "signature_invalid"
  | "malformed"
  | "unknown_version"
  | "not_yet_valid"
  | "expired"
  | "wrong_audience"
  | "claim_mismatch"
  | "replay"
  | "rate_limited"
  | "compliance_failed";

/**
 * The SCEP failInfo (RFC 8894 §3.2.1.4.5) of each reason: signature, time,
 * audience and replay failures are badMessageCheck, everything else badRequest.
 *
 * @group Signed tokens
 */
export const SIGNED_TOKEN_FAIL_INFO: Readonly<Record<SignedTokenReason, FailInfo>> = {
  signature_invalid: "badMessageCheck",
  malformed: "badRequest",
  unknown_version: "badRequest",
  not_yet_valid: "badMessageCheck",
  expired: "badMessageCheck",
  wrong_audience: "badMessageCheck",
  claim_mismatch: "badRequest",
  replay: "badMessageCheck",
  rate_limited: "badRequest",
  compliance_failed: "badRequest",
};

/**
 * Largest challenge read (bytes, UTF-8); a longer one is refused before any parsing.
 *
 * @group Signed tokens
 */
export const MAX_CHALLENGE_BYTES = 16 * 1024;

/**
 * Options of {@link SignedTokenValidator}.
 *
 * @group Signed tokens
 */
export interface SignedTokenValidatorOptions {
  /** The keys tokens are verified with. Without a pool every challenge is `signature_invalid`. */
  trustAnchors?: TrustAnchorPool;
  /** When set, the `aud` claim must equal it exactly (else `wrong_audience`). */
  audience?: string;
  /**
   * Strict mode (default true): `iss`, `sub`, `aud`, `iat`, `exp` and `nonce`
   * are required and the string ones non-empty (INTUNE.md Mode B, "Strict mode"), so a signed `{}`, or a
   * `nonce: ""` that the replay cache never stores, is `malformed` instead of passing every gate.
   */
  strict?: boolean;
  /** Clock skew tolerated on `iat`, `nbf` and `exp` (claims in seconds), milliseconds (default 60,000). An integer from 0 to 86 400 000 (one day), else `ERR_INTUNE_CONFIG`. */
  clockSkewMs?: number;
  /** Oldest `iat` accepted: now − iat over this is `expired` (default 3,600,000 ms; `false`: no cap). An integer from 1 to 31 536 000 000 (ms), else `ERR_INTUNE_CONFIG`. */
  maxValidityMs?: number | false;
  /** Where nonces are remembered (default: a {@link MemoryReplayCache} on the validator's clock). */
  replayCache?: ReplayCache;
  /**
   * How long a nonce is remembered, milliseconds (default: `maxValidityMs`,
   * else 3,600,000). Never shorter than the token's own remaining acceptable
   * life (until exp + skew, or iat + maxValidity), so a replay within the skew
   * is still caught. An integer from 1 to 31 536 000 000 (ms, 365 days), else `ERR_INTUNE_CONFIG`.
   */
  replayTtlMs?: number;
  /** Where accepted enrollments per (sub, iss) are counted (default: a {@link MemoryRateLimiter} on the validator's clock). */
  rateLimiter?: RateLimiter;
  /** Accepted enrollments per (sub, iss) (default 3 per 24 h; `false`: no limit). */
  rateLimit?: RateLimit | false;
  /** Last gate: false or a throw is `compliance_failed`. */
  compliance?: (claims: SignedTokenClaims, input: ValidationInput) => boolean | Promise<boolean>;
  /** The clock (default: the system clock). */
  now?: () => Date;
}

class Refusal {
  constructor(
    readonly reason: SignedTokenReason,
    readonly text: string,
  ) {}
}

/** Trimmed, lower-cased, de-duplicated. */
function normalizedSet(values: readonly string[]): Set<string> {
  return new Set(values.map((v) => v.trim().toLowerCase()));
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}

/**
 * True when `challenge` has the shape certctl routes to the signed-token
 * validator: more than 200 bytes (UTF-8) and exactly two dots. A cheap
 * pre-check for servers that accept several kinds of challenge on one profile.
 *
 * @example
 * ```ts
 * import type { ChallengeContext } from "@scep/core";
 * import { type IntuneValidator, type SignedTokenValidator, looksLikeSignedToken } from "@scep/intune";
 *
 * declare const tokens: SignedTokenValidator;
 * declare const intune: IntuneValidator;
 * const validate = (ctx: ChallengeContext) => (looksLikeSignedToken(ctx.challenge) ? tokens.validate(ctx) : intune.validate(ctx));
 * ```
 *
 * @group Signed tokens
 */
export function looksLikeSignedToken(challenge: string | undefined): boolean {
  if (challenge === undefined || challenge.length > MAX_CHALLENGE_BYTES) return false;
  let dots = 0;
  for (let i = 0; i < challenge.length; i++) if (challenge.charCodeAt(i) === 0x2e) dots++;
  return dots === 2 && Buffer.byteLength(challenge, "utf8") > 200;
}

/**
 * Validates signed-token challenges (Mode B), gate by gate in this order; the
 * first failure names the verdict's reason:
 *
 * 1. no trust anchors → `signature_invalid`;
 *    (a challenge over 16 KiB or absent → `malformed`, before any parsing)
 * 2. parse: three non-empty base64url segments (padding tolerated), header a JSON object → `malformed`;
 * 3. signature over the raw on-wire `segment0.segment1`: RS256 (RSA ≥ 2048) or
 *    ES256 (P-256; raw r||s or DER) against every matching anchor key →
 *    `signature_invalid`; then claims JSON with exact types (and, in strict
 *    mode, iss/sub/aud/iat/exp/nonce present, the strings non-empty) → `malformed`;
 * 4. `version` other than absent, "" or "v1" → `unknown_version`;
 * 5. time (claims in seconds, skew and maxValidity in ms): now + skew < iat, or
 *    now + skew < nbf when the token has one (RFC 7519 §4.1.5) → `not_yet_valid`;
 *    now − skew ≥ exp → `expired`; now − iat > maxValidity → `expired`;
 * 6. `aud` ≠ the configured audience → `wrong_audience`;
 * 7. CSR binding → `claim_mismatch`: `device_name` = the subject CN
 *    (case-sensitive); each non-empty `san_dns` / `san_rfc822` / `san_upn`
 *    equals the CSR's dNSName / rfc822Name / UPN otherName set (trimmed,
 *    lower-cased, de-duplicated, order-free). A mismatch does not consume the nonce;
 * 8. the nonce seen within its TTL → `replay`;
 * 9. more than `rateLimit.max` accepted challenges for (sub, iss) in the
 *    window → `rate_limited` (refused attempts are not counted);
 * 10. the compliance hook returns false or throws → `compliance_failed`.
 *
 * failInfo: badMessageCheck for signature_invalid, expired, not_yet_valid,
 * wrong_audience and replay; badRequest otherwise. The verdict of an accepted
 * token carries its claims as `data.claims`.
 *
 * What an accepted token spent (its nonce, its rate-limit hit) is given back
 * by the verdict's `release`, which the server calls when it fails the request
 * afterwards (the nonce only when the replay cache has `release`). A refusal at
 * gate 10 gives back the hit and keeps the nonce spent.
 *
 * @throws @scep/core's `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`) from `validate` when the replay cache or rate
 * limiter cannot be reached (fail closed; a server answers 503). Nothing then stays spent: a nonce recorded before
 * the failing call is released (best effort), and a store whose own write failed undoes it (see {@link ReplayCache}),
 * so the device's resend validates.
 *
 * @example
 * ```ts
 * import { createScepServer } from "@scep/core";
 * import { SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
 *
 * const validator = new SignedTokenValidator({
 *   trustAnchors: await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem"),
 *   audience: "https://scep.example.com/scep",
 * });
 * const server = createScepServer({ profiles: [{ ...profile, challenge: { type: "custom", validate: (ctx) => validator.validate(ctx) } }] });
 * ```
 *
 * @group Signed tokens
 */
export class SignedTokenValidator implements ChallengeValidator, ChallengeStatusReporter {
  readonly #o: SignedTokenValidatorOptions;
  readonly #now: () => Date;
  readonly #strict: boolean;
  readonly #skew: number;
  readonly #maxValidity: number | false;
  readonly #replay: ReplayCache;
  readonly #replayTtl: number;
  readonly #limiter: RateLimiter;
  readonly #limit: RateLimit | false;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a negative skew, a non-positive maxValidity, replay TTL or rate limit. */
  constructor(options: SignedTokenValidatorOptions = {}) {
    this.#o = options;
    this.#now = options.now ?? ((): Date => new Date());
    this.#strict = options.strict ?? true;
    this.#skew = configNumber("clockSkewMs", options.clockSkewMs, 60_000, { min: 0, max: 86_400_000, unit: "ms" });
    configFunction("now", options.now);
    configFunction("compliance", options.compliance);
    this.#maxValidity = options.maxValidityMs ?? 3_600_000;
    if (this.#maxValidity !== false) checkTtl(this.#maxValidity, "maxValidityMs");
    this.#replayTtl = options.replayTtlMs ?? (this.#maxValidity === false ? 3_600_000 : this.#maxValidity);
    checkTtl(this.#replayTtl, "replayTtlMs");
    this.#limit = options.rateLimit ?? { max: 3, windowMs: 86_400_000 };
    if (this.#limit !== false) checkLimit(this.#limit);
    this.#replay = options.replayCache ?? new MemoryReplayCache({ now: this.#now });
    this.#limiter = options.rateLimiter ?? new MemoryRateLimiter({ now: this.#now });
  }

  /**
   * What operators see of this validator (@scep/core's `ChallengeStatusReporter`, shown in `server.snapshot()`
   * when the profile passes `status: validator`): kind `intune`, mode `signed-token`, each trust anchor's subject,
   * expiry and SHA-256 fingerprint, and why the pool's last reload failed. No secret.
   *
   * @example
   * ```ts
   * import { SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
   *
   * const tokens = new SignedTokenValidator({ trustAnchors: await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem") });
   * const challenge = { type: "custom", validate: tokens.validate.bind(tokens), status: tokens } as const;
   * tokens.challengeStatus().trustAnchors; // [{ subject: "CN=…", notAfter: Date, fingerprintSha256: "…" }]
   * ```
   */
  challengeStatus(): ChallengeStatus {
    const pool = this.#o.trustAnchors;
    const error = pool?.lastReloadError;
    return {
      kind: "intune",
      mode: "signed-token",
      trustAnchors: (pool?.anchors ?? []).map((a) => ({ subject: a.subject, notAfter: a.notAfter, fingerprintSha256: a.fingerprintSha256 })),
      ...(error ? { lastReloadError: error.message } : {}),
    };
  }

  /** {@inheritDoc ChallengeValidator.validate} */
  async validate(input: ValidationInput): Promise<ValidatorVerdict> {
    try {
      const { claims, release } = await this.#check(input);
      return release ? { ok: true, data: { claims }, release } : { ok: true, data: { claims } };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, reason: e.reason, failInfo: SIGNED_TOKEN_FAIL_INFO[e.reason], failInfoText: e.text };
      throw e;
    }
  }

  async #check(input: ValidationInput): Promise<{ claims: SignedTokenClaims; release?: () => Promise<unknown> }> {
    // Gate 1: trust anchors.
    const pool = this.#o.trustAnchors;
    if (!pool) throw new Refusal("signature_invalid", "no trust anchors are configured for signed-token challenges");
    const keys = pool.keys; // one snapshot for the whole validation, even across a reload

    // Before any parsing: presence and size.
    const token = input.challenge;
    if (token === undefined || token === "") throw new Refusal("malformed", "the CSR has no challengePassword");
    // A UTF-16 code unit is at most 3 UTF-8 bytes: count the bytes only when the length alone cannot tell.
    if (token.length > MAX_CHALLENGE_BYTES || (token.length * 3 > MAX_CHALLENGE_BYTES && Buffer.byteLength(token, "utf8") > MAX_CHALLENGE_BYTES)) {
      throw new Refusal("malformed", `the challenge is longer than ${MAX_CHALLENGE_BYTES} bytes`);
    }

    // Gate 2: parse.
    const jws = parseCompactJws(token);
    if ("error" in jws) throw new Refusal("malformed", jws.error);

    // Gate 3: signature.
    if (!verifyCompactJws(jws, keys)) {
      const alg = jws.header["alg"];
      const text =
        alg === "RS256" || alg === "ES256"
          ? `the ${alg} signature does not verify with any trust anchor`
          : `signature algorithm ${typeof alg === "string" ? JSON.stringify(alg.slice(0, 16)) : "(missing)"} is not accepted (RS256, ES256)`;
      throw new Refusal("signature_invalid", text);
    }
    const claims = readClaims(jws.payload);
    if ("error" in claims) throw new Refusal("malformed", claims.error);
    if (this.#strict) {
      // An empty string is no value (certctl's Go structs read "" and absent alike): a signed `nonce: ""` would pass
      // with nothing stored (replayable until exp), `sub: ""` and `iss: ""` would put every such token in one rate-limit key.
      const missing = STRICT_CLAIMS.find((k) => claims[k] === undefined || claims[k] === "");
      if (missing) throw new Refusal("malformed", `claim ${missing} is required (strict mode)${claims[missing] === "" ? " and must not be empty" : ""}`);
    }

    // Gate 4: version.
    if (claims.version !== undefined && claims.version !== "" && claims.version !== "v1") {
      throw new Refusal("unknown_version", `token version ${JSON.stringify(claims.version.slice(0, 32))} is not supported (v1)`);
    }

    // Gate 5: time.
    const now = this.#now().getTime();
    if (claims.iat !== undefined && now + this.#skew < claims.iat * 1000) throw new Refusal("not_yet_valid", "the token is not valid yet (iat is in the future)");
    // RFC 7519 §4.1.5: a token that names a not-before time MUST NOT be accepted before it (certctl ignores nbf).
    if (claims.nbf !== undefined && now + this.#skew < claims.nbf * 1000) throw new Refusal("not_yet_valid", "the token is not valid yet (nbf is in the future)");
    if (claims.exp !== undefined && now - this.#skew >= claims.exp * 1000) throw new Refusal("expired", "the token has expired");
    if (this.#maxValidity !== false && claims.iat !== undefined && now - claims.iat * 1000 > this.#maxValidity) {
      throw new Refusal("expired", `the token was issued more than ${this.#maxValidity / 1000} s ago`);
    }

    // Gate 6: audience.
    if (this.#o.audience !== undefined && claims.aud !== this.#o.audience) throw new Refusal("wrong_audience", "the token is for another audience");

    // Gate 7: CSR binding.
    this.#checkBinding(claims, input);

    // Gates 8 and 9 spend the nonce and a rate-limit hit; Spent gives them back when a later step fails with a
    // store error (the server answers 503, and the device's resend must not be a replay of its own token).
    const spent = new Spent();

    // Gate 8: replay (after the binding, so a mismatch does not consume the nonce).
    const nonce = claims.nonce ?? "";
    if (nonce !== "" && !(await spent.insert(this.#replay, nonce, this.#replayTtlFor(claims, now)))) throw new Refusal("replay", "the token was used before");

    // Gate 9: rate limit per (sub, iss); JSON keeps the pair unambiguous.
    if (this.#limit !== false) {
      const limit = this.#limit;
      const r = await spent.hit(this.#limiter, JSON.stringify([claims.sub ?? "", claims.iss ?? ""]), limit);
      if (!r.allowed) throw new Refusal("rate_limited", `more than ${limit.max} enrollments of this device in ${limit.windowMs / 1000} s`);
    }

    // Gate 10: compliance.
    if (this.#o.compliance) {
      let compliant = false;
      try {
        compliant = (await this.#o.compliance(claims, input)) === true;
      } catch {
        compliant = false;
      }
      if (!compliant) {
        await spent.refuseHit();
        throw new Refusal("compliance_failed", "the device is not compliant");
      }
    }
    const release = spent.release();
    return release ? { claims, release } : { claims };
  }

  #checkBinding(claims: SignedTokenClaims, input: ValidationInput): void {
    const csr = input.csr;
    if (claims.device_name !== undefined && claims.device_name !== "" && csrPart(() => csr.commonName, "subject", "device_name") !== claims.device_name) {
      throw new Refusal("claim_mismatch", "device_name does not equal the CSR subject CN");
    }
    if (!claims.san_dns?.length && !claims.san_rfc822?.length && !claims.san_upn?.length) return; // no SAN claim: the CSR's SANs need no parse
    const san = csrPart(() => csr.subjectAltNames, "subjectAltName", "the SAN claims");
    const pairs: [string, string[] | undefined, string[]][] = [
      ["san_dns", claims.san_dns, san.dns],
      ["san_rfc822", claims.san_rfc822, san.email],
      ["san_upn", claims.san_upn, san.upn],
    ];
    for (const [name, claimed, requested] of pairs) {
      if (!claimed || claimed.length === 0) continue;
      if (!sameSet(normalizedSet(claimed), normalizedSet(requested))) throw new Refusal("claim_mismatch", `${name} does not equal the CSR's SANs of that kind`);
    }
  }

  /** The configured TTL, stretched to the token's last acceptable instant so no replay slips through the skew. */
  #replayTtlFor(claims: SignedTokenClaims, now: number): number {
    let last = -Infinity;
    if (claims.exp !== undefined) last = claims.exp * 1000 + this.#skew;
    if (this.#maxValidity !== false && claims.iat !== undefined) last = Math.min(last === -Infinity ? Infinity : last, claims.iat * 1000 + this.#maxValidity + 1);
    const remaining = Number.isFinite(last) ? Math.ceil(last - now) : 0;
    // At most a century: an exp far in the future (a signed 1e15) would otherwise be a TTL no store can hold, and the
    // device would get a 503 for ever instead of its certificate.
    return Math.max(this.#replayTtl, Math.min(remaining, MAX_REPLAY_TTL_MS));
  }
}

/** The longest a nonce is kept, in ms (100 years): past any token's useful life. */
const MAX_REPLAY_TTL_MS = 100 * 365 * 86_400_000;

/**
 * A part of the CSR that is parsed only when first read (its subject, RFC 2986 §4.1; its subjectAltName, RFC 5280
 * §4.2.1.6). One that does not parse cannot match the token's claim: `claim_mismatch` (badRequest), not the CSR
 * reader's `ERR_ASN1` thrown out of `validate`.
 */
function csrPart<T>(read: () => T, part: string, claim: string): T {
  try {
    return read();
  } catch (e) {
    if (!isScepError(e)) throw e;
    throw new Refusal("claim_mismatch", `the CSR's ${part} does not parse, so it cannot match ${claim}`);
  }
}
