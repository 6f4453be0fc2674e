/**
 * Where the MDM records, per (host, profile, CA), whether a SCEP profile was
 * delivered and when its challenge was fetched (PROXY.md "Interfaces it
 * stands on": `ProfileStore`).
 *
 * @module
 */

/**
 * What identifies a profile record: the first three fields of the device's
 * identifier. All three take part in the key (`"a:b","c"` and `"a","b:c"` are
 * different records).
 *
 * @group Storage
 */
export interface ProfileKey {
  /** The device (host). Non-empty. */
  hostId: string;
  /** The profile (payload). Non-empty. */
  profileId: string;
  /** The CA's name in the `CaRegistry` (the default CA's name when the identifier had none). Non-empty. */
  caName: string;
}

/**
 * Delivery status of a profile (Fleet's MDM delivery statuses). Only
 * `pending` profiles may enroll through the proxy; `none` means "send it
 * again" (what a requeue sets).
 *
 * @group Storage
 */
export type DeliveryStatus = "pending" | "verifying" | "verified" | "failed" | "none";

/** Every {@link DeliveryStatus}, in a fixed order. @group Storage */
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "verifying", "verified", "failed", "none"];

/**
 * One profile record.
 *
 * @example
 * ```ts
 * import type { ProfileRecord } from "@scep/proxy";
 *
 * const record: ProfileRecord = {
 *   hostId: "host-42", profileId: "wifi", caName: "ndes",
 *   status: "pending", platform: "darwin", challengeRetrievedAt: Date.now(), updatedAt: Date.now(),
 * };
 * ```
 *
 * @group Storage
 */
export interface ProfileRecord extends ProfileKey {
  /** Delivery status. */
  status: DeliveryStatus;
  /** The device's platform (`darwin`, `windows`, `ios`…), matched against a CA's `exemptPlatforms`. */
  platform?: string;
  /**
   * When the NDES or Smallstep challenge in the profile was fetched, ms since the epoch (not seconds, not µs). The proxy
   * takes one more than 24 hours (`MAX_CHALLENGE_RETRIEVED_AHEAD_MS`) ahead of its clock as a wrong record:
   * `challenge failed`, requeued.
   */
  challengeRetrievedAt?: number;
  /**
   * A `custom` CA: the SHA-256 (64 lower-case hex digits, `challengeHash(challenge)`) of the one-time challenge in the
   * URL the profile was last registered with. The proxy refuses a PKIOperation whose identifier carries another
   * challenge (400 `challenge superseded`, no requeue, nothing consumed): after a re-registration only the current
   * URL enrolls. Absent: any challenge the `ChallengeStore` accepts. Only the hash is kept, never the challenge.
   */
  challengeHash?: string;
  /** Why the record is `failed` (set by `markFailed`); never a secret. */
  detail?: string;
  /** How many times the proxy requeued this profile (0 or absent: never). */
  requeueCount?: number;
  /** Last change, ms since the epoch (by the store's clock for `requeue` and `markFailed`). */
  updatedAt: number;
}

/**
 * The profile records shared by every replica of a proxy. Every method may
 * reject with `@scep/core`'s `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`)
 * when the backing store cannot be reached; the proxy then answers 503 with
 * `Retry-After`. Any other rejection is answered 500 with a generic body.
 *
 * Implementations: {@link MemoryProfileStore} (one process), `@scep/redis`'s
 * `RedisProfileStore` (several replicas). Run `profileStoreConformance` from
 * `@scep/proxy/testing` against your own.
 *
 * @example
 * ```ts
 * import { MemoryProfileStore, type ProfileStore } from "@scep/proxy";
 *
 * const profiles: ProfileStore = new MemoryProfileStore();
 * await profiles.put({ hostId: "host-42", profileId: "wifi", caName: "corp", status: "pending", updatedAt: Date.now() });
 * await profiles.requeue({ hostId: "host-42", profileId: "wifi", caName: "corp" }); // status "none", requeueCount 1
 * ```
 *
 * @group Storage
 */
export interface ProfileStore {
  /** The record for `key`, or `undefined` when there is none. Returns a copy: changing it changes nothing stored. */
  get(key: ProfileKey): Promise<ProfileRecord | undefined>;
  /**
   * Creates or replaces the record for the record's key, storing every field as given. A record that cannot be
   * stored (an empty or non-string `hostId`, `profileId` or `caName`; a status not in {@link DELIVERY_STATUSES}; an
   * `updatedAt` or `challengeRetrievedAt` that is not a safe integer; a negative or fractional `requeueCount`) rejects
   * with @scep/core's InvalidArgumentError (`ERR_INVALID_ARGUMENT`), one line naming the field
   * (`status must be one of pending, verifying, verified, failed, none`), and stores nothing: every implementation
   * throws that class, as for a bad constructor option (a store's errors are @scep/core's).
   */
  put(record: ProfileRecord): Promise<void>;
  /**
   * Sends the profile back to the MDM's queue: status `none`, `challengeRetrievedAt` and `detail` removed (`challengeHash` kept),
   * `requeueCount` incremented atomically (N concurrent requeues add N), `updatedAt` set to now. No-op (and no
   * record created) when there is no record for `key`.
   *
   * With `expected` (the record as {@link ProfileStore.get} returned it), the requeue is conditional: it happens only
   * when the stored record is still that record, field for field (every field `put` stores: status, platform,
   * challengeRetrievedAt, challengeHash, detail, requeueCount, updatedAt and the key fields; a field absent from one
   * must be absent from the other), checked and written in one atomic step. A record replaced meanwhile (the MDM
   * registered the profile again: a new challengeHash or challengeRetrievedAt, a new updatedAt, status `pending`), or
   * requeued or marked failed meanwhile, is left untouched. The proxy passes what it read, so a request through an
   * earlier URL never requeues the registration the MDM made while that request was being checked; of N concurrent
   * requeues with the same `expected`, one applies. Without `expected`: unconditional, as above.
   *
   * Resolves true when the record was requeued, false when it was left as it was (no record; with `expected`, another
   * record). A store written before `expected` existed resolves `undefined` (taken as requeued) and requeues
   * unconditionally: it compiles and behaves as before, but keeps the race `expected` closes.
   *
   * @example
   * ```ts
   * import { MemoryProfileStore } from "@scep/proxy";
   *
   * const profiles = new MemoryProfileStore();
   * const key = { hostId: "host-42", profileId: "wifi", caName: "corp" };
   * await profiles.put({ ...key, status: "pending", updatedAt: 1_700_000_000_000 });
   * const read = (await profiles.get(key))!;
   * await profiles.put({ ...key, status: "pending", updatedAt: 1_700_000_060_000 }); // the MDM registered it again
   * await profiles.requeue(key, read); // false: the new registration stays pending
   * ```
   */
  requeue(key: ProfileKey, expected?: ProfileRecord): Promise<boolean | void>;
  /**
   * Sets status `failed` with `detail` (e.g. `upstream timeout`) and `updatedAt` now, other fields kept. No-op (and no
   * record created) when there is no record for `key`.
   *
   * With `expected` (the record as {@link ProfileStore.get} returned it; for a proxy event sink, the event's
   * `record`: see `ProxyEvent`), it is conditional exactly as {@link ProfileStore.requeue} with `expected` is: it
   * happens only while the stored record is still that record, field for field, checked and written in one atomic
   * step. A sink that marks the profile failed after an upstream failure then never marks failed the registration the
   * MDM made while that request was being forwarded (a new URL, status `pending`): that one stays pending. Of N
   * concurrent calls with the same `expected`, one applies. Without `expected`: unconditional, as above.
   *
   * Resolves true when the record was marked failed, false when it was left as it was (no record; with `expected`,
   * another record). A store written before `expected` existed resolves `undefined` and marks failed
   * unconditionally: it compiles and behaves as before, but keeps the race `expected` closes.
   *
   * @example
   * ```ts
   * import { MemoryProfileStore } from "@scep/proxy";
   *
   * const profiles = new MemoryProfileStore();
   * const key = { hostId: "host-42", profileId: "wifi", caName: "corp" };
   * await profiles.put({ ...key, status: "pending", updatedAt: 1_700_000_000_000 });
   * const read = (await profiles.get(key))!;
   * await profiles.put({ ...key, status: "pending", updatedAt: 1_700_000_060_000 }); // the MDM registered it again
   * await profiles.markFailed(key, "upstream timeout", read); // false: the new registration stays pending
   * ```
   */
  markFailed(key: ProfileKey, detail: string, expected?: ProfileRecord): Promise<boolean | void>;
  /** Removes the record; true when there was one. */
  delete(key: ProfileKey): Promise<boolean>;
  /** Every record, in no particular order (copies). */
  list(): AsyncIterable<ProfileRecord>;
}
