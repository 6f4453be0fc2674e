/**
 * Which certificates GetCACert serves (RFC 8894 §4.2, §2.2; issue 6 §1): by
 * role and chain position. Default: the signer certificate, every decrypter
 * certificate (no duplicates, compared by DER), then the CA chain. The NDES
 * layout (a signing RA with digitalSignature only and an encryption RA with
 * keyEncipherment only) works with the SDK's own ScepClient; renewals chain
 * through an intermediate CA; a profile whose decrypters hold no RSA key
 * refuses to start (RFC 8894 §3.2.2 key transport).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import {
  Certificate,
  LocalKey,
  ScepClient,
  buildPkcsReq,
  createScepServer,
  generateRsaKeyPair,
  parseGetCaCertResponse,
  type IssueContext,
  type ScepProfile,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, eventLog, getOp, hex, issuingHook, nextSerial, postPki, readReply, type TestCa } from "./support/server-pki.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const CHALLENGE = "set-secret";

/** A certificate for a new RSA key, issued by `issuer` with these key usages. */
async function issueKey(
  issuer: { keys: CryptoKeyPair; cert: Certificate },
  subject: string,
  usages: number,
  options: { ca?: boolean; keys?: CryptoKeyPair } = {},
): Promise<{ keys: CryptoKeyPair; key: LocalKey; cert: Certificate }> {
  const keys = options.keys ?? (await generateRsaKeyPair(2048));
  const made = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: SIG,
    extensions: [new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true), new x509.KeyUsagesExtension(usages, true)],
  });
  const cert = new Certificate(new Uint8Array(made.rawData));
  return { keys, key: LocalKey.from(cert, keys.privateKey), cert };
}

const KU = x509.KeyUsageFlags;
let root: TestCa;
/** The issuing CA, issued by `root`. */
let issuing: { keys: CryptoKeyPair; key: LocalKey; cert: Certificate };
/** NDES: signs CertReps, digitalSignature only. */
let signingRa: { key: LocalKey; cert: Certificate };
/** NDES: requests are encrypted to it, keyEncipherment only. */
let encryptionRa: { key: LocalKey; cert: Certificate };

beforeAll(async () => {
  root = await createTestCa("Set Root CA");
  issuing = await issueKey(root, "CN=Set Issuing CA, O=scep-sdk server tests", KU.keyCertSign | KU.cRLSign | KU.digitalSignature | KU.keyEncipherment, { ca: true });
  signingRa = await issueKey(issuing, "CN=NDES signing RA", KU.digitalSignature);
  encryptionRa = await issueKey(issuing, "CN=NDES encryption RA", KU.keyEncipherment);
});

/** Issues with the issuing CA (not the root). */
function issuingCaHook(calls: IssueContext[] = []): ScepProfile["issue"] {
  return async (ctx) => {
    calls.push(ctx);
    const csr = new x509.Pkcs10CertificateRequest(ctx.csr.der as Uint8Array<ArrayBuffer>);
    const made = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: csr.subject,
      issuer: issuing.cert.subject,
      notBefore: NOW,
      notAfter: ctx.notAfterMax,
      publicKey: csr.publicKey,
      signingKey: issuing.keys.privateKey,
      signingAlgorithm: SIG,
      extensions: [new x509.KeyUsagesExtension(KU.digitalSignature | KU.keyEncipherment, true)],
    });
    return { status: "SUCCESS", certificate: new Uint8Array(made.rawData) };
  };
}

function profile(extra: Partial<ScepProfile>): ScepProfile {
  return { path: "/scep", caCertificate: issuing.cert, signer: issuing.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingCaHook(), ...extra };
}

async function served(extra: Partial<ScepProfile>): Promise<{ subjects: string[]; contentType: string | null }> {
  const server = createScepServer({ profiles: [profile(extra)], now: () => NOW });
  const res = await getOp(server, "/scep", "GetCACert");
  expect(res.status).toBe(200);
  const certs = parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer()));
  return { subjects: certs.map((c) => c.subject), contentType: res.headers.get("content-type") };
}

describe("RFC 8894 §4.2: the default GetCACert set", () => {
  it("NDES layout: signing RA, encryption RA, then the issuing CA (degenerate PKCS#7)", async () => {
    expect(await served({ signer: signingRa.key, decrypters: [encryptionRa.key] })).toEqual({
      subjects: ["CN=NDES signing RA", "CN=NDES encryption RA", "CN=Set Issuing CA, O=scep-sdk server tests"],
      contentType: "application/x-x509-ca-ra-cert",
    });
  });

  it("with caChain: the RAs, the issuing CA, then the root", async () => {
    expect((await served({ signer: signingRa.key, decrypters: [encryptionRa.key], caChain: [issuing.cert, root.cert] })).subjects).toEqual([
      "CN=NDES signing RA",
      "CN=NDES encryption RA",
      "CN=Set Issuing CA, O=scep-sdk server tests",
      "CN=Set Root CA, O=scep-sdk server tests",
    ]);
  });

  it("no duplicates (compared by DER): a CA that signs and decrypts itself serves itself alone as application/x-x509-ca-cert", async () => {
    expect(await served({ decrypters: [issuing.key, issuing.key] })).toEqual({ subjects: ["CN=Set Issuing CA, O=scep-sdk server tests"], contentType: "application/x-x509-ca-cert" });
  });

  it("a CA signer with an RA decrypter: CA, RA, then the rest of the chain without repeating the CA", async () => {
    expect((await served({ decrypters: [encryptionRa.key], caChain: [issuing.cert, root.cert] })).subjects).toEqual([
      "CN=Set Issuing CA, O=scep-sdk server tests",
      "CN=NDES encryption RA",
      "CN=Set Root CA, O=scep-sdk server tests",
    ]);
  });
});

describe("the GetCACert set is a per-profile choice", () => {
  const base = () => ({ signer: signingRa.key, decrypters: [encryptionRa.key], caChain: [issuing.cert, root.cert] });
  it('"issuing-ca": the RAs and the issuing CA, without its parents', async () => {
    expect((await served({ ...base(), caCertificates: "issuing-ca" })).subjects).toEqual(["CN=NDES signing RA", "CN=NDES encryption RA", "CN=Set Issuing CA, O=scep-sdk server tests"]);
  });

  it('"ca-only": the issuing CA alone', async () => {
    expect(await served({ ...base(), caCertificates: "ca-only" })).toEqual({ subjects: ["CN=Set Issuing CA, O=scep-sdk server tests"], contentType: "application/x-x509-ca-cert" });
  });

  it("an explicit list, in its order", async () => {
    expect((await served({ ...base(), caCertificates: [root.cert.der, encryptionRa.cert] })).subjects).toEqual(["CN=Set Root CA, O=scep-sdk server tests", "CN=NDES encryption RA"]);
  });

  it("a wrong choice, an empty list or a broken caChain is refused at start with ERR_INVALID_ARGUMENT", () => {
    expect(() => createScepServer({ profiles: [profile({ caCertificates: "everything" as "default" })] })).toThrow('profile /scep: caCertificates must be "default", "issuing-ca", "ca-only" or a list of certificates, not "everything"');
    expect(() => createScepServer({ profiles: [profile({ caCertificates: [] })] })).toThrow("profile /scep: caCertificates is empty");
    expect(() => createScepServer({ profiles: [profile({ caChain: [root.cert] })] })).toThrow("profile /scep: caChain must start with the issuing CA (caCertificate)");
    expect(() => createScepServer({ profiles: [profile({ caChain: [issuing.cert, encryptionRa.cert] })] })).toThrow(
      "profile /scep: caChain[0] (CN=Set Issuing CA, O=scep-sdk server tests) is not issued by caChain[1] (CN=NDES encryption RA)",
    );
  });
});

describe("RFC 8894 §2.2: the SDK's own client against the NDES layout", () => {
  it("ScepClient enrolls: it encrypts to the encryption RA and verifies the signing RA's CertRep", async () => {
    const calls: IssueContext[] = [];
    const server = createScepServer({ profiles: [profile({ signer: signingRa.key, decrypters: [encryptionRa.key], caChain: [issuing.cert, root.cert], issue: issuingCaHook(calls) })] });
    const client = new ScepClient({ url: "http://scep.test/scep", fetch: ((input: RequestInfo | URL, init?: RequestInit) => server.fetch(new Request(input, init))) as typeof fetch });
    const device = await createDevice({ cn: "ndes-device", challengePassword: CHALLENGE });
    const rep = await client.enroll({ csr: device.csr, signer: device.signer });
    // SUCCESS proves the choice: the profile can decrypt only with the encryption RA's key.
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificates[0]!;
    expect([cert.subject, cert.issuer]).toEqual(["CN=ndes-device, O=scep-sdk server tests", "CN=Set Issuing CA, O=scep-sdk server tests"]);
    expect(cert.isIssuedBy(issuing.cert)).toBe(true);
    // The SUCCESS CertRep carries the chain to the root (caChain) after the certificate.
    expect(rep.certificates.slice(1).map((c) => c.subject)).toEqual(["CN=Set Issuing CA, O=scep-sdk server tests", "CN=Set Root CA, O=scep-sdk server tests"]);
    expect(calls.length).toBe(1);
  });
});

describe("RFC 8894 §3.3.1.2: renewal through an intermediate CA", () => {
  it("a RenewalReq signed by a certificate of the issuing CA (itself issued by the root) is a renewal", async () => {
    const calls: IssueContext[] = [];
    const log = eventLog();
    const server = createScepServer({ profiles: [profile({ caChain: [issuing.cert, root.cert], issue: issuingCaHook(calls) })], onEvent: log.onEvent, now: () => NOW });
    const device = await createDevice({ cn: "chained-device" });
    const old = await issueKey(issuing, "CN=chained-device, O=scep-sdk server tests", KU.digitalSignature | KU.keyEncipherment, { keys: device.keys });
    const built = await buildPkcsReq({ csr: await csrFor(device.keys, "chained-device"), signer: old.key, recipient: issuing.cert, renewal: true, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: old.key, caCertificates: [issuing.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(calls[0]).toMatchObject({ renewal: true });
    expect(hex(calls[0]!.renewalOf?.der)).toBe(hex(old.cert.der));
    expect(rep.certificates.map((c) => c.subject)).toEqual(["CN=chained-device, O=scep-sdk server tests", "CN=Set Issuing CA, O=scep-sdk server tests", "CN=Set Root CA, O=scep-sdk server tests"]);
    expect(log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued" });
  });

  it("a RenewalReq signed by a certificate the root issued directly is not chained to this profile's CA", async () => {
    const server = createScepServer({ profiles: [profile({ caChain: [issuing.cert, root.cert] })], now: () => NOW });
    const device = await createDevice({ cn: "root-device" });
    const old = LocalKey.from(await root.issue(device.csr), device.keys.privateKey);
    const built = await buildPkcsReq({ csr: device.csr, signer: old, recipient: issuing.cert, renewal: true, now: NOW });
    expect(await readReply(await postPki(server, "/scep", built.der), built)).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the renewal is not signed by a certificate of this CA" });
  });
});

describe("RFC 8894 §3.2.2: an EC CA needs an RSA decrypter (RA)", () => {
  let ecCa: { keys: CryptoKeyPair; key: LocalKey; cert: Certificate };
  beforeAll(async () => {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const made = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "0e",
      name: "CN=EC CA",
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 365 * DAY),
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(KU.keyCertSign | KU.digitalSignature, true)],
    });
    const cert = new Certificate(new Uint8Array(made.rawData));
    ecCa = { keys, key: LocalKey.from(cert, keys.privateKey), cert };
  });

  it("createScepServer throws ERR_INVALID_ARGUMENT with a one-line message", () => {
    let error: unknown;
    try {
      createScepServer({ profiles: [{ name: "ec", path: "/scep", caCertificate: ecCa.cert, signer: ecCa.key, challenge: { type: "static", password: "x" }, issue: issuingHook(root) }] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "profile ec: an RSA decrypter (RA) is needed: SCEP requests are encrypted with RSA key transport and this profile's decrypter keys are EC",
    });
  });

  it("with an RSA RA decrypter it starts and lists the RA after the CA", async () => {
    const ra = await issueKey({ keys: ecCa.keys, cert: ecCa.cert } as never, "CN=EC CA's RA", KU.keyEncipherment);
    const server = createScepServer({ profiles: [{ path: "/scep", caCertificate: ecCa.cert, signer: ecCa.key, decrypters: [ra.key], challenge: { type: "static", password: "x" }, issue: issuingHook(root) }] });
    const res = await getOp(server, "/scep", "GetCACert");
    expect(parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer())).map((c) => c.subject)).toEqual(["CN=EC CA", "CN=EC CA's RA"]);
  });
});
