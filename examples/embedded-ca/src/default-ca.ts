// The "embedded default CA": created in dataDir on first start, reused after.
//
// Crash and race safety comes from publishing each file with
// "write temp + fsync + link()" (link fails with EEXIST instead of replacing),
// in a fixed order: ca.key first, then ca.pem. ca.pem is the commit point.
//
//   - crash before ca.key is linked: nothing published (maybe a stray temp file);
//   - crash between the two links: ca.key without ca.pem. The next start signs a
//     certificate for that key; nobody ever saw a CA without its certificate;
//   - two processes starting at once: both may generate a key, only one link
//     of ca.key succeeds, both then certify *that* key and only one link of
//     ca.pem succeeds, and both load the winners. One CA, never two.
import { readFile } from "node:fs/promises";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { join } from "node:path";
import { loadCaMaterial, type CaMaterial, type CaSignerOptions } from "./ca-material.js";
import { EmbeddedCaError, isEmbeddedCaError } from "./errors.js";
import { ensureDirectory, pathExists, publishFileExclusive } from "./lib/durable-fs.js";
import { toPem } from "./lib/pem.js";
import { nodeCrypto, x509 } from "./lib/x509.js";
import { fileErrorReason } from "./file-error.js";

/** Subject of a freshly created default CA unless `subject` says otherwise. */
export const DEFAULT_CA_SUBJECT = "CN=SCEP Example CA,O=scep-sdk";

/** File names inside dataDir. */
export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca.key";

async function generateRsaKeyPem(): Promise<string> {
  const keys = await nodeCrypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const pkcs8 = new Uint8Array(await nodeCrypto.subtle.exportKey("pkcs8", keys.privateKey));
  try {
    return toPem("PRIVATE KEY", pkcs8);
  } finally {
    pkcs8.fill(0);
  }
}

function addUtcYears(date: Date, years: number): Date {
  const result = new Date(date.getTime());
  result.setUTCFullYear(result.getUTCFullYear() + years);
  return result;
}

async function selfSign(keyPem: string, subject: x509.Name, now: Date): Promise<string> {
  const privateKey = createPrivateKey({ key: keyPem, format: "pem" });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  let signingKey: CryptoKey;
  try {
    signingKey = await nodeCrypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  } finally {
    pkcs8.fill(0);
  }
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: subject,
    publicKey: spki,
    signingKey,
    notBefore: now,
    notAfter: addUtcYears(now, 10),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign |
          x509.KeyUsageFlags.cRLSign |
          x509.KeyUsageFlags.digitalSignature |
          x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(spki, false, nodeCrypto),
    ],
  });
  return certificate.toString("pem") + "\n";
}

/** Parses a DN string; `INVALID_OPTIONS` if it is not one. */
export function parseDistinguishedName(value: string, option: string): x509.Name {
  try {
    const name = new x509.Name(value);
    if (name.toJSON().length === 0) throw new Error("empty name");
    return name;
  } catch (error) {
    throw new EmbeddedCaError(
      "INVALID_OPTIONS",
      `${option} is not a distinguished name like "CN=Example,O=Org": ${JSON.stringify(value)}`,
      { cause: error },
    );
  }
}

/**
 * Loads `dataDir/ca.pem` + `dataDir/ca.key`, creating them first if ca.pem
 * does not exist yet (see the module comment for the crash/race argument).
 */
export async function openDefaultCa(options: {
  dataDir: string;
  subject: x509.Name;
  now: () => Date;
  signerOptions?: CaSignerOptions | undefined;
}): Promise<CaMaterial> {
  const certPath = join(options.dataDir, CA_CERT_FILE);
  const keyPath = join(options.dataDir, CA_KEY_FILE);

  try {
    if (!(await pathExists(certPath))) {
      await ensureDirectory(options.dataDir, 0o700);
      if (!(await pathExists(keyPath))) {
        await publishFileExclusive(keyPath, await generateRsaKeyPem(), 0o600);
      }
      // Whoever won the key race, certify the published key.
      const keyPem = await readFile(keyPath, "utf8");
      if (!(await pathExists(certPath))) {
        await publishFileExclusive(certPath, await selfSign(keyPem, options.subject, options.now()), 0o644);
      }
    }
  } catch (error) {
    if (isEmbeddedCaError(error)) throw error;
    throw new EmbeddedCaError(
      "CA_CREATE_FAILED",
      `cannot create the CA in ${options.dataDir}: ${(error as Error).message}`,
      { cause: error },
    );
  }

  return loadCaFiles(certPath, keyPath, undefined, options.signerOptions);
}

/** Reads and checks an existing certificate/key pair of files; the signer signs where `signerOptions` say (default: libuv's pool). */
export async function loadCaFiles(certPath: string, keyPath: string, keyPassphrase?: string, signerOptions?: CaSignerOptions): Promise<CaMaterial> {
  const read = async (path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new EmbeddedCaError(
        "CA_LOAD_FAILED",
        `cannot read ${path}: ${fileErrorReason(error)}`,
        { cause: error },
      );
    }
  };
  const [certificateBytes, keyBytes] = await Promise.all([read(certPath), read(keyPath)]);
  try {
    return await loadCaMaterial({
      // latin1: every byte kept as one character, so a DER certificate is recognised as such (PEM is ASCII either way).
      certificateText: certificateBytes.toString("latin1"),
      keyText: new Uint8Array(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength),
      certificateSource: certPath,
      keySource: keyPath,
      keyPassphrase,
      signerOptions,
    });
  } finally {
    keyBytes.fill(0); // the key file's bytes (readFile's own buffer): not left in the heap
  }
}
