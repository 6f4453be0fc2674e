/**
 * Per-profile request counters that several replicas can share, so an
 * operator sees one number per profile rather than one per process.
 *
 * @module
 */
import type { ScepOutcome } from "./events.js";
import { numberOption } from "../number-option.js";

/** The counts of one profile: requests by outcome and by reason label. @group Storage */
export interface ProfileCounters {
  /** Request counts by outcome (`success`, `failure`, `pending`, `rejected`, `error`). */
  outcomes: Record<string, number>;
  /** Request counts by reason label (`issued`, `bad_challenge`, `store_unavailable`, …). */
  reasons: Record<string, number>;
}

/**
 * Where a server counts its requests when several replicas should add up
 * (pass it as `createScepServer({ counters })`; read with
 * `server.sharedStats()`).
 *
 * `increment` runs on the request path: it must return at once and never
 * throw (buffer and write in the background; a store that is down loses or
 * keeps counts, but never slows a request). `read` may reject with
 * StoreUnavailableError.
 *
 * @example
 * ```ts
 * const counters = new MemoryCounterStore();
 * counters.increment("corp", "success", "issued");
 * await counters.read("corp"); // { outcomes: { success: 1 }, reasons: { issued: 1 } }
 * ```
 * @group Storage
 */
export interface CounterStore {
  /** Counts one request of `profile` that ended with `outcome` for `reason`. Returns at once; never throws. */
  increment(profile: string, outcome: ScepOutcome, reason: string): void | Promise<void>;
  /** The counts of `profile` across every replica sharing the store (empty records for an unknown profile). */
  read(profile: string): Promise<ProfileCounters>;
}

/**
 * Adds one to `record[label]`, bounded: once `record` holds `maxLabels` labels, a new one is counted under `other`
 * (a validator or webhook naming ever new reasons cannot grow it without limit). Not exported from the package.
 */
export function countLabel(record: Record<string, number>, label: string, maxLabels: number): void {
  const key = Object.hasOwn(record, label) || Object.keys(record).length < maxLabels ? label : "other";
  record[key] = (record[key] ?? 0) + 1;
}

/**
 * In-memory {@link CounterStore}: one process's counts (the default inside
 * `createScepServer`). Bounded: at most `maxLabels` distinct outcome and
 * reason labels per profile (default 1000); further new labels are counted
 * under `other`.
 *
 * @example
 * ```ts
 * const server = createScepServer({ profiles: [profile], counters: new MemoryCounterStore() });
 * const [corp] = await server.sharedStats();
 * ```
 * @group Storage
 */
export class MemoryCounterStore implements CounterStore {
  readonly #profiles = new Map<string, ProfileCounters>();
  readonly #maxLabels: number;

  /**
   * @param options - `maxLabels`: most reason labels counted per profile, a count (default 1000; the rest under
   *   `other`), an integer from 1 to 1 000 000.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `maxLabels` out of that range.
   */
  constructor(options: { maxLabels?: number } = {}) {
    this.#maxLabels = numberOption("maxLabels", options.maxLabels, 1000, { min: 1, max: 1_000_000 });
  }

  /** {@inheritDoc CounterStore.increment} */
  increment(profile: string, outcome: ScepOutcome, reason: string): void {
    let c = this.#profiles.get(profile);
    if (!c) this.#profiles.set(profile, (c = { outcomes: Object.create(null) as Record<string, number>, reasons: Object.create(null) as Record<string, number> }));
    this.#bump(c.outcomes, outcome);
    this.#bump(c.reasons, reason);
  }

  #bump(record: Record<string, number>, label: string): void {
    countLabel(record, label, this.#maxLabels);
  }

  /** {@inheritDoc CounterStore.read} */
  async read(profile: string): Promise<ProfileCounters> {
    const c = this.#profiles.get(profile);
    return { outcomes: { ...c?.outcomes }, reasons: { ...c?.reasons } };
  }
}
