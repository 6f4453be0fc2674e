/**
 * RFC 5280 §4.1.1.2: a Certificate's signatureAlgorithm "MUST contain the same algorithm identifier as the signature
 * field in the sequence tbsCertificate". The outer field is not signed, so a certificate whose two fields differ was
 * altered or mis-made; OpenSSL's X509_verify and Go's x509.ParseCertificate refuse it. Certificate.isIssuedBy, the one
 * place this SDK checks a certificate's signature, refuses it too: a renewal signed by such a certificate is FAILURE
 * badRequest renewal_not_chained, a profile's caChain holding one is ERR_INVALID_ARGUMENT, a GetCACert set whose CA
 * certificate is one does not match a client's pin (ERR_CA_PIN_MISMATCH), a CertRep signed under one does not come
 * from a signer chaining to a client's trusted root (ERR_CERTREP). A requester's throwaway self-signed
 * certificate, whose signature nothing checks, is still read and answered.
 *
 * The certificates are OpenSSL's (`openssl req -x509`, `openssl x509 -req`); each altered one re-encodes a real one:
 * either its outer signatureAlgorithm written without the NULL parameters (the signature untouched, so it still
 * verifies under either field), or its TBSCertificate's signature field set to sha384WithRSAEncryption and the
 * TBSCertificate signed again by the issuer's key with `openssl dgst -sha256` (so it verifies under the outer field).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  LocalKey,
  buildCertificate,
  buildPkcsReq,
  checkCaPin,
  compileCaPin,
  createScepServer,
  createSelfSignedSigner,
  endEntityExtensions,
  generateCsr,
  importKeyPairPem,
  readCertRep,
  type ScepServer,
} from "../src/index.js";
import * as der from "../src/lib/der.js";
import { openssl } from "./support/openssl.js";
import { eventLog, postPki, readReply } from "./support/server-pki.js";

let dir: string;
const run = async (...args: string[]): Promise<string> => (await openssl(args, dir)).stdout;
const pem = (name: string): string => readFileSync(join(dir, name), "utf8");

/** The certificate in `name` (PEM), as DER. */
const certificate = (name: string): Certificate => Certificate.from(pem(name));

const SHA256_RSA = "1.2.840.113549.1.1.11";
const SHA384_RSA = "1.2.840.113549.1.1.12";

/** `cert` with its outer signatureAlgorithm written without parameters (sha256WithRSAEncryption, no NULL); signature kept. */
function outerWithoutNull(cert: Certificate): Certificate {
  expect(hex(cert.signatureAlgorithmDer)).toBe(hex(der.encode(der.algId(SHA256_RSA, der.NULL))));
  const bits = der.tlv(der.Tag.BIT_STRING, new Uint8Array([0]), cert.signature);
  return new Certificate(der.encode(der.seq(cert.tbs, der.algId(SHA256_RSA), bits)));
}

/** `cert` with its TBSCertificate signature field sha384WithRSAEncryption, signed again by `issuerKey` with openssl (SHA-256). */
async function tbsFieldSha384(cert: Certificate, issuerKey: string, name: string): Promise<Certificate> {
  const fields = der.children(der.parse(cert.tbs));
  const at = fields[0]!.tag === 0xa0 ? 2 : 1; // version [0], serialNumber, signature
  const tbs = der.encode(der.seq(...fields.map((f, i) => (i === at ? der.algId(SHA384_RSA, der.NULL) : der.raw(f)))));
  writeFileSync(join(dir, `${name}.tbs`), tbs);
  await run("dgst", "-sha256", "-sign", issuerKey, "-out", `${name}.sig`, `${name}.tbs`);
  const signature = new Uint8Array(readFileSync(join(dir, `${name}.sig`)));
  return new Certificate(der.encode(der.seq(tbs, cert.signatureAlgorithmDer, der.tlv(der.Tag.BIT_STRING, new Uint8Array([0]), signature))));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** `openssl verify`'s verdict on `cert` against the root (and the issuing CA as untrusted intermediate when given). */
async function opensslVerify(cert: Certificate, name: string, intermediate?: Certificate): Promise<string> {
  writeFileSync(join(dir, `${name}.pem`), cert.toPem());
  const args = ["verify", "-CAfile", "root.pem"];
  if (intermediate) {
    writeFileSync(join(dir, `${name}-chain.pem`), intermediate.toPem());
    args.push("-untrusted", `${name}-chain.pem`);
  }
  return run(...args, `${name}.pem`).then(
    (out) => out.trim(),
    (e: Error) => /error \d+ at \d+ depth lookup: [^\n]*/.exec(e.message)?.[0] ?? e.message,
  );
}

let root: Certificate;
let issuing: Certificate;
let device: Certificate;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-core-sigalg-fields-"));
  const ca = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment"];
  await run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-subj", "/O=scep-sdk/CN=Fields Root CA", "-days", "3650", ...ca);
  await run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "issuing.key", "-out", "issuing.csr", "-subj", "/O=scep-sdk/CN=Fields Issuing CA");
  writeFileSync(join(dir, "ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment\n");
  await run("x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "2", "-days", "3650", "-extfile", "ca.ext", "-out", "issuing.pem");
  await run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "device.key", "-out", "device.csr", "-subj", "/CN=fields-device");
  writeFileSync(join(dir, "ee.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
  await run("x509", "-req", "-in", "device.csr", "-CA", "issuing.pem", "-CAkey", "issuing.key", "-set_serial", "3", "-days", "30", "-extfile", "ee.ext", "-out", "device.pem");
  [root, issuing, device] = [certificate("root.pem"), certificate("issuing.pem"), certificate("device.pem")];
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Certificate.isIssuedBy: the two signature algorithm fields must be the same octets (RFC 5280 §4.1.1.2)", () => {
  it("OpenSSL's certificates chain; each altered copy is still read, but is not issued by its CA, as openssl verify says", async () => {
    expect(device.isIssuedBy(issuing)).toBe(true);
    expect(issuing.isIssuedBy(root)).toBe(true);
    expect(await opensslVerify(device, "device", issuing)).toBe("device.pem: OK");

    const outer = outerWithoutNull(device);
    expect(outer.signatureAlgorithm).toEqual({ scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" }); // the signature still verifies under it
    expect(outer.subject).toBe("CN=fields-device");
    expect(outer.isIssuedBy(issuing)).toBe(false);
    expect(await opensslVerify(outer, "outer", issuing)).toBe("error 7 at 0 depth lookup: certificate signature failure");

    const inner = await tbsFieldSha384(device, "issuing.key", "inner");
    expect(inner.signatureAlgorithmOid).toBe(SHA256_RSA);
    expect(inner.isIssuedBy(issuing)).toBe(false);
    expect(await opensslVerify(inner, "inner", issuing)).toBe("error 7 at 0 depth lookup: certificate signature failure");
  });
});

describe("where a certificate's signature is checked, the altered certificate is refused with the typed answer of that place", () => {
  let server: ScepServer;
  let log: ReturnType<typeof eventLog>;
  let caKey: LocalKey;
  beforeAll(() => {
    caKey = LocalKey.fromPem(pem("issuing.pem"), pem("issuing.key"));
    log = eventLog();
    server = createScepServer({
      profiles: [
        {
          path: "/scep",
          caCertificate: caKey.certificate,
          signer: caKey,
          challenge: { type: "static", password: "fields-secret" },
          issue: async (ctx) => {
            const now = new Date();
            const certificate = await buildCertificate({
              issuer: caKey,
              subject: ctx.csr.subjectDer,
              publicKey: ctx.csr.spki,
              serialNumber: crypto.getRandomValues(new Uint8Array(16)),
              now,
              notAfter: new Date(now.getTime() + 86_400_000),
              extensions: endEntityExtensions({ csr: ctx.csr, issuer: caKey }),
            });
            return { status: "SUCCESS", certificate: certificate.der };
          },
        },
      ],
      onEvent: log.onEvent,
    });
  });

  /** A RenewalReq (or PKCSReq) for a new key of the device, signed with the device's key under `signerCertificate`. */
  async function send(signerCertificate: Certificate, renewal: boolean, challengePassword?: string) {
    const signer = LocalKey.from(signerCertificate, pem("device.key"));
    const keys = await importKeyPairPem(pem("device.key"));
    const csr = await generateCsr({ keys, subject: "CN=fields-device", ...(challengePassword ? { challengePassword } : {}) });
    const built = await buildPkcsReq({ csr, signer, recipient: caKey.certificate, renewal });
    return readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [caKey.certificate] });
  }

  it("a RenewalReq signed by the device's certificate → SUCCESS; by either altered copy → FAILURE badRequest renewal_not_chained", async () => {
    expect((await send(device, true)).status).toBe("SUCCESS");
    expect(log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued" });
    for (const altered of [outerWithoutNull(device), await tbsFieldSha384(device, "issuing.key", "renewal")]) {
      const rep = await send(altered, true);
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the renewal is not signed by a certificate of this CA" });
      expect(log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "failure", reason: "renewal_not_chained", failInfo: "badRequest" });
    }
  });

  it("a PKCSReq signed by an altered copy is no renewal: its challenge authenticates it as a first enrollment", async () => {
    const rep = await send(outerWithoutNull(device), false, "fields-secret");
    expect(rep.status).toBe("SUCCESS");
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
    expect((await send(outerWithoutNull(device), false)).failInfo).toBe("badRequest");
  });

  it("a requester's self-signed certificate whose fields differ is still read and answered (its signature is never checked)", async () => {
    const keys = await importKeyPairPem(pem("device.key"));
    const selfSigned = (await createSelfSignedSigner({ keys, subject: "CN=fields-device" })).certificate;
    const altered = outerWithoutNull(selfSigned);
    const signer = LocalKey.from(altered, pem("device.key"));
    const csr = await generateCsr({ keys, subject: "CN=fields-device", challengePassword: "fields-secret" });
    const built = await buildPkcsReq({ csr, signer, recipient: caKey.certificate });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [caKey.certificate] });
    expect(rep.status).toBe("SUCCESS");
  });

  it("a profile whose caChain holds an altered issuing CA → ERR_INVALID_ARGUMENT naming RFC 5280 §4.1.1.2", async () => {
    const altered = await tbsFieldSha384(issuing, "root.key", "chain");
    const key = LocalKey.from(altered, pem("issuing.key"));
    expect(() => createScepServer({ profiles: [{ path: "/scep", caCertificate: altered, caChain: [altered, root], signer: key, challenge: { type: "static", password: "x" }, issue: async () => ({ status: "PENDING" }) }] })).toThrow(
      expect.objectContaining({
        code: "ERR_INVALID_ARGUMENT",
        message:
          "profile /scep: caChain[0] (O=scep-sdk, CN=Fields Issuing CA) is not issued by caChain[1] (O=scep-sdk, CN=Fields Root CA): its TBSCertificate signature field is not its signatureAlgorithm (RFC 5280 §4.1.1.2)",
      }),
    );
    expect(() => createScepServer({ profiles: [{ path: "/scep", caCertificate: issuing, caChain: [issuing, root], signer: caKey, challenge: { type: "static", password: "x" }, issue: async () => ({ status: "PENDING" }) }] })).not.toThrow();
  });

  it("a CertRep signed under an altered copy of the issuing CA is not from a signer chaining to a client's trusted root → ERR_CERTREP", async () => {
    const altered = await tbsFieldSha384(issuing, "root.key", "certrep");
    const alteredKey = LocalKey.from(altered, pem("issuing.key"));
    const keys = await importKeyPairPem(pem("device.key"));
    const requester = await createSelfSignedSigner({ keys, subject: "CN=fields-device" });
    const pending = createScepServer({
      profiles: [{ path: "/scep", caCertificate: altered, signer: alteredKey, challenge: { type: "static", password: "p" }, issue: async () => ({ status: "PENDING" }) }],
    });
    const original = createScepServer({
      profiles: [{ path: "/scep", caCertificate: issuing, signer: caKey, challenge: { type: "static", password: "p" }, issue: async () => ({ status: "PENDING" }) }],
    });
    const reply = async (server: ScepServer, recipient: Certificate) => {
      const built = await buildPkcsReq({ csr: await generateCsr({ keys, subject: "CN=fields-device", challengePassword: "p" }), signer: requester, recipient });
      const res = await postPki(server, "/scep", built.der);
      return readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: requester, trustedSigners: [root] });
    };
    expect((await reply(original, issuing)).status).toBe("PENDING");
    await expect(reply(pending, altered)).rejects.toMatchObject({
      code: "ERR_CERTREP",
      message: "the CertRep is signed by O=scep-sdk, CN=Fields Issuing CA, which does not chain to the pinned CA",
    });
  });

  it("a GetCACert set whose issuing CA is an altered copy does not chain to a client's trusted root → ERR_CA_PIN_MISMATCH", async () => {
    const pin = compileCaPin({ trustedCaCertificates: [root] })!;
    expect(checkCaPin([issuing, root], pin).map((c) => c.subject)).toEqual(["O=scep-sdk, CN=Fields Issuing CA", "O=scep-sdk, CN=Fields Root CA"]);
    const altered = await tbsFieldSha384(issuing, "root.key", "pin");
    expect(() => checkCaPin([altered], pin)).toThrow(expect.objectContaining({ code: "ERR_CA_PIN_MISMATCH" }));
  });
});
