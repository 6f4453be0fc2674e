// The store server.lock names for a --redis-url is the Redis database and key space ioredis itself reads from that URL:
// a `?db=`, `?port=` or `?keyPrefix=` query moves a server to another database or key space (ioredis takes them when
// the path or authority does not say), so servers whose URLs differ there keep their revocations apart and must not
// share a data directory; two spellings of one host name are one store. The expected store is built from the options
// of a real ioredis client given the same URL, never from the code under test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { lockDataDir, storeIdentity } from "../src/data-dir-lock.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-store-identity-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Where ioredis sends the commands of a client made from `url`, in server.lock's spelling. */
function ioredisStore(url: string, keyPrefix: string): string {
  const client = new Redis(url, { lazyConnect: true });
  const { host, port, db, keyPrefix: clientPrefix } = client.options;
  client.disconnect();
  return `${new URL(url).protocol}//${String(host).toLowerCase()}:${port}/${db ?? 0} keys ${clientPrefix ?? ""}${keyPrefix}*`;
}

describe("storeIdentity names the database and key space ioredis uses", () => {
  it.each([
    "redis://127.0.0.1:6390",
    "redis://127.0.0.1:6390/4",
    "redis://127.0.0.1:6390?db=3",
    "redis://127.0.0.1:6390/4?db=3",
    "redis://127.0.0.1?port=6391",
    "redis://:secret@127.0.0.1:6390/0?keyPrefix=tenant-a:",
    "rediss://Redis.Example.COM:6390/2",
  ])("%s", (url) => {
    const identity = storeIdentity(url, "scep:");
    expect(identity).toBe(ioredisStore(url, "scep:"));
    expect(identity).not.toContain("secret");
  });

  it("servers on two databases of one Redis (?db=1, ?db=2) do not share a data directory", () => {
    const dataDir = join(tmp, "dbs");
    const first = lockDataDir(dataDir, storeIdentity("redis://127.0.0.1:6390?db=1", "scep:"));
    expect(() => lockDataDir(dataDir, storeIdentity("redis://127.0.0.1:6390?db=2", "scep:"))).toThrow(/is in use by another server .*Redis redis:\/\/127\.0\.0\.1:6390\/1 keys scep:\*/);
    const replica = lockDataDir(dataDir, storeIdentity("redis://127.0.0.1:6390/1", "scep:"));
    replica.release();
    first.release();
  });
});
