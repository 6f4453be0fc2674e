/**
 * LIVE: our ScepClient (@scep/core) enrolls with Smallstep step-ca 0.19, the
 * real CA built from Debian's Go sources (test-support/peers/step-ca.ts says
 * what step-ca does and how it is built). A recording proxy in front shows
 * the wire; OpenSSL reads the CertReps; every issued certificate is checked
 * with `openssl verify` against step-ca's root through its intermediate.
 *
 * Where step-ca 0.19 differs from micromdm's scepserver (both advertise
 * Renewal SHA-1 SHA-256 AES DES3 SCEPStandard POSTPKIOperation):
 * - it is an intermediate under a root: GetCACert sends the intermediate alone
 *   (or with the root, `includeRoot`), whose keyUsage (as `step ca init` makes
 *   it) has neither digitalSignature nor keyEncipherment, yet it signs and decrypts;
 * - its CertRep content cipher is its provisioner's setting, not the
 *   request's: DES-CBC by default, AES-128/256-CBC or AES-GCM on request;
 *   its SignerInfo digest is SHA-1 whatever the request used;
 * - its FAILURE carries failInfoText under the arc id-scep (1.3.6.1.5.5.7.24)
 *   instead of id-scep-failInfoText (1.3.6.1.5.5.7.24.1); @scep/core reads it there too;
 * - a GET PKIOperation is HTTP 500: it decodes `message` as base64url (RFC 8894
 *   §4.3 says base64), and even decoded it answers an empty 200;
 * - it needs the challenge on a RenewalReq too;
 * - it serves SCEP on HTTPS as well as on plain HTTP (`insecureAddress`).
 */
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, LocalKey, MessageType, ScepClient, TransportError, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type CertRep, type ContentCipher } from "@scep/core";
import { opensslVerifyChain, randomChallenge, startRecordingProxy, startStepCa, type RecordingProxy, type StepCa } from "../../../test-support/peers";
import { fetchTrusting } from "./support/https-fetch";
import { csrFacts, csrOf, readExchange } from "./support/wire";

const operations = (proxy: RecordingProxy): string[] =>
  proxy.exchanges.map((e) => `${e.method} ${new URL(e.path, "http://x").searchParams.get("operation")} ${e.status}`);

/** A fresh key, its self-signed signer and a CSR for `cn`. */
async function device(cn: string, challengePassword: string | undefined, keySize?: number) {
  const keys = await generateRsaKeyPair(keySize);
  const signer = await createSelfSignedSigner({ keys, subject: `CN=${cn}` });
  const csr = await generateCsr({ keys, subject: `CN=${cn}, O=scep-sdk interop`, ...(challengePassword === undefined ? {} : { challengePassword }) });
  return { keys, signer, csr };
}

/** The issued certificate verifies against the root through the intermediate, and names `cn`. */
async function expectChainsToRoot(rep: CertRep, ca: StepCa, cn: string): Promise<X509Certificate> {
  expect(rep.status).toBe("SUCCESS");
  const pem = rep.certificate!.toPem();
  expect(await opensslVerifyChain(pem, ca.rootPem, { untrustedPem: ca.intermediatePem })).toMatch(/: OK\s*$/);
  const cert = new X509Certificate(pem);
  expect(cert.subject).toContain(`CN=${cn}`);
  expect(cert.issuer).toBe("O=scep-sdk interop\nCN=step-ca Interop Intermediate CA");
  return cert;
}

describe("step-ca 0.19 (default SCEP provisioner, static challenge) over plain HTTP (insecureAddress, RFC 8894 §4.1)", () => {
  let ca: StepCa;
  let proxy: RecordingProxy;
  let client: ScepClient;
  const challenge = randomChallenge();

  // The first step-ca start of a run builds it from source (about a minute, more on a busy machine).
  beforeAll(async () => {
    ca = await startStepCa({ challenge });
    proxy = await startRecordingProxy(ca.url);
    client = new ScepClient({ url: proxy.url });
  }, 600_000);
  afterAll(async () => {
    await proxy?.stop();
    await ca?.stop();
  });

  it("RFC 8894 §3.5.2 GetCACaps: step-ca's default list, CRLF-separated text/plain", async () => {
    proxy.exchanges.length = 0;
    const caps = await client.getCaCaps();
    expect(caps.list).toEqual(["Renewal", "SHA-1", "SHA-256", "AES", "DES3", "SCEPStandard", "POSTPKIOperation"]);
    const [e] = proxy.exchanges;
    expect(Buffer.from(e!.responseBody).toString()).toBe("Renewal\r\nSHA-1\r\nSHA-256\r\nAES\r\nDES3\r\nSCEPStandard\r\nPOSTPKIOperation");
    expect(e!.responseHeaders["content-type"]).toBe("text/plain");
  });

  it("RFC 8894 §4.2.1.1 GetCACert: the intermediate alone, DER application/x-x509-ca-cert (no root)", async () => {
    proxy.exchanges.length = 0;
    const certs = await client.getCaCert();
    expect(certs.map((c) => c.toPem())).toEqual([new Certificate(new X509Certificate(ca.intermediatePem).raw).toPem()]);
    expect(proxy.exchanges[0]!.responseHeaders["content-type"]).toBe("application/x-x509-ca-cert");
  });

  it("RFC 8894 §3.3.1 PKCSReq with the right challenge: POSTed (AES-128 + SHA-256 from its caps), SUCCESS, DES-CBC + SHA-1 back, chaining to step-ca's root", async () => {
    const cn = "step-ca-enroll";
    const { signer, csr, keys } = await device(cn, challenge);
    proxy.exchanges.length = 0;
    const rep = await client.enroll({ csr, signer });
    expect(operations(proxy)).toEqual(["GET GetCACaps 200", "GET GetCACert 200", "POST PKIOperation 200"]);
    const wire = await readExchange(proxy.byOperation("PKIOperation")[0]!);
    expect(wire.request).toMatchObject({ messageType: 19, digest: "sha256", cipher: "aes-128-cbc" });
    // step-ca answers with its provisioner's cipher (default DES-CBC) and mozilla/pkcs7's SHA-1, whatever was asked.
    expect(wire.reply).toMatchObject({ messageType: 3, pkiStatus: 0, transactionId: wire.request.transactionId, digest: "sha1", signatureAlgorithm: "sha1WithRSAEncryption", cipher: "des-cbc" });
    expect(wire.replyContentType).toBe("application/x-pki-message");
    expect(rep).toMatchObject({ status: "SUCCESS", contentCipher: "des", digestAlgorithm: "sha1" });
    // Its senderNonce is the request's own senderNonce again (RFC 8894 §3.2.1.5 wants a fresh one), as is its recipientNonce.
    expect(Buffer.from(rep.senderNonce).equals(Buffer.from(rep.request.senderNonce))).toBe(true);
    expect(Buffer.from(rep.recipientNonce!).equals(Buffer.from(rep.request.senderNonce))).toBe(true);
    expect((await csrFacts(await csrOf(wire.request, ca.intermediateKeyPem))).hasChallengePassword).toBe(true);
    const cert = await expectChainsToRoot(rep, ca, cn);
    expect(cert.publicKey.export({ type: "spki", format: "der" }).equals(Buffer.from(await crypto.subtle.exportKey("spki", keys.publicKey)))).toBe(true);
    // step-ca's default: 24 hours, and the CN as a DNS SAN (it puts the CN in the SANs when the CSR has none).
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(24 * 3600_000 + 60_000);
    expect(cert.subjectAltName).toBe(`DNS:${cn}`);
  });

  it("RFC 8894 §3.3.2 PKCSReq with a wrong challenge: FAILURE badRequest; §3.2.1.4.5 its failInfoText, sent under id-scep (1.3.6.1.5.5.7.24), is read", async () => {
    const { signer, csr } = await device("step-ca-wrong", `${challenge}-wrong`);
    proxy.exchanges.length = 0;
    const rep = await client.enroll({ csr, signer });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(rep.failInfoText).toBe("wrong password provided");
    expect(rep.certificate).toBeUndefined();
    const wire = await readExchange(proxy.byOperation("PKIOperation")[0]!);
    expect(wire.reply).toMatchObject({ messageType: 3, pkiStatus: 2, failInfo: 2, transactionId: wire.request.transactionId });
    expect(wire.reply.envelope.length).toBe(0);
    expect(ca.requests().at(-1)).toMatchObject({ status: 200, error: "wrong password provided" });
  });

  it("RFC 8894 §3.5.2 content ciphers: DES, 3DES, AES-128 and AES-256 are decrypted; AES-192 is HTTP 500, no CertRep", async () => {
    for (const cipher of ["des", "des3", "aes128", "aes256"] as const satisfies readonly ContentCipher[]) {
      const { signer, csr } = await device(`step-ca-${cipher}`, challenge);
      const rep = await client.enroll({ csr, signer, cipher });
      expect(rep.status, cipher).toBe("SUCCESS");
      expect(rep.contentCipher).toBe("des");
      await expectChainsToRoot(rep, ca, `step-ca-${cipher}`);
    }
    const { signer, csr } = await device("step-ca-aes192", challenge);
    const error = await client.enroll({ csr, signer, cipher: "aes192" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", status: 500, operation: "PKIOperation" });
    expect((error as Error).message).toMatch(/^PKIOperation: HTTP 500 \(scep post request failed: error decrypting encrypted pkcs7 content: /);
  });

  it("RFC 8894 §3.5.2 digests: SHA-1 and SHA-512 requests are taken as SHA-256 ones", async () => {
    for (const digest of ["sha1", "sha512"] as const) {
      const { signer, csr } = await device(`step-ca-${digest}`, challenge);
      const rep = await client.enroll({ csr, signer, digest });
      expect(rep.status, digest).toBe("SUCCESS");
    }
  });

  it("RFC 8894 §4.3 PKIOperation by GET: HTTP 500 (step-ca 0.19 reads the message as base64url and has no GET PKIOperation)", async () => {
    const { signer, csr } = await device("step-ca-get", challenge);
    proxy.exchanges.length = 0;
    const error = await client.enroll({ csr, signer, post: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", status: 500 });
    expect((error as Error).message).toMatch(/^PKIOperation: HTTP 500 \(invalid scep get request: illegal base64 data at input byte \d+\)$/);
    expect(operations(proxy)).toEqual(["GET GetCACaps 200", "GET GetCACert 200", "GET PKIOperation 500"]);
  });

  it("RFC 8894 §3.3.1.2 RenewalReq signed by the issued certificate: SUCCESS with the challenge, FAILURE badRequest without it", async () => {
    const cn = "step-ca-renew";
    const first = await device(cn, challenge);
    const issued = await client.enroll({ csr: first.csr, signer: first.signer });
    const old = issued.certificate!;
    const renewSigner = LocalKey.from(old, first.keys.privateKey);
    const withChallenge = await client.enroll({ csr: first.csr, signer: renewSigner, renewal: true });
    expect(withChallenge.request.messageType).toBe(MessageType.RenewalReq);
    const renewed = await expectChainsToRoot(withChallenge, ca, cn);
    expect(renewed.serialNumber).not.toBe(new X509Certificate(old.toPem()).serialNumber);

    const bare = await generateCsr({ keys: first.keys, subject: `CN=${cn}, O=scep-sdk interop` });
    const without = await client.enroll({ csr: bare, signer: renewSigner, renewal: true });
    expect(without).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
  });

  it("minimumPublicKeyLength (2048 by default): a 1024-bit key is FAILURE badRequest", async () => {
    const { signer, csr } = await device("step-ca-small-key", challenge, 1024);
    const rep = await client.enroll({ csr, signer });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(String(ca.requests().at(-1)?.["error"])).toMatch(/^error when signing new certificate: .*2048/);
  });
});

describe("step-ca 0.19 with includeRoot and an AES CertRep cipher", () => {
  it.each([
    [1, "aes128"],
    [2, "aes256"],
  ] as const)("RFC 8894 §4.2.1.2 GetCACert [intermediate, root] as application/x-x509-ca-ra-cert; encryptionAlgorithmIdentifier %i: CertRep in %s", async (id, cipher) => {
    const challenge = randomChallenge();
    const ca = await startStepCa({ challenge, includeRoot: true, encryptionAlgorithmIdentifier: id });
    try {
      const proxy = await startRecordingProxy(ca.url);
      try {
        const client = new ScepClient({ url: proxy.url, caFingerprints: [`sha256:${new X509Certificate(ca.rootPem).fingerprint256.replaceAll(":", "").toLowerCase()}`] });
        const certs = await client.getCaCert();
        expect(certs.map((c) => c.subject)).toEqual(["O=scep-sdk interop, CN=step-ca Interop Intermediate CA", "O=scep-sdk interop, CN=step-ca Interop Root CA"]);
        expect(proxy.exchanges[0]!.responseHeaders["content-type"]).toBe("application/x-x509-ca-ra-cert");
        const { signer, csr } = await device(`step-ca-root-${cipher}`, challenge);
        const rep = await client.enroll({ csr, signer });
        expect(rep.contentCipher).toBe(cipher);
        await expectChainsToRoot(rep, ca, `step-ca-root-${cipher}`);
      } finally {
        await proxy.stop();
      }
    } finally {
      await ca.stop();
    }
  });

  it("encryptionAlgorithmIdentifier 3 (AES-128-GCM in an EnvelopedData, RFC 5084 calls for AuthEnvelopedData): the CertRep cannot be opened, a typed error", async () => {
    const challenge = randomChallenge();
    const ca = await startStepCa({ challenge, encryptionAlgorithmIdentifier: 3 });
    try {
      const { signer, csr } = await device("step-ca-gcm", challenge);
      const error = await new ScepClient({ url: ca.url }).enroll({ csr, signer }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "ERR_UNSUPPORTED_ALGORITHM", message: "unsupported content encryption algorithm AES-128-GCM (2.16.840.1.101.3.4.1.6): SCEP takes DES, 3DES or AES in CBC mode (RFC 8894 §3.5.2)" });
    } finally {
      await ca.stop();
    }
  });
});

describe("step-ca 0.19 over HTTPS (its `address`; TLS certificate from its intermediate)", () => {
  it("RFC 8894 §4.1 enrolls with a fetch that trusts step-ca's root; the global fetch refuses the private root (ERR_TRANSPORT)", async () => {
    const challenge = randomChallenge();
    const ca = await startStepCa({ challenge });
    try {
      const { signer, csr } = await device("step-ca-https", challenge);
      const rep = await new ScepClient({ url: ca.httpsUrl, fetch: fetchTrusting(ca.rootPem) }).enroll({ csr, signer });
      await expectChainsToRoot(rep, ca, "step-ca-https");
      const refused = await new ScepClient({ url: ca.httpsUrl }).getCaCaps().catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "ERR_TRANSPORT" });
      expect(ca.requests().filter((r) => r["protocol"] === "HTTP/1.1" && String(r["path"]).includes("PKIOperation"))).toHaveLength(1);
    } finally {
      await ca.stop();
    }
  });
});
