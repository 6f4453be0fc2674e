import { once } from "node:events";
import Redis from "ioredis";
import { createScepServer, type ScepProfile } from "@scep/core";
import { RedisTransactionStore, redisClientOptions } from "@scep/redis";

declare const profile: ScepProfile; // the one above: path, caCertificate, signer, challenge, issue
const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
// ioredis emits "error" at every failed (re)connect: without a listener it prints "[ioredis] Unhandled error event"
// and a stack trace each time while Redis is down (requests then get 503 + Retry-After from the store).
redis.on("error", (e) => console.error(`redis: ${e.message}`));
// redisClientOptions has no offline queue: a command sent before "ready" fails at once (rejects on a first error).
await once(redis, "ready");

const server = createScepServer({
  profiles: [{
    ...profile,
    transactions: new RedisTransactionStore(redis), // default: in memory, this process only
    transactionRetentionMs: 3 * 86_400_000, // a re-sent PKCSReq gets the same certificate for 3 days (default 1)
  }],
});
