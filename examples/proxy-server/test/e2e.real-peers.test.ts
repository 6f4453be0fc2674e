/**
 * End to end with real peers (issue 10): micromdm `scepclient` and strongSwan
 * `pki --scep` enroll through the example proxy (a child process, as
 * `pnpm start:proxy` runs it) into (a) a real micromdm `scepserver` and (b)
 * our Express example server, each started on loopback here. Recording
 * proxies on both sides of the example proxy show what the device sent and
 * what reached the upstream. A device URL works once: the same URL again is
 * refused with 400 and the profile requeued (status `none`); an NDES-type
 * record whose challenge was fetched longer ago than the CA's window is
 * refused and requeued too. Issued certificates verify against the upstream's
 * CA with `openssl verify`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  opensslVerifyChain,
  pemToDer,
  runScepclient,
  runStrongswanGen,
  runStrongswanScep,
  runStrongswanScepca,
  startRecordingProxy,
  type RecordedExchange,
  type RecordingProxy,
} from "../../../test-support/peers";
import { startExampleUpstream, startMicromdmUpstream, startProxy, type RunningProxy, type Upstream } from "./support/harness.js";

const MINUTE = 60_000;
const NDES_WINDOW_MS = 57 * MINUTE;

/** The PKIOperation message of a recorded exchange: the POST body, or the GET `message` decoded. */
function pkiMessage(e: RecordedExchange): Buffer {
  if (e.method === "POST") return Buffer.from(e.requestBody);
  const raw = /[?&]message=([^&]*)/.exec(e.path)?.[1] ?? "";
  return Buffer.from(decodeURIComponent(raw.replace(/%0A/gi, "")), "base64");
}

const operation = (e: RecordedExchange): string | null => new URL(e.path, "http://x").searchParams.get("operation");

describe.each(["micromdm", "example"] as const)("through the example proxy into %s", (kind) => {
  let upstream: Upstream;
  /** Between the example proxy and the upstream. */
  let back: RecordingProxy;
  let proxy: RunningProxy;
  /** Between the devices and the example proxy. */
  let front: RecordingProxy;

  beforeAll(async () => {
    upstream = kind === "micromdm" ? await startMicromdmUpstream() : await startExampleUpstream();
    back = await startRecordingProxy(upstream.url);
    proxy = await startProxy([
      { name: "corp", type: "custom", url: back.url, challenge: upstream.challenge },
      { name: "legacy", type: "ndes", url: back.url, challengeTtlMs: NDES_WINDOW_MS },
    ]);
    front = await startRecordingProxy(`${proxy.base}/scep`);
  });
  afterAll(async () => {
    await front?.stop();
    await proxy?.stop();
    await back?.stop();
    await upstream?.stop();
  });

  /** The device URL through the front recorder. */
  const viaFront = (url: string): string => `${new URL(front.url).origin}${new URL(url).pathname}`;
  const reset = (): void => {
    front.exchanges.length = 0;
    back.exchanges.length = 0;
  };

  /** What the admin API says about the profile, and this process's requeue events for it. */
  const status = async (hostId: string, profileId: string, caName: string) => {
    const record = await proxy.profile(hostId, profileId, caName);
    const res = await proxy.admin("GET", "/admin/events?type=requeue");
    const { events } = (await res.json()) as { events: Record<string, unknown>[] };
    return { record, requeues: events.filter((e) => e.hostId === hostId && e.profileId === profileId && e.caName === caName) };
  };

  it("micromdm scepclient enrolls with its one-time URL; the upstream got its message byte for byte; the certificate verifies against the upstream CA", async () => {
    reset();
    const reg = await proxy.register({ hostId: `${kind}-host-1`, profileId: "wifi", caName: "corp", platform: "darwin" });
    expect(reg).toMatchObject({ hostId: `${kind}-host-1`, profileId: "wifi", caName: "corp", status: "pending", challengePassword: upstream.challenge });
    expect(reg.url).toMatch(new RegExp(`^${proxy.base}/scep/${kind}-host-1,wifi,corp,[A-Za-z0-9_-]{32,}$`));

    const cn = `${kind}-scepclient-1`;
    const r = await runScepclient({ url: viaFront(reg.url), challenge: reg.challengePassword, cn });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(await opensslVerifyChain(r.certPem!, upstream.caPem)).toMatch(/: OK\s*$/);

    // Device side: GetCACert, GetCACaps, PKIOperation, all 200; the upstream saw the same PKIOperation bytes.
    expect(front.exchanges.map((e) => `${e.method} ${operation(e)} ${e.status}`)).toEqual(["GET GetCACert 200", "GET GetCACaps 200", "POST PKIOperation 200"]);
    const deviceOp = front.exchanges[2]!;
    const upstreamOps = back.exchanges.filter((e) => operation(e) === "PKIOperation");
    expect(upstreamOps).toHaveLength(1);
    expect(pkiMessage(upstreamOps[0]!).equals(pkiMessage(deviceOp))).toBe(true);
    expect(Buffer.from(upstreamOps[0]!.responseBody).equals(Buffer.from(deviceOp.responseBody))).toBe(true);
    expect(deviceOp.responseHeaders["content-type"]).toBe(upstreamOps[0]!.responseHeaders["content-type"]);
    const getCert = back.exchanges.find((e) => operation(e) === "GetCACert");
    if (getCert) expect(Buffer.from(front.exchanges[0]!.responseBody).equals(Buffer.from(getCert.responseBody))).toBe(true);
    expect(await status(`${kind}-host-1`, "wifi", "corp")).toMatchObject({ record: { status: "pending" }, requeues: [] });
  });

  it("the same URL a second time is refused with 400 before reaching the upstream, and the profile is requeued", async () => {
    const hostId = `${kind}-host-2`;
    const reg = await proxy.register({ hostId, profileId: "wifi", caName: "corp" });
    const first = await runScepclient({ url: viaFront(reg.url), challenge: reg.challengePassword, cn: `${kind}-scepclient-2` });
    expect(first.ok, first.stdout + first.stderr).toBe(true);
    reset();
    const second = await runScepclient({ url: viaFront(reg.url), challenge: reg.challengePassword, cn: `${kind}-scepclient-2b` });
    expect(second.ok).toBe(false);
    expect(second.certPem).toBeUndefined();
    const op = front.exchanges.find((e) => operation(e) === "PKIOperation")!;
    expect(op.status).toBe(400);
    expect(Buffer.from(op.responseBody).toString("utf8")).toMatch(/challenge failed/);
    expect(back.exchanges.filter((e) => operation(e) === "PKIOperation")).toEqual([]);
    const s = await status(hostId, "wifi", "corp");
    expect(s.record).toMatchObject({ status: "none", requeueCount: 1 });
    expect(s.requeues).toHaveLength(1);

    // The MDM re-sends the profile: a fresh registration, a fresh URL, and the device enrolls again.
    const again = await proxy.register({ hostId, profileId: "wifi", caName: "corp" });
    expect(again.url).not.toBe(reg.url);
    const third = await runScepclient({ url: again.url, challenge: again.challengePassword, cn: `${kind}-scepclient-2c` });
    expect(third.ok, third.stdout + third.stderr).toBe(true);
    expect(await opensslVerifyChain(third.certPem!, upstream.caPem)).toMatch(/: OK\s*$/);
  });

  it("strongSwan pki fetches the CA through its URL and enrolls; the same URL again with another key is refused with 400 and requeued", async () => {
    const hostId = `${kind}-host-3`;
    const reg = await proxy.register({ hostId, profileId: "vpn", caName: "corp", platform: "linux" });
    const ca = await runStrongswanScepca({ url: reg.url });
    expect(ca.ok, ca.messages.join("\n")).toBe(true);
    expect(ca.caCerts.map((c) => Buffer.from(c).toString("base64"))).toContain(Buffer.from(pemToDer(upstream.caPem)).toString("base64"));
    const key = await runStrongswanGen({ size: 2048 });
    const cn = `${kind}-strongswan-3`;
    reset();
    const enroll = () =>
      runStrongswanScep({ url: viaFront(reg.url), key: key.keyDer, dn: `C=US, O=proxy e2e, CN=${cn}`, password: reg.challengePassword!, caCertEnc: upstream.caPem, caCertSig: upstream.caPem, cipher: "des3", digest: "sha256" });
    const r = await enroll();
    const op = front.exchanges.find((e) => operation(e) === "PKIOperation")!;
    expect(op.status).toBe(200);
    if (kind === "example") {
      expect(r.ok, r.messages.join("\n")).toBe(true);
      expect(await opensslVerifyChain(r.certPem!, upstream.caPem)).toMatch(/: OK\s*$/);
    } else {
      // micromdm signs its CertRep with sha256WithRSAEncryption, which strongSwan 5.9.8 refuses (as without the
      // proxy: test-support/test/peers.test.ts). The proxy forwarded it unchanged; the upstream issued the certificate.
      expect(r.ok).toBe(false);
      expect(r.messages).toContain("only RSA digest encryption supported");
      const entry = upstream.micromdm!.readIndex().find((e) => e.dn === `/C=US/O=proxy e2e/CN=${cn}`);
      expect(entry?.status).toBe("V");
      const issued = Object.entries(upstream.micromdm!.issuedCertificates()).find(([name]) => name.startsWith(`${cn}.`));
      expect(await opensslVerifyChain(issued![1], upstream.caPem)).toMatch(/: OK\s*$/);
    }
    reset();
    // Another key: not the re-send of the first PKCSReq (that one is forwarded: rfc8894.proxy.pkcsreq-resend).
    const other = await runStrongswanGen({ size: 2048 });
    const second = await runStrongswanScep({ url: viaFront(reg.url), key: other.keyDer, dn: `C=US, O=proxy e2e, CN=${cn}`, password: reg.challengePassword!, caCertEnc: upstream.caPem, caCertSig: upstream.caPem, cipher: "des3", digest: "sha256" });
    expect(second.ok).toBe(false);
    expect(front.exchanges.find((e) => operation(e) === "PKIOperation")?.status).toBe(400);
    expect(back.exchanges.filter((e) => operation(e) === "PKIOperation")).toEqual([]);
    expect((await status(hostId, "vpn", "corp")).record).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("an NDES-type record whose challenge was fetched 58 minutes ago is refused with 400 and requeued; one fetched 30 minutes ago enrolls", async () => {
    const now = Date.now();
    const stale = await proxy.register({ hostId: `${kind}-host-4`, profileId: "wifi", caName: "legacy", challengeRetrievedAt: now - 58 * MINUTE });
    expect(stale.url).toBe(`${proxy.base}/scep/${kind}-host-4,wifi,legacy`);
    reset();
    const refused = await runScepclient({ url: viaFront(stale.url), challenge: upstream.challenge, cn: `${kind}-ndes-stale` });
    expect(refused.ok).toBe(false);
    const op = front.exchanges.find((e) => operation(e) === "PKIOperation")!;
    expect(op.status).toBe(400);
    expect(Buffer.from(op.responseBody).toString("utf8")).toMatch(/challenge password has expired/);
    expect(back.exchanges.filter((e) => operation(e) === "PKIOperation")).toEqual([]);
    const s = await status(`${kind}-host-4`, "wifi", "legacy");
    expect(s.record).toMatchObject({ status: "none", requeueCount: 1 });
    expect(s.record).not.toHaveProperty("challengeRetrievedAt");
    expect(s.requeues).toHaveLength(1);

    const fresh = await proxy.register({ hostId: `${kind}-host-5`, profileId: "wifi", caName: "legacy", challengeRetrievedAt: now - 30 * MINUTE });
    const ok = await runScepclient({ url: fresh.url, challenge: upstream.challenge, cn: `${kind}-ndes-fresh` });
    expect(ok.ok, ok.stdout + ok.stderr).toBe(true);
    expect(await opensslVerifyChain(ok.certPem!, upstream.caPem)).toMatch(/: OK\s*$/);
  });
});
