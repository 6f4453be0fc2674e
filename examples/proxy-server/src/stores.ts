// Where the proxy keeps profile records and one-time challenges: in this process (default), or in Redis
// (SCEP_REDIS_URL), so several proxy processes behind a load balancer agree on both.
import { MemoryChallengeStore, type ChallengeStore } from "@scep/core";
import { MemoryProfileStore, type ProfileStore } from "@scep/proxy";
import { RedisChallengeStore, RedisProfileStore } from "@scep/redis";
import { waitForRedis } from "@scep-examples/server-kit/redis-start-wait";

export interface ProxyStores {
  profiles: ProfileStore;
  challenges: ChallengeStore;
  /** `memory`, or the Redis URL with any password replaced by `***`. */
  where: string;
  /** Named readiness checks for `/readyz` (`redis`: connected and its last background PING answered); none for memory. */
  checks: Readonly<Record<string, () => boolean>>;
  close(): Promise<void>;
}

export function memoryStores(): ProxyStores {
  const challenges = new MemoryChallengeStore();
  // Challenges handed out and never used stay in memory until swept (Redis expires its own by TTL).
  const sweeper = setInterval(() => void challenges.sweep(), 5 * 60_000);
  sweeper.unref();
  return { profiles: new MemoryProfileStore(), challenges, where: "memory", checks: {}, close: async () => clearInterval(sweeper) };
}

/**
 * Stores in Redis shared by every proxy given the same URL and prefix. Connects before resolving (a wrong URL
 * fails the start); afterwards an outage makes requests answer 503 + Retry-After and the connection comes back
 * by itself. `log` hears `redis-down` once per outage (the connection failed, or a PING got no answer within 2 s: a
 * hung Redis) and `redis-up` when Redis answers again, as the `redis` readiness check changes. The first connection
 * is retried for `options.startTimeoutSeconds` (default 0: not at all) while Redis is not up yet, with `redis-waiting`
 * lines (see server-kit's `waitForRedis`); `options.signal` aborts that wait.
 *
 * @throws RedisConnectError "cannot reach Redis at <redacted url>: <reason>" when the first connection fails for
 *   good (at once for a wrong password, NOAUTH or a TLS certificate error), "… after <n> s: <reason>" when the wait
 *   timed out; `options.signal`'s reason when it aborts the wait.
 */
export async function redisStores(url: string, keyPrefix: string, log: (entry: Record<string, unknown>) => void, options: { startTimeoutSeconds?: number; signal?: AbortSignal } = {}): Promise<ProxyStores> {
  const readiness = await waitForRedis(url, log, { timeoutSeconds: options.startTimeoutSeconds ?? 0, ...(options.signal ? { signal: options.signal } : {}) });
  const { client, where } = readiness;
  return {
    profiles: new RedisProfileStore(client, { keyPrefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix }),
    where,
    checks: { redis: () => readiness.ready() },
    close: async () => {
      readiness.stop();
      client.disconnect();
    },
  };
}
