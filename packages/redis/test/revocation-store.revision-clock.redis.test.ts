/**
 * RevocationStore.revision (RFC 5280 §5.2.3: a CA keys its cached CRL by it) across a FLUSHDB when the replicas'
 * clocks disagree: a missing counter starts at Redis's own clock (`TIME`, in µs, read in the script), not at the
 * clock of whichever replica writes first, so the revision after a flush is above every revision any replica answered
 * before it, whether the replica that starts it is behind or ahead of the others. Real redis-server on loopback, two
 * connections as two replicas.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/peers";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
const HOUR = 3_600_000;

/** Redis's clock (`TIME`) in µs. */
async function redisMicros(): Promise<number> {
  const [seconds, micros] = await redis.client.time();
  return Number(seconds) * 1_000_000 + Number(micros);
}

/** Returns once Redis's clock is past `us` (a condition on Redis's clock, not a sleep of a guessed length). */
async function laterThan(us: number): Promise<void> {
  await waitFor(async () => ((await redisMicros()) > us ? true : undefined), { timeoutMs: 5000, intervalMs: 1, what: "Redis's clock to pass a microsecond" });
}

/** Two replicas of one CA on one Redis, the first `skewMs` off Redis's clock, the second on time. */
async function replicas(prefix: string, skewMs: number): Promise<{ skewed: RedisRevocationStore; onTime: RedisRevocationStore }> {
  const real = Math.floor((await redisMicros()) / 1000);
  return {
    skewed: new RedisRevocationStore(redis.client, { keyPrefix: prefix, now: () => new Date(real + skewMs) }),
    onTime: new RedisRevocationStore(redis.second, { keyPrefix: prefix, now: () => new Date(real) }),
  };
}

describe("RedisRevocationStore.revision starts at Redis's clock, not a replica's", () => {
  it("a missing counter starts at Redis's TIME in µs, whichever replica writes it (revoke or revision())", async () => {
    const { skewed, onTime } = await replicas("start-rev:", HOUR);
    const t0 = await redisMicros();
    const first = await skewed.revision();
    const t1 = await redisMicros();
    expect(first >= t0 && first <= t1).toBe(true);
    expect(await onTime.revision()).toBe(first);
    await redis.server.command("FLUSHDB");
    const t2 = await redisMicros();
    expect((await skewed.revoke({ serialNumber: "0a", reason: "superseded" })).created).toBe(true);
    const t3 = await redisMicros();
    const afterRevoke = await onTime.revision();
    expect(afterRevoke >= t2 + 1 && afterRevoke <= t3 + 1).toBe(true); // started, then moved on by the revocation
  });

  it("a replica an hour behind that starts the counter after a flush answers above what an on-time replica answered before it", async () => {
    const { skewed: behind, onTime } = await replicas("behind-rev:", -HOUR);
    await onTime.revoke({ serialNumber: "01", reason: "superseded" });
    await onTime.revoke({ serialNumber: "02", reason: "superseded" });
    const before = await onTime.revision();
    await redis.server.command("FLUSHDB");
    await laterThan(before); // Redis's clock past the old value: a start there is above it
    await behind.revoke({ serialNumber: "03", reason: "superseded" });
    const after = await behind.revision();
    expect(after).toBeGreaterThan(before);
    expect(await onTime.revision()).toBe(after);
  });

  it("a replica an hour ahead starts the counter after one flush, an on-time one after a second flush: the second start is still above the first's revisions", async () => {
    const { skewed: ahead, onTime } = await replicas("ahead-rev:", HOUR);
    await redis.server.command("FLUSHDB");
    await ahead.revoke({ serialNumber: "01", reason: "superseded" });
    const first = await ahead.revision();
    expect(first <= (await redisMicros()) + 1).toBe(true); // not the replica's hour ahead
    await redis.server.command("FLUSHDB");
    await laterThan(first);
    const second = await onTime.revision();
    expect(second).toBeGreaterThan(first);
  });

  it("a counter already there (written by an older replica from its clock) goes on from its value", async () => {
    const { skewed, onTime } = await replicas("kept-rev:", HOUR);
    await redis.client.set("kept-rev:revision:{ca}", "1000");
    expect(await onTime.revision()).toBe(1000);
    await skewed.revoke({ serialNumber: "0b", reason: "keyCompromise" });
    expect(await onTime.revision()).toBe(1001);
  });
});
