/**
 * Field report about single-DES and Triple-DES content-encryption keys (RFC 5652 §6.2.1 key transport of a DES-CBC or
 * DES-EDE3-CBC key, RFC 3370 §5.2; FIPS 46-3 and SP 800-67 reserve the low bit of each key byte for odd parity),
 * rebuilt against our server and codec.
 *
 * - Dogtag's SCEP responder with its keys in an HSM unwrapped single-DES requests but refused every Triple-DES one,
 *   "could not unwrap PKCS10 blob", while the same requests decrypted with a software token (dogtagpki/pki#8,
 *   https://github.com/dogtagpki/pki/issues/8): a PKCS#11 token may refuse a DES key whose bytes lack odd parity,
 *   where software ignores the parity bits. OpenSSL makes every DES key it draws odd-parity (its `cms -encrypt`
 *   shows it below), so peers built on it never send another. Ours did: a CertRep's and a request's DES keys were
 *   raw random bytes, which a client unwrapping with such a token (an HSM, a smart card) would refuse. Every DES and
 *   Triple-DES key we draw now has odd parity; a key without it is still accepted, as OpenSSL accepts it.
 */
import { describe, expect, it } from "vitest";
import { opensslCmsEncrypt } from "../../../test-support/peers";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { buildPkcsReq, type ContentCipher, type LocalKey } from "../src/index.js";
import { NOW, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "des-parity";
const { ca, device, server } = await staticScep({ caName: "Field DES Parity CA", deviceCn: "field-des-parity", challenge: CHALLENGE });

const KEY_LENGTH = { des: 8, des3: 24 } as const;

/** Whether every byte has an odd number of set bits (the DES parity rule). */
const oddParity = (key: Uint8Array): boolean => key.every((b) => (b.toString(2).split("1").length - 1) % 2 === 1);

/** The content-encryption key of a ContentInfo(EnvelopedData), unwrapped by `key`. */
async function contentKey(envelope: Uint8Array, key: LocalKey, cipher: keyof typeof KEY_LENGTH): Promise<Uint8Array> {
  const env = parseEnvelopedData(envelope);
  expect(env.cipher).toBe(cipher);
  return key.decrypt(env.recipients[0]!.encryptedKey, { transport: "rsaes-pkcs1-v1_5", keyLength: KEY_LENGTH[cipher] });
}

describe("DES and Triple-DES content-encryption keys have odd parity (dogtagpki/pki#8)", () => {
  it("OpenSSL's cms -encrypt, the reference: odd parity in every DES and Triple-DES key", async () => {
    for (const [cipher, openssl] of [["des", "des-cbc"], ["des3", "des-ede3-cbc"]] as const) {
      for (let i = 0; i < 3; i++) {
        const envelope = await opensslCmsEncrypt({ content: "x", recipients: [ca.cert.der], cipher: openssl });
        expect(oddParity(await contentKey(envelope, ca.key, cipher))).toBe(true);
      }
    }
  });

  for (const cipher of ["des", "des3"] as const satisfies readonly ContentCipher[]) {
    it(`${cipher}: the request our client builds and the SUCCESS CertRep our server answers carry odd-parity keys`, async () => {
      for (let i = 0; i < 4; i++) {
        const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher, now: NOW });
        const requestEnvelope = parseSignedData(built.der).content!;
        expect(oddParity(await contentKey(requestEnvelope, ca.key, cipher))).toBe(true);
        const res = await postPki(server, "/scep", built.der);
        const body = new Uint8Array(await res.clone().arrayBuffer());
        expect((await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
        const replyEnvelope = parseSignedData(body).content!;
        expect(oddParity(await contentKey(replyEnvelope, device.signer, cipher))).toBe(true);
      }
    });
  }
});
