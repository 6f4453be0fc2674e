/**
 * An in-process {@link ChallengeSource}: fixed, generated or scripted
 * challenges, for tests and for MDMs that render challenges themselves.
 *
 * @module
 */
import { newChallenge } from "@scep/core";
import type { CaConfig } from "../cas/ca-config.js";
import { ChallengeSourceError } from "../errors.js";
import { type ChallengeSource, type FetchedChallenge, fitsPrintableString } from "./challenge-source.js";
import { CONTROL_CHARACTER, MAX_CHALLENGE_CHARS } from "../lib/text.js";
import { functionOption } from "../lib/options.js";
import { abortable } from "@scep/core/internal";

/**
 * Options of {@link MemoryChallengeSource}.
 *
 * @group Challenge sources
 */
export interface MemoryChallengeSourceOptions {
  /** Clock for `retrievedAt` (ms since the epoch at the call). Default `() => new Date()`. */
  now?: () => Date;
  /**
   * The challenge for `ca`: a fixed string, or a function (sync or async)
   * that returns one or throws. A `ChallengeSourceError` it throws (e.g.
   * `NdesPasswordCacheFullError`, to script a full NDES cache) reaches the
   * caller as is; anything else it throws becomes a `ChallengeSourceError`
   * (`ERR_PROXY_CHALLENGE_SOURCE`, not retryable) with it as `cause`. It is
   * given the call's `signal`. Default: `newChallenge()` of `@scep/core`
   * (24 random bytes in base64url, 32 characters, never starting with `-`),
   * fresh per call.
   */
  challenge?: string | ((ca: CaConfig, options: { signal?: AbortSignal }) => string | Promise<string>);
}

/**
 * A {@link ChallengeSource} without a network: answers every CA, whatever its
 * type, with the configured challenge (see
 * {@link MemoryChallengeSourceOptions.challenge}) and `retrievedAt` from the
 * injected clock at the call. Use it in tests of an MDM's rendering code, or
 * when the MDM makes up challenges itself and only needs the interface.
 *
 * `signal`: an already aborted signal rejects with its reason before the
 * challenge function runs; an abort while an async challenge function is
 * pending rejects with the reason at once.
 *
 * Errors: a challenge that is empty, longer than 255 characters (PKCS#9
 * `ub-challenge-password`) or holds a control character, or a function that
 * throws something other than a `ChallengeSourceError`:
 * `ChallengeSourceError` (`ERR_PROXY_CHALLENGE_SOURCE`, `retryable` false);
 * messages never hold the challenge.
 *
 * @example
 * ```ts
 * import { MemoryChallengeSource, NdesPasswordCacheFullError } from "@scep/proxy";
 *
 * const fixed = new MemoryChallengeSource({ challenge: "8CE317021F690069" });
 * const { challenge, retrievedAt } = await fixed.fetchChallenge({ name: "corp", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll" });
 *
 * // scripted: the NDES cache is full for the first call only
 * let calls = 0;
 * const scripted = new MemoryChallengeSource({
 *   challenge: () => {
 *     if (calls++ === 0) throw new NdesPasswordCacheFullError("NDES password cache is full");
 *     return "0123456789ABCDEF";
 *   },
 * });
 * ```
 *
 * @group Challenge sources
 */
export class MemoryChallengeSource implements ChallengeSource {
  readonly #now: () => Date;
  readonly #challenge: (ca: CaConfig, options: { signal?: AbortSignal }) => string | Promise<string>;

  /** @throws ProxyConfigError `ERR_PROXY_CONFIG` for a `now` that is not a function, or a `challenge` that is neither a string nor a function. */
  constructor(options: MemoryChallengeSourceOptions = {}) {
    functionOption("now", options.now);
    if (options.challenge !== undefined && typeof options.challenge !== "string") functionOption("challenge", options.challenge);
    this.#now = options.now ?? (() => new Date());
    const c = options.challenge;
    this.#challenge = typeof c === "function" ? c : typeof c === "string" ? () => c : newChallenge;
  }

  /**
   * The challenge for `ca` and the clock's time at the call.
   *
   * @param ca - Any CA.
   * @param options - `signal` aborts the call (the promise rejects with its reason).
   * @returns `{ challenge, retrievedAt }`, `retrievedAt` in ms since the epoch.
   * @throws ChallengeSourceError as listed on the class.
   */
  async fetchChallenge(ca: CaConfig, options: { signal?: AbortSignal } = {}): Promise<FetchedChallenge> {
    const { signal } = options;
    signal?.throwIfAborted();
    const retrievedAt = this.#now().getTime();
    let challenge: string;
    try {
      const pending = Promise.resolve().then(() => this.#challenge(ca, signal ? { signal } : {}));
      challenge = signal ? await abortable(pending, signal) : await pending;
    } catch (e) {
      if (signal?.aborted && e === signal.reason) throw e;
      if (e instanceof ChallengeSourceError) throw e;
      throw new ChallengeSourceError("the challenge function failed", { cause: e });
    }
    if (typeof challenge !== "string" || challenge.length === 0) throw new ChallengeSourceError("the challenge is empty or not a string");
    if (challenge.length > MAX_CHALLENGE_CHARS) throw new ChallengeSourceError(`the challenge has ${challenge.length} characters; at most ${MAX_CHALLENGE_CHARS}`);
    if (CONTROL_CHARACTER.test(challenge)) throw new ChallengeSourceError("the challenge holds a control character");
    return { challenge, retrievedAt, printableString: fitsPrintableString(challenge) };
  }
}
