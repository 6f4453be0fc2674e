/**
 * Revoked certificates and the CRL number in Redis, shared by every replica
 * of a CA.
 *
 * @module
 */
import { InvalidArgumentError, KEY_COMPROMISE_UPGRADABLE_REASONS, MAX_CRL_NUMBER, checkCrlNumberFloor, crlNumberExhausted, checkRevocationReason, normalizeSerialNumber, sortRevocations } from "@scep/core";
import type { RevocationReason, RevocationStore, RevokeResult, RevokedCertificate } from "@scep/core";
import { Runner } from "./lib/client.js";
import { NEXT_CRL_NUMBER, REVISION, REVISION_PROBLEM, REVOKE, isRevision } from "./lib/scripts.js";
import { profileTag } from "./lib/keys.js";
import { corruptData } from "./lib/corrupt.js";
import { fieldMap, isMs } from "./lib/record.js";
import { resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/** Options of {@link RedisRevocationStore}. @group Storage */
export interface RedisRevocationStoreOptions extends RedisStoreOptions {
  /** Name of the CA whose revocations these are (default `"ca"`): one store per CA, each with its own name. */
  ca?: string;
}

/**
 * A `RevocationStore` (from `@scep/core`) on Redis (standalone, Sentinel or
 * Cluster).
 *
 * Keys (both in the hash slot of `{<ca>}`): `<prefix>revoked:{<ca>}`, a hash
 * of serial (`normalizeSerialNumber`'s spelling: lower-case hex, `-7fff` for a negative one) → `<revokedAt ms>:<reason>`, written with
 * `HSETNX` so the first revocation of a serial wins on every replica (its
 * reason is rewritten only by an upgrade to keyCompromise, in the same script); and
 * `<prefix>crl-number:{<ca>}`, the last CRL number handed out (decimal), moved on by one Lua script per CRL signed:
 * + 1, raised to the caller's `atLeast`, and started at Redis's own clock (`TIME`) in ms × 1000 when missing (a new or
 * flushed Redis, so the first CRL number of a Redis store is a large number, ~1.8 × 10^15, far within RFC 5280's 20
 * octets); never moved past 2^159 - 1 (`CrlNumberExhaustedError` instead);
 * and
 * `<prefix>revision:{<ca>}`, the revision counter (`RevocationStore.revision`),
 * moved on in the same Lua script as a created or upgraded revocation and
 * started at Redis's own clock (`TIME`) in µs when missing (a new or flushed Redis; not at a replica's clock, which
 * may be ahead of or behind the others');
 * `get`, `list` and `revision` only read once it exists, so they work on a
 * read-only replica.
 * None expires: a revocation is permanent, and a CRL number must never
 * go back (RFC 5280 §5.2.3). `list` reads the whole hash (`HGETALL`): fine
 * for the tens of thousands of entries a CRL can sensibly hold.
 *
 * Every method rejects with StoreUnavailableError (code
 * `ERR_STORE_UNAVAILABLE`) when Redis fails or does not answer within
 * `commandTimeoutMs`.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { RedisRevocationStore, redisClientOptions } from "@scep/redis";
 *
 * const revocations = new RedisRevocationStore(new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions }));
 * await revocations.revoke({ serialNumber: "4a0b…", reason: "keyCompromise" });
 * ```
 *
 * @group Storage
 */
export class RedisRevocationStore implements RevocationStore {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;
  readonly #hash: string;
  readonly #counter: string;
  readonly #revision: string;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, CA name, deadline, Retry-After, clock.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisRevocationStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
    const ca = options.ca ?? "ca";
    if (typeof ca !== "string" || ca === "") throw new InvalidArgumentError("ca must be a non-empty string");
    const tag = `{${profileTag(ca)}}`;
    this.#hash = `${this.#options.keyPrefix}revoked:${tag}`;
    this.#counter = `${this.#options.keyPrefix}crl-number:${tag}`;
    this.#revision = `${this.#options.keyPrefix}revision:${tag}`;
  }

  /**
   * Records a revocation (`revokedAt` defaults to the store's clock); an already revoked serial keeps its first entry and
   * answers `created: false`, except that reason keyCompromise upgrades an entry whose reason says nothing of the key
   * (CA/B BR §4.9.1.1) and any reason but certificateHold makes a hold permanent (RFC 5280 §5.3.1; both:
   * `upgradesRevocationReason` in `@scep/core`): the requested reason, first revocationDate kept, `updated: true`,
   * revision moved on, in the same script as the check.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a serial that is not hex, an unknown reason or a
   *   `revokedAt` that is not a valid Date (as @scep/core's MemoryRevocationStore).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async revoke(options: { serialNumber: string; reason: RevocationReason; revokedAt?: Date }): Promise<RevokeResult> {
    const serialNumber = normalizeSerialNumber(options.serialNumber);
    const reason = checkRevocationReason(options.reason);
    const revokedAt = options.revokedAt ?? this.#options.now();
    if (!(revokedAt instanceof Date) || Number.isNaN(revokedAt.getTime())) throw new InvalidArgumentError("revokedAt must be a valid Date");
    const reply = await this.#run.eval("revoke", REVOKE, [this.#hash, this.#revision], [
      serialNumber,
      `${revokedAt.getTime()}:${reason}`,
      KEY_COMPROMISE_UPGRADABLE_REASONS.join(" "),
      reason,
    ]);
    const [code, value] = Array.isArray(reply) ? reply : [];
    // The script answers the entry as it stored it (no second read, which a concurrent upgrade could move on).
    const entry = this.#decode(serialNumber, String(value), "revoke");
    return { entry, created: Number(code) === 1, updated: Number(code) === 2 };
  }

  /**
   * The entry of one serial (hex), or undefined when it is not revoked.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the serial's entry is not
   *   `<ms>:<reason>` (data this store did not write: never read as "not revoked").
   */
  async get(serialNumber: string): Promise<RevokedCertificate | undefined> {
    const serial = normalizeSerialNumber(serialNumber);
    const value = await this.#run.command("get revocation", "HGET", [this.#hash, serial]);
    return value === null || value === undefined ? undefined : this.#decode(serial, String(value), "get revocation");
  }

  /**
   * Every revoked certificate, oldest revocation first (ties by serial).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or an entry is not a
   *   revocation this store wrote (refused rather than left out: a CRL without it would un-revoke a certificate).
   */
  async list(): Promise<RevokedCertificate[]> {
    const out: RevokedCertificate[] = [];
    for (const [serial, value] of fieldMap(await this.#run.command("list revocations", "HGETALL", [this.#hash]))) {
      out.push(this.#decode(serial, String(value), "list revocations"));
    }
    return sortRevocations(out);
  }

  /** An entry as the store wrote it; StoreUnavailableError naming the serial for anything else. */
  #decode(serial: string, value: string, operation: string): RevokedCertificate {
    const entry = decode(serial, value);
    if (!entry) throw corruptData(`revocation entry (serial ${serial} is not <ms>:<reason> with a known reason)`, operation, this.#options.retryAfterSeconds);
    return entry;
  }

  /**
   * The next CRL number (RFC 5280 §5.2.3, a bigint), strictly increasing on every replica: the counter + 1, or max of
   * that and `atLeast` (the caller's floor, kept as the new counter in the same script, so every replica numbers on
   * above it). A missing counter (a new or flushed Redis) starts at Redis's own clock (`TIME`, read in the script) in
   * ms × 1000, not at 1 and not at this replica's clock: a replica whose own storage knows no earlier CRL never repeats
   * a number another replica published before the flush (as long as Redis's clock did not go back and fewer than 1000
   * CRLs a millisecond were signed on average since 1970), and a replica whose clock is ahead does not set a start that
   * the next flush's start goes below. Values are handled as decimal strings in the script, so a floor of up to 20
   * octets is exact. The store's `now` option is not used here.
   * @param options - `atLeast`: the lowest number to answer (bigint, 0 to 2^159 - 1).
   * @returns the number, from 1 to 2^159 - 1 (`MAX_CRL_NUMBER`).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an `atLeast` that is not such a bigint.
   * @throws CrlNumberExhaustedError (`ERR_CRL_NUMBER_EXHAUSTED`) when the next number would be above 2^159 - 1 (the
   * counter holds `MAX_CRL_NUMBER`, or more: a value written by hand); the counter is left as it is.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the counter holds a value
   * this store did not write; on a read-only replica (`replicaof`) too, its message saying READONLY (a CRL number is
   * a write: point the CA at the primary, as Sentinel does after a failover).
   */
  async nextCrlNumber(options?: { atLeast?: bigint }): Promise<bigint> {
    const atLeast = checkCrlNumberFloor(options?.atLeast);
    const n = await this.#run.eval("next CRL number", NEXT_CRL_NUMBER, [this.#counter], [atLeast.toString(), MAX_CRL_NUMBER.toString()]);
    if (n === null || n === undefined) throw crlNumberExhausted(); // the script's nil: past 2^159 - 1, nothing written
    const text = String(n);
    if (!/^\d+$/.test(text)) throw corruptData("CRL number counter (not a number)", "next CRL number", this.#options.retryAfterSeconds);
    return BigInt(text);
  }

  /**
   * The revision counter (`GET`, O(1)): moved on by every created or upgraded revocation in the same script, the same on every
   * replica, and after a FLUSHDB started again above every value it had (at Redis's own clock, `TIME`, in µs, read in
   * the script, by the first revocation or the first `revision()` that finds it missing), so a CA never keys a CRL of
   * the old contents by it (RFC 5280 §5.2.3), as long as Redis's clock did not go back and fewer than one revocation a
   * µs was counted on average. Not this replica's clock: one ahead of the others would set a start that the next
   * flush's start goes below, one behind would start below what was answered before the flush. The store's `now`
   * option is not used here. Only a missing counter is written (`SET NX`): on a read-only replica (`replicaof`) it is read
   * as its primary set it.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the counter is not an
   * integer from 0 to 2^53 - 1 without leading zeros (`isRevision` in scripts.ts, the rule `revoke`'s script checks
   * too: data this store did not write), and on a read-only replica
   * while its primary has no counter yet (a new or flushed Redis that no revocation or `revision()` reached): its
   * message then says READONLY.
   */
  async revision(): Promise<number> {
    const value = await this.#run.command("revision", "GET", [this.#revision]);
    return this.#revisionOf(value ?? (await this.#run.eval("revision", REVISION, [this.#revision], [])));
  }

  /** The counter as a number; StoreUnavailableError for one that is not `isRevision`'s (`Number` made "x" NaN, "007" 7). */
  #revisionOf(value: unknown): number {
    const text = String(value);
    if (!isRevision(text)) throw corruptData(REVISION_PROBLEM, "revision", this.#options.retryAfterSeconds);
    return Number(text);
  }
}

/** `<ms>:<reason>`; the ms by record.ts `isMs`. The REVOKE script's `entry()` reads an entry by the same rule. */
const ENTRY = /^(-?\d+):([A-Za-z]+)$/;

/** `<ms>:<reason>` → entry; undefined for a value this store did not write. */
function decode(serialNumber: string, value: string): RevokedCertificate | undefined {
  const m = ENTRY.exec(value);
  if (!m || !isMs(m[1]!)) return undefined;
  try {
    return { serialNumber, reason: checkRevocationReason(m[2]), revokedAt: new Date(Number(m[1])) };
  } catch {
    return undefined;
  }
}
