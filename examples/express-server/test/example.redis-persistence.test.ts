/**
 * The example server with SCEP_REDIS_URL keeps its revocations and CRL numbers in Redis, so a Redis that persists
 * nothing loses on restart the revocations not yet on the published CRL (and every PENDING request and challenge): the server says so in one `redis-persistence` line at start when Redis reports
 * `appendonly no` (CONFIG GET appendonly / save), and nothing with AOF on or when CONFIG is refused (managed Redis,
 * here a redis-server with CONFIG renamed away). Real redis-server processes on loopback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "scep-redis-persistence-"));
const redises: RedisServer[] = [];
const examples = new TrackedExamples(EXAMPLE_DIR);
afterAll(async () => {
  await examples.terminateAll();
  await Promise.all(redises.map((r) => r.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

/** The `redis-persistence` lines of a server started on `redis` (after its `listening` line: the check is done by then). */
async function persistenceLines(name: string, redis: RedisServer): Promise<Record<string, unknown>[]> {
  redises.push(redis);
  const { proc } = await examples.start({ SCEP_DATA_DIR: join(tmp, name), SCEP_CHALLENGE: "persistence-challenge", SCEP_REDIS_URL: redis.url });
  return proc.events("redis-persistence");
}

describe("a warning at start when Redis does not persist every write", () => {
  it("no persistence (appendonly no, save \"\"): one line saying a restart loses PENDING requests, challenges and unpublished revocations", async () => {
    const redis = await startRedisServer();
    expect(await persistenceLines("none", redis)).toEqual([
      {
        time: expect.any(String),
        type: "redis-persistence",
        redis: redis.url,
        persistence: "none",
        warning: "Redis persists nothing (appendonly no, save \"\"): a restart loses every PENDING request and challenge, and the revocations not yet on the published CRL; run it with appendonly yes",
      },
    ]);
  }, 60_000);

  it("RDB snapshots only: one line; AOF: none; CONFIG refused (renamed away): none", async () => {
    const rdb = await persistenceLines("rdb", await startRedisServer({ args: ["--save", "900 1"] }));
    expect(rdb.map((e) => e.persistence)).toEqual(["rdb"]);
    expect(await persistenceLines("aof", await startRedisServer({ persistence: "aof" }))).toEqual([]);
    expect(await persistenceLines("managed", await startRedisServer({ args: ["--rename-command", "CONFIG", ""] }))).toEqual([]);
  }, 90_000);
});
