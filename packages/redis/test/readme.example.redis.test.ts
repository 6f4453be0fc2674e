/**
 * The README's Example runs as written against a real redis-server: its block, with the one `declare const profile`
 * line replaced by a real profile (a test CA and an issuing hook) and `@scep/redis` pointed at this package's
 * source, is imported as a module with `SCEP_REDIS_URL` set. It connects before its first command (the offline
 * queue is off: a command before the connection is up fails at once), and the one-time challenge it issues enrolls a
 * device on the profile it built (RFC 8894 §3.3.1, the challengePassword of the CSR), once: the second use is
 * FAILURE badRequest.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createSelfSignedSigner, type IssueContext, type ScepProfile, type ScepServer } from "@scep/core";
import { baseProfile, createDevice, createTestCa, issuingHook, postPki, readReply, type TestCa } from "../../core/test/support/server-pki.js";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";

const PACKAGE = fileURLToPath(new URL("../", import.meta.url));
const DIR = join(PACKAGE, ".tmp", "readme-example");

/** The README's `## Example` TypeScript block. */
function exampleBlock(): string {
  const readme = readFileSync(join(PACKAGE, "README.md"), "utf8");
  const m = /\n## Example\n\n```ts\n([\s\S]*?)\n```\n/.exec(readme);
  expect(m, "README has an ## Example ts block").not.toBeNull();
  return m![1]!;
}

let redis: RedisServer;
let ca: TestCa;
const calls: IssueContext[] = [];
let example: { server: ScepServer; challenge: string; redis: Redis };

beforeAll(async () => {
  redis = await startRedisServer();
  ca = await createTestCa("README Example CA");
  const block = exampleBlock();
  const declared = /^declare const profile: ScepProfile;.*$/m;
  expect(block).toMatch(declared);
  const source = block
    .replace(declared, "const profile = (globalThis as { readmeProfile?: ScepProfile }).readmeProfile!;")
    .replace(/from "@scep\/redis";/, `from ${JSON.stringify(pathToFileURL(join(PACKAGE, "src/index.ts")).href)};`);
  mkdirSync(DIR, { recursive: true });
  const file = join(DIR, `example-${process.pid}.ts`);
  writeFileSync(file, `${source}\nexport { server, challenge, redis };\n`);
  // The profile the README's comment stands for: path, caCertificate, signer, issue (the root README's Quick start).
  const { name: _unnamed, ...profile } = baseProfile(ca, "unused");
  (globalThis as { readmeProfile?: ScepProfile }).readmeProfile = { ...profile, issue: issuingHook(ca, calls) };
  process.env.SCEP_REDIS_URL = redis.url;
  example = (await import(pathToFileURL(file).href)) as typeof example;
}, 120_000);
afterAll(async () => {
  example?.redis.disconnect();
  delete process.env.SCEP_REDIS_URL;
  rmSync(DIR, { recursive: true, force: true });
  await redis?.stop();
});

async function enroll(cn: string, challengePassword: string) {
  const device = await createDevice({ cn, challengePassword });
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject });
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert });
  return readReply(await postPki(example.server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
}

describe("@scep/redis README: the Example", () => {
  it("issues a one-time challenge at once, and it enrolls a device on the example's profile, once", async () => {
    expect(example.challenge).toMatch(/^[A-Za-z0-9-]{32}$/);
    const first = await enroll("readme-device", example.challenge);
    expect([first.status, first.certificate?.subject]).toEqual(["SUCCESS", "CN=readme-device, O=scep-sdk server tests"]);
    expect(calls).toHaveLength(1);
    const again = await enroll("readme-device-2", example.challenge);
    expect([again.status, again.failInfo]).toEqual(["FAILURE", "badRequest"]);
  });
});
