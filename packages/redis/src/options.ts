/**
 * Options every Redis store shares, and the ioredis client settings the
 * stores expect.
 *
 * @module
 */
import { InvalidArgumentError, RECORD_MS, TIMER_MS, numberOption } from "@scep/core";

// The SDK's ranges (one definition, in @scep/core): a timer's duration (TIMER_MS), 1 to 2 147 483 647 ms (a longer
// `setTimeout` fires at once); a key's lifetime in Redis, 1 ms to 365 days.
/** A key's lifetime in Redis, in ms: 1 to 31 536 000 000 (365 days). */
export const KEY_TTL_MS = RECORD_MS;

/**
 * What the stores need from an ioredis client: `callBuffer`. Any ioredis 5 or
 * 6 `Redis` or `Cluster` instance fits, with or without
 * `enableAutoPipelining` (the stores call its named Buffer methods, e.g.
 * `evalshaBuffer`, where it has them: auto-pipelining drops `callBuffer`'s
 * command name). The client is yours: the stores never connect, quit or
 * reconfigure it.
 *
 * @group Connection
 */
export interface RedisClient {
  /** ioredis' generic command with binary (Buffer) replies. */
  callBuffer(command: string, args: Array<string | Buffer | number>): Promise<unknown>;
}

/** Options of every Redis store. @group Storage */
export interface RedisStoreOptions {
  /**
   * Prefix of every key the store writes (default `"scep:"`). Give each
   * deployment sharing one Redis its own prefix. A string that must not contain `{` or `}`
   * (the stores put Redis Cluster hash tags after it), else `ERR_INVALID_ARGUMENT`.
   */
  keyPrefix?: string;
  /**
   * Deadline of one store operation in milliseconds, round trips and a
   * NOSCRIPT retry included (default 2000). Past it the operation rejects
   * with StoreUnavailableError, whatever the client does. An integer from 1 to
   * 2 147 483 647 (ms; it runs on a timer), else `ERR_INVALID_ARGUMENT` from the constructor.
   */
  commandTimeoutMs?: number;
  /**
   * `retryAfterSeconds` of the StoreUnavailableError the store throws (default 30, as in @scep/core): the server's
   * `Retry-After`, in seconds. An integer from 0 to 86 400 (one day), else `ERR_INVALID_ARGUMENT` from the constructor.
   */
  retryAfterSeconds?: number;
  /**
   * The clock expiry is decided with (default: the wall clock). Not a function: InvalidArgumentError
   * `ERR_INVALID_ARGUMENT` from the constructor, `now must be a function returning a Date (got an object)`, in the
   * words (and class) of the memory stores of @scep/core, @scep/intune and @scep/proxy.
   */
  now?: () => Date;
}

/** {@link RedisStoreOptions} with defaults applied. */
export interface ResolvedStoreOptions {
  keyPrefix: string;
  commandTimeoutMs: number;
  retryAfterSeconds: number;
  now: () => Date;
}

/**
 * Why `keyPrefix` cannot begin this package's Redis keys, or `undefined` when it can: a prefix must not contain `{`
 * or `}`, because the stores put Redis Cluster hash tags (`{…}`, the part of a key that picks its slot) after it, and
 * a brace in the prefix would move the tag. What the stores' constructors check (they throw InvalidArgumentError
 * `ERR_INVALID_ARGUMENT` with `keyPrefix` and this reason); an application that takes a prefix from its own
 * configuration calls it to refuse a bad one in its own words, before it opens a store.
 *
 * @param keyPrefix - the prefix (a string, any length; `""` is allowed)
 * @returns the reason, one line without the option's name, or `undefined`
 *
 * @example
 * ```ts
 * import { keyPrefixProblem } from "@scep/redis";
 *
 * const problem = keyPrefixProblem(process.env.MY_KEY_PREFIX ?? "scep:");
 * if (problem) throw new Error(`MY_KEY_PREFIX ${problem}`); // "MY_KEY_PREFIX must not contain { or } (…)"
 * ```
 */
export function keyPrefixProblem(keyPrefix: string): string | undefined {
  return /[{}]/.test(keyPrefix) ? "must not contain { or } (the stores add Redis Cluster hash tags)" : undefined;
}

/**
 * What a message says was given instead of the expected kind: `none`, `null`, `an object`, `a string`… (the words of
 * @scep/core's stores, so a memory store and its Redis counterpart refuse a bad value in one message).
 */
export function kindOf(value: unknown): string {
  if (value === undefined) return "none";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Applies defaults and checks the options; throws InvalidArgumentError (one line: the option, its unit and range, the value). */
export function resolveStoreOptions(options: RedisStoreOptions = {}): ResolvedStoreOptions {
  const keyPrefix = options.keyPrefix ?? "scep:";
  if (typeof keyPrefix !== "string") throw new InvalidArgumentError("keyPrefix must be a string");
  const problem = keyPrefixProblem(keyPrefix);
  if (problem) throw new InvalidArgumentError(`keyPrefix ${problem}`);
  // NaN made every operation time out at once (a 503 each); above 2^31 − 1 ms the timer fired at once.
  const commandTimeoutMs = numberOption("commandTimeoutMs", options.commandTimeoutMs, 2000, TIMER_MS);
  const retryAfterSeconds = numberOption("retryAfterSeconds", options.retryAfterSeconds, 30, { min: 0, max: 86_400, unit: "s" });
  if (options.now !== undefined && typeof options.now !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${kindOf(options.now)})`);
  return { keyPrefix, commandTimeoutMs, retryAfterSeconds, now: options.now ?? (() => new Date()) };
}

/**
 * The ioredis client settings a SCEP server wants (spread them into
 * `new Redis(url, { ...redisClientOptions })`): fail a command at once while
 * disconnected instead of queueing it (a queued consume or transition would
 * run after the device was already told 503), and fail a command in flight
 * when the connection drops instead of sending it again after the reconnect
 * (`autoResendUnfulfilledCommands: false`: the store has already answered 503
 * and its undo could not be sent, so a resent write would land after it), one
 * retry per command, a 2-second command and connect timeout. Reconnection stays on (ioredis'
 * default backoff), so the server recovers by itself when Redis returns.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { redisClientOptions } from "@scep/redis";
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * ```
 *
 * @group Connection
 */
export const redisClientOptions = Object.freeze({
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  connectTimeout: 2000,
} as const);
