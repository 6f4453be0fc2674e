/**
 * `--forward-resends` (env `PROXY_FORWARD_RESENDS`, file key `forwardResends`) of the example proxy, in front of our
 * Express example server, both child processes on loopback. A device's PKCSReq spends its one-time URL; the same
 * key's PKCSReq again (same transactionID, RFC 8894 §3.3.3) is forwarded by default (event `resend: true`, the CA
 * answers with the certificate it issued, the profile stays `pending`), and with `--forward-resends false` it is
 * refused like any other use of the spent URL: 400 `challenge failed`, the profile requeued (status `none`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, TransportError, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startExampleUpstream, startProxy, type RunningProxy, type Upstream } from "./support/harness.js";

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startExampleUpstream();
});
afterAll(async () => {
  await upstream?.stop();
});

/** One device: registers a profile, enrolls through its URL, then sends a PKCSReq of the same key again. */
async function enrollTwice(proxy: RunningProxy, hostId: string) {
  const reg = await proxy.register({ hostId, profileId: "wifi", caName: "corp" });
  const keys = await generateRsaKeyPair(2048);
  const csr = await generateCsr({ keys, subject: `CN=${hostId}`, challengePassword: reg.challengePassword! });
  const client = new ScepClient({ url: reg.url });
  const enroll = async () => client.enroll({ csr, signer: await createSelfSignedSigner({ keys, subject: `CN=${hostId}` }) });
  const first = await enroll();
  expect(first.status).toBe("SUCCESS");
  const again = await enroll().catch((e: unknown) => e);
  const events = proxy.events().filter((e) => e.hostId === hostId && e.operation === "PKIOperation");
  return { first, again, events, record: await proxy.profile(hostId, "wifi", "corp") };
}

describe("the example proxy's --forward-resends", () => {
  let proxy: RunningProxy | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it("default: the re-sent PKCSReq is forwarded and answered with the certificate already issued; no requeue", async () => {
    proxy = await startProxy([{ name: "corp", type: "custom", url: upstream.url, challenge: upstream.challenge }]);
    const { first, again, events, record } = await enrollTwice(proxy, "resend-default");
    expect(again).toMatchObject({ status: "SUCCESS", transactionId: first.transactionId });
    expect(Buffer.from((again as typeof first).certificate!.der).equals(Buffer.from(first.certificate!.der))).toBe(true);
    expect(events.map((e) => [e.outcome, e.resend === true, e.requeued === true])).toEqual([
      ["forwarded", false, false],
      ["forwarded", true, false],
    ]);
    expect(record?.status).toBe("pending");
    await proxy.stop();
    proxy = undefined;
  }, 120_000);

  it("--forward-resends false: the re-sent PKCSReq gets 400 challenge failed and the profile is requeued", async () => {
    proxy = await startProxy([{ name: "corp", type: "custom", url: upstream.url, challenge: upstream.challenge }], {}, {}, ["--forward-resends", "false"]);
    const { first, again, events, record } = await enrollTwice(proxy, "resend-off");
    expect(again).toBeInstanceOf(TransportError);
    expect((again as TransportError).status).toBe(400);
    expect((again as TransportError).message).toBe("PKIOperation: HTTP 400 (challenge failed)");
    expect(events.map((e) => [e.outcome, e.reason, e.requeued === true])).toEqual([
      ["forwarded", "forwarded", false],
      ["rejected", "challenge_failed", true],
    ]);
    expect(first.status).toBe("SUCCESS");
    expect(record?.status).toBe("none");
  }, 120_000);
});
