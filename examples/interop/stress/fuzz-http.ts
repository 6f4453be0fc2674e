/**
 * `pnpm stress:fuzz-http` (issue 12, item 2): STRESS_FUZZ_INPUTS (default
 * 10,000) generated hostile requests (see http-fuzz.ts) against the Express
 * example server holding the captured fixtures' CA, then the same number
 * against the example proxy (examples/proxy-server, in this process) in front
 * of that server, on a registered device's URL; afterwards a real SDK client
 * must still enroll through each. Prints one JSON line per target; exits 1 on
 * any 5xx, hang, dropped connection, unreadable CertRep or failed enrollment.
 *
 * Environment: STRESS_FUZZ_INPUTS (10000), STRESS_FUZZ_SEED (20261129),
 * STRESS_FUZZ_TARGETS (`server,proxy`).
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate, ScepClient, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { parseConfig, type ProxyConfig } from "../../proxy-server/src/config.js";
import { startProxy } from "../../proxy-server/src/start-proxy.js";
import { startExample } from "../../server-kit/test/support/example-process.js";
import { FIXTURE_DIRS, fixtureSeeds, runHttpFuzz } from "./http-fuzz.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../express-server/", import.meta.url));
const CAPTURED = FIXTURE_DIRS[0]!;
const count = Number(process.env.STRESS_FUZZ_INPUTS ?? 10_000);
const seed = Number(process.env.STRESS_FUZZ_SEED ?? 20261129);
const targets = (process.env.STRESS_FUZZ_TARGETS ?? "server,proxy").split(",").map((t) => t.trim());
const TOKEN = "fuzz-proxy-admin-token-0123456789";

const tmp = mkdtempSync(join(tmpdir(), "scep-fuzz-http-"));
const server = await startExample(EXAMPLE_DIR, {
  SCEP_DATA_DIR: join(tmp, "data"),
  SCEP_CHALLENGE: "secret",
  SCEP_CA_CERT: join(CAPTURED, "ca.pem"),
  SCEP_CA_KEY: join(CAPTURED, "ca.key"),
  SCEP_MAX_IN_FLIGHT: "10000",
});
const ca = Certificate.from(readFileSync(join(CAPTURED, "ca.pem"), "utf8"));
const keys = await generateRsaKeyPair(2048);
const fresh = await Promise.all(
  ["CN=fuzz-seed-1", "CN=fuzz-seed-2"].map(async (subject) => {
    const csr = await generateCsr({ keys, subject, challengePassword: "secret" });
    return (await buildPkcsReq({ csr, signer: await createSelfSignedSigner({ keys, subject }), recipient: ca })).der;
  }),
);
const seeds = [...fixtureSeeds().map((s) => s.der), ...fresh];

async function enrollsAt(url: string, challenge: string, subject: string): Promise<string> {
  const csr = await generateCsr({ keys, subject, challengePassword: challenge });
  try {
    return (await new ScepClient({ url }).enroll({ csr, signer: await createSelfSignedSigner({ keys, subject }) })).status;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

let failed = false;
try {
  if (targets.includes("server")) {
    const report = await runHttpFuzz({ port: server.listening.port, ca, seeds, count, seed, concurrency: 4 });
    const after = await enrollsAt(`${server.base}/scep`, "secret", "CN=after-fuzz-server");
    failed ||= report.bad.length > 0 || after !== "SUCCESS";
    console.log(JSON.stringify({ target: "example server", seedMessages: seeds.length, ...report, enrollmentAfter: after }));
  }
  if (targets.includes("proxy")) {
    const file = { cas: [{ name: "corp", type: "custom", url: `${server.base}/scep`, challenge: "secret" }], http: { maxInFlight: 10_000 } };
    const config = parseConfig(["--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN }, { readFile: () => JSON.stringify(file) }) as ProxyConfig;
    const upstreamErrors: Record<string, unknown>[] = [];
    const proxy = await startProxy(config, { log: (l) => void (/upstream_error|proxy-error/.test(JSON.stringify(l)) && upstreamErrors.length < 5 && upstreamErrors.push(l)) });
    try {
      const register = async (hostId: string): Promise<{ url: string; challengePassword?: string }> => {
        const res = await fetch(`${proxy.origin}/admin/profiles`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ hostId, profileId: "wifi" }) });
        const body = await res.text();
        if (!res.ok) throw new Error(`registering ${hostId}: HTTP ${res.status} ${body.slice(0, 200)}`);
        return JSON.parse(body) as { url: string; challengePassword?: string };
      };
      const device = await register("fuzzed-device");
      // Each input on its own newly registered device: its one-time challenge is consumed by that input alone, so the
      // message is forwarded to the upstream (one device for all would be requeued after the first PKIOperation).
      let devices = 0;
      const freshPath = async (): Promise<string> => new URL((await register(`fuzzed-device-${++devices}`)).url).pathname;
      const report = await runHttpFuzz({ port: proxy.port, ca, seeds, count, seed, concurrency: 4, path: new URL(device.url).pathname, freshPath });
      const fresh = await register("after-fuzz-device");
      const after = await enrollsAt(fresh.url, fresh.challengePassword ?? "secret", "CN=after-fuzz-proxy");
      failed ||= report.bad.length > 0 || after !== "SUCCESS";
      console.log(JSON.stringify({ target: "example proxy", seedMessages: seeds.length, ...report, enrollmentAfter: after, upstreamErrors }));
    } finally {
      await proxy.close();
    }
  }
} finally {
  await server.proc.terminate();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
