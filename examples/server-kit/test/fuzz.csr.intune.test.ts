/**
 * Structure-aware CSR fuzzing of the example server's Intune profiles (packages/core/test/support/csr-fuzz.ts),
 * in this process: an `intune` `mode: "api"` profile with replay cache and rate limit (the validator sends each
 * CSR to a loopback fake Intune answering Success, the confirm hook sends successNotification, the issue hook is
 * wrapped for failureNotification), and a `mode: "signed-token"` profile whose token claims device_name and SANs
 * (the validator compares them with the CSR's subject CN and subjectAltNames). Every answer is a CertRep or a 4xx,
 * never a 5xx; every certificate issued parses with OpenSSL and verifies under the CA; Intune is told of exactly
 * the certificates issued through the API profile.
 *
 * A regression guard: the kit's hooks and validators read the CSR's names only after @scep/core's decode phase
 * refused the unreadable ones, so no input found a fault here (the validators on their own did:
 * packages/intune/test/fuzz.intune-validators.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../../packages/intune/test/support/fake-intune.js";
import { anchor, goodClaims, mint } from "../../../packages/intune/test/support/tokens.js";
import { parseConfig, type ServerConfig } from "../src/config.js";
import { createKit } from "../src/start-server.js";
import { runCsrFuzz } from "../../../packages/core/test/support/csr-fuzz.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 100);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
const AUDIENCE = "https://scep.example.test/tokens";
let dir: string;
let fake: FakeIntune;
let token: string;
let kit: Awaited<ReturnType<typeof createKit>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-csr-fuzz-intune-"));
  fake = await startFakeIntune();
  const rsa = await anchor("rsa2048", "CN=fuzz anchor", new Date());
  writeFileSync(join(dir, "anchors.pem"), rsa.pem);
  const now = Math.floor(Date.now() / 1000);
  token = mint(rsa.privateKey, goodClaims({ aud: AUDIENCE, iat: now - 10, exp: now + 3_000, device_name: "device-1" }));
  const api = { mode: "api", tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 5_000, retries: 0, replay: { ttlSeconds: 3600 }, rateLimit: { max: 1_000, windowSeconds: 3600 } };
  const signed = { mode: "signed-token", trustAnchors: join(dir, "anchors.pem"), audience: AUDIENCE, rateLimit: false };
  writeFileSync(join(dir, "scep-config.json"), JSON.stringify({ profiles: [{ path: "/intune", intune: api }, { path: "/tokens", intune: signed }] }));
  const config = parseConfig(["--config", join(dir, "scep-config.json"), "--data-dir", join(dir, "data")], {}) as ServerConfig;
  kit = await createKit(config, undefined, { INTUNE_CLIENT_SECRET: CLIENT_SECRET });
});
afterAll(async () => {
  await kit?.close();
  await kit?.stores.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function caOf(path: string): Promise<Certificate> {
  const res = await kit.server.fetch(new Request(`http://127.0.0.1${path}?operation=GetCACert`));
  return new Certificate(new Uint8Array(await res.arrayBuffer()));
}

describe("the example server's Intune profiles under CSR fuzzing (RFC 8894 §3.3.2.2, INTUNE.md)", () => {
  it("mode api (replay cache, rate limit, confirm hook): a CertRep or a 4xx for every input; Intune told of each certificate issued", async () => {
    const notified = fake.of("successNotification").length;
    const report = await runCsrFuzz({ fetch: (r) => kit.server.fetch(r), url: "http://127.0.0.1/intune", ca: await caOf("/intune"), challenge: "opaque-intune-challenge", count: INPUTS, seed: SEED });
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(report.tally));
    expect(report.bad).toEqual([]);
    expect(report.tally["csr:SUCCESS"]).toBeGreaterThan(0);
    expect(report.tally["csr:FAILURE:badRequest"]).toBeGreaterThan(0);
    const issued = (report.tally["csr:SUCCESS"] ?? 0) + (report.tally["signer:SUCCESS"] ?? 0);
    expect(fake.of("successNotification").length - notified).toBe(issued);
  }, 120_000);

  it("mode signed-token (device_name and SAN claims): a CertRep or a 4xx for every input", async () => {
    const report = await runCsrFuzz({ fetch: (r) => kit.server.fetch(r), url: "http://127.0.0.1/tokens", ca: await caOf("/tokens"), challenge: token, count: INPUTS, seed: SEED + 1 });
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(report.tally));
    expect(report.bad).toEqual([]);
    expect(report.tally["csr:FAILURE:badRequest"]).toBeGreaterThan(0);
  }, 120_000);
});
