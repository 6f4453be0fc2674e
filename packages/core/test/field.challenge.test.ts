/**
 * Field reports about the challengePassword (RFC 8894 §2.3, §3.2.1.4.5: the CA authenticates a first enrollment by
 * it), rebuilt against our server with real PKCSReqs; each refusal is a FAILURE CertRep the client can read, never an
 * HTTP error, and the issue hook is never asked.
 *
 * - pfpki issued certificates to requests with no challengePassword at all once its Intune integration was on: a CSR
 *   from `openssl req` without the attribute, sent with sscep, was enough (inverse-inc/packetfence#7928,
 *   https://github.com/inverse-inc/packetfence/issues/7928). Every built-in policy refuses a CSR without one, saying so.
 * - NDES refused sscep's request with "The password in the certificate request cannot be verified. It may have been
 *   used already" (certnanny/sscep#46, https://github.com/certnanny/sscep/issues/46): a one-time challenge enrolls
 *   once; another device presenting it gets a FAILURE that says it is invalid or used, not a 5xx.
 * - step-ca's single provisioner secret let anyone who knew it enroll for any device and any purpose
 *   (smallstep/certificates#1312, https://github.com/smallstep/certificates/issues/1312): a one-time challenge issued
 *   for one profile is refused by another profile of the same server, and stays usable on its own.
 */
import { describe, expect, it } from "vitest";
import { MemoryChallengeStore, createScepServer, type ChallengePolicy, type IssueContext, type ScepProfile } from "../src/index.js";
import { NOW, createDevice, createTestCa, enrollAt, eventLog, issuingHook } from "./support/server-pki.js";

const ca = await createTestCa("Field Challenge CA");

function server(profiles: { name: string; path: string; challenge: ChallengePolicy }[]) {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const all: ScepProfile[] = profiles.map((p) => ({ ...p, caCertificate: ca.cert, signer: ca.key, issue: issuingHook(ca, calls) }));
  return { calls, log, server: createScepServer({ profiles: all, onEvent: log.onEvent, now: () => NOW }) };
}

describe("RFC 8894 §2.3: a CSR without challengePassword is refused by every policy that needs one (packetfence#7928)", () => {
  const store = new MemoryChallengeStore({ now: () => NOW });
  const policies: [string, ChallengePolicy][] = [
    ["static", { type: "static", password: "field-static-secret" }],
    ["one-time store", { type: "store", store }],
  ];
  for (const [name, challenge] of policies) {
    it(`${name}: FAILURE badRequest "no challenge password in the CSR", reason missing_challenge, nothing issued`, async () => {
      const s = server([{ name: "p", path: "/scep", challenge }]);
      if (challenge.type === "store") await store.issue({ profile: "p" }); // a challenge exists; the CSR carries none
      const device = await createDevice({ cn: `no-challenge-${name.replace(/\W/g, "-")}` });
      const { rep } = await enrollAt(s.server, "/scep", ca, device);
      expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", "no challenge password in the CSR"]);
      expect(s.calls).toHaveLength(0);
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", reason: "missing_challenge" });
    });
  }
});

describe("RFC 8894 §2.3: a one-time challenge enrolls once (sscep#46) and only on its profile (smallstep#1312)", () => {
  it("a second device presenting a spent challenge: FAILURE badRequest naming it invalid or used; the first device's certificate stands", async () => {
    const store = new MemoryChallengeStore({ now: () => NOW });
    const s = server([{ name: "p", path: "/scep", challenge: { type: "store", store } }]);
    const challenge = await store.issue({ profile: "p" });
    const first = await enrollAt(s.server, "/scep", ca, await createDevice({ cn: "one-time-first", challengePassword: challenge }));
    expect(first.rep.status).toBe("SUCCESS");
    const second = await enrollAt(s.server, "/scep", ca, await createDevice({ cn: "one-time-second", challengePassword: challenge }));
    expect([second.rep.status, second.rep.failInfo, second.rep.failInfoText]).toEqual(["FAILURE", "badRequest", "challenge password invalid or already used"]);
    expect(s.calls.map((c) => c.csr.subject)).toEqual(["CN=one-time-first, O=scep-sdk server tests"]);
  });

  it("a challenge issued for profile wifi is refused at profile vpn, and still enrolls at wifi afterwards", async () => {
    const store = new MemoryChallengeStore({ now: () => NOW });
    const s = server([
      { name: "wifi", path: "/wifi", challenge: { type: "store", store } },
      { name: "vpn", path: "/vpn", challenge: { type: "store", store } },
    ]);
    const challenge = await store.issue({ profile: "wifi" });
    const device = await createDevice({ cn: "profile-bound", challengePassword: challenge });
    const atVpn = await enrollAt(s.server, "/vpn", ca, device);
    expect([atVpn.rep.status, atVpn.rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
    const atWifi = await enrollAt(s.server, "/wifi", ca, device);
    expect(atWifi.rep.status).toBe("SUCCESS");
    expect(s.calls.map((c) => c.profile)).toEqual(["wifi"]);
  });
});
