/**
 * Deployments with different CAs on one Redis db (issue: staging and production accepted each other's one-time
 * challenges, listed each other's PENDING requests, put each other's revoked serials on their CRLs). Real server
 * processes on loopback and one real redis-server with a password:
 * - replicas of one CA (one data directory) share one-time challenges as before; a server with another CA on the same
 *   Redis db and key prefix is refused at start (exit 2, one line naming the Redis URL with its password masked, the
 *   prefix, the fingerprint holding it and "give this deployment its own --redis-key-prefix or Redis db");
 * - with `--redis-key-prefix` / `SCEP_REDIS_KEY_PREFIX` each deployment runs, and a one-time challenge issued by one
 *   is refused by the other (FAILURE badRequest) and still good at its own;
 * - with a configuration file, the prefix is claimed for every CA served (the server's and each profile's own);
 * - CA rollover: the server that announces the next CA (`--next-ca-cert`) adds it to the prefix's CA fingerprints,
 *   so a server with the new CA alone then runs on the prefix (and one with the old CA alone still does).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const PASSWORD = "prefix-test-redis-pw-77c1";
const TOKEN = "prefix-test-admin-token-0123456789";
const tmp = mkdtempSync(join(tmpdir(), "scep-redis-prefix-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
let redis: RedisServer;
let url: string;

beforeAll(async () => {
  redis = await startRedisServer();
  // The servers log in as a user with a password (masked in every line); the test reads as the default user.
  expect(await redis.command(`ACL SETUSER scep on >${PASSWORD} ~* &* +@all`)).toBe("+OK");
  url = `redis://scep:${PASSWORD}@127.0.0.1:${redis.port}/0`;
}, 60_000);
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A one-time-challenge server on the test's Redis with its CA in `<tmp>/<dir>`. */
const env = (dir: string, extra: Record<string, string> = {}): Record<string, string> => ({
  SCEP_DATA_DIR: join(tmp, dir),
  SCEP_REDIS_URL: url,
  SCEP_ADMIN_TOKEN: TOKEN,
  SCEP_ONE_TIME_CHALLENGES: "true",
  SCEP_KEY_WORKERS: "0",
  ...extra,
});
/** A start expected to exit: its exit code, its stderr lines and its stdout. */
const refused = async (dir: string, extra?: Record<string, string>, args: string[] = []) => {
  const proc = examples.launch(env(dir, extra), args);
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.errLines.filter((l) => l !== ""), out: proc.lines.join("\n") };
};
/** SHA-256 of the CA certificate in `<tmp>/<dir>/ca.pem`, as the servers print it. */
const fingerprint = (dir: string): string =>
  Array.from(createHash("sha256").update(Certificate.from(readFileSync(join(tmp, dir, "ca.pem"), "utf8")).der).digest(), (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
const masked = (): string => `redis://scep:***@127.0.0.1:${redis.port}/0`;
/** The members of a Redis set, sorted (one bulk string from a script: the inline command reads no array reply). */
const members = async (key: string): Promise<string[]> =>
  (await redis.command(`EVAL "local m = redis.call('SMEMBERS', KEYS[1]) table.sort(m) return table.concat(m, ' ')" 1 ${key}`)).split(" ").filter((m) => m !== "");
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

async function issueChallenge(base: string): Promise<string> {
  const res = await fetch(`${base}/admin/scep/challenges`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { challenge: string }).challenge;
}

describe("one Redis db, one key prefix", () => {
  it("replicas of one CA share one-time challenges; a server with another CA is refused at start, naming the prefix and the CA holding it, no password shown", async () => {
    const a = await examples.start(env("ca-a"));
    const a2 = await examples.start(env("ca-a"));
    // A challenge issued through one replica enrolls at the other (one CA, one store).
    const shared = await pkcsReqAndPoll(`${a2.base}/scep`, { subject: "CN=replica-shared", challenge: await issueChallenge(a.base) });
    expect(shared.first.status).toBe("SUCCESS");

    const other = await refused("ca-b");
    expect([other.code, other.lines.length]).toEqual([2, 1]);
    expect(other.lines[0]).toBe(
      `express-server: Redis ${masked()} key prefix "scep:" is in use by another CA (SHA-256 ${fingerprint("ca-a")}; this server's: SHA-256 ${fingerprint("ca-b")}): give this deployment its own --redis-key-prefix or Redis db`,
    );
    expect(other.lines.join("\n") + other.out).not.toContain(PASSWORD);
    expect(await members("scep:ca-fingerprints")).toEqual([fingerprint("ca-a")]);
    // The replicas serve on.
    expect((await fetch(`${a.base}/scep?operation=GetCACaps`)).status).toBe(200);
    await Promise.all([a.proc.terminate(), a2.proc.terminate()]);
  }, 180_000);
});

describe("--redis-key-prefix: one deployment per prefix", () => {
  it("two CAs with their own prefixes both run; a one-time challenge of one is refused by the other (FAILURE badRequest) and still enrolls at its own", async () => {
    const staging = await examples.start(env("staging"), ["--redis-key-prefix", "staging:"]);
    const production = await examples.start(env("production", { SCEP_REDIS_KEY_PREFIX: "production:" }));
    expect(staging.proc.banner("shared state")).toBe(`Redis ${masked()}, keys staging:* (PENDING transactions, one-time challenges, counters, revocations)`);
    expect(production.proc.banner("shared state")).toContain(", keys production:* (");

    const challenge = await issueChallenge(staging.base);
    const elsewhere = await pkcsReqAndPoll(`${production.base}/scep`, { subject: "CN=staging-device", challenge });
    expect([elsewhere.first.status, elsewhere.first.status === "FAILURE" ? elsewhere.first.failInfo : undefined]).toEqual(["FAILURE", "badRequest"]);
    const home = await pkcsReqAndPoll(`${staging.base}/scep`, { subject: "CN=staging-device", challenge });
    expect(home.first.status).toBe("SUCCESS");
    expect(home.first.status === "SUCCESS" && home.first.certificates[0]!.issuer).toBe(Certificate.from(readFileSync(join(tmp, "staging", "ca.pem"), "utf8")).issuer);

    expect(await members("staging:ca-fingerprints")).toEqual([fingerprint("staging")]);
    expect(await members("production:ca-fingerprints")).toEqual([fingerprint("production")]);
    await Promise.all([staging.proc.terminate(), production.proc.terminate()]);
  }, 180_000);

  it("a bad prefix is one configuration line and exit 2", async () => {
    const bad = await refused("bad-prefix", {}, ["--redis-key-prefix", "a{b}:"]);
    expect([bad.code, bad.lines]).toEqual([2, ['express-server: --redis-key-prefix must not contain { or } (the stores add Redis Cluster hash tags), got "a{b}:" (run with --help)']]);
  }, 60_000);
});

describe("CA rollover keeps the prefix", () => {
  it("a server announcing the next CA adds it; then the next CA alone runs on the prefix, and so does the old one", async () => {
    const prefix = { SCEP_REDIS_KEY_PREFIX: "roll:" };
    const old = await examples.start(env("old", prefix));
    // The next CA, not announced yet: another deployment as far as the prefix knows (its CA is created before the claim).
    const early = await refused("next", prefix);
    expect([early.code, early.lines.length]).toEqual([2, 1]);
    expect(early.lines[0]).toMatch(new RegExp(`^express-server: Redis ${esc(masked())} key prefix "roll:" is in use by another CA \\(SHA-256 ${esc(fingerprint("old"))}; `));
    await old.proc.terminate();

    // The rollover: the old CA's servers announce the next one (GetNextCACert, RFC 8894 §4.7).
    const announcing = await examples.start(env("old", { ...prefix, SCEP_NEXT_CA_CERT: join(tmp, "next", "ca.pem") }));
    expect(await members("roll:ca-fingerprints")).toEqual([fingerprint("old"), fingerprint("next")].sort());
    const line = await announcing.proc.waitForJson("redis-namespace");
    expect(line).toMatchObject({ redis: masked(), keyPrefix: "roll:", added: 1 });
    await announcing.proc.terminate();

    // After the switch: the next CA alone is in service on the prefix; a replica still on the old one is too.
    const switched = await examples.start(env("next", prefix));
    const stale = await examples.start(env("old", prefix));
    expect((await fetch(`${switched.base}/scep?operation=GetCACaps`)).status).toBe(200);
    await Promise.all([switched.proc.terminate(), stale.proc.terminate()]);
  }, 240_000);
});

describe("several profiles, several CAs", () => {
  it("the prefix is claimed for every CA the server serves (its own and a profile's own CA); a replica with the same configuration joins", async () => {
    const config = join(tmp, "profiles.json");
    writeFileSync(config, JSON.stringify({ profiles: [{ path: "/scep" }, { name: "lab", path: "/lab", ca: {} }] }));
    const extra = { SCEP_CONFIG: config, SCEP_ONE_TIME_CHALLENGES: "", SCEP_CHALLENGE: "profiles-challenge", SCEP_REDIS_KEY_PREFIX: "profiles:" };
    const first = await examples.start(env("profiles", extra));
    expect(await members("profiles:ca-fingerprints")).toEqual([fingerprint("profiles"), fingerprint(join("profiles", "profiles", "lab"))].sort());
    expect(await first.proc.waitForJson("redis-namespace")).toMatchObject({ keyPrefix: "profiles:", claimed: true });
    const replica = await examples.start(env("profiles", extra));
    expect((await fetch(`${replica.base}/lab?operation=GetCACaps`)).status).toBe(200);
    await Promise.all([first.proc.terminate(), replica.proc.terminate()]);
  }, 180_000);
});
