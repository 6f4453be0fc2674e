/**
 * OpenSSL (the `openssl` CLI) as referee, both ways:
 * - it verifies the CertReps we build (SUCCESS, FAILURE, PENDING), opens our
 *   SUCCESS envelopes with the requester's key and reads the issued
 *   certificate out of the inner degenerate PKCS#7; it opens the envelopes of
 *   the requests our client builds;
 * - we read what `openssl cms -encrypt` and `openssl cms -sign` build.
 *
 * OpenSSL's `cms -sign` cannot add SCEP's own signed attributes (messageType,
 * transactionID, nonces), so an OpenSSL-signed message is checked with
 * `parseSignedData` + `verifySignerInfo`; OpenSSL-built envelopes are opened
 * with `parseEnvelopedData` + `openEnvelope`, and also decoded as whole
 * PKIMessages after we wrap them in a SCEP SignedData.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  LocalKey,
  buildCertRep,
  buildPkcsReq,
  decodePkiMessage,
  readCertRep,
  type ContentCipher,
  type DigestAlgorithm,
  type FailInfo,
  type KeyTransport,
  type PkiRequest,
  type ScepError,
} from "../src/index.js";
import { buildSignedData, findSigner, parseSignedData, signerAlgorithms, verifySignerInfo } from "../src/cms/signed-data.js";
import { openEnvelope, parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import { MessageType } from "../src/message/types.js";
import { toHex } from "../src/lib/bytes.js";
import { openssl } from "./support/openssl.js";

const LEGACY = ["-provider", "legacy", "-provider", "default"];
const CIPHERS: readonly ContentCipher[] = ["des", "des3", "aes128", "aes192", "aes256"];
const OPENSSL_CIPHER: Record<ContentCipher, string> = { des: "-des", des3: "-des3", aes128: "-aes128", aes192: "-aes192", aes256: "-aes256" };
const NOW = new Date("2026-01-15T12:00:00Z");

let dir: string;
const path = (name: string): string => join(dir, name);
const write = (name: string, data: string | Uint8Array): string => (writeFileSync(path(name), data), name);
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(path(name)));
const run = (...args: string[]): ReturnType<typeof openssl> => openssl(args, dir);

let ca: LocalKey;
let client: LocalKey;
let ecClient: LocalKey;
let csrDer: Uint8Array;
let seq = 0;
const fresh = (stem: string): string => `${stem}-${++seq}`;

const CSR_CONFIG = `[req]
distinguished_name = dn
attributes = attrs
prompt = no
req_extensions = ext
[dn]
CN = openssl-client
O = scep-sdk tests
[attrs]
challengePassword = secret
[ext]
subjectAltName = DNS:client.example.test
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-core-interop-openssl-"));
  await run(
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
    "-subj", "/O=scep-sdk tests/CN=OpenSSL SCEP CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment",
    "-addext", "subjectKeyIdentifier=hash",
  );
  await run(
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.pem", "-days", "30",
    "-subj", "/CN=openssl-client/O=scep-sdk tests",
    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
  );
  await run(
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-out", "ec.pem", "-days", "30",
    "-subj", "/CN=openssl-ec-client",
  );
  write("csr.cnf", CSR_CONFIG);
  await run("req", "-new", "-key", "client.key", "-config", "csr.cnf", "-outform", "DER", "-out", "csr.der");
  const text = (n: string): string => readFileSync(path(n), "utf8");
  ca = LocalKey.fromPem(text("ca.pem"), text("ca.key"));
  client = LocalKey.fromPem(text("client.pem"), text("client.key"));
  ecClient = LocalKey.fromPem(text("ec.pem"), text("ec.key"));
  csrDer = read("csr.der");
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function clientRequest(cipher: ContentCipher, digest: DigestAlgorithm = "sha256", keyTransport: KeyTransport = "rsaes-pkcs1-v1_5"): Promise<{ der: Uint8Array; req: PkiRequest; built: Awaited<ReturnType<typeof buildPkcsReq>> }> {
  const built = await buildPkcsReq({ csr: csrDer, signer: client, recipient: ca.certificate, cipher, digest, keyTransport, now: NOW });
  return { der: built.der, req: await decodePkiMessage(built.der, { decrypters: ca }), built };
}

/** OpenSSL as the issuer: `openssl x509 -req` over the CSR. */
async function issueWithOpenssl(serial: string): Promise<Certificate> {
  const out = fresh("issued") + ".pem";
  await run("x509", "-req", "-inform", "DER", "-in", "csr.der", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", `0x${serial}`, "-days", "30", "-out", out);
  return Certificate.fromPem(readFileSync(path(out), "utf8"))[0]!;
}

describe("OpenSSL verifies and opens the CertReps we build", () => {
  it.each(CIPHERS)("SUCCESS over a %s request: cms -verify, cms -decrypt, pkcs7 -print_certs", async (cipher) => {
    const { req, built } = await clientRequest(cipher);
    expect(req.csr!.subject).toBe("CN=openssl-client, O=scep-sdk tests");
    expect(req.csr!.challengePassword).toBe("secret");
    expect(req.csr!.subjectAltNames.dns).toEqual(["client.example.test"]);
    const issued = await issueWithOpenssl("5ce9" + CIPHERS.indexOf(cipher));
    const reply = await buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued], now: NOW });
    // Our own reader agrees first.
    const rep = await readCertRep(reply, { decrypter: client, request: built });
    expect(rep.contentCipher).toBe(cipher);
    expect(rep.certificates[0]!.serialNumberHex).toBe(issued.serialNumberHex);

    const f = fresh("rep");
    write(`${f}.der`, reply);
    const verified = await run("cms", "-verify", "-inform", "DER", "-binary", "-CAfile", "ca.pem", "-in", `${f}.der`, "-out", `${f}.env`);
    expect(verified.stderr).toContain("Verification successful");
    // The verified content is the pkcsPKIEnvelope.
    expect(toHex(read(`${f}.env`))).toBe(toHex(parseSignedData(reply).content!));
    await run("cms", "-decrypt", "-inform", "DER", "-binary", "-in", `${f}.env`, "-inkey", "client.key", "-recip", "client.pem", "-out", `${f}.p7b`, ...LEGACY);
    const certs = await run("pkcs7", "-inform", "DER", "-in", `${f}.p7b`, "-print_certs");
    expect(certs.stdout).toContain("subject=CN = openssl-client, O = scep-sdk tests");
    expect(certs.stdout).toContain("issuer=O = scep-sdk tests, CN = OpenSSL SCEP CA");
    expect(Certificate.fromPem(certs.stdout).map((c) => toHex(c.der))).toEqual([toHex(issued.der)]);
    // And OpenSSL names the same content cipher.
    const printed = await run("cms", "-cmsout", "-print", "-noout", "-inform", "DER", "-in", `${f}.env`);
    const cipherName = { des: "des-cbc", des3: "des-ede3-cbc", aes128: "aes-128-cbc", aes192: "aes-192-cbc", aes256: "aes-256-cbc" }[cipher];
    expect(printed.stdout).toContain(`algorithm: ${cipherName}`);
  });

  it("SUCCESS with RSAES-OAEP key transport opens too", async () => {
    const { req } = await clientRequest("aes128");
    const issued = await issueWithOpenssl("0aef");
    const reply = await buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued], keyTransport: "rsaes-oaep", now: NOW });
    const f = fresh("oaep");
    write(`${f}.der`, reply);
    await run("cms", "-verify", "-inform", "DER", "-binary", "-CAfile", "ca.pem", "-in", `${f}.der`, "-out", `${f}.env`);
    const printed = await run("cms", "-cmsout", "-print", "-noout", "-inform", "DER", "-in", `${f}.env`);
    expect(printed.stdout).toContain("algorithm: rsaesOaep");
    await run("cms", "-decrypt", "-inform", "DER", "-binary", "-in", `${f}.env`, "-inkey", "client.key", "-out", `${f}.p7b`);
    const certs = await run("pkcs7", "-inform", "DER", "-in", `${f}.p7b`, "-print_certs");
    expect(Certificate.fromPem(certs.stdout)[0]!.serialNumberHex).toBe("0aef");
  });

  const notSuccess: Array<["FAILURE" | "PENDING", FailInfo | undefined]> = [
    ["FAILURE", "badAlg"],
    ["FAILURE", "badMessageCheck"],
    ["FAILURE", "badRequest"],
    ["FAILURE", "badTime"],
    ["FAILURE", "badCertId"],
    ["PENDING", undefined],
  ];

  it.each(notSuccess)("%s (%s) verifies without -content: the signature covers an empty eContent", async (status, failInfo) => {
    const { req } = await clientRequest("des3", "sha1");
    const reply = await buildCertRep({ request: req, signer: ca, status, ...(failInfo ? { failInfo, failInfoText: `refused: ${failInfo}` } : {}), now: NOW });
    const f = fresh("nocontent");
    write(`${f}.der`, reply);
    // RFC 8894 §3.3.2: FAILURE and PENDING carry no pkcsPKIEnvelope. We send an
    // empty eContent (as micromdm does) rather than none: OpenSSL's PKCS7_verify,
    // which certmonger uses, refuses a SignedData without content ("no content").
    const verified = await run("cms", "-verify", "-inform", "DER", "-binary", "-CAfile", "ca.pem", "-in", `${f}.der`, "-out", `${f}.out`);
    expect(verified.stderr).toContain("Verification successful");
    expect(read(`${f}.out`)).toHaveLength(0);
    const printed = (await run("cms", "-cmsout", "-print", "-noout", "-inform", "DER", "-in", `${f}.der`)).stdout;
    // OpenSSL sees the SCEP attributes we signed.
    expect(printed).toContain("2.16.840.1.113733.1.9.3"); // pkiStatus
    expect(printed).toContain(failInfo ? "2.16.840.1.113733.1.9.4" : "2.16.840.1.113733.1.9.6");
    // SignerInfo signature algorithm: rsaEncryption with NULL parameters.
    expect(printed).toMatch(/signatureAlgorithm: \n\s+algorithm: rsaEncryption \(1\.2\.840\.113549\.1\.1\.1\)\n\s+parameter: NULL/);
  });

  it.each(CIPHERS)("the %s envelope of a request our client builds opens with `openssl cms -decrypt` (PKCS#1 v1.5 and OAEP)", async (cipher) => {
    for (const keyTransport of ["rsaes-pkcs1-v1_5", "rsaes-oaep"] as const) {
      const { der } = await clientRequest(cipher, "sha512", keyTransport);
      const f = fresh("req");
      write(`${f}.der`, der);
      // A self-signed requester: trust it as its own root.
      await run("cms", "-verify", "-inform", "DER", "-binary", "-CAfile", "client.pem", "-in", `${f}.der`, "-out", `${f}.env`);
      await run("cms", "-decrypt", "-inform", "DER", "-binary", "-in", `${f}.env`, "-inkey", "ca.key", "-out", `${f}.csr`, ...LEGACY);
      expect(toHex(read(`${f}.csr`))).toBe(toHex(csrDer));
    }
  });
});

describe("we read what OpenSSL builds", () => {
  const cases = CIPHERS.flatMap((cipher) =>
    [
      { transport: "rsaes-pkcs1-v1_5" as const, keyopt: [] as string[], oaepHash: undefined },
      { transport: "rsaes-oaep" as const, keyopt: ["-keyopt", "rsa_padding_mode:oaep"], oaepHash: "sha1" },
      { transport: "rsaes-oaep" as const, keyopt: ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"], oaepHash: "sha256" },
    ].map((t) => ({ cipher, ...t, name: `${cipher} / ${t.transport}${t.oaepHash ? ` (${t.oaepHash})` : ""}` })),
  );

  it.each(cases)("`openssl cms -encrypt` EnvelopedData, $name: parseEnvelopedData + openEnvelope, and inside a PKIMessage", async (c) => {
    const f = fresh("enc");
    await run("cms", "-encrypt", "-binary", "-outform", "DER", "-in", "csr.der", "-out", `${f}.env`, OPENSSL_CIPHER[c.cipher], ...LEGACY, "-recip", "ca.pem", ...c.keyopt);
    const envDer = read(`${f}.env`);
    const env = parseEnvelopedData(envDer);
    expect(env.cipher).toBe(c.cipher);
    expect(env.recipients).toHaveLength(1);
    expect(env.recipients[0]!.transport).toBe(c.transport);
    expect(env.recipients[0]!.oaepHash).toBe(c.oaepHash);
    const opened = await openEnvelope(env, [client, ca]);
    expect(opened.decrypter).toBe(ca);
    expect(toHex(opened.content)).toBe(toHex(csrDer));

    // The same envelope as the pkcsPKIEnvelope of a PKIMessage we sign.
    const message = await buildSignedData({
      content: envDer,
      certificates: [client.certificate.der],
      signer: client,
      digest: "sha256",
      attributes: encodeScepAttributes({ messageType: MessageType.PKCSReq, transactionId: `openssl-${f}`, senderNonce: new Uint8Array(16).fill(0x5a), signingTime: NOW }),
    });
    const req = await decodePkiMessage(message, { decrypters: ca });
    expect(req.transactionId).toBe(`openssl-${f}`);
    expect(req.contentCipher).toBe(c.cipher);
    expect(req.keyTransport).toBe(c.transport);
    expect(req.csr!.subject).toBe("CN=openssl-client, O=scep-sdk tests");
    expect(req.csr!.challengePassword).toBe("secret");
  });

  const signCases = [
    { name: "RSA PKCS#1 v1.5, SHA-1", key: "client", md: "sha1", keyopt: [] as string[], expected: { digest: "sha1", signature: { scheme: "rsa-pkcs1", digest: "sha1", rsaOid: "rsaEncryption" } } },
    { name: "RSA PKCS#1 v1.5, SHA-256", key: "client", md: "sha256", keyopt: [], expected: { digest: "sha256", signature: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "rsaEncryption" } } },
    { name: "RSA PKCS#1 v1.5, SHA-512", key: "client", md: "sha512", keyopt: [], expected: { digest: "sha512", signature: { scheme: "rsa-pkcs1", digest: "sha512", rsaOid: "rsaEncryption" } } },
    { name: "RSASSA-PSS, SHA-256", key: "client", md: "sha256", keyopt: ["-keyopt", "rsa_padding_mode:pss"], expected: { digest: "sha256", signature: { scheme: "rsa-pss", digest: "sha256", saltLength: 222 } } },
    { name: "ECDSA P-256, SHA-384", key: "ec", md: "sha384", keyopt: [], expected: { digest: "sha384", signature: { scheme: "ecdsa", digest: "sha384" } } },
  ];

  it.each(signCases)("`openssl cms -sign -nodetach -binary`, $name: parseSignedData + verifySignerInfo", async (c) => {
    const f = fresh("sign");
    await run("cms", "-encrypt", "-binary", "-outform", "DER", "-in", "csr.der", "-out", `${f}.env`, "-aes256", "-recip", "ca.pem");
    await run("cms", "-sign", "-nodetach", "-binary", "-outform", "DER", "-md", c.md, "-in", `${f}.env`, "-signer", `${c.key}.pem`, "-inkey", `${c.key}.key`, ...c.keyopt, "-out", `${f}.p7m`);
    const bytes = read(`${f}.p7m`);
    const sd = parseSignedData(bytes);
    expect(sd.contentType).toBe("1.2.840.113549.1.7.1");
    expect(toHex(sd.content!)).toBe(toHex(read(`${f}.env`)));
    expect(sd.signerInfos).toHaveLength(1);
    const si = sd.signerInfos[0]!;
    const signer = findSigner(si.sid, sd.certificates)!;
    expect(signer.subject).toBe(c.key === "ec" ? "CN=openssl-ec-client" : "CN=openssl-client, O=scep-sdk tests");
    const algs = signerAlgorithms(si);
    expect(algs).toEqual(c.expected);
    expect(() => verifySignerInfo(si, signer, sd.content!)).not.toThrow();
    // One flipped content byte: the messageDigest no longer matches.
    const content = sd.content!.slice();
    content[content.length - 1] = content[content.length - 1]! ^ 1;
    expect(() => verifySignerInfo(si, signer, content)).toThrow(expect.objectContaining({ code: "ERR_DIGEST_MISMATCH" }));
    // Without SCEP attributes it is not a PKIMessage.
    let err: ScepError | undefined;
    try {
      await decodePkiMessage(bytes, { decrypters: ca });
    } catch (e) {
      err = e as ScepError;
    }
    expect(err?.code).toBe("ERR_MESSAGE_MALFORMED");
    expect(err?.message).toBe("missing transactionID attribute (RFC 8894 §3.2.1.1): without one no CertRep can answer the request");
  });
});
