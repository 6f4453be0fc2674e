/**
 * A clock the conformance suites move by hand, so expiry is tested without
 * sleeping.
 *
 * @module
 */

/** A clock that only moves when told to. */
export interface ManualClock {
  /** The current time (a fresh `Date` each call). Pass this function as a store's `now` option. */
  readonly now: () => Date;
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void;
  /** Sets the clock to `date`. */
  set(date: Date): void;
}

/**
 * Creates a {@link ManualClock} starting at `start` (default: the wall clock
 * at the call, truncated to a whole millisecond).
 *
 * The suites start their clocks at the wall clock, not at a fixed date, so a
 * store that also hands expiry to its backend (a Redis TTL, a database job)
 * computes deadlines in the future of the backend's own clock.
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore } from "@scep/core";
 * import { manualClock } from "@scep/core/testing";
 *
 * const clock = manualClock();
 * const store = new MemoryChallengeStore({ now: clock.now });
 * const challenge = await store.issue({ profile: "corp", ttlMs: 60_000 });
 * clock.advance(60_001);
 * await store.consume(challenge, { profile: "corp" }); // false: expired
 * ```
 */
export function manualClock(start: Date = new Date()): ManualClock {
  let t = Math.trunc(start.getTime());
  return {
    now: () => new Date(t),
    advance(ms: number): void {
      t += ms;
    },
    set(date: Date): void {
      t = date.getTime();
    },
  };
}
