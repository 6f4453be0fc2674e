/**
 * The conformance suite every {@link ChallengeSource} runs.
 *
 * @module
 */
import { manualClock, type ManualClock, type StoreFactoryContext } from "@scep/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CaConfig } from "../cas/ca-config.js";
import { type ChallengeSource, fitsPrintableString } from "../challenge-sources/challenge-source.js";
import { ChallengeSourceError, isProxyError, type ProxyErrorCode } from "../errors.js";

/** One way the source under test fails, for {@link challengeSourceConformance}. */
export interface ChallengeSourceFailureCase {
  /** Shown in the test name, e.g. `"NDES password cache full"`. */
  label: string;
  /** A CA for which `fetchChallenge` fails this way (called inside the test, so it may use a server started in `beforeAll`). */
  ca: () => CaConfig;
  /** The `code` of the `ChallengeSourceError` expected, e.g. `"ERR_PROXY_NDES_CACHE_FULL"`. */
  code: ProxyErrorCode;
  /** Its expected `retryable`. */
  retryable: boolean;
}

/** Options of {@link challengeSourceConformance}. */
export interface ChallengeSourceConformanceOptions<S extends ChallengeSource = ChallengeSource> {
  /** Name shown in the test report, e.g. `"ndes (loopback NTLM)"`. */
  name: string;
  /** Creates the source under test, wired to `context.now` for `retrievedAt`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (source: S) => void | Promise<void>;
  /** A CA for which `fetchChallenge` succeeds, and the challenge it must yield (when known; else any valid challenge). */
  ok: () => { ca: CaConfig; challenge?: string };
  /**
   * A CA whose fetch does not answer until aborted (a server that holds the
   * request), and a promise that resolves once the request reached it. Omit
   * only for a source that cannot be held up; then the mid-flight abort case
   * is not registered (left out, not reported as skipped).
   */
  hanging?: () => { ca: CaConfig; reached: Promise<void> };
  /** The failures to hold the source to (at least one). */
  failures: readonly ChallengeSourceFailureCase[];
  /** Strings no error message may hold (passwords, the challenge), besides the `ok` challenge. */
  secrets?: readonly string[];
}

/**
 * Registers the ChallengeSource conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a source to (PROXY.md "Interfaces it stands on"):
 * - `fetchChallenge` resolves `{ challenge, retrievedAt }` and nothing else but an optional `printableString`
 *   (when present, {@link fitsPrintableString} of the challenge):
 *   the challenge (the expected one when given) is 1 to 255 characters
 *   without control characters (PKCS#9 `ub-challenge-password`), and
 *   `retrievedAt` is the injected clock's time at the call, in ms since the
 *   epoch (the suite sets the clock far from the wall clock, then moves it);
 * - `signal`: an already aborted signal rejects with the signal's reason;
 *   an abort while the request is held by the server rejects with the
 *   reason (the test would time out otherwise);
 * - each failure case rejects with a `ChallengeSourceError` (also
 *   `isProxyError`) of the given `code` and `retryable`, whose message is one
 *   line and holds none of `secrets` nor the challenge.
 *
 * @example
 * ```ts
 * import { MemoryChallengeSource, NdesPasswordCacheFullError } from "@scep/proxy";
 * import { challengeSourceConformance } from "@scep/proxy/testing";
 *
 * const ca = { name: "corp", type: "ndes" as const, url: "https://ndes.corp.example/certsrv/mscep/mscep.dll" };
 * challengeSourceConformance({
 *   name: "memory",
 *   create: ({ now }) =>
 *     new MemoryChallengeSource({
 *       now,
 *       challenge: (c) => {
 *         if (c.name === "full") throw new NdesPasswordCacheFullError("NDES password cache is full");
 *         return "8CE317021F690069";
 *       },
 *     }),
 *   ok: () => ({ ca, challenge: "8CE317021F690069" }),
 *   failures: [{ label: "cache full", ca: () => ({ ...ca, name: "full" }), code: "ERR_PROXY_NDES_CACHE_FULL", retryable: true }],
 * });
 * ```
 */
export function challengeSourceConformance<S extends ChallengeSource>(options: ChallengeSourceConformanceOptions<S>): void {
  describe(`ChallengeSource conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let source: S;

    beforeEach(async () => {
      clock = manualClock(new Date("2031-05-04T03:02:01.234Z"));
      source = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(source);
    });

    const checkChallenge = (got: unknown, expected: string | undefined): void => {
      const keys = Object.keys(got as object).sort();
      expect(keys.filter((k) => k !== "printableString")).toEqual(["challenge", "retrievedAt"]);
      const { challenge, printableString } = got as { challenge: unknown; printableString?: unknown };
      expect(typeof challenge).toBe("string");
      if (expected !== undefined) expect(challenge).toBe(expected);
      expect(challenge as string).toMatch(/^[^\u0000-\u001f\u007f]{1,255}$/u);
      // Optional; when set, it must be the truth: a Windows device cannot send a challenge outside PrintableString.
      if (keys.includes("printableString")) expect(printableString).toBe(fitsPrintableString(challenge as string));
    };

    it("resolves { challenge, retrievedAt }: a valid challengePassword, retrievedAt the injected clock's time at the call (ms)", async () => {
      const { ca, challenge } = options.ok();
      const got = await source.fetchChallenge(ca);
      checkChallenge(got, challenge);
      expect(got.retrievedAt).toBe(Date.parse("2031-05-04T03:02:01.234Z"));
    });

    it("retrievedAt follows the injected clock from one fetch to the next (never the wall clock)", async () => {
      const { ca, challenge } = options.ok();
      clock.set(new Date("2020-02-03T04:05:06.789Z"));
      const first = await source.fetchChallenge(ca);
      clock.advance(58 * 60_000);
      const second = await source.fetchChallenge(ca);
      checkChallenge(second, challenge);
      expect([first.retrievedAt, second.retrievedAt]).toEqual([Date.parse("2020-02-03T04:05:06.789Z"), Date.parse("2020-02-03T05:03:06.789Z")]);
    });

    it("an already aborted signal rejects with the signal's reason", async () => {
      const { ca } = options.ok();
      const reason = new Error("caller gave up");
      await expect(source.fetchChallenge(ca, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });

    // Registered only for a source that can be held (`hanging`): a case that cannot run is left out, not reported skipped.
    const hanging = options.hanging;
    if (hanging) it("an abort while the request is held rejects with the signal's reason", async () => {
      const { ca, reached } = hanging();
      const controller = new AbortController();
      const reason = new Error("caller gave up");
      const pending = source.fetchChallenge(ca, { signal: controller.signal });
      pending.catch(() => undefined);
      await reached;
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    });

    it.each(options.failures.map((f) => [f.label, f] as const))("%s: a typed ChallengeSourceError with its code and retryable, a one-line message without secrets", async (_label, f) => {
      let error: unknown;
      try {
        await source.fetchChallenge(f.ca());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ChallengeSourceError);
      expect(isProxyError(error)).toBe(true);
      expect(error).toMatchObject({ code: f.code, retryable: f.retryable });
      const message = (error as Error).message;
      expect(message).toMatch(/^[^\n\r]+$/);
      const ok = options.ok().challenge;
      for (const secret of [...(options.secrets ?? []), ...(ok ? [ok] : [])]) expect(message).not.toContain(secret);
    });
  });
}
