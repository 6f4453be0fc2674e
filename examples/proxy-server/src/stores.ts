// Where the proxy keeps profile records and one-time challenges: in this process (default), or in Redis
// (SCEP_REDIS_URL), so several proxy processes behind a load balancer agree on both.
import Redis from "ioredis";
import { MemoryChallengeStore, type ChallengeStore } from "@scep/core";
import { MemoryProfileStore, type ProfileStore } from "@scep/proxy";
import { RedisChallengeStore, RedisProfileStore, redisClientOptions } from "@scep/redis";

export interface ProxyStores {
  profiles: ProfileStore;
  challenges: ChallengeStore;
  /** `memory`, or the Redis URL with any password replaced by `***`. */
  where: string;
  close(): Promise<void>;
}

/** A Redis URL fit for a log line: the password (or a lone username) replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    else if (u.username) u.username = "***";
    return u.toString();
  } catch {
    return "(unparsable Redis URL)";
  }
}

export function memoryStores(): ProxyStores {
  const challenges = new MemoryChallengeStore();
  // Challenges handed out and never used stay in memory until swept (Redis expires its own by TTL).
  const sweeper = setInterval(() => void challenges.sweep(), 5 * 60_000);
  sweeper.unref();
  return { profiles: new MemoryProfileStore(), challenges, where: "memory", close: async () => clearInterval(sweeper) };
}

/**
 * Stores in Redis shared by every proxy given the same URL and prefix. Connects before resolving (a wrong URL
 * fails the start); afterwards an outage makes requests answer 503 + Retry-After and the connection comes back
 * by itself. `log` hears `redis-down` once per outage and `redis-up` when it is back.
 *
 * @throws Error "cannot reach Redis at <redacted url>: <reason>" when the first connection fails.
 */
export async function redisStores(url: string, keyPrefix: string, log: (entry: Record<string, unknown>) => void): Promise<ProxyStores> {
  const where = redactRedisUrl(url);
  const client = new Redis(url, { ...redisClientOptions, lazyConnect: true });
  let down = false;
  let starting = true;
  let firstError: Error | undefined;
  client.on("error", (e: Error) => {
    if (starting) return void (firstError ??= e);
    if (down) return;
    down = true;
    log({ type: "redis-down", redis: where, error: e.message.split("\n", 1)[0] });
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    log({ type: "redis-up", redis: where });
  });
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${where}: ${(firstError ?? (e as Error)).message.split("\n", 1)[0]}`);
  }
  starting = false;
  return {
    profiles: new RedisProfileStore(client, { keyPrefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix }),
    where,
    close: async () => void client.disconnect(),
  };
}
