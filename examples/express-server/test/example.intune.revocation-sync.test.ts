/**
 * Intune's revocation sync through the example server (shared/INTUNE.md
 * "revocation sync"; Microsoft's IntuneRevocationClient and
 * CARequestErrorCode): a Mode A profile with `intune.revocationSyncSeconds`
 * downloads Intune's revocation requests from the loopback fake, revokes the
 * certificate it issued (enrolled here with the SDK CLI) in the embedded CA's
 * revocation store so the CRL served at /scep/ca.crl lists it (read by
 * OpenSSL), answers a serial it never issued 4004, and logs a failed download
 * as an `intune-error` line without stopping.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../../packages/intune/test/support/fake-intune.js";
import { allOutput, cliEnroll, startWithConfig, type RunningExample } from "./support/intune-example.js";

let fake: FakeIntune;
let ex: RunningExample;

beforeAll(async () => {
  fake = await startFakeIntune();
  ex = await startWithConfig(
    {
      profiles: [
        {
          path: "/intune",
          intune: { mode: "api", tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 5_000, retries: 0, revocationSyncSeconds: 1 },
        },
      ],
    },
    { INTUNE_CLIENT_SECRET: CLIENT_SECRET },
  );
});
afterAll(async () => {
  await ex?.stop();
  await fake?.close();
});

/** Polls (no fixed sleep beyond a short tick) until `done` holds; the sync runs every second. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const uploads = (): { results: { requestContext: string; succeeded: boolean; errorCode: number; errorMessage: string | null }[] }[] => fake.of("uploadRevocationResults").map((r) => JSON.parse(r.body));

describe("the example server's Intune revocation sync (profile /intune, every second)", () => {
  it("the banner says the sync is on", () => {
    expect(ex.proc.banner("profile /intune")).toBe(`Intune API (tenant ${TENANT}, client ${CLIENT_ID}, secret from $INTUNE_CLIENT_SECRET, revocation sync every 1 s); issued at once, 365 days`);
  });

  it("a certificate the CA issued and Intune asks to revoke is on the CRL; a serial it never issued is answered 4004", async () => {
    const r = await cliEnroll(ex, "/intune", { cn: "intune-revoke-me", challenge: "intune-encrypted-challenge" });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const cert = r.certificate!;
    const serial = cert.serialNumberHex.toUpperCase();
    fake.pendingRevocations = [
      { requestContext: "ctx-issued", serialNumber: serial, issuerName: cert.issuer, caConfiguration: null },
      { requestContext: "ctx-unknown", serialNumber: "DEADBEEF01", issuerName: cert.issuer, caConfiguration: null },
    ];
    await until(() => uploads().some((u) => u.results.some((x) => x.requestContext === "ctx-issued")), "the upload of the results");
    const download = JSON.parse(fake.of("downloadRevocationRequests").at(-1)!.body);
    expect(download).toEqual({ downloadParameters: { maxRequests: 500, issuerName: cert.issuer } });
    expect(uploads().find((u) => u.results.some((x) => x.requestContext === "ctx-issued"))).toEqual({
      results: [
        { requestContext: "ctx-issued", succeeded: true, errorCode: 0, errorMessage: null },
        { requestContext: "ctx-unknown", succeeded: false, errorCode: 4004, errorMessage: "this CA issued no certificate with this serial number" },
      ],
    });
    await until(() => ex.lines("intune-revocation-sync").length > 0, "the intune-revocation-sync line");
    expect(ex.lines("intune-revocation-sync")[0]).toMatchObject({ profile: "/intune", downloaded: 2, succeeded: 1, failed: 1, retryable: 0, issuerMismatches: 0, uploaded: true, revoked: [serial] });

    const crl = Buffer.from(await (await fetch(`${ex.base}/scep/ca.crl`)).arrayBuffer());
    const file = join(ex.dir, "served.crl");
    writeFileSync(file, crl);
    const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", file, "-noout", "-text"], { encoding: "utf8" });
    expect(text).toContain(`Serial Number: ${serial}`);
    expect(text).not.toContain("DEADBEEF01");
    expect(fake.pendingRevocations).toEqual([]);
  });

  it("Intune answers the download with HTTP 503: an intune-error line, and the next round works", async () => {
    const before = fake.of("downloadRevocationRequests").length;
    fake.next("downloadRevocationRequests", { json: {}, status: 503 });
    await until(() => ex.lines("intune-error").some((l) => l.operation === "revocationSync"), "the intune-error line");
    expect(ex.lines("intune-error").find((l) => l.operation === "revocationSync")).toEqual({
      type: "intune-error",
      profile: "/intune",
      operation: "revocationSync",
      code: "ERR_INTUNE_TRANSPORT",
      message: "Intune downloadRevocationRequests: HTTP 503",
      time: expect.any(String),
    });
    await until(() => fake.of("downloadRevocationRequests").length >= before + 2, "the next round");
    expect(allOutput(ex)).not.toContain(CLIENT_SECRET);
  });
});
