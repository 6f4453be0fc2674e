/**
 * Mode B inside a real @scep/core server (createScepServer, RFC 8894
 * PKCSReq over server.fetch): a token minted in-test whose claims match the
 * CSR is issued and its claims reach the issue hook; the same token again is
 * `replay`, a token for another device `claim_mismatch`, the fourth
 * enrollment of one device in 24 h `rate_limited` — each a FAILURE CertRep
 * with the mapped failInfo and the reason in the event. A replay cache that
 * is down is HTTP 503, nothing issued.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, type IssueContext, type ScepProfile, type ScepServer } from "@scep/core";
import { MemoryRateLimiter, MemoryReplayCache, SignedTokenValidator, TrustAnchorPool, type RateLimiter, type ReplayCache } from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { DEVICE, anchor, goodClaims, mint, type Anchor } from "./support/tokens.js";

const NOW_S = NOW.getTime() / 1000;
let ca: TestCa;
let ec: Anchor;
let device: Device;

beforeAll(async () => {
  [ca, ec] = await Promise.all([createTestCa("Intune Token CA"), anchor("p256", "CN=connector", NOW)]);
  device = await createDevice({ cn: DEVICE.cn }); // RSA-2048 key and self-signed signer; CSRs are made per token below
});

function setup(
  replayCache?: ReplayCache,
  more: { rateLimiter?: RateLimiter; issue?: (issue: ScepProfile["issue"]) => ScepProfile["issue"] } = {},
): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog> } {
  const validator = new SignedTokenValidator({
    trustAnchors: TrustAnchorPool.fromPem(ec.pem, { now: () => NOW }),
    audience: "https://scep.example.test/scep",
    now: () => NOW,
    ...(replayCache ? { replayCache } : {}),
    ...(more.rateLimiter ? { rateLimiter: more.rateLimiter } : {}),
  });
  const calls: IssueContext[] = [];
  const log = eventLog();
  const issue = issuingHook(ca, calls);
  const server = createScepServer({
    profiles: [{ name: "intune", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "custom", validate: (ctx) => validator.validate(ctx) }, issue: more.issue ? more.issue(issue) : issue }],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, calls, log };
}

const claims = (overrides: Record<string, unknown> = {}) => goodClaims({ iat: NOW_S - 10, exp: NOW_S + 600, ...overrides });

/** The device's PKCSReq with this token; `transactionId` default: the key's hash (the same request again is a re-send). */
async function enroll(server: ScepServer, token: string, cn = DEVICE.cn, transactionId?: string) {
  const { generateCsr } = await import("@scep/core");
  const csr = await generateCsr({ keys: device.keys, subject: `CN=${cn}`, challengePassword: token, san: DEVICE.san });
  const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  const res = await postPki(server, "/scep", built.der);
  if (res.status !== 200) return { http: res.status, retryAfter: res.headers.get("retry-after") };
  const rep = await readReply(res, built, { decrypter: device.signer });
  return { status: rep.status, failInfo: rep.failInfo, failInfoText: rep.failInfoText, certificates: rep.certificates.length, serial: rep.certificate?.serialNumberHex };
}

describe("Mode B through createScepServer", () => {
  it("a token whose claims match the CSR is issued; the claims reach the issue hook as challengeData", async () => {
    const { server, calls, log } = setup();
    const token = mint(ec.privateKey, claims({ nonce: "server-1" }));
    expect(await enroll(server, token)).toMatchObject({ status: "SUCCESS", certificates: 2 }); // the issued certificate and the CA
    expect(calls).toHaveLength(1);
    expect(calls[0]!.challengeData).toMatchObject({ claims: { sub: "device-guid-0001", nonce: "server-1", san_upn: ["alice@corp.example.test"] } });
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", profile: "intune" });
  });

  it("the same token again in another transaction → FAILURE badMessageCheck, event reason replay, nothing issued; the device's re-send of its request gets its certificate again (RFC 8894 §3.3.3)", async () => {
    const { server, calls, log } = setup();
    const token = mint(ec.privateKey, claims());
    const first = await enroll(server, token);
    expect(first.status).toBe("SUCCESS");
    // The SUCCESS reply was lost and the device sends the same request again: no replay, the same certificate.
    expect(await enroll(server, token)).toMatchObject({ status: "SUCCESS", serial: first.serial });
    expect(await enroll(server, token, DEVICE.cn, "another-transaction")).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "the token was used before", certificates: 0 });
    expect(calls).toHaveLength(1);
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "replay", failInfo: "badMessageCheck" });
  });

  it("a token for another device → FAILURE badRequest, claim_mismatch", async () => {
    const { server, calls, log } = setup();
    expect(await enroll(server, mint(ec.privateKey, claims()), "device-0002.corp.example.test")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "device_name does not equal the CSR subject CN" });
    expect(calls).toHaveLength(0);
    expect(log.events.at(-1)).toMatchObject({ reason: "claim_mismatch" });
  });

  it("the fourth enrollment of one device in 24 h → FAILURE badRequest, rate_limited", async () => {
    const { server, calls, log } = setup();
    for (let i = 0; i < 3; i++) expect((await enroll(server, mint(ec.privateKey, claims()))).status).toBe("SUCCESS");
    expect(await enroll(server, mint(ec.privateKey, claims()))).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "more than 3 enrollments of this device in 86400 s" });
    expect(calls).toHaveLength(3);
    expect(log.events.at(-1)).toMatchObject({ reason: "rate_limited" });
  });

  it("a replay cache that is down → HTTP 503 with Retry-After (fail closed), and the next request after recovery is issued", async () => {
    let down = true;
    const inner = new MemoryReplayCache({ now: () => NOW });
    const { server, calls } = setup({ checkAndInsert: (k, ttl) => (down ? Promise.reject(new Error("ECONNREFUSED")) : inner.checkAndInsert(k, ttl)) });
    const r = await enroll(server, mint(ec.privateKey, claims()));
    expect(r).toMatchObject({ http: 503 });
    expect(Number((r as { retryAfter: string }).retryAfter)).toBeGreaterThan(0);
    expect(calls).toHaveLength(0);
    down = false;
    expect((await enroll(server, mint(ec.privateKey, claims()))).status).toBe("SUCCESS");
  });

  describe("a request the server fails after accepting the token gives back what it spent: the device's resend (RFC 8894 §3.3.3) is no replay", () => {
    it("the issue hook throws (500), then works: the same token is issued, and its rate-limit hit was given back", async () => {
      let broken = true;
      const { server, calls } = setup(undefined, {
        issue: (issue) => async (ctx) => {
          if (broken) throw new Error("the CA's HSM is unplugged");
          return issue(ctx);
        },
      });
      const token = mint(ec.privateKey, claims({ nonce: "resend-1" }));
      expect(await enroll(server, token)).toMatchObject({ http: 500 });
      expect(await enroll(server, token)).toMatchObject({ http: 500 });
      broken = false;
      expect((await enroll(server, token)).status).toBe("SUCCESS");
      expect(await enroll(server, token, DEVICE.cn, "another-transaction")).toMatchObject({ status: "FAILURE", failInfoText: "the token was used before" });
      // 3 per device in 24 h: the two failed requests counted nothing, so two more fit.
      for (let i = 0; i < 2; i++) expect((await enroll(server, mint(ec.privateKey, claims()))).status).toBe("SUCCESS");
      expect((await enroll(server, mint(ec.privateKey, claims()))).failInfoText).toBe("more than 3 enrollments of this device in 86400 s");
      expect(calls).toHaveLength(3);
    });

    it("the rate limiter is down after the nonce was recorded (503): once it is back the same token is issued", async () => {
      let down = true;
      const inner = new MemoryRateLimiter({ now: () => NOW });
      const limiter: RateLimiter = {
        hit: (k, l) => (down ? Promise.reject(new Error("ECONNREFUSED")) : inner.hit(k, l)),
        release: (k, id) => inner.release(k, id),
      };
      const { server } = setup(undefined, { rateLimiter: limiter });
      const token = mint(ec.privateKey, claims({ nonce: "limiter-down-1" }));
      expect(await enroll(server, token)).toMatchObject({ http: 503 });
      down = false;
      expect((await enroll(server, token)).status).toBe("SUCCESS");
    });

    it("a replay cache without release keeps the nonce: the resend after a 500 is refused as a replay (nothing else changes)", async () => {
      const inner = new MemoryReplayCache({ now: () => NOW });
      let broken = true;
      const { server } = setup(
        { checkAndInsert: (k, ttl) => inner.checkAndInsert(k, ttl) },
        {
          issue: (issue) => async (ctx) => {
            if (broken) throw new Error("the CA's HSM is unplugged");
            return issue(ctx);
          },
        },
      );
      const token = mint(ec.privateKey, claims({ nonce: "no-release-1" }));
      expect(await enroll(server, token)).toMatchObject({ http: 500 });
      broken = false;
      expect(await enroll(server, token)).toMatchObject({ status: "FAILURE", failInfoText: "the token was used before" });
    });
  });
});
