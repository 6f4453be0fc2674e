// Loading the CA key: the key file is read once (@scep/core's privateKeyToPkcs8: one createPrivateKey) and the PKCS#8
// copy imported once (WebCrypto, extractable: KeyObject.from of a non-extractable key is deprecated in Node 24); the KeyObject and the signer share that import, and the PKCS#8
// bytes handed to the import are zeroed once it is done. Counted: node:crypto's createPrivateKey calls and
// SubtleCrypto.importKey calls while openFileCa loads an existing CA (RSA and EC, PEM PKCS#8, PKCS#1 and SEC1).
import { writeFileSync } from "node:fs";
import * as nodeCryptoModule from "node:crypto";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";

vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>();
  return { ...original, default: { ...original, createPrivateKey: vi.fn(original.createPrivateKey) }, createPrivateKey: vi.fn(original.createPrivateKey) };
});

import { openFileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir } from "./helpers.js";

let dir: string;
let csrDer: Uint8Array;
beforeAll(() => {
  dir = tempDir();
  csrDer = opensslCsr(dir, "device", { subject: "/CN=key-load" });
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa-pkcs8.key", "-out", "rsa.pem", "-subj", "/CN=RSA CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  openssl(["pkey", "-in", "rsa-pkcs8.key", "-traditional", "-out", "rsa-pkcs1.key"], dir);
  openssl(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "ec-sec1.key"], dir);
  openssl(["req", "-x509", "-key", "ec-sec1.key", "-out", "ec.pem", "-subj", "/CN=EC CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
});
afterEach(() => vi.restoreAllMocks());

describe("openFileCa: the CA key is parsed once and its PKCS#8 copy zeroed", () => {
  for (const [cert, key, algorithm] of [["rsa.pem", "rsa-pkcs8.key", "RSA"], ["rsa.pem", "rsa-pkcs1.key", "RSA"], ["ec.pem", "ec-sec1.key", "EC"]] as const) {
    it(`${key}: one createPrivateKey, one importKey of bytes that are all zero afterwards; the CA signs, privateKeyPem is the key`, async () => {
      const createPrivateKey = vi.mocked(nodeCryptoModule.createPrivateKey);
      createPrivateKey.mockClear();
      const imported: { format: string; bytes: Uint8Array }[] = [];
      const importKey = nodeCryptoModule.webcrypto.subtle.importKey.bind(nodeCryptoModule.webcrypto.subtle);
      vi.spyOn(nodeCryptoModule.webcrypto.subtle, "importKey").mockImplementation(((format: string, data: Uint8Array, ...rest: unknown[]) => {
        imported.push({ format, bytes: data });
        return (importKey as (...a: unknown[]) => Promise<CryptoKey>)(format, data, ...rest);
      }) as typeof importKey);

      const ca = await openFileCa({ dataDir: join(dir, `data-${key}`), caCertPath: join(dir, cert), caKeyPath: join(dir, key), certificateFiles: false });
      expect(createPrivateKey).toHaveBeenCalledTimes(1); // the key file, read by @scep/core's privateKeyToPkcs8
      expect(imported.map((i) => i.format)).toEqual(["pkcs8"]);
      expect(imported[0]!.bytes.length).toBeGreaterThan(100);
      expect(imported[0]!.bytes.every((b) => b === 0)).toBe(true);

      expect(ca.keyAlgorithm).toBe(algorithm);
      const issued = await ca.issue({ csrDer });
      writeFileSync(join(dir, `issued-${key}.pem`), issued.certificatePem);
      expect(openssl(["verify", "-CAfile", cert, `issued-${key}.pem`], dir)).toContain(": OK");
      const expected = openssl(["pkey", "-in", key], dir); // PKCS#8 PEM, as privateKeyPem is
      expect(ca.privateKeyPem).toBe(expected);
    });
  }
});

