/**
 * RFC 5280 §4.1.2.5 / §6.1.3: a certificate issued under a CA certificate outside its validity never validates (the
 * whole path is checked at one time). An issuing CA that has expired is the operator's problem, never the client's:
 *
 * - at `createScepServer`, a CA that is expired or not yet valid is refused with `ERR_CA_NOT_VALID` and one line;
 * - once it expires while the server runs, a PKCSReq gets HTTP 503 with Retry-After (event reason `ca_not_valid`,
 *   `onError` told), before a one-time challenge is spent or the issue hook asked. Before this, `notAfterMax` (the CA's
 *   notAfter) fell before now and the documented issue hook built a certificate that ends before it starts: a 500;
 * - `approve` throws `ERR_CA_NOT_VALID` and the transaction stays PENDING;
 * - GetCACert still serves the CA, with event reason `ca_cert_not_valid`.
 */
import { describe, expect, it } from "vitest";
import {
  Certificate,
  LocalKey,
  MemoryChallengeStore,
  MemoryTransactionStore,
  buildPkcsReq,
  createScepServer,
  generateRsaKeyPair,
  isScepError,
  type IssueContext,
  type ScepEvent,
  type ScepProfile,
} from "../src/index.js";
import { x509 } from "../src/lib/x509.js";
import { DAY, NOW, createDevice, getOp, nextSerial, postPki, readReply, readmeIssueHook } from "./support/server-pki.js";
import { thrown } from "./support/thrown.js";

const CHALLENGE = "ca-validity";

/** A CA valid from `from` to `to` days after NOW. */
async function caValid(from: number, to: number): Promise<LocalKey> {
  const keys = await generateRsaKeyPair(2048);
  const made = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: "CN=Validity CA, O=scep-sdk server tests",
    notBefore: new Date(NOW.getTime() + from * DAY),
    notAfter: new Date(NOW.getTime() + to * DAY),
    keys,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
  });
  return LocalKey.from(new Certificate(new Uint8Array(made.rawData)), keys.privateKey);
}

/** The README's issue hook (`notAfter: notAfterMax`), on the server's clock. */
function documentedProfile(ca: LocalKey, clock: () => Date, calls: IssueContext[], extra: Partial<ScepProfile> = {}): ScepProfile {
  return {
    name: "p",
    path: "/scep",
    caCertificate: ca.certificate,
    signer: ca,
    challenge: { type: "static", password: CHALLENGE },
    issue: readmeIssueHook(ca, calls, { clock, pendingFirst: extra.transactions !== undefined, serialPrefix: 0x72 }),
    ...extra,
  };
}

describe("RFC 5280 §4.1.2.5: a server is not created on an issuing CA outside its validity", () => {
  it("expired: ERR_CA_NOT_VALID, one line naming the profile, the CA and its notAfter", async () => {
    const ca = await caValid(-400, -1);
    const e = thrown(() => createScepServer({ profiles: [documentedProfile(ca, () => NOW, [])], now: () => NOW }));
    expect(isScepError(e) && e.code).toBe("ERR_CA_NOT_VALID");
    expect((e as Error).name).toBe("CaNotValidError");
    expect((e as Error).message).toBe(
      `profile p: the issuing CA certificate (CN=Validity CA, O=scep-sdk server tests) expired at ${new Date(NOW.getTime() - DAY).toISOString()}: nothing can be issued under it until it is renewed`,
    );
    expect(e).toMatchObject({ notAfter: ca.certificate.notAfter, notBefore: ca.certificate.notBefore, at: NOW });
  });

  it("not yet valid: ERR_CA_NOT_VALID naming its notBefore and the server's clock", async () => {
    const ca = await caValid(2, 400);
    const e = thrown(() => createScepServer({ profiles: [documentedProfile(ca, () => NOW, [])], now: () => NOW }));
    expect(e).toMatchObject({ code: "ERR_CA_NOT_VALID" });
    expect((e as Error).message).toBe(
      `profile p: the issuing CA certificate (CN=Validity CA, O=scep-sdk server tests) is not valid before ${new Date(NOW.getTime() + 2 * DAY).toISOString()} (the server's clock says ${NOW.toISOString()}): nothing can be issued under it until then`,
    );
  });
});

describe("RFC 5280 §6.1.3: a CA that expires while the server runs", () => {
  it("PKCSReq → HTTP 503 with Retry-After, event ca_not_valid, onError told; no hook asked, the one-time challenge not spent; GetCACert reports it", async () => {
    const ca = await caValid(-400, 10);
    let clock = NOW;
    const calls: IssueContext[] = [];
    const events: ScepEvent[] = [];
    const errors: unknown[] = [];
    const store = new MemoryChallengeStore({ now: () => clock });
    const challenge = await store.issue({ profile: "p", ttlMs: 100 * DAY });
    const server = createScepServer({
      profiles: [documentedProfile(ca, () => clock, calls, { challenge: { type: "store", store } })],
      now: () => clock,
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    expect((await getOp(server, "/scep", "GetCACert")).status).toBe(200);
    clock = new Date(NOW.getTime() + 11 * DAY);
    const device = await createDevice({ cn: "ca-validity-expired", challengePassword: challenge });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: clock });
    const res = await postPki(server, "/scep", built.der);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("3600");
    expect(await res.text()).toBe("the CA cannot issue now (its certificate is not valid), retry later\n");
    expect(calls).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "ERR_CA_NOT_VALID", name: "CaNotValidError" });
    expect((errors[0] as Error).message).toMatch(/^profile p: the issuing CA certificate \(CN=Validity CA, O=scep-sdk server tests\) expired at /);
    const ca503 = await getOp(server, "/scep", "GetCACert");
    expect(ca503.status).toBe(200);
    expect(new Uint8Array(await ca503.arrayBuffer())).toEqual(ca.certificate.der);
    expect(events.map((e) => [e.operation, e.outcome, e.reason, e.status])).toEqual([
      ["GetCACert", "success", "ca_cert", 200],
      ["PKCSReq", "error", "ca_not_valid", 503], // named by its messageType, as a FAILURE is
      ["GetCACert", "success", "ca_cert_not_valid", 200],
    ]);
    // The challenge was not spent: still good once the clock is back within the CA's validity (a renewed CA would be).
    clock = NOW;
    const again = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: clock });
    expect((await readReply(await postPki(server, "/scep", again.der), again, { decrypter: device.signer, caCertificates: [ca.certificate] })).status).toBe("SUCCESS");
  });

  it("approve of a PENDING request → ERR_CA_NOT_VALID, nothing claimed: still PENDING, approved once the clock is back within the CA's validity", async () => {
    const ca = await caValid(-400, 10);
    let clock = NOW;
    const calls: IssueContext[] = [];
    const server = createScepServer({ profiles: [documentedProfile(ca, () => clock, calls, { transactions: new MemoryTransactionStore({ now: () => clock }), pendingTtlMs: 30 * DAY })], now: () => clock });
    const device = await createDevice({ cn: "ca-validity-approve", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: NOW });
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.certificate] })).status).toBe("PENDING");
    clock = new Date(NOW.getTime() + 11 * DAY);
    await expect(server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_CA_NOT_VALID" });
    expect((await server.pending("p")).map((t) => t.status)).toEqual(["PENDING"]);
    expect(calls.filter((c) => c.approved)).toEqual([]);
    clock = NOW;
    expect(await server.approve("p", built.transactionId)).toMatchObject({ status: "ISSUED" });
  });
});
