/**
 * End to end with a real Smallstep CA: the example proxy (a child process, as
 * `pnpm start:proxy` runs it) in front of step-ca 0.19 (built from Debian's Go
 * sources, test-support/peers/step-ca.ts) with a SCEP provisioner and a static
 * challenge. A device enrolls through its one-time proxy URL with our
 * ScepClient and with micromdm's `scepclient`; the proxy forwards the
 * PKIOperation byte for byte (a recording proxy between it and step-ca shows
 * what arrived), step-ca answers SUCCESS, and the certificate verifies against
 * step-ca's root through its intermediate. Both the `custom` CA type (the proxy
 * issues the one-time URL, the static challenge is the CA's) and the
 * `smallstep` type (a challenge the MDM fetched, checked by step-ca, within
 * `challengeTtlMs` of its retrieval) reach it. A device's GET PKIOperation, which
 * step-ca 0.19 cannot take, reaches it as a POST.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { opensslVerifyChain, pkiMessageOf, runScepclient, startRecordingProxy, type RecordingProxy } from "../../../test-support/peers";
import { startProxy, startStepCaUpstream, type RunningProxy, type Upstream } from "./support/harness.js";

const operation = (path: string): string | null => new URL(path, "http://x").searchParams.get("operation");

describe("through the example proxy into step-ca 0.19 (RFC 8894 §3.3.1 PKCSReq forwarded unchanged)", () => {
  let upstream: Upstream;
  let back: RecordingProxy;
  let proxy: RunningProxy;

  // The first step-ca start of a run builds it from source (about a minute, more on a busy machine).
  beforeAll(async () => {
    upstream = await startStepCaUpstream();
    back = await startRecordingProxy(upstream.url);
    proxy = await startProxy([
      { name: "corp", type: "custom", url: back.url, challenge: upstream.challenge },
      { name: "step", type: "smallstep", url: back.url },
    ]);
  }, 600_000);
  afterAll(async () => {
    await proxy?.stop();
    await back?.stop();
    await upstream?.stop();
  });

  it.each(["corp", "step"] as const)("ScepClient enrolls through a one-time URL of CA %s: step-ca gets the device's message byte for byte and answers SUCCESS", async (caName) => {
    back.exchanges.length = 0;
    const hostId = `step-ca-host-${caName}`;
    const reg = await proxy.register({ hostId, profileId: "wifi", caName, ...(caName === "step" ? { challengeRetrievedAt: Date.now() } : {}) });
    expect(reg).toMatchObject({ hostId, caName, status: "pending" });
    const challengePassword = reg.challengePassword ?? upstream.challenge;
    expect(challengePassword).toBe(upstream.challenge);
    const keys = await generateRsaKeyPair(2048);
    const signer = await createSelfSignedSigner({ keys, subject: `CN=${hostId}` });
    const csr = await generateCsr({ keys, subject: `CN=${hostId}`, challengePassword });
    const rep = await new ScepClient({ url: reg.url }).enroll({ csr, signer });
    expect(rep.status).toBe("SUCCESS");
    expect(await opensslVerifyChain(rep.certificate!.toPem(), upstream.caPem, { untrustedPem: upstream.untrustedPem! })).toMatch(/: OK\s*$/);
    const ops = back.exchanges.filter((e) => operation(e.path) === "PKIOperation");
    expect(ops.map((e) => `${e.method} ${e.status}`)).toEqual(["POST 200"]);
    expect(Buffer.from(pkiMessageOf(ops[0]!)).equals(Buffer.from(rep.request.der))).toBe(true);
    expect(upstream.stepCa!.requests().filter((r) => String(r["path"]).includes("PKIOperation")).at(-1)).toMatchObject({ status: 200, method: "POST" });

    // `custom`: the proxy's one-time challenge is spent, so a PKCSReq of another key is refused before it reaches
    // step-ca. `smallstep`: the CA checks its own challenge (step-ca 0.19's static one, reusable), so the URL keeps
    // working while the challenge is fresh (challengeTtlMs).
    back.exchanges.length = 0;
    const other = await generateRsaKeyPair(2048);
    const again = await new ScepClient({ url: reg.url })
      .enroll({ csr: await generateCsr({ keys: other, subject: `CN=${hostId}-2`, challengePassword }), signer: await createSelfSignedSigner({ keys: other, subject: `CN=${hostId}-2` }) })
      .catch((e: unknown) => e);
    if (caName === "corp") {
      expect(again).toMatchObject({ code: "ERR_TRANSPORT", status: 400, message: "PKIOperation: HTTP 400 (challenge failed)" });
      expect(back.exchanges.filter((e) => operation(e.path) === "PKIOperation")).toEqual([]);
    } else {
      expect(again).toMatchObject({ status: "SUCCESS" });
      expect(back.exchanges.filter((e) => operation(e.path) === "PKIOperation").map((e) => e.status)).toEqual([200]);
    }
  });

  it("RFC 8894 §4.3 a device's GET PKIOperation (which step-ca 0.19 answers with HTTP 500) goes upstream by POST, per step-ca's caps: SUCCESS", async () => {
    back.exchanges.length = 0;
    const hostId = "step-ca-host-get";
    const reg = await proxy.register({ hostId, profileId: "wifi", caName: "corp" });
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: `CN=${hostId}`, challengePassword: upstream.challenge });
    const rep = await new ScepClient({ url: reg.url }).enroll({ csr, signer: await createSelfSignedSigner({ keys, subject: `CN=${hostId}` }), post: false });
    expect(rep.status).toBe("SUCCESS");
    expect(back.exchanges.filter((e) => operation(e.path) === "PKIOperation").map((e) => `${e.method} ${e.status}`)).toEqual(["POST 200"]);
    expect(Buffer.from(pkiMessageOf(back.exchanges.find((e) => operation(e.path) === "PKIOperation")!)).equals(Buffer.from(rep.request.der))).toBe(true);
  });

  it("micromdm scepclient (DES-CBC + SHA-1) enrolls through its one-time URL into step-ca", async () => {
    const reg = await proxy.register({ hostId: "step-ca-scepclient", profileId: "wifi", caName: "corp" });
    const r = await runScepclient({ url: reg.url, challenge: reg.challengePassword!, cn: "step-ca-scepclient" });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(await opensslVerifyChain(r.certPem!, upstream.caPem, { untrustedPem: upstream.untrustedPem! })).toMatch(/: OK\s*$/);
  });
});
