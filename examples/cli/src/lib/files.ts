/**
 * Reading inputs and writing outputs, relative to the user's directory.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import type { Certificate } from "@scep/core";
import { CliError, ExitCode, UsageError } from "./exit.js";
import type { Context } from "./context.js";

/** Resolves a path the user gave against the directory they ran the command from. */
export function resolvePath(ctx: Context, path: string): string {
  return resolve(ctx.cwd, path);
}

/** Reads a text input file, or fails with exit 66. */
export function readInput(ctx: Context, path: string, what: string): string {
  const full = resolvePath(ctx, path);
  try {
    return readFileSync(full, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, ExitCode.NO_INPUT);
  }
}

/** Writes an output file (0600 for keys). */
export function writeOutput(ctx: Context, path: string, text: string, options: { secret?: boolean } = {}): string {
  const full = resolvePath(ctx, path);
  try {
    writeFileSync(full, text, { mode: options.secret ? 0o600 : 0o644 });
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, ExitCode.ERROR);
  }
  return full;
}

/** Where a generated key goes without --key-out: `cert.pem` → `cert.key`, next to it. */
export function keyPathNextTo(out: string): string {
  const ext = extname(out);
  return join(dirname(out), `${basename(out, ext)}.key`);
}

/** Refuses to overwrite a key file: an existing key is reused with --key, never clobbered. */
export function assertNoKeyFile(ctx: Context, command: string, path: string): void {
  if (existsSync(resolvePath(ctx, path))) {
    throw new UsageError(`${command}: ${path} already exists; pass --key ${path} to reuse that key, or choose another --key-out`);
  }
}

/** SHA-256 fingerprint as OpenSSL prints it (`AB:CD:…`). */
export function fingerprint(cert: Certificate): string {
  return createHash("sha256").update(cert.der).digest("hex").toUpperCase().match(/../g)!.join(":");
}

/** Several certificates as one PEM text. */
export function pemBundle(certs: readonly Certificate[]): string {
  return certs.map((c) => c.toPem().trimEnd() + "\n").join("");
}
