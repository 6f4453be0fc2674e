import Redis from "ioredis";
import { createScepServer, type ScepProfile } from "@scep/core";
import { RedisChallengeStore, RedisCounterStore, RedisTransactionStore, redisClientOptions } from "@scep/redis";

declare const profile: ScepProfile; // your profile: path, caCertificate, signer, issue (the root README's Quick start)
// redisClientOptions turns ioredis' offline queue off: a command sent before ioredis' "ready" event fails at once
// ("Stream isn't writeable"), so wait for it: connect() resolves on "ready" (and rejects when Redis cannot be
// reached). Without lazyConnect: `await once(redis, "ready")` (`once` from node:events) before the first command.
const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions, lazyConnect: true });
// ioredis emits "error" at every failed (re)connect: without a listener it prints "[ioredis] Unhandled error event"
// and a stack trace each time while Redis is down (requests then get 503 + Retry-After from the store).
redis.on("error", (e) => console.error(`redis: ${e.message}`));
await redis.connect();
// One key prefix per deployment sharing this Redis db (staging, production), the same on all its replicas: configure it
// (here as the example servers do, SCEP_REDIS_KEY_PREFIX) rather than writing the default into each store.
const keyPrefix = process.env.SCEP_REDIS_KEY_PREFIX ?? "scep:";
const challenges = new RedisChallengeStore(redis, { keyPrefix });
const transactions = new RedisTransactionStore(redis, { keyPrefix });
const counters = new RedisCounterStore(redis, { keyPrefix });

const server = createScepServer({
  // A challenge is good for the profile it was issued for: by its name (default: its path, "/scep").
  profiles: [{ ...profile, name: "corp", challenge: { type: "store", store: challenges }, transactions }],
  counters, // server.sharedStats(): one number per profile across replicas
});
// An operator (any replica): hand out a one-time challenge.
const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
