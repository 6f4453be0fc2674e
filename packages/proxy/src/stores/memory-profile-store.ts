/**
 * The in-memory {@link ProfileStore}.
 *
 * @module
 */
import { InvalidArgumentError } from "@scep/core";
import type { ProfileKey, ProfileRecord, ProfileStore } from "./profile-store.js";
import { checkProfileRecord } from "./profile-record-check.js";

/** Options of {@link MemoryProfileStore}. @group Storage */
export interface MemoryProfileStoreOptions {
  /**
   * Clock for `updatedAt` of `requeue` and `markFailed` (default `() => new Date()`). Not a function: @scep/core's
   * InvalidArgumentError `ERR_INVALID_ARGUMENT` (`now must be a function returning a Date (got an object)`), as from
   * `@scep/redis`'s RedisProfileStore and every other store: a store's option errors are @scep/core's.
   */
  now?: () => Date;
}

/** What a message says was given: `none`, `null`, `an object`, `a string`… (as @scep/core's stores say it). */
function kindOf(value: unknown): string {
  if (value === undefined) return "none";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

const keyOf = (k: ProfileKey): string => JSON.stringify([k.hostId, k.profileId, k.caName]);

/**
 * The fields a record holds, each compared by a conditional requeue or markFailed (`@scep/redis` compares every field it stores).
 * A `Record` over the type, so a field added to `ProfileRecord` fails to compile until it is listed here.
 */
const FIELDS: Readonly<Record<keyof ProfileRecord, true>> = {
  hostId: true, profileId: true, caName: true, status: true, platform: true,
  challengeRetrievedAt: true, challengeHash: true, detail: true, requeueCount: true, updatedAt: true,
};
const RECORD_FIELDS = Object.keys(FIELDS) as (keyof ProfileRecord)[];

/** Whether two records are the same registration: every stored field equal (`undefined` = absent). */
const sameRecord = (a: ProfileRecord, b: ProfileRecord): boolean => RECORD_FIELDS.every((f) => a[f] === b[f]);

/**
 * A {@link ProfileStore} in a `Map`, for tests and single-process proxies.
 * Unbounded: the MDM owns the records and deletes those it no longer needs.
 *
 * @example
 * ```ts
 * import { MemoryProfileStore } from "@scep/proxy";
 *
 * const profiles = new MemoryProfileStore();
 * await profiles.put({ hostId: "host-42", profileId: "wifi", caName: "corp", status: "pending", updatedAt: Date.now() });
 * const record = await profiles.get({ hostId: "host-42", profileId: "wifi", caName: "corp" }); // status "pending"
 * ```
 *
 * @group Storage
 */
export class MemoryProfileStore implements ProfileStore {
  readonly #records = new Map<string, ProfileRecord>();
  readonly #now: () => number;

  /** @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) for a `now` that is not a function. */
  constructor(options: MemoryProfileStoreOptions = {}) {
    if (options.now !== undefined && typeof options.now !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${kindOf(options.now)})`);
    const now = options.now;
    this.#now = now ? () => now().getTime() : () => Date.now();
  }

  /** {@inheritDoc ProfileStore.get} */
  async get(key: ProfileKey): Promise<ProfileRecord | undefined> {
    const r = this.#records.get(keyOf(key));
    return r ? { ...r } : undefined;
  }

  /**
   * {@inheritDoc ProfileStore.put}
   *
   * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) for a record `@scep/redis`'s store refuses too:
   *   an empty key field, an unknown status, a time that is not an integer, a negative `requeueCount`.
   */
  async put(record: ProfileRecord): Promise<void> {
    checkProfileRecord(record);
    this.#records.set(keyOf(record), { ...record });
  }

  /** {@inheritDoc ProfileStore.requeue} */
  async requeue(key: ProfileKey, expected?: ProfileRecord): Promise<boolean> {
    const k = keyOf(key);
    const r = this.#records.get(k);
    // Read, compared and written in one synchronous step: no other call runs in between.
    if (!r || (expected !== undefined && !sameRecord(r, expected))) return false;
    const { challengeRetrievedAt: _c, detail: _d, ...rest } = r;
    this.#records.set(k, { ...rest, status: "none", requeueCount: (r.requeueCount ?? 0) + 1, updatedAt: this.#now() });
    return true;
  }

  /** {@inheritDoc ProfileStore.markFailed} */
  async markFailed(key: ProfileKey, detail: string, expected?: ProfileRecord): Promise<boolean> {
    const k = keyOf(key);
    const r = this.#records.get(k);
    // Read, compared and written in one synchronous step, as requeue.
    if (!r || (expected !== undefined && !sameRecord(r, expected))) return false;
    this.#records.set(k, { ...r, status: "failed", detail, updatedAt: this.#now() });
    return true;
  }

  /** {@inheritDoc ProfileStore.delete} */
  async delete(key: ProfileKey): Promise<boolean> {
    return this.#records.delete(keyOf(key));
  }

  /** {@inheritDoc ProfileStore.list} */
  async *list(): AsyncIterable<ProfileRecord> {
    for (const r of [...this.#records.values()]) yield { ...r };
  }
}
