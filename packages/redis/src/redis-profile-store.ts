/**
 * The SCEP proxy's profile delivery records in Redis, shared by every proxy
 * replica.
 *
 * @module
 */
import { InvalidArgumentError, StoreUnavailableError, numberOption } from "@scep/core";
// Types only: @scep/proxy is an optional peer dependency, and @scep/redis must load without it.
import type { DeliveryStatus, ProfileKey, ProfileRecord, ProfileStore } from "@scep/proxy";
import { Runner } from "./lib/client.js";
import { corruptData } from "./lib/corrupt.js";
import { profileTag } from "./lib/keys.js";
import { fieldMap } from "./lib/record.js";
import { DELIVERY_STATUSES, PROFILE_DELETE, PROFILE_FAIL, PROFILE_PRUNE, PROFILE_PUT, PROFILE_REQUEUE, PROFILE_UNINDEX } from "./lib/proxy-scripts.js";
import { KEY_TTL_MS, resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/** Options of {@link RedisProfileStore}. @group Storage */
export interface RedisProfileStoreOptions extends RedisStoreOptions {
  /**
   * How long a record is kept after its last write, in milliseconds (default
   * 90 days). Every `put`, `requeue` and `markFailed` restarts it; a device
   * that comes back later finds no record (`unknown identifier`). An integer
   * from 1 to 31 536 000 000 (ms, 365 days), else `ERR_INVALID_ARGUMENT`.
   */
  retentionMs?: number;
}

/** Records fetched per round trip while listing. */
const PAGE = 256;

/** One hash tag for every key of the store: the index and the records it lists share a Cluster slot. */
const TAG = "{proxy-profiles}";

/**
 * A `ProfileStore` (from `@scep/proxy`) on Redis (standalone, Sentinel or
 * Cluster): every proxy replica given the same client and `keyPrefix` sees
 * the same delivery records, so a profile requeued by one is requeued for all.
 *
 * Each record is one hash, `<prefix>proxy:{proxy-profiles}:r:<hostId>,<profileId>,<caName>`
 * (each field percent-encoded, so a `,` in a field never splits wrongly), with
 * a TTL of `retentionMs` restarted by every write; the sorted set
 * `<prefix>proxy:{proxy-profiles}:index` (every score 0, read in key order)
 * lists them for {@link RedisProfileStore.list}. `put`, `requeue`, `markFailed` and `delete` are Lua
 * scripts (EVALSHA, EVAL on NOSCRIPT), so each is one atomic step: a requeue
 * racing a markFailed ends in one of the two, whole. All keys share the hash
 * tag `{proxy-profiles}` (one Cluster slot, which the index needs).
 *
 * Every method rejects with StoreUnavailableError (code
 * `ERR_STORE_UNAVAILABLE`) when Redis fails or does not answer within
 * `commandTimeoutMs`; the proxy answers that with 503 and `Retry-After`.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { RedisChallengeStore, RedisProfileStore, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * const profiles = new RedisProfileStore(redis, { keyPrefix: "scep-proxy:" });
 * const challenges = new RedisChallengeStore(redis, { keyPrefix: "scep-proxy:" });
 * await profiles.put({ hostId: "host-1", profileId: "wifi", caName: "corp", status: "pending", updatedAt: Date.now() });
 * ```
 *
 * @group Storage
 */
export class RedisProfileStore implements ProfileStore {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;
  readonly #retentionMs: number;
  readonly #index: string;
  readonly #expiry: string;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, deadline, Retry-After, clock, retention.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisProfileStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
    this.#retentionMs = numberOption("retentionMs", options.retentionMs, 90 * 86_400_000, KEY_TTL_MS);
    this.#index = `${this.#options.keyPrefix}proxy:${TAG}:index`;
    this.#expiry = `${this.#options.keyPrefix}proxy:${TAG}:expiry`;
  }

  #record(member: string): string {
    return `${this.#options.keyPrefix}proxy:${TAG}:r:${member}`;
  }

  /**
   * The record of (hostId, profileId, caName), or undefined. One `HGETALL`.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the key holds anything but
   *   a whole record this store wrote (a required field missing, a time that is not integer ms, an unknown status,
   *   another record's key fields, not a hash): data this store did not write, never read half; the message names the
   *   kind of key and the field, never a value. A field this version does not know (a later version's, during a
   *   rolling upgrade) is accepted and left out.
   */
  async get(key: ProfileKey): Promise<ProfileRecord | undefined> {
    const m = member(key);
    return this.#recordFrom(await this.#hgetall("get", m), m, "get");
  }

  /** A record's HGETALL; a key of another type (WRONGTYPE) is a corrupt record, as the scripts answer it. */
  async #hgetall(operation: string, m: string): Promise<unknown> {
    try {
      return await this.#run.command(operation, "HGETALL", [this.#record(m)]);
    } catch (error) {
      throw wrongType(error) ? corruptData("profile record (not a hash)", operation, this.#options.retryAfterSeconds) : error;
    }
  }

  /** {@link recordFrom}, refusing with StoreUnavailableError ({@link corruptData}) what it cannot read. */
  #recordFrom(reply: unknown, m: string, operation: string): ProfileRecord | undefined {
    const result = recordFrom(fieldMap(reply), m);
    if (typeof result === "string") throw corruptData(`profile record (${result})`, operation, this.#options.retryAfterSeconds);
    return result;
  }

  /**
   * Stores `record` whole, replacing any record of its key (fields it lacks are
   * gone afterwards). Atomic (Lua script).
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an unknown status, an empty hostId/profileId/caName or a non-integer time.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async put(record: ProfileRecord): Promise<void> {
    checkKey(record);
    if (!Object.hasOwn(DELIVERY_STATUSES, record.status)) throw new InvalidArgumentError(`status must be one of ${Object.keys(DELIVERY_STATUSES).join(", ")}`);
    checkTime(record.updatedAt, "updatedAt");
    if (record.challengeRetrievedAt !== undefined) checkTime(record.challengeRetrievedAt, "challengeRetrievedAt");
    if (record.requeueCount !== undefined && (!Number.isSafeInteger(record.requeueCount) || record.requeueCount < 0)) throw new InvalidArgumentError("requeueCount must be a non-negative integer");
    const m = member(record);
    const now = this.#options.now().getTime();
    const expired = await this.#run.eval("put", PROFILE_PUT, this.#keys(m), [now, this.#retentionMs, m, ...fieldsOf(record)]);
    if (Array.isArray(expired) && expired.length > 0) await this.#prune(now, (expired as unknown[]).map((b) => String(b)));
  }

  /** The KEYS of a script on the record of member `m`: the record, the index, the expiry index. */
  #keys(m: string): string[] {
    return [this.#record(m), this.#index, this.#expiry];
  }

  /**
   * Drops the index entries of the members whose retention ended (as `put`'s script answered them) and whose record
   * is gone (PROFILE_PRUNE). Housekeeping: the put it follows is done, so a failure is dropped (the entries stay in the
   * expiry index, and a later put answers them again).
   */
  async #prune(now: number, members: string[]): Promise<void> {
    await this.#run.eval("put", PROFILE_PRUNE, [this.#index, this.#expiry, ...members.map((m) => this.#record(m))], [now, ...members]).catch(() => undefined);
  }

  /**
   * Sends the profile back to the MDM's queue: status `none` (the MDM re-sends
   * it with a fresh challenge), `challengeRetrievedAt` and `detail` removed,
   * `requeueCount` + 1 (`HINCRBY`: N concurrent requeues, on any replicas, add
   * N), `updatedAt` now. Atomic (Lua script); an absent record stays absent.
   *
   * With `expected` (the record as `get` returned it), only when the hash still
   * holds exactly the fields `put` would write for `expected` (compared inside
   * the same script: a re-registration, a requeue or a markFailed by another
   * replica in between leaves the record untouched). Resolves true when it
   * requeued, false when there was no record or another one. Only the fields
   * this version knows are compared: a field a later version added (during a
   * rolling upgrade) is left alone and does not make the record another one.
   *
   * A `requeueCount` at 2^53 - 1 (the largest `put` accepts) stays there: the
   * requeue is done otherwise (status, fields, `updatedAt`).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the record or the index is
   *   not one this store wrote (as `get`; nothing written).
   */
  async requeue(key: ProfileKey, expected?: ProfileRecord): Promise<boolean> {
    const m = member(key);
    const condition = expected === undefined ? [] : fieldsOf(expected);
    return (await this.#run.eval("requeue", PROFILE_REQUEUE, this.#keys(m), [this.#options.now().getTime(), this.#retentionMs, m, ...condition])) === 1;
  }

  /**
   * Marks the delivery failed with `detail` (say why; never a secret),
   * `updatedAt` now. Atomic (Lua script); an absent record stays absent.
   *
   * With `expected` (the record as `get` returned it; from a proxy event sink,
   * the event's `record`), only when the hash still holds exactly the fields
   * `put` would write for `expected`, compared inside the same script (as
   * `requeue`): a re-registration by the MDM in between stays pending.
   * Resolves true when it marked the record failed, false when there was no
   * record or another one.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the record or the index is
   *   not one this store wrote (as `get`; nothing written).
   */
  async markFailed(key: ProfileKey, detail: string, expected?: ProfileRecord): Promise<boolean> {
    const m = member(key);
    const condition = expected === undefined ? [] : fieldsOf(expected);
    return (await this.#run.eval("markFailed", PROFILE_FAIL, this.#keys(m), [this.#options.now().getTime(), this.#retentionMs, m, detail, ...condition])) === 1;
  }

  /**
   * Removes the record and its index entry (one Lua script); true when there was a record.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async delete(key: ProfileKey): Promise<boolean> {
    const m = member(key);
    return (await this.#run.eval("delete", PROFILE_DELETE, this.#keys(m), [m])) === 1;
  }

  /**
   * Every record, in the order of their keys, fetched 256 at a time
   * (`ZRANGEBYLEX` on the index from the last key seen, then one `HGETALL`
   * per record, sent together). Not a snapshot, but a record that exists
   * throughout shows exactly once, whatever is written meanwhile. Index
   * entries of records gone by their TTL are dropped on the way.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late (from the iterator), or the
   *   index or a listed record is not one this store wrote (as `get`; refused rather than left out, and its index entry
   *   kept).
   */
  async *list(): AsyncIterable<ProfileRecord> {
    let from = "-";
    for (;;) {
      let reply: unknown;
      try {
        reply = await this.#run.command("list", "ZRANGEBYLEX", [this.#index, from, "+", "LIMIT", 0, PAGE]);
      } catch (error) {
        throw wrongType(error) ? corruptData("profile index (not a sorted set)", "list", this.#options.retryAfterSeconds) : error;
      }
      const members = Array.isArray(reply) ? (reply as Buffer[]).map((b) => b.toString("utf8")) : [];
      const records = await Promise.all(members.map((m) => this.#hgetall("list", m)));
      for (let i = 0; i < members.length; i++) {
        const record = this.#recordFrom(records[i], members[i]!, "list");
        if (record !== undefined) yield record;
        else await this.#run.eval("list", PROFILE_UNINDEX, this.#keys(members[i]!), [members[i]!]);
      }
      if (members.length < PAGE) return;
      from = `(${members[members.length - 1]!}`;
    }
  }
}

/** The index member (and key suffix) of a record: its three key fields percent-encoded, joined by `,`. */
function member(key: ProfileKey): string {
  return `${profileTag(key.hostId)},${profileTag(key.profileId)},${profileTag(key.caName)}`;
}

/**
 * A record's hash fields as `put` writes them (field/value pairs; absent optional fields left out), so a conditional
 * requeue compares what `put` stored. Numbers as `String(n)`: `put` accepts safe integers only, and `get` reads them
 * back with `Number`, so a record read by `get` gives back the same text.
 */
function fieldsOf(record: ProfileRecord): string[] {
  const fields: string[] = ["hostId", record.hostId, "profileId", record.profileId, "caName", record.caName, "status", record.status, "updatedAt", String(record.updatedAt)];
  if (record.platform !== undefined) fields.push("platform", record.platform);
  if (record.challengeRetrievedAt !== undefined) fields.push("challengeRetrievedAt", String(record.challengeRetrievedAt));
  if (record.challengeHash !== undefined) fields.push("challengeHash", record.challengeHash);
  if (record.detail !== undefined) fields.push("detail", record.detail);
  if (record.requeueCount !== undefined) fields.push("requeueCount", String(record.requeueCount));
  return fields;
}

function checkKey(key: ProfileKey): void {
  for (const f of ["hostId", "profileId", "caName"] as const) {
    if (typeof key[f] !== "string" || key[f] === "") throw new InvalidArgumentError(`${f} must be a non-empty string`);
  }
}

function checkTime(ms: number, what: string): void {
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`${what} must be an integer number of milliseconds since 1970`);
}

/** A Redis WRONGTYPE reply (a key of another type than the command's), as the Runner wraps it. */
function wrongType(error: unknown): boolean {
  const cause = error instanceof StoreUnavailableError ? (error as { cause?: unknown }).cause : undefined;
  return cause instanceof Error && cause.message.startsWith("WRONGTYPE");
}

/** A safe integer as `String(n)` writes it (what `put` stores, so a conditional requeue compares the same text). */
function integer(text: string): number | undefined {
  const n = Number(text);
  return /^-?\d{1,16}$/.test(text) && Number.isSafeInteger(n) && String(n) === text ? n : undefined;
}

/**
 * A record from its hash fields; undefined for an empty (absent) hash; for a hash that is not a whole record `put`
 * wrote (a required field missing, an empty key field, an unknown status, a time or
 * requeueCount that is not an integer as `put` writes it, key fields that are not the ones its key `m` names), what
 * is wrong, naming the field, never a value (the record holds a challengeHash). The scripts check the same
 * (`record_problem` in proxy-scripts.ts) before they write.
 */
function recordFrom(m: Map<string, Buffer>, key: string): ProfileRecord | undefined | string {
  if (m.size === 0) return undefined;
  // A field it does not know is left alone (a later version's, during a rolling upgrade), as the transaction store does.
  const text = (k: string): string | undefined => m.get(k)?.toString("utf8");
  const required = ["hostId", "profileId", "caName", "status", "updatedAt"] as const;
  for (const k of required) if (text(k) === undefined) return `field ${k} is missing`;
  const [hostId, profileId, caName, status, updated] = required.map((k) => text(k)!) as [string, string, string, string, string];
  for (const [k, v] of [["hostId", hostId], ["profileId", profileId], ["caName", caName]] as const) if (v === "") return `field ${k} is empty`;
  if (!Object.hasOwn(DELIVERY_STATUSES, status)) return "field status is not a delivery status";
  const updatedAt = integer(updated);
  if (updatedAt === undefined) return "field updatedAt is not a time in ms";
  if (member({ hostId, profileId, caName }) !== key) return "its hostId, profileId or caName is not the one its key names";
  const record: ProfileRecord = { hostId, profileId, caName, status: status as DeliveryStatus, updatedAt };
  const platform = text("platform");
  if (platform !== undefined) record.platform = platform;
  const retrieved = text("challengeRetrievedAt");
  if (retrieved !== undefined) {
    const ms = integer(retrieved);
    if (ms === undefined) return "field challengeRetrievedAt is not a time in ms";
    record.challengeRetrievedAt = ms;
  }
  const hash = text("challengeHash");
  if (hash !== undefined) record.challengeHash = hash;
  const detail = text("detail");
  if (detail !== undefined) record.detail = detail;
  const requeues = text("requeueCount");
  if (requeues !== undefined) {
    const n = integer(requeues);
    if (n === undefined || n < 0) return "field requeueCount is not a count";
    record.requeueCount = n;
  }
  return record;
}
