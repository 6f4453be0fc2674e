/**
 * Per-profile request counters in Redis, summed over every replica.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { InvalidArgumentError, TIMER_MS, ignoreRejection, numberOption } from "@scep/core";
import type { CounterStore, ProfileCounters, ScepOutcome } from "@scep/core";
import { Runner } from "./lib/client.js";
import { profileTag } from "./lib/keys.js";
import { fieldMap } from "./lib/record.js";
import { COUNT, UNCOUNT, isCount } from "./lib/scripts.js";
import { KEY_TTL_MS, resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/** Options of {@link RedisCounterStore}. @group Storage */
export interface RedisCounterStoreOptions extends RedisStoreOptions {
  /** How often buffered counts are written, in milliseconds (default 1000). An integer from 1 to 2 147 483 647 (a timer), else `ERR_INVALID_ARGUMENT`. */
  flushIntervalMs?: number;
  /** TTL of a profile's counter hash, refreshed by every write, in milliseconds (default 90 days). An integer from 1 to 31 536 000 000 (365 days), else `ERR_INVALID_ARGUMENT`. */
  retentionMs?: number;
  /**
   * Most distinct (profile, label) counts buffered while Redis is slow or down
   * (default 10 000); counts for labels beyond it are dropped and tallied in
   * {@link RedisCounterStore.dropped}. An integer from 1 to 1 000 000, else `ERR_INVALID_ARGUMENT`.
   */
  maxBufferedLabels?: number;
  /**
   * Most fields of a profile's counter hash in Redis (default 1000, as @scep/core's MemoryCounterStore `maxLabels`):
   * a reason label new to a hash that holds that many (outcomes included) is counted under reason `other`, so validators or webhooks naming ever new reasons cannot grow it without
   * limit. An integer from 1 to 1 000 000, else `ERR_INVALID_ARGUMENT`.
   */
  maxLabels?: number;
  /** Told about a background write that failed (the counts are kept for the next one). Must not throw. */
  onError?: (error: unknown) => void;
}

const OUTCOME = "outcome:";
const REASON = "reason:";

/**
 * A `CounterStore` (from `@scep/core`) on Redis: pass it as
 * `createScepServer({ counters })` on every replica and `sharedStats()` on any
 * of them shows the sum.
 *
 * `increment` only adds to an in-process buffer (no I/O on the request
 * path); every `flushIntervalMs` the buffer is written with one Lua script per
 * profile (`HINCRBY` per label, then `PEXPIRE`) into the hash
 * `<prefix>stats:{<profile>}` (fields `outcome:<outcome>`, `reason:<reason>`). A field that holds anything but a
 * count (written by someone else; a count is what HINCRBY takes and can add to: `0`, or `-?[1-9]` and at most 18
 * digits in all, never `007` or `-0`) is left out by `read` and set afresh to the delta by the next write of its label,
 * never failing a write half-way.
 * A write that fails puts its counts back in the buffer, which is bounded by
 * `maxBufferedLabels`, and the next flush, `flushIntervalMs` later, writes
 * them, whether or not more requests are counted meanwhile; so a Redis that is
 * down costs no request any time and only a bounded amount of memory. Counting is exactly once: a write that
 * fails or times out may still run on Redis, so it also sets a marker key
 * (`<prefix>stats:{<profile>}:writer:<random id of this store>`, the batch's
 * number, 60 s) and is followed, on the same client, by a script that takes
 * its counts off again only when the marker names that batch (Redis runs one
 * connection's commands in order); the counts are written by the next flush.
 * Best effort: when the client cannot send it (disconnected, offline queue
 * off) a write that already reached Redis is counted twice.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { createScepServer } from "@scep/core";
 * import { RedisCounterStore, redisClientOptions } from "@scep/redis";
 *
 * const counters = new RedisCounterStore(new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions }));
 * const server = createScepServer({ profiles: [profile], counters });
 * const perProfile = await server.sharedStats(); // every replica's requests
 * process.on("SIGTERM", () => void counters.close());
 * ```
 *
 * @group Storage
 */
export class RedisCounterStore implements CounterStore {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;
  readonly #intervalMs: number;
  readonly #retentionMs: number;
  readonly #maxLabels: number;
  readonly #maxStoredLabels: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  /** profile → field → delta not yet written. */
  #buffer = new Map<string, Map<string, number>>();
  #labels = 0;
  #dropped = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #flushing: Promise<void> | undefined;
  /** Names this store's marker key; with #batch, a write's number (see COUNT and UNCOUNT). */
  readonly #writer = randomBytes(8).toString("hex");
  #batch = 0;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, deadline, flush interval, retention, buffer bound.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisCounterStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
    this.#intervalMs = numberOption("flushIntervalMs", options.flushIntervalMs, 1000, TIMER_MS);
    this.#retentionMs = numberOption("retentionMs", options.retentionMs, 90 * 24 * 3_600_000, KEY_TTL_MS);
    this.#maxLabels = numberOption("maxBufferedLabels", options.maxBufferedLabels, 10_000, { min: 1, max: 1_000_000 });
    this.#maxStoredLabels = numberOption("maxLabels", options.maxLabels, 1000, { min: 1, max: 1_000_000 });
    if (options.onError !== undefined && typeof options.onError !== "function") throw new InvalidArgumentError("onError must be a function");
    this.#onError = options.onError;
  }

  /** Counts dropped because the buffer was full (Redis down for long, or too many distinct labels). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Counts one request of `profile`: adds to the in-process buffer and
   * returns; the next flush writes it. Never throws, never waits.
   */
  increment(profile: string, outcome: ScepOutcome, reason: string): void {
    this.#add(profile, OUTCOME + outcome, 1);
    this.#add(profile, REASON + reason, 1);
    this.#schedule();
  }

  /** Arms the flush timer, unless it is armed already. */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((e: unknown) => {
        try {
          // An async onError that rejects is dropped too: unobserved, it would end the process (unhandled rejection).
          ignoreRejection(this.#onError?.(e));
        } catch {
          /* a broken error sink must not matter */
        }
      });
    }, this.#intervalMs);
    this.#timer.unref?.();
  }

  #add(profile: string, field: string, delta: number): void {
    let m = this.#buffer.get(profile);
    if (!m) this.#buffer.set(profile, (m = new Map()));
    const cur = m.get(field);
    if (cur === undefined) {
      if (this.#labels >= this.#maxLabels) {
        this.#dropped += delta;
        return;
      }
      this.#labels++;
    }
    m.set(field, (cur ?? 0) + delta);
  }

  /**
   * Writes the buffered counts now (waiting for a flush already running).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when a write failed; its counts stay buffered.
   */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    if (this.#buffer.size === 0) return;
    const batch = this.#buffer;
    this.#buffer = new Map();
    this.#labels = 0;
    const run = this.#write(batch);
    this.#flushing = run;
    try {
      await run;
    } finally {
      this.#flushing = undefined;
    }
  }

  async #write(batch: Map<string, Map<string, number>>): Promise<void> {
    const results = await Promise.allSettled(
      [...batch].map(async ([profile, fields]) => {
        const deltas: Array<string | number> = [];
        for (const [field, delta] of fields) deltas.push(field, delta);
        const keys = [this.#key(profile), `${this.#key(profile)}:writer:${this.#writer}`];
        const batch = String(++this.#batch);
        try {
          await this.#run.eval("flush", COUNT, keys, [this.#retentionMs, batch, this.#maxStoredLabels, ...deltas]);
        } catch (e) {
          // The counts go back into the buffer for the next flush, but this write may still run on Redis (late):
          // take its counts off again if it did, and only then (the marker), right behind it on the same connection.
          this.#run.undo(UNCOUNT, keys, [batch, ...deltas]);
          for (const [field, delta] of fields) this.#add(profile, field, delta);
          // Written by the next flush, `flushIntervalMs` from now, whether or not another request is counted before:
          // a replica that gets no more traffic after an outage still hands its counts over (not once closed).
          if (!this.#closed) this.#schedule();
          throw e;
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  #key(profile: string): string {
    return `${this.#options.keyPrefix}stats:{${profileTag(profile)}}`;
  }

  /**
   * The counts of `profile` summed over every replica (after writing this
   * process's buffer).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async read(profile: string): Promise<ProfileCounters> {
    await this.flush();
    const fields = fieldMap(await this.#run.command("read", "HGETALL", [this.#key(profile)]));
    // Filled without a prototype, so that a label named `__proto__` is a count like any other (an assignment to a
    // plain object's `__proto__` sets its prototype); handed back as plain objects, as MemoryCounterStore does.
    const outcomes = Object.create(null) as Record<string, number>;
    const reasons = Object.create(null) as Record<string, number>;
    for (const [field, value] of fields) {
      // A field that is not a count (an edit by hand, another program's data) is left out, the same way on every
      // read; the next write of that label sets it afresh (COUNT: `isCount` is the rule of both). `Number` alone read
      // "" as 0, "1e3" as 1000, "abc" as NaN and "007", which HINCRBY refuses, as 7.
      const text = value.toString();
      if (!isCount(text)) continue;
      const n = Number(text);
      if (field.startsWith(OUTCOME)) outcomes[field.slice(OUTCOME.length)] = n;
      else if (field.startsWith(REASON)) reasons[field.slice(REASON.length)] = n;
    }
    return { outcomes: { ...outcomes }, reasons: { ...reasons } };
  }

  /**
   * Stops the flush timer and writes what is buffered (call on shutdown). A write that fails here is not tried again
   * in the background.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when that write failed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
