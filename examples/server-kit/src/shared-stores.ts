// Where an example server keeps the state its replicas must share: in this process (default), or in Redis
// (--redis-url / SCEP_REDIS_URL), so several processes or machines behind a load balancer serve one CA.
import {
  MemoryChallengeStore,
  MemoryCounterStore,
  MemoryTransactionStore,
  type ChallengeStore,
  type CounterStore,
  type RevocationStore,
  type TransactionStore,
} from "@scep/core";
import { FileRevocationStore } from "@scep-examples/embedded-ca";
import { MemoryRateLimiter, MemoryReplayCache } from "@scep/intune";
import { RedisChallengeStore, RedisCounterStore, RedisRateLimiter, RedisReplayCache, RedisRevocationStore, RedisTransactionStore } from "@scep/redis";
import type { IntuneStores } from "./profiles.js";
import { setTimeout as sleep } from "node:timers/promises";
import type Redis from "ioredis";
import { waitForRedis } from "./redis-start-wait.js";
import { DEFAULT_REDIS_KEY_PREFIX } from "./config.js";
import { claimRedisNamespace } from "./redis-namespace.js";

export { redactRedisUrl } from "./redis-connection.js";

/** The default prefix of the example server's Redis keys (`--redis-key-prefix`; the data directory's lock names it too). */
export const REDIS_KEY_PREFIX = DEFAULT_REDIS_KEY_PREFIX;

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
  /**
   * Revoked certificates and the CRL number of the embedded CA: in Redis, or without it in the data directory
   * (`revocations.jsonl`, `crl-numbers`: kept across restarts and shared by the workers of `--workers N`).
   */
  revocations: RevocationStore;
  /** Replay caches and rate limiters of the Intune profiles (nonces and per-device counts every replica sees). */
  intune: IntuneStores;
  /** `memory`, or the Redis URL with any password replaced by `***`. */
  where: string;
  /** Writes buffered counts and closes the Redis connection (nothing for memory). */
  close(): Promise<void>;
  /**
   * Whether the stores can serve requests now, from cached state (no I/O: cheap enough for `/readyz`): always true
   * for memory; for Redis, connected and the last background PING (every 2 s) answered.
   */
  ready(): boolean;
  /**
   * Claims the stores for the CA certificates the server serves, given as SHA-256 fingerprints (colon hex): nothing
   * for memory; in Redis `<prefix>ca-fingerprints` (see redis-namespace.ts), created or joined, once per new set
   * (a set within one already claimed asks Redis nothing: a reload that keeps its CAs works while Redis is down).
   *
   * @throws ConfigError (one line) when another CA holds the prefix, or Redis cannot be asked.
   */
  claim(fingerprints: readonly string[]): Promise<void>;
}

/** The value of `key` in `map`, made by `make` the first time. */
function once<T>(map: Map<string, T>, key: string, make: () => T): T {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/**
 * In-process stores: one server process only. The revocations are the exception: kept in `dataDir` (the server CA's
 * data directory), so a revocation survives a restart and every worker of `--workers N` sees it.
 */
export function memoryStores(dataDir: string): SharedStores {
  const replayCaches = new Map<string, MemoryReplayCache>();
  const rateLimiters = new Map<string, MemoryRateLimiter>();
  return {
    transactions: new MemoryTransactionStore({ maxEntries: MAX_TRANSACTIONS }),
    challenges: new MemoryChallengeStore(),
    counters: new MemoryCounterStore(),
    revocations: new FileRevocationStore(dataDir),
    // One per profile, kept for the process's life: a reload (SIGHUP) that rebuilds the profiles must not forget nonces and counts.
    intune: { replayCache: (ns) => once(replayCaches, ns, () => new MemoryReplayCache()), rateLimiter: (ns) => once(rateLimiters, ns, () => new MemoryRateLimiter()) },
    where: "memory",
    close: async () => undefined,
    ready: () => true,
    claim: async () => undefined,
  };
}

/**
 * What a Redis persists, as `CONFIG GET appendonly` and `CONFIG GET save` tell: `aof` (appendonly yes), `rdb`
 * (snapshots only), `none`, or undefined when it does not say (CONFIG refused or renamed, as managed Redis services
 * do, or no answer within 2 s).
 */
export async function redisPersistence(client: Redis): Promise<"aof" | "rdb" | "none" | undefined> {
  const get = async (name: string): Promise<string | undefined> => {
    const reply = (await client.call("CONFIG", "GET", name)) as unknown;
    return Array.isArray(reply) && reply.length === 2 && typeof reply[1] === "string" ? reply[1] : undefined;
  };
  const stop = new AbortController();
  const ask = Promise.all([get("appendonly"), get("save")]).then(([appendonly, save]) =>
    appendonly === undefined || save === undefined ? undefined : appendonly === "yes" ? ("aof" as const) : save.trim() === "" ? ("none" as const) : ("rdb" as const),
  );
  const late = sleep(2000, undefined, { signal: stop.signal, ref: false }).catch(() => undefined);
  try {
    return await Promise.race([ask.catch(() => undefined), late]);
  } finally {
    stop.abort();
  }
}

/**
 * Stores in Redis shared by every process given the same URL. Connects before
 * resolving (so a wrong URL fails the start, not the first enrollment); after
 * that a Redis outage makes requests that need a store answer 503 with
 * Retry-After, and the connection comes back by itself. `log` hears
 * `redis-down` once per outage (the connection failed, or a PING got no answer within 2 s: a hung Redis) and
 * `redis-up` when Redis answers again: the same moments `ready()` changes (see {@link connectRedis}). With `checkPersistence`, `log` hears one
 * `redis-persistence` line (with a `warning`) when Redis reports that it does not append every write to an AOF
 * (see {@link redisPersistence}): revocations live only there; nothing when Redis does not say.
 *
 * The first connection is retried for `startTimeoutSeconds` (default 0: not at all) while Redis is not up yet, see
 * {@link waitForRedis}: `log` hears `redis-waiting` lines meanwhile, `onWaiting` when the wait starts and ends, and
 * `signal` aborts it.
 *
 * @throws RedisConnectError "cannot reach Redis at <redacted url>: <reason>" when the first connection fails for
 *   good (at once for a wrong password, NOAUTH or a TLS certificate error), "… after <n> s: <reason>" when the wait
 *   timed out; `signal`'s reason when it aborts the wait.
 */
export async function redisStores(
  url: string,
  log: (entry: Record<string, unknown>) => void,
  options: { keyPrefix?: string; pingIntervalMs?: number; checkPersistence?: boolean; startTimeoutSeconds?: number; signal?: AbortSignal; onWaiting?: (waiting: boolean) => void } = {},
): Promise<SharedStores> {
  const readiness = await waitForRedis(url, log, {
    timeoutSeconds: options.startTimeoutSeconds ?? 0,
    ...(options.pingIntervalMs !== undefined ? { pingIntervalMs: options.pingIntervalMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onWaiting ? { onWaiting: options.onWaiting } : {}),
  });
  const { client, where } = readiness;
  if (options.checkPersistence) {
    const persistence = await redisPersistence(client);
    if (persistence === "none" || persistence === "rdb") {
      log({
        type: "redis-persistence",
        redis: where,
        persistence,
        warning:
          persistence === "none"
            ? "Redis persists nothing (appendonly no, save \"\"): a restart loses every PENDING request and challenge, and the revocations not yet on the published CRL; run it with appendonly yes"
            : "Redis persists RDB snapshots only (appendonly no): a restart loses the revocations and decisions since the last one; run it with appendonly yes",
      });
    }
  }
  const keyPrefix = options.keyPrefix ?? REDIS_KEY_PREFIX;
  const claimed = new Set<string>();
  const counters = new RedisCounterStore(client, { keyPrefix, onError: () => undefined });
  return {
    transactions: new RedisTransactionStore(client, { keyPrefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix }),
    counters,
    revocations: new RedisRevocationStore(client, { keyPrefix }),
    // One key space per profile: `<keyPrefix>intune:<profile>:replay:…`, `…:rate:…` (keyPrefix: --redis-key-prefix, default `scep:`).
    intune: {
      replayCache: (namespace) => new RedisReplayCache(client, { keyPrefix: `${keyPrefix}intune:${encodeURIComponent(namespace)}:` }),
      rateLimiter: (namespace) => new RedisRateLimiter(client, { keyPrefix: `${keyPrefix}intune:${encodeURIComponent(namespace)}:` }),
    },
    where,
    async close() {
      readiness.stop();
      await counters.close().catch(() => undefined);
      client.disconnect();
    },
    ready: () => readiness.ready(),
    async claim(fingerprints) {
      if (fingerprints.every((f) => claimed.has(f))) return;
      const result = await claimRedisNamespace(client, { keyPrefix, fingerprints, where });
      if (result.kind === "claimed" || result.added > 0) log({ type: "redis-namespace", redis: where, keyPrefix, fingerprints: [...fingerprints], ...(result.kind === "claimed" ? { claimed: true } : { added: result.added }) });
      for (const f of fingerprints) claimed.add(f);
    },
  };
}
