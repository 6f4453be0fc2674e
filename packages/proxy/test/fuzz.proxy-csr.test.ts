/**
 * Structure-aware CSR fuzzing through the proxy (PROXY.md): createScepProxy in front of a @scep/core server
 * (in process, FetchHandlerUpstream) issuing with core's certificate builder. Each input gets its own device
 * profile and one-time URL (a PKIOperation spends the URL's challenge), then a PKCSReq around a generated CSR, a
 * PKCSReq signed under a generated certificate, or a CertPoll/GetCert/GetCRL around generated content
 * (packages/core/test/support/csr-fuzz.ts), valid SignedData/EnvelopedData, so they reach the upstream's CSR
 * reader, policy and CA.
 *
 * The proxy parses nothing of the message (it checks the URL's identifier and challenge and forwards the bytes),
 * so this is a regression guard: every answer through it is the upstream's CertRep or a 4xx, never a 5xx, and
 * the proxy's own event for each PKIOperation is `forwarded`.
 */
import { createScepServer } from "@scep/core";
import { describe, expect, it } from "vitest";
import { FetchHandlerUpstream } from "../src/index.js";
import { customCaProxy } from "./support/custom-ca-proxy.js";
import { createTestCa } from "../../core/test/support/server-pki.js";
import { builderIssueHook, runCsrFuzz } from "../../core/test/support/csr-fuzz.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 120);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
const CHALLENGE = "upstream-static";

describe("the proxy under CSR fuzzing, forwarding to a @scep/core server (RFC 8894 §3.3.2.2)", () => {
  it(`answers ${INPUTS} generated requests with the upstream's CertRep or a 4xx, never a 5xx`, async () => {
    const ca = await createTestCa("Proxy Fuzz CA");
    const upstream = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: builderIssueHook(ca.key) }],
    });
    const { proxy, events, oneTimeUrl } = customCaProxy({ url: "http://upstream.test/scep", upstream: new FetchHandlerUpstream(upstream, { timeoutMs: 20_000 }) });
    const urlFor = (i: number): Promise<string> => oneTimeUrl("http://proxy.test/mdm/scep", { hostId: `fuzz-host-${i}`, profileId: "wifi" });
    const report = await runCsrFuzz({ fetch: (r) => proxy.fetch(r), url: urlFor, ca: ca.cert, challenge: CHALLENGE, count: INPUTS, seed: SEED });
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(report.tally));
    expect(report.bad).toEqual([]);
    // The upstream was reached: it issued, and it refused generated CSRs.
    expect(report.tally["csr:SUCCESS"]).toBeGreaterThan(0);
    expect(report.tally["csr:FAILURE:badRequest"]).toBeGreaterThan(0);
    const pkiOperations = events.filter((e) => e.operation === "PKIOperation");
    expect(pkiOperations.length).toBe(INPUTS - (report.tally["skipped"] ?? 0));
    expect(pkiOperations.filter((e) => e.outcome !== "forwarded").map((e) => e.reason)).toEqual([]);
  }, 120_000);
});
