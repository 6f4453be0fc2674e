/**
 * A Redis URL as the example servers print it (banner, refusals, `redis-down` lines): no credential, wherever the URL
 * carries it. ioredis reads every query parameter as a client option, so `?password=` authenticates as `:pw@` does
 * and must be masked as well (a new user found it printed in the banner).
 */
import { describe, expect, it } from "vitest";
import { redactRedisUrl } from "../src/redis-connection.js";

describe("redactRedisUrl", () => {
  it.each([
    ["redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"],
    ["redis://app:s3cret@127.0.0.1:6379/0", "redis://app:***@127.0.0.1:6379/0"],
    ["redis://s3cret@127.0.0.1:6379", "redis://***@127.0.0.1:6379"],
    ["redis://127.0.0.1:6379/0?password=s3cret", "redis://127.0.0.1:6379/0?password=***"],
    ["redis://127.0.0.1:6379/0?username=app&password=s3cret&family=6", "redis://127.0.0.1:6379/0?username=***&password=***&family=6"],
    ["rediss://127.0.0.1:6380/2?Password=s3cret&password=s3cret", "rediss://127.0.0.1:6380/2?Password=***&password=***"],
    ["redis://127.0.0.1:6379/0?db=3", "redis://127.0.0.1:6379/0?db=3"],
    ["not a url s3cret", "(unparsable Redis URL)"],
  ])("%s → %s", (url, shown) => {
    expect(redactRedisUrl(url)).toBe(shown);
    expect(redactRedisUrl(url)).not.toContain("s3cret");
  });
});
