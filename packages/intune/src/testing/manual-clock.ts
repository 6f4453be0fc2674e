/**
 * A clock the conformance suites move by hand, so expiry and windows are
 * tested without sleeping.
 *
 * @module
 */

/** A clock that only moves when told to. */
export interface ManualClock {
  /** The current time (a fresh `Date` each call). Pass this function as a store's `now` option. */
  readonly now: () => Date;
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void;
}

/**
 * Creates a {@link ManualClock} starting at `start` (default: the wall clock
 * at the call, in whole milliseconds), so a store that also hands expiry to
 * its backend (a Redis PX) computes deadlines in that backend's future.
 *
 * @example
 * ```ts
 * const clock = manualClock();
 * const cache = new MemoryReplayCache({ now: clock.now });
 * clock.advance(60_000);
 * ```
 */
export function manualClock(start: Date = new Date()): ManualClock {
  let t = Math.trunc(start.getTime());
  return {
    now: () => new Date(t),
    advance(ms: number): void {
      t += ms;
    },
  };
}
