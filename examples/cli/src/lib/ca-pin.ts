/**
 * `--ca-fingerprint` and `--ca-cert`: pin the CA a command talks to (RFC 8894
 * §2.2 leaves authenticating GetCACert to the client). Checked by ScepClient
 * on the GetCACert reply before any request is sent; a mismatch ends with
 * exit 5.
 *
 * @module
 */
import { Certificate, normalizeFingerprint } from "@scep/core";
import type { Context } from "./context.js";
import { CliError, ExitCode, UsageError } from "./exit.js";
import { readInput } from "./files.js";

/** parseArgs options for the pin. */
export const PIN_OPTIONS = {
  "ca-fingerprint": { type: "string", multiple: true },
  "ca-cert": { type: "string", multiple: true },
} as const;

/** Help text for {@link PIN_OPTIONS}. */
export const PIN_HELP = `  --ca-fingerprint sha256:HEX
                      refuse a CA unless one of its CA certificates (root or
                      issuing CA) has this SHA-256 fingerprint; hex with or
                      without colons; repeatable. Checked before any request
                      is sent; a mismatch exits 5
  --ca-cert FILE      refuse a CA unless one of its CA certificates is in FILE
                      (PEM, one or more) or issued by one of them; repeatable`;

/** The pin, as ScepClient takes it. */
export interface CliPin {
  caFingerprints?: string[];
  trustedCaCertificates?: Certificate[];
}

/** Validates the pin options; `{}` when none were given. */
export function pinOptions(ctx: Context, command: string, v: { "ca-fingerprint"?: string[] | undefined; "ca-cert"?: string[] | undefined }): CliPin {
  const caFingerprints = (v["ca-fingerprint"] ?? []).map((f) => {
    try {
      return normalizeFingerprint(f);
    } catch {
      throw new UsageError(`${command}: --ca-fingerprint must be sha256:<64 hex digits> (colons allowed), got "${f}"`);
    }
  });
  const trustedCaCertificates = (v["ca-cert"] ?? []).flatMap((file) => {
    const pem = readInput(ctx, file, "CA certificate");
    try {
      return Certificate.fromPem(pem);
    } catch (error) {
      throw new CliError(`cannot read CA certificate ${file}: ${(error as Error).message}`, ExitCode.NO_INPUT);
    }
  });
  return {
    ...(caFingerprints.length ? { caFingerprints } : {}),
    ...(trustedCaCertificates.length ? { trustedCaCertificates } : {}),
  };
}
