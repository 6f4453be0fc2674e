/**
 * PENDING transactions in Redis, shared by every replica of a SCEP server.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { InvalidArgumentError, checkTransactionListLimit } from "@scep/core";
import type { Transaction, TransactionStatus, TransactionStore, TransactionUpdate } from "@scep/core";
import { Runner } from "./lib/client.js";
import { STATUSES, TransactionKeys } from "./lib/keys.js";
import { fieldMap, recordFields, recordFrom, updateFields, type RecordSource } from "./lib/record.js";
import { CREATE, DELETE, PRUNE_INDEXES, TRANSITION, UNCREATE, UNTRANSITION } from "./lib/scripts.js";
import { resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/**
 * A `ZRANGE … WITHSCORES` reply as [member, score] pairs: flat
 * `[m, s, m, s]` (RESP2, ioredis 5) or nested `[[m, s], …]` (ioredis 6, RESP3).
 */
function scoredMembers(reply: unknown): Array<[string, number]> {
  if (!Array.isArray(reply)) return [];
  const out: Array<[string, number]> = [];
  if (reply.length > 0 && Array.isArray(reply[0])) {
    for (const pair of reply as Array<[Buffer, Buffer | number]>) out.push([pair[0].toString("utf8"), Number(pair[1].toString())]);
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([(reply[i] as Buffer).toString("utf8"), Number((reply[i + 1] as Buffer).toString())]);
  }
  return out;
}

/** A random tag naming one create or transition in the record it writes (field `writer`), for its undo. */
function writerTag(): string {
  return randomBytes(8).toString("hex");
}

function checkStatus(status: string, what: string): asserts status is TransactionStatus {
  if (!(STATUSES as readonly string[]).includes(status)) throw new InvalidArgumentError(`${what} must be one of ${STATUSES.join(", ")}`);
}

/**
 * A time the scripts write (a score, a TTL, a field read back by `recordFrom`): checked before the script runs, so an
 * invalid Date (NaN) is refused with nothing written rather than stored as `NaN` or failing the script half-way.
 */
function checkDate(value: unknown, what: string): asserts value is Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new InvalidArgumentError(`${what} must be a valid Date`);
}

/**
 * A `TransactionStore` (from `@scep/core`) on Redis (standalone, Sentinel or Cluster).
 *
 * Each transaction is one hash, `<prefix>tx:{<profile>}:id:<transactionID>`,
 * with a TTL ending at its `expiresAt`; each profile has a sorted set per
 * status (scored by `createdAt`, for `list`) and one scored by when Redis
 * drops the record (to drop index entries of expired records). `create`, `transition` and
 * `delete` are Lua scripts (EVALSHA, EVAL on NOSCRIPT), so each is atomic;
 * all keys of one profile share the hash tag `{<profile>}`. Expiry is
 * decided with the injected clock; Redis TTLs are set relative to it, so
 * clock skew between the server and Redis does not matter. Which index entries are dead is Redis's call, not a
 * replica's: the scripts score each record by its expiry on Redis's clock (`TIME` + TTL, the record's `PEXPIREAT`)
 * and drop the entries (64 at most per `create` or `list`) only once Redis's clock is past it, so a replica whose
 * clock runs ahead no longer drops the entries of records every other replica still lists, and one running behind
 * does not keep the entries of records Redis has dropped.
 *
 * Every method rejects with StoreUnavailableError (code
 * `ERR_STORE_UNAVAILABLE`) when Redis fails or does not answer within
 * `commandTimeoutMs`. A `create` or `transition` that rejects leaves the
 * record as it was: its script may still run when Redis answers late, so each
 * writes its random tag into the record (field `writer`; a transition also keeps
 * what it overwrote in `prior`), and a script that removes that create's record,
 * or puts back what that transition overwrote, only while the record still
 * carries the tag, follows it on the same client (Redis runs one connection's
 * commands in order). Best effort: when the client cannot send it
 * (disconnected, offline queue off) a write that already reached Redis stays.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { createScepServer } from "@scep/core";
 * import { RedisTransactionStore, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * const transactions = new RedisTransactionStore(redis, { keyPrefix: "scep:" });
 * const server = createScepServer({ profiles: [{ ...profile, transactions }] });
 * ```
 *
 * @group Storage
 */
export class RedisTransactionStore implements TransactionStore {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, deadline, Retry-After, clock.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
  }

  #keys(profile: string): TransactionKeys {
    return new TransactionKeys(this.#options.keyPrefix, profile);
  }

  #source(operation: string, profile: string, transactionId: string): RecordSource {
    return { operation, retryAfterSeconds: this.#options.retryAfterSeconds, profile, transactionId };
  }

  #live(tx: Transaction | undefined, now: number): Transaction | undefined {
    return tx !== undefined && tx.expiresAt.getTime() > now ? tx : undefined;
  }

  /**
   * The record, or undefined when absent or past `expiresAt` (by the
   * injected clock). One `HGETALL`.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the key holds a hash that
   *   is not a whole record (data this package did not write: the message names the field, never a value).
   */
  async get(profile: string, transactionId: string): Promise<Transaction | undefined> {
    const reply = await this.#run.command("get", "HGETALL", [this.#keys(profile).record(transactionId)]);
    return this.#live(recordFrom(fieldMap(reply), this.#source("get", profile, transactionId)), this.#options.now().getTime());
  }

  /**
   * Stores `tx` unless a live PENDING or ISSUING record has its key (then
   * resolves false and stores nothing); replaces a finished or expired one
   * whole. Atomic (Lua script), and checked whole before its first write: a create that fails leaves the record it
   * would have replaced as it was.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or a PENDING or ISSUING
   *   record has the key with an expiresAt that is not a time (data this package did not write; left as it is).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an unknown status, or a createdAt, updatedAt or
   *   expiresAt that is not a valid Date (nothing written).
   */
  async create(tx: Transaction): Promise<boolean> {
    checkStatus(tx.status, "status");
    checkDate(tx.createdAt, "createdAt");
    checkDate(tx.updatedAt, "updatedAt");
    checkDate(tx.expiresAt, "expiresAt");
    const keys = this.#keys(tx.profile);
    const now = this.#options.now().getTime();
    const ttl = Math.max(1, tx.expiresAt.getTime() - now);
    const scriptKeys = [keys.record(tx.transactionId), ...keys.indexes(), keys.expiry()];
    const tag = writerTag();
    try {
      const reply = await this.#run.eval("create", CREATE, scriptKeys, [
        now,
        ttl,
        tx.createdAt.getTime(),
        tx.expiresAt.getTime(),
        tx.transactionId,
        STATUSES.indexOf(tx.status) + 1,
        ...recordFields(tx),
        "writer",
        tag,
      ]);
      return reply === 1;
    } catch (error) {
      // Rejected (the server answers 503 and gives the request's one-time challenge back), but a late script may
      // still record the transaction: then the challenge would have a second use, and a record would wait for an
      // approval the device was told failed. Remove the record this call wrote, and only it (its tag, untouched
      // since): the undo runs after the create on the same connection (see Runner.undo).
      this.#run.undo(UNCREATE, scriptKeys, [tag, tx.transactionId]);
      throw error;
    }
  }

  /**
   * Compare-and-set on the status: applies `update` only when the live
   * record's status is `from` (and its `updatedAt` is `expect.updatedAt`, to
   * the millisecond, when given), and resolves the whole updated record;
   * undefined when absent, expired, not in `from` or updated since. Atomic
   * (Lua script): of N concurrent calls, on any replicas, at most one wins.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or the record is not one this
   *   package wrote: a time the script compares or writes that is not a time in ms (nothing written); any other field
   *   `recordFrom` refuses (a missing csr, a truncated chain, …) is found in the record the script answers, after its
   *   write, which is then put back before the call rejects (`… transition refused and changed nothing …`), or, when
   *   it could not be, the message says so (`… transition wrote to it, and putting back what it wrote failed or was not
   *   confirmed …`).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an unknown status, or an `updatedAt`, `expiresAt` or
   *   `expect.updatedAt` that is not a valid Date (nothing written).
   */
  async transition(profile: string, transactionId: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> {
    checkStatus(from, "from");
    checkStatus(update.status, "update.status");
    checkDate(update.updatedAt, "update.updatedAt");
    if (update.expiresAt !== undefined) checkDate(update.expiresAt, "update.expiresAt");
    if (expect !== undefined) checkDate(expect.updatedAt, "expect.updatedAt");
    const keys = this.#keys(profile);
    const now = this.#options.now().getTime();
    const ttl = update.expiresAt === undefined ? "" : Math.max(1, update.expiresAt.getTime() - now);
    const scriptKeys = [keys.record(transactionId), keys.index(from), keys.index(update.status), keys.expiry()];
    const tag = writerTag();
    let reply: unknown;
    try {
      reply = await this.#run.eval("transition", TRANSITION, scriptKeys, [
        now,
        from,
        transactionId,
        ttl,
        update.expiresAt === undefined ? "" : update.expiresAt.getTime(),
        expect ? String(expect.updatedAt.getTime()) : "",
        ...updateFields(update),
        "writer",
        tag,
      ]);
    } catch (error) {
      // Rejected (503), but a late script may still move the record: an approver's claim would then block the
      // operator's retry ("no pending transaction") until its lease lapses, a reject would skip the challenge
      // policy's failure hook, and an ISSUED record would deliver a certificate approve reported undelivered. Put
      // back what this call overwrote, and only while the record is as it left it (its tag): the undo runs after the
      // transition on the same connection (see Runner.undo).
      this.#run.undo(UNTRANSITION, scriptKeys, [tag, transactionId]);
      throw error;
    }
    if (reply === null) return undefined;
    const fields = fieldMap(reply);
    const source = this.#source("transition", profile, transactionId);
    try {
      return recordFrom(fields, source);
    } catch (error) {
      // The script checks the fields it compares and writes, not the whole record: it moved on a record that cannot
      // be read (a csr missing, a truncated chain, …). Put back what it wrote and wait for that, so that the error
      // says what is left: "refused and changed nothing" only once it is put back.
      const putBack = await this.#run.eval("transition", UNTRANSITION, scriptKeys, [tag, transactionId]).then(
        (n) => n === 1,
        () => false,
      );
      if (putBack) throw error;
      recordFrom(fields, { ...source, outcome: "wrote to it, and putting back what it wrote failed or was not confirmed" });
      throw error;
    }
  }

  /**
   * Live records of a profile, oldest `createdAt` first, at most `limit`
   * (default 1000), optionally of one status.
   *
   * Reads the status indexes page by page (ZRANGE) and the records in one
   * round trip per page, never the keyspace. Not a snapshot: a record that
   * changes status while the list is read shows with its new status, once.
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `limit` that is not an integer from 0 to 100 000 000
   *   (core's `checkTransactionListLimit`), or a `status` not a TransactionStatus (as @scep/core's memory store).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late, or a listed record is not one
   *   this package wrote (refused rather than left out: an operator's list would otherwise miss a pending request).
   */
  async list(profile: string, options: { status?: TransactionStatus; limit?: number } = {}): Promise<Transaction[]> {
    if (options.status !== undefined) checkStatus(options.status, "status");
    const limit = checkTransactionListLimit(options.limit);
    const keys = this.#keys(profile);
    const now = this.#options.now().getTime();
    // Index entries of records Redis has expired go first, judged by Redis's clock (not `now`: see PRUNE_INDEXES).
    await this.#run.eval("list", PRUNE_INDEXES, [...keys.indexes(), keys.expiry()], []);
    const statuses = options.status === undefined ? STATUSES : [options.status];
    const offsets = new Map<TransactionStatus, number>(statuses.map((s) => [s, 0]));
    const seen = new Set<string>();
    const out: Transaction[] = [];
    while (out.length < limit) {
      const need = limit - out.length;
      // The next `need` entries of each index, merged by (createdAt, transactionID).
      const pages = await Promise.all(
        statuses.map(async (status) => {
          const start = offsets.get(status)!;
          const reply = await this.#run.command("list", "ZRANGE", [keys.index(status), start, start + need - 1, "WITHSCORES"]);
          return scoredMembers(reply).map(([id, score]) => ({ status, id, score }));
        }),
      );
      const candidates = pages
        .flat()
        .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, need);
      if (candidates.length === 0) break;
      for (const c of candidates) offsets.set(c.status, offsets.get(c.status)! + 1);
      const records = await Promise.all(candidates.map((c) => this.#run.command("list", "HGETALL", [keys.record(c.id)])));
      for (const [i, reply] of records.entries()) {
        const tx = this.#live(recordFrom(fieldMap(reply), this.#source("list", profile, candidates[i]!.id)), now);
        if (tx === undefined || seen.has(tx.transactionId)) continue;
        if (options.status !== undefined && tx.status !== options.status) continue;
        seen.add(tx.transactionId);
        out.push(tx);
      }
    }
    return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /**
   * Removes a record and its index entries (no error when absent). Atomic (Lua script).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async delete(profile: string, transactionId: string): Promise<void> {
    const keys = this.#keys(profile);
    await this.#run.eval("delete", DELETE, [keys.record(transactionId), ...keys.indexes(), keys.expiry()], [transactionId]);
  }
}
