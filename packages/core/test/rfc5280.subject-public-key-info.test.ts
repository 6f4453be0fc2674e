/**
 * RFC 5280 §4.1.2.7 / §4.1 (DER): a CSR whose SubjectPublicKeyInfo holds its key in a constructed (BER) BIT STRING
 * still verifies (Node's OpenSSL reads BER), but copied into a certificate it makes one OpenSSL and Go cannot parse.
 * The server refuses it with FAILURE badRequest from the CSR policy, before the issue hook; buildCertificate refuses
 * it with ERR_INVALID_ARGUMENT. Found by the CSR fuzzer (a byte mutation turned the tag 0x03 into 0x23).
 */
import * as crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { buildCertificate, buildPkcsReq, createScepServer, createSelfSignedSigner, importKeyPairPem, type IssueContext, type ScepServer } from "../src/index.js";
import { NOW, createTestCa, issuingHook, postPki, readReply, type TestCa } from "./support/server-pki.js";
import { signedWithRsaSha256 } from "./support/hand-built.js";

const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
/** The same SubjectPublicKeyInfo with its BIT STRING's tag made constructed (0x03 → 0x23), contents unchanged. */
const berSpki = (() => {
  const [alg, bits] = der.children(der.parse(spki));
  return der.encode(der.seq(der.raw(alg), Uint8Array.from([0x23, ...der.raw(bits!).subarray(1)])));
})();

/** A CSR (CN=ber-key, challengePassword pw) around `key`, signed with the RSA key. */
function csrWith(key: Uint8Array): Uint8Array {
  const challenge = der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([der.utf8("pw")]));
  const info = der.encode(der.seq(der.int(0), der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8("ber-key"))])), key, der.ctx(0, challenge)));
  return signedWithRsaSha256(info, privateKey);
}

describe("RFC 5280 §4.1.2.7: a public key in a constructed BIT STRING is not certified", () => {
  let ca: TestCa;
  let server: ScepServer;
  const calls: IssueContext[] = [];
  beforeAll(async () => {
    ca = await createTestCa("SPKI CA");
    server = createScepServer({
      profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca, calls) }],
      now: () => NOW,
    });
  });

  it("through the server: FAILURE badRequest naming it, the issue hook not called", async () => {
    const keys = await importKeyPairPem(privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    const signer = await createSelfSignedSigner({ keys, subject: "CN=ber-key", now: NOW });
    const built = await buildPkcsReq({ csr: csrWith(berSpki), signer, recipient: ca.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer });
    expect(rep).toMatchObject({
      status: "FAILURE",
      failInfo: "badRequest",
      failInfoText: "the public key cannot be certified (RFC 5280 §4.1.2.7): the public key is not a SubjectPublicKeyInfo: the public key subjectPublicKey: expected a primitive BIT STRING (tag 0x3), got 0x23",
    });
    expect(calls).toEqual([]);
    // The same request with the DER key is issued.
    const good = await buildPkcsReq({ csr: csrWith(spki), signer, recipient: ca.cert, now: NOW });
    expect((await readReply(await postPki(server, "/scep", good.der), good, { decrypter: signer })).status).toBe("SUCCESS");
  });

  it("buildCertificate: ERR_INVALID_ARGUMENT", async () => {
    const subject = der.encode(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8("ber-key"))])));
    await expect(buildCertificate({ issuer: ca.key, subject, publicKey: berSpki, serialNumber: Uint8Array.of(1), notAfter: new Date(NOW.getTime() + 86_400_000) })).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "publicKey is not a SubjectPublicKeyInfo",
    });
  });
});
