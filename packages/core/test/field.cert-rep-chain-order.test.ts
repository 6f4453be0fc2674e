/**
 * Field reports about the certificates of a SUCCESS CertRep (RFC 8894 §3.3.2.1: "the issued certificate MUST be the
 * leaf", the reply may carry more; RFC 5652 §5.1 holds them in a SET OF), rebuilt against our server.
 *
 * - SCEPy built its degenerate PKCS#7 with a DER SET OF, which sorts the certificates by their encoding, so the
 *   issued certificate was not first and clients that take the first one failed now and then (mosen/SCEPy#2,
 *   https://github.com/mosen/SCEPy/issues/2; jscep's reading of "the issued certificate MUST be the first",
 *   seize-the-dave/jscep#48, https://github.com/seize-the-dave/jscep/issues/48). We keep the order: the issued
 *   certificate, then the chain as the profile gives it (issuing CA, then root), which is also how sscep's users get
 *   the chain (certnanny/sscep#176, https://github.com/certnanny/sscep/issues/176).
 *
 * OpenSSL is the peer: `cms -verify` takes the envelope out of the reply, `cms -decrypt` opens it with the device's
 * key, `pkcs7 -print_certs` lists the certificates in the order they are encoded.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOpenssl, withTempDir } from "../../../test-support/peers";
import { x509 } from "../src/lib/x509.js";
import { Certificate, LocalKey, buildPkcsReq, createScepServer, generateRsaKeyPair } from "../src/index.js";
import { DAY, NOW, createDevice, hex, nextSerial, postPki } from "./support/server-pki.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const CHALLENGE = "chain-order";

async function caCert(subject: string, keys: CryptoKeyPair, issuer?: { cert: Certificate; keys: CryptoKeyPair }): Promise<Certificate> {
  const common = {
    serialNumber: nextSerial(),
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 3650 * DAY),
    signingAlgorithm: SIG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
  };
  const made = issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject, issuer: issuer.cert.subject, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys });
  return new Certificate(new Uint8Array(made.rawData));
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der as Uint8Array).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END ${label}-----\n`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

describe("mosen/SCEPy#2, jscep#48, sscep#176: the issued certificate leads the SUCCESS reply, then the chain in order (RFC 8894 §3.3.2.1)", () => {
  it("issued, issuing CA, root, as OpenSSL reads them from the decrypted degenerate PKCS#7, though DER's SET OF order would differ", async () => {
    const rootKeys = await generateRsaKeyPair(2048);
    const root = await caCert("CN=Chain Order Root, O=scep-sdk field tests", rootKeys);
    const issuingKeys = await generateRsaKeyPair(2048);
    const issuing = await caCert("CN=Chain Order Issuing CA, O=scep-sdk field tests", issuingKeys, { cert: root, keys: rootKeys });
    let issued: Certificate | undefined;
    const server = createScepServer({
      profiles: [
        {
          path: "/scep",
          caCertificate: issuing,
          caChain: [issuing, root],
          signer: LocalKey.from(issuing, issuingKeys.privateKey),
          challenge: { type: "static", password: CHALLENGE },
          issue: async (ctx) => {
            // A leaf with a long subject and SANs: its encoding sorts after both CA certificates in a DER SET OF.
            const made = await x509.X509CertificateGenerator.create({
              serialNumber: nextSerial(),
              subject: ctx.csr.subject,
              issuer: issuing.subject,
              notBefore: new Date(NOW.getTime() - 60_000),
              notAfter: new Date(NOW.getTime() + 90 * DAY),
              publicKey: await crypto.subtle.importKey("spki", ctx.csr.spki as Uint8Array<ArrayBuffer>, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]),
              signingKey: issuingKeys.privateKey,
              signingAlgorithm: SIG,
              extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "chain-order.example.test" }, { type: "dns", value: "chain-order-2.example.test" }])],
            });
            issued = new Certificate(new Uint8Array(made.rawData));
            return { status: "SUCCESS", certificate: issued };
          },
        },
      ],
      now: () => NOW,
    });
    const device = await createDevice({ cn: "chain-order-device", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: issuing, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-pki-message"]);
    const reply = new Uint8Array(await res.arrayBuffer());

    const expected = [issued!, issuing, root];
    const derSorted = [...expected].sort((a, b) => compareBytes(a.der, b.der));
    expect(derSorted.map((c) => hex(c.der))).not.toEqual(expected.map((c) => hex(c.der))); // the premise: a SET OF sort would reorder them

    const subjects = await withTempDir(async (dir) => {
      writeFileSync(join(dir, "reply.der"), reply);
      writeFileSync(join(dir, "key.pem"), pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", device.keys.privateKey)));
      writeFileSync(join(dir, "signer.pem"), pem("CERTIFICATE", device.signer.certificate.der));
      await runOpenssl(["cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", join(dir, "reply.der"), "-out", join(dir, "env.der")]);
      await runOpenssl(["cms", "-decrypt", "-binary", "-inform", "DER", "-in", join(dir, "env.der"), "-inkey", join(dir, "key.pem"), "-recip", join(dir, "signer.pem"), "-out", join(dir, "inner.der")]);
      const printed = await runOpenssl(["pkcs7", "-inform", "DER", "-in", join(dir, "inner.der"), "-print_certs", "-noout"]);
      expect(readFileSync(join(dir, "inner.der")).length).toBeGreaterThan(0);
      return [...printed.stdout.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!);
    });
    expect(subjects).toHaveLength(3);
    expect(subjects[0]).toContain("chain-order-device");
    expect(subjects[1]).toContain("Chain Order Issuing CA");
    expect(subjects[2]).toContain("Chain Order Root");
  });
});
