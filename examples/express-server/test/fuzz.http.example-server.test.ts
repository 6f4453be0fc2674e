/**
 * Issue 12, item 2, small: a few hundred fast-check-generated hostile
 * requests (mutated PKIOperation bodies seeded from every fixture message and
 * from fresh SDK requests, GET `message` values, query strings, methods,
 * headers, chunked bodies) against the Express example server holding the
 * captured fixtures' CA (so the captured requests decrypt): every answer is a
 * CertRep signed by the CA or a 4xx, never a 5xx, a hang or a connection
 * closed unanswered; then a real SDK client still enrolls. `pnpm
 * stress:fuzz-http` sends 10,000 (see docs/security.md).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, ScepClient, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { FIXTURE_DIRS, fixtureSeeds, runHttpFuzz } from "../../interop/stress/http-fuzz.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const CAPTURED = FIXTURE_DIRS[0]!;
let proc: ExampleProcess;
let base: string;
let port: number;
let tmp: string;
let ca: Certificate;
let keys: CryptoKeyPair;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "scep-http-fuzz-"));
  const s = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: "secret", SCEP_CA_CERT: join(CAPTURED, "ca.pem"), SCEP_CA_KEY: join(CAPTURED, "ca.key") });
  ({ proc, base } = s);
  port = s.listening.port;
  ca = Certificate.from(readFileSync(join(CAPTURED, "ca.pem"), "utf8"));
  keys = await generateRsaKeyPair(2048);
});
afterAll(async () => {
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the example server under HTTP fuzzing (issue 12 item 2)", () => {
  it("answers 300 hostile requests with a CertRep or a 4xx, never a 5xx, a hang or a dropped connection; then enrolls a real client", async () => {
    const fresh = await Promise.all(
      ["CN=fuzz-seed-1", "CN=fuzz-seed-2"].map(async (subject) => {
        const csr = await generateCsr({ keys, subject, challengePassword: "secret" });
        return (await buildPkcsReq({ csr, signer: await createSelfSignedSigner({ keys, subject }), recipient: ca })).der;
      }),
    );
    const seeds = [...fixtureSeeds().map((s) => s.der), ...fresh];
    expect(seeds.length).toBeGreaterThanOrEqual(15);
    const report = await runHttpFuzz({ port, ca, seeds, count: 300, seed: 20261129, concurrency: 4 });
    expect(report.bad).toEqual([]);
    expect(report.inputs).toBe(300);
    // The run reached the CertRep path, not only the HTTP layer.
    expect(report.byVerdict.certrep).toBeGreaterThan(0);
    const subject = "CN=after-fuzz";
    const csr = await generateCsr({ keys, subject, challengePassword: "secret" });
    const rep = await new ScepClient({ url: `${base}/scep` }).enroll({ csr, signer: await createSelfSignedSigner({ keys, subject }) });
    expect(rep.status).toBe("SUCCESS");
  });
});
