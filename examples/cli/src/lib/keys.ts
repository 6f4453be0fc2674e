/**
 * The requester's key: read from a PEM file, or generated and saved before
 * the request is sent (so a PENDING or failed enrollment can be retried with
 * the same key).
 *
 * @module
 */
import { exportPrivateKeyPem, generateRsaKeyPair, importKeyPairPem } from "@scep/core";
import { CliError, ExitCode } from "./exit.js";
import type { Context } from "./context.js";
import { assertNoKeyFile, readInput, writeOutput } from "./files.js";

/** Reads a PEM private key (PKCS#1, SEC1 or PKCS#8; RSA or EC). Exit 66 when unreadable. */
export async function loadKeyPair(ctx: Context, path: string): Promise<{ keys: CryptoKeyPair; pem: string }> {
  const pem = readInput(ctx, path, "key");
  try {
    return { keys: await importKeyPairPem(pem), pem };
  } catch (error) {
    throw new CliError(`cannot use key ${path}: ${(error as Error).message}`, ExitCode.NO_INPUT);
  }
}

/** Generates an RSA key and writes it (0600) to `keyOut`, which must not exist yet. */
export async function createKeyPair(ctx: Context, command: string, keyOut: string, bits: number): Promise<{ keys: CryptoKeyPair; path: string }> {
  assertNoKeyFile(ctx, command, keyOut);
  const keys = await generateRsaKeyPair(bits);
  const path = writeOutput(ctx, keyOut, await exportPrivateKeyPem(keys.privateKey), { secret: true });
  return { keys, path };
}
