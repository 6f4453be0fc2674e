/**
 * The requester's key: read from a PEM file, or generated in memory and saved
 * only once it is needed: after SUCCESS (with the certificate), the CA's first
 * PENDING (before polling, to poll again with it whatever ends the command), or a PKIOperation sent with no answer (the CA may have
 * issued: re-sent with the same key, it answers with that certificate). A
 * refused connection or a FAILURE leaves no key file behind, so the same
 * command can simply be run again.
 *
 * @module
 */
import { exportPrivateKeyPem, generateRsaKeyPair, importKeyPairPem } from "@scep/core";
import { CliError, ExitCode } from "./exit.js";
import type { Context } from "./context.js";
import { assertNoKeyFile, assertWritable, readInput, writeNewFile } from "./files.js";

/** Reads a PEM private key (PKCS#1, SEC1 or PKCS#8; RSA or EC). Exit 66 when unreadable. */
export async function loadKeyPair(ctx: Context, path: string): Promise<{ keys: CryptoKeyPair; pem: string }> {
  const pem = readInput(ctx, path, "key");
  try {
    return { keys: await importKeyPairPem(pem), pem };
  } catch (error) {
    throw new CliError(`cannot use key ${path}: ${(error as Error).message}`, ExitCode.NO_INPUT);
  }
}

/**
 * Whether `keys` is an RSA key pair. A SCEP request is signed with a self-signed certificate (or, for a renewal,
 * the certificate being renewed) that also receives the CA's reply, whose content key the CA encrypts to it with
 * RSA key transport (RFC 8894 §3.3.2, RFC 5652 §6.2.1): only an RSA key can be that signer.
 */
export function isRsa(keys: CryptoKeyPair): boolean {
  const name = keys.privateKey.algorithm.name;
  return name === "RSASSA-PKCS1-v1_5" || name === "RSA-PSS" || name === "RSA-OAEP";
}

/** A generated key, not yet on disk. */
export interface GeneratedKey {
  keys: CryptoKeyPair;
  /**
   * The path as the user gave it (or derived from --out); once saved, the path it was saved to, relative as given
   * (another name when a file appeared there meanwhile: see {@link writeNewFile}).
   */
  readonly path: string;
  /** Writes the key (PKCS#8 PEM, 0600) once, never over an existing file, and returns the absolute path. */
  save(): string;
}

/** Generates an RSA key for `keyOut`, which must not exist yet; nothing is written until {@link GeneratedKey.save}. */
export async function createKeyPair(ctx: Context, command: string, keyOut: string, bits: number): Promise<GeneratedKey> {
  assertNoKeyFile(ctx, command, keyOut);
  assertWritable(ctx, command, "the key file", keyOut);
  const keys = await generateRsaKeyPair(bits);
  const pem = await exportPrivateKeyPem(keys.privateKey);
  let saved: { path: string; full: string } | undefined;
  return {
    keys,
    get path() {
      return saved?.path ?? keyOut;
    },
    save: () => (saved ??= writeNewFile(ctx, keyOut, pem, { secret: true })).full,
  };
}
