// One Redis connection for an example process (SCEP server or proxy): connected before the process starts
// serving (a wrong URL fails the start with one line), then outages logged once each way.
import Redis from "ioredis";
import { redisClientOptions } from "@scep/redis";
import { redactUrl } from "@scep/core";

/**
 * A Redis URL fit for a log line: the password (and a lone username-as-password) replaced by `***`, and so is the
 * value of every query parameter that may hold a credential (`?password=`, `?username=`, TLS keys): @scep/core's
 * {@link redactUrl}. ioredis takes every query parameter as a client option (`?password=…` authenticates as the
 * `:password@` part does), so none of them may be printed.
 */
export function redactRedisUrl(url: string): string {
  return redactUrl(url, { unparsable: "(unparsable Redis URL)" });
}

/** What {@link connectRedis} resolves with. */
export interface RedisConnection {
  /** The connected client (it reconnects by itself). */
  client: Redis;
  /** The URL for log lines, credentials masked ({@link redactRedisUrl}). */
  where: string;
  /**
   * Whether Redis serves now, from cached state (no I/O: cheap enough for `/readyz`): connected, and the last
   * background PING answered within its deadline (a Redis that accepts connections but hangs is not ready).
   */
  ready(): boolean;
  /** Ends the background PING and the `redis-down`/`redis-up` lines (the client stays open: disconnect it yourself). */
  stop(): void;
}

/** Options of {@link connectRedis}. */
export interface RedisConnectionOptions {
  /** Milliseconds between two background PINGs (default 2000). */
  pingIntervalMs?: number;
  /** Milliseconds a PING may take before Redis counts as down (default 2000, the stores' command deadline). */
  pingTimeoutMs?: number;
  /** Aborts a connection attempt in progress: the client is disconnected and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The first connection to Redis failed (`code` "ERR_REDIS_CONNECT"). `message` is "cannot reach Redis at <redacted
 * url>: <reason>" (after `waitForRedis` timed out: "… at <redacted url> after <seconds> s: <reason>"); `reason` is
 * the socket's or Redis's own first line (`connect ECONNREFUSED 127.0.0.1:6379`, `WRONGPASS invalid
 * username-password pair…`); `permanent` says whether trying again cannot help (a wrong password or user, a refused
 * AUTH, a TLS certificate that does not verify, a URL ioredis refuses), see {@link isPermanentRedisFailure}.
 */
export class RedisConnectError extends Error {
  override readonly name = "RedisConnectError";
  static readonly code = "ERR_REDIS_CONNECT";
  readonly code = RedisConnectError.code;
  constructor(
    /** The URL as log lines show it ({@link redactRedisUrl}). */
    readonly where: string,
    /** Why, one line. */
    readonly reason: string,
    /** Trying again cannot help. */
    readonly permanent: boolean,
    options: { cause?: unknown; afterSeconds?: number } = {},
  ) {
    // After a start-up wait (`waitForRedis`) the message says how long: "cannot reach Redis at … after 30 s: …".
    super(`cannot reach Redis at ${where}${options.afterSeconds === undefined ? "" : ` after ${options.afterSeconds} s`}: ${reason}`, { cause: options.cause });
  }
}

/** Redis's replies that mean the credentials or the database are wrong: the same on every attempt. */
const PERMANENT_REPLY = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|called without any password configured|DB index is out of range|invalid DB index/i;

/**
 * Whether a first connection's failure is one trying again cannot fix: Redis refused the credentials or the
 * database (WRONGPASS, NOAUTH, NOPERM, …), or TLS refused the server's certificate (Node's codes naming a `CERT`:
 * `CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`, …, and
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`). A refused or reset connection, a timeout, an unknown host (DNS
 * may not know it yet under docker compose) or `LOADING` are not.
 */
export function isPermanentRedisFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && /CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(code)) return true;
  return PERMANENT_REPLY.test(firstLine(error));
}

/**
 * Connects to Redis with the stores' client options (commands fail fast while it is down, so requests answer
 * 503 instead of queueing) and resolves once connected. Afterwards one PING every `pingIntervalMs` (unref'd timer)
 * decides readiness, and `log` hears each change of it, once per outage each way:
 *
 * - `{ type: "redis-down", redis, reason, error? }` when the connection fails or closes (`reason` "connection error"
 *   with the socket's `error`, e.g. `read ECONNRESET`, or "connection closed"), or when Redis does not answer a PING
 *   within `pingTimeoutMs` (`reason` "no answer to PING within 2000 ms": a hung Redis, which keeps the socket open
 *   and so raises no error), or refuses it (`reason` "PING refused", `error` Redis's reply);
 * - `{ type: "redis-up", redis }` when Redis answers a PING again (checked at once after a reconnect).
 *
 * So `redis-down` is logged whenever `/readyz` turns `"redis":"down"`, and stores answer 503 meanwhile.
 *
 * One attempt, no retry of the first connection: `waitForRedis` (redis-start-wait.ts) retries it while Redis is not up yet.
 *
 * @param url - `redis://` or `rediss://` URL (its password never reaches a log line: see {@link redactRedisUrl}).
 * @throws RedisConnectError ("cannot reach Redis at <redacted url>: <reason>", `permanent` when retrying cannot help)
 *   when the first connection fails; `options.signal`'s reason when it aborts the attempt.
 */
export async function connectRedis(url: string, log: (entry: Record<string, unknown>) => void, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
  const where = redactRedisUrl(url);
  const intervalMs = options.pingIntervalMs ?? 2000;
  const timeoutMs = options.pingTimeoutMs ?? 2000;
  options.signal?.throwIfAborted();
  let client: Redis;
  try {
    client = new Redis(url, { ...redisClientOptions, lazyConnect: true });
  } catch (e) {
    throw new RedisConnectError(where, firstLine(e), true, { cause: e });
  }
  let up = true;
  let starting = true;
  let stopped = false; // closing: the disconnect that follows is no outage
  let firstError: Error | undefined;
  const down = (reason: string, error?: unknown): void => {
    if (starting || stopped || !up) return;
    up = false;
    log({ type: "redis-down", redis: where, reason, ...(error !== undefined ? { error: firstLine(error) } : {}) });
  };
  const answered = (): void => {
    if (up || stopped) return;
    up = true;
    log({ type: "redis-up", redis: where });
  };
  client.on("error", (e: Error) => {
    if (starting) return void (firstError ??= e);
    down("connection error", e);
  });
  client.on("close", () => down("connection closed"));
  let inFlight = false;
  /** One PING under its own deadline; its outcome decides readiness. */
  const check = (): void => {
    if (starting || stopped || inFlight) return;
    if (client.status !== "ready") return down(`not connected (${client.status})`);
    inFlight = true;
    let settled = false;
    const settle = (ok: boolean, reason?: string, error?: unknown): void => {
      if (settled) return;
      settled = true;
      inFlight = false;
      clearTimeout(late);
      if (ok) answered();
      else down(reason!, error);
    };
    const late = setTimeout(() => settle(false, `no answer to PING within ${timeoutMs} ms`), timeoutMs);
    late.unref();
    client.ping().then(
      () => settle(true),
      (e: unknown) => {
        // ioredis' own commandTimeout (the same 2 s) may fire first: a hang all the same.
        if (/timed out/i.test(firstLine(e))) settle(false, `no answer to PING within ${timeoutMs} ms`);
        else if (client.status !== "ready") settle(false, `not connected (${client.status})`);
        else settle(false, "PING refused", e);
      },
    );
  };
  client.on("ready", check);
  const abort = (): void => client.disconnect();
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    await client.connect();
    options.signal?.throwIfAborted();
  } catch (e) {
    client.disconnect();
    options.signal?.throwIfAborted();
    // The socket's error (ECONNREFUSED, ENOTFOUND, WRONGPASS…) says more than connect()'s "Connection is closed."
    const cause = firstError ?? e;
    throw new RedisConnectError(where, firstLine(cause), isPermanentRedisFailure(cause), { cause });
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
  starting = false;
  const pinger = setInterval(check, intervalMs);
  pinger.unref();
  return { client, where, ready: () => up && client.status === "ready", stop: () => {
      stopped = true;
      clearInterval(pinger);
    } };
}

/** The first line of an error's message (of `String(e)` for what is not an Error). */
function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}
