/**
 * RFC 8894 §3.5.2 and §7: a server accepts only the algorithms its policy
 * allows, says badAlg for the rest, and refuses a disallowed key transport
 * before any private-key operation runs.
 */
import { describe, expect, it } from "vitest";
import {
  buildPkcsReq,
  createSelfSignedSigner,
  decodePkiMessage,
  generateCsr,
  generateRsaKeyPair,
  type Decrypter,
  type DecryptParams,
} from "../src/index.js";

describe("key transport policy", async () => {
  const ca = await createSelfSignedSigner({ keys: await generateRsaKeyPair(), subject: "CN=policy CA" });
  const keys = await generateRsaKeyPair();
  const signer = await createSelfSignedSigner({ keys, subject: "CN=policy client" });
  const csr = await generateCsr({ keys, subject: "CN=policy client", challengePassword: "x" });

  /** The CA key, counting how often the private key is used. */
  function counting(): Decrypter & { calls: number } {
    const d = {
      certificate: ca.certificate,
      calls: 0,
      async decrypt(encryptedKey: Uint8Array, params: DecryptParams): Promise<Uint8Array> {
        d.calls++;
        return ca.decrypt(encryptedKey, params);
      },
    };
    return d;
  }

  it("refuses RSAES-OAEP with badAlg when the policy allows only PKCS#1 v1.5, without touching the key", async () => {
    const built = await buildPkcsReq({ csr, signer, recipient: ca.certificate, keyTransport: "rsaes-oaep" });
    const decrypter = counting();
    const error = await decodePkiMessage(built.der, { decrypters: [decrypter], policy: { keyTransports: ["rsaes-pkcs1-v1_5"] } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_ALGORITHM_NOT_ALLOWED", failInfo: "badAlg", request: { transactionId: built.transactionId } });
    expect(decrypter.calls).toBe(0);
  });

  for (const oaepHash of ["sha1", "sha256", "sha512"] as const) {
    it(`decodes RSAES-OAEP with ${oaepHash} built by the client`, async () => {
      const built = await buildPkcsReq({ csr, signer, recipient: ca.certificate, keyTransport: "rsaes-oaep", oaepHash });
      const decrypter = counting();
      const req = await decodePkiMessage(built.der, { decrypters: [decrypter] });
      expect(req.keyTransport).toBe("rsaes-oaep");
      expect(req.csr!.subject).toBe("CN=policy client");
      expect(decrypter.calls).toBe(1);
    });
  }
});
