// The first Redis connection of an example process, retried while Redis is not up yet: under docker compose or
// systemd the server often starts before Redis, and a start that failed at once made a fresh deployment crash-loop.
import { setTimeout as sleep } from "node:timers/promises";
import { connectRedis, RedisConnectError, type RedisConnection, type RedisConnectionOptions } from "./redis-connection.js";

/** First pause between two attempts, in milliseconds (doubled after each failure, up to {@link RETRY_CAP_MS}). */
export const RETRY_FIRST_MS = 250;
/** Longest pause between two attempts, in milliseconds. */
export const RETRY_CAP_MS = 2000;
/** Least time between two `redis-waiting` lines, in milliseconds (the first failure is always logged). */
export const WAITING_LOG_EVERY_MS = 5000;

/** Options of {@link waitForRedis}. */
export interface RedisStartWaitOptions extends RedisConnectionOptions {
  /** Seconds to keep trying (0: one attempt, fail at once: the behaviour before this wait existed). */
  timeoutSeconds: number;
  /** Called with true when the first attempt failed and Redis is waited for (before the first `redis-waiting` line), with false when the wait ends (connected, failed or aborted). */
  onWaiting?: (waiting: boolean) => void;
  /** Milliseconds since some fixed point (default `performance.now()`): decides when the timeout elapsed and when the next `redis-waiting` line is due. */
  now?: () => number;
}

/**
 * {@link connectRedis}, retried until Redis answers or `timeoutSeconds` elapsed: pauses of 250 ms doubling to 2 s
 * between attempts. `log` hears `{ type: "redis-waiting", redis, reason, waitedSeconds, timeoutSeconds }` at the
 * first failure and then at most every 5 s (`redis` with credentials masked, `reason` the last attempt's, e.g.
 * `connect ECONNREFUSED 127.0.0.1:6379`; `waitedSeconds` whole seconds since the first attempt), and
 * `{ type: "redis-up", redis }` once connected after a failure. Aborting `signal` (SIGTERM during the wait) ends
 * the attempt in progress (its client disconnected) and the pause at once.
 *
 * @throws RedisConnectError at once, without waiting, when the failure is permanent (`permanent`: a wrong password,
 *   NOAUTH, a TLS certificate refused, a URL ioredis refuses), with connectRedis's message; when `timeoutSeconds` is 0,
 *   the first failure as it is; when the timeout elapses, one whose message is "cannot reach Redis at <redacted url>
 *   after <timeoutSeconds> s: <last reason>". `signal`'s reason when it aborts.
 */
export async function waitForRedis(url: string, log: (entry: Record<string, unknown>) => void, options: RedisStartWaitOptions): Promise<RedisConnection> {
  const { timeoutSeconds, onWaiting, now = () => performance.now(), ...connectOptions } = options;
  const signal = connectOptions.signal;
  const start = now();
  const deadline = start + timeoutSeconds * 1000;
  let pause = RETRY_FIRST_MS;
  let lastLogged: number | undefined;
  let waiting = false;
  try {
    for (;;) {
      let failure: RedisConnectError;
      try {
        const connection = await connectRedis(url, log, connectOptions);
        if (waiting) log({ type: "redis-up", redis: connection.where });
        return connection;
      } catch (e) {
        if (!(e instanceof RedisConnectError) || e.permanent || timeoutSeconds === 0) throw e;
        failure = e;
      }
      const at = now();
      if (at >= deadline) throw new RedisConnectError(failure.where, failure.reason, false, { cause: failure, afterSeconds: timeoutSeconds });
      // onWaiting first: whoever reads the line may act on it at once (a SIGTERM must find the wait's handler).
      if (!waiting) {
        waiting = true;
        onWaiting?.(true);
      }
      if (lastLogged === undefined || at - lastLogged >= WAITING_LOG_EVERY_MS) {
        lastLogged = at;
        log({ type: "redis-waiting", redis: failure.where, reason: failure.reason, waitedSeconds: Math.floor((at - start) / 1000), timeoutSeconds });
      }
      await sleep(Math.min(pause, deadline - at), undefined, signal ? { signal } : {}).catch((e: unknown) => {
        throw signal?.aborted ? signal.reason : e;
      });
      pause = Math.min(pause * 2, RETRY_CAP_MS);
    }
  } finally {
    if (waiting) onWaiting?.(false);
  }
}
