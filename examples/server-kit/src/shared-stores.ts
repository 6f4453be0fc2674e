// Where an example server keeps the state its replicas must share: in this process (default), or in Redis
// (--redis-url / SCEP_REDIS_URL), so several processes or machines behind a load balancer serve one CA.
import Redis from "ioredis";
import {
  MemoryChallengeStore,
  MemoryCounterStore,
  MemoryRevocationStore,
  MemoryTransactionStore,
  type ChallengeStore,
  type CounterStore,
  type RevocationStore,
  type TransactionStore,
} from "@scep/core";
import { RedisChallengeStore, RedisCounterStore, RedisRevocationStore, RedisTransactionStore, redisClientOptions } from "@scep/redis";

/** Most transactions the in-memory store keeps (finished ones are dropped oldest first when full). */
export const MAX_TRANSACTIONS = 10_000;

/** The stores of one server process. */
export interface SharedStores {
  /** PENDING transactions and, for a day, the finished ones a late CertPoll asks for. */
  transactions: TransactionStore;
  /** One-time challenges (`--one-time-challenges`). */
  challenges: ChallengeStore;
  /** Request counts per profile (the admin API's stats add up every replica's). */
  counters: CounterStore;
  /** Revoked certificates and the CRL number of the embedded CA. */
  revocations: RevocationStore;
  /** `memory`, or the Redis URL with any password replaced by `***`. */
  where: string;
  /** Writes buffered counts and closes the Redis connection (nothing for memory). */
  close(): Promise<void>;
  /**
   * Whether the stores can serve requests now, from cached state (no I/O: cheap enough for `/readyz`): always true
   * for memory; for Redis, connected and the last background PING (every 2 s) answered.
   */
  ready(): boolean;
}

/** A Redis URL fit for a log line: the password (and a lone username-as-password) replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    else if (u.username && !u.password) u.username = "***";
    return u.toString();
  } catch {
    return "(unparsable Redis URL)";
  }
}

/** In-process stores: one server process only. */
export function memoryStores(): SharedStores {
  return {
    transactions: new MemoryTransactionStore({ maxEntries: MAX_TRANSACTIONS }),
    challenges: new MemoryChallengeStore(),
    counters: new MemoryCounterStore(),
    revocations: new MemoryRevocationStore(),
    where: "memory",
    close: async () => undefined,
    ready: () => true,
  };
}

/**
 * Stores in Redis shared by every process given the same URL. Connects before
 * resolving (so a wrong URL fails the start, not the first enrollment); after
 * that a Redis outage makes requests that need a store answer 503 with
 * Retry-After, and the connection comes back by itself. `log` hears
 * `redis-down` once per outage and `redis-up` when it is back.
 *
 * @throws Error "cannot reach Redis at <redacted url>: <reason>" when the first connection fails.
 */
export async function redisStores(url: string, log: (entry: Record<string, unknown>) => void, options: { keyPrefix?: string; pingIntervalMs?: number } = {}): Promise<SharedStores> {
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
    // The socket's error (ECONNREFUSED, ENOTFOUND, WRONGPASS…) says more than connect()'s "Connection is closed."
    throw new Error(`cannot reach Redis at ${where}: ${(firstError ?? (e as Error)).message.split("\n", 1)[0]}`);
  }
  starting = false;
  // Readiness from cached state: connected, and the last PING answered (a Redis that accepts connections but hangs
  // is not ready). One PING every pingIntervalMs; readiness probes only read the flag.
  let pingOk = true;
  const pinger = setInterval(() => {
    if (client.status !== "ready") return void (pingOk = false);
    client.ping().then(
      () => void (pingOk = true),
      () => void (pingOk = false),
    );
  }, options.pingIntervalMs ?? 2000);
  pinger.unref();
  const keyPrefix = options.keyPrefix ?? "scep:";
  const counters = new RedisCounterStore(client, { keyPrefix, onError: () => undefined });
  return {
    transactions: new RedisTransactionStore(client, { keyPrefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix }),
    counters,
    revocations: new RedisRevocationStore(client, { keyPrefix }),
    where,
    async close() {
      clearInterval(pinger);
      await counters.close().catch(() => undefined);
      client.disconnect();
    },
    ready: () => client.status === "ready" && pingOk,
  };
}
