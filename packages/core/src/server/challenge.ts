/**
 * Challenge passwords: a static secret, a store of one-time challenges, or a
 * custom validator (Intune plugs in here).
 *
 * @module
 */
import * as nc from "../lib/node-crypto.js";
import { toHex } from "../lib/bytes.js";
import type { CertificationRequest } from "../x509/certification-request.js";
import type { PkiRequest } from "../message/pki-message.js";

/** What a challenge validator is told. */
export interface ChallengeContext {
  /** The challengePassword from the CSR (undefined when absent). */
  challenge: string | undefined;
  /** The CSR. */
  csr: CertificationRequest;
  /** The whole decoded request. */
  request: PkiRequest;
  /** The profile name. */
  profile: string;
}

/** A validator's verdict: true, false, or a rejection with a reason text. */
export type ChallengeVerdict = boolean | { ok: false; failInfoText?: string };

/**
 * One-time challenges shared by every replica of a server. `consume` must be
 * atomic: of two concurrent calls with the same challenge at most one returns true.
 */
export interface ChallengeStore {
  /** Creates a challenge valid for `ttlMs` on `profile`. */
  issue(options: { profile: string; ttlMs?: number }): Promise<string>;
  /** Consumes a challenge: true once, then false (also when expired or unknown). */
  consume(challenge: string, options: { profile: string }): Promise<boolean>;
}

/** How a profile checks challenges. */
export type ChallengePolicy =
  | { type: "static"; password: string }
  | { type: "store"; store: ChallengeStore }
  | { type: "custom"; validate: (ctx: ChallengeContext) => Promise<ChallengeVerdict> | ChallengeVerdict }
  | { type: "none"; acknowledgeAnyoneCanEnroll: true };

/**
 * In-memory one-time challenge store for tests and single-process servers.
 *
 * @example
 * ```ts
 * const store = new MemoryChallengeStore();
 * const challenge = await store.issue({ profile: "corp", ttlMs: 3_600_000 });
 * ```
 */
export class MemoryChallengeStore implements ChallengeStore {
  readonly #entries = new Map<string, { profile: string; expires: number }>();
  readonly #now: () => number;
  readonly #defaultTtl: number;

  constructor(options: { now?: () => Date; defaultTtlMs?: number } = {}) {
    this.#now = options.now ? () => options.now!().getTime() : () => Date.now();
    this.#defaultTtl = options.defaultTtlMs ?? 3_600_000;
  }

  /** {@inheritDoc ChallengeStore.issue} */
  async issue(options: { profile: string; ttlMs?: number }): Promise<string> {
    const challenge = toHex(nc.randomBytes(16));
    this.#entries.set(challenge, { profile: options.profile, expires: this.#now() + (options.ttlMs ?? this.#defaultTtl) });
    return challenge;
  }

  /** {@inheritDoc ChallengeStore.consume} */
  async consume(challenge: string, options: { profile: string }): Promise<boolean> {
    const e = this.#entries.get(challenge);
    if (!e) return false;
    this.#entries.delete(challenge);
    return e.profile === options.profile && e.expires > this.#now();
  }
}

/** Constant-time comparison of a presented challenge with the configured one. */
export function staticChallengeMatches(presented: string | undefined, expected: string): boolean {
  // Compare digests so the comparison time does not depend on lengths either.
  const a = nc.digest("sha256", new TextEncoder().encode(presented ?? ""));
  const b = nc.digest("sha256", new TextEncoder().encode(expected));
  return nc.timingSafeEqual(a, b) && presented !== undefined;
}
