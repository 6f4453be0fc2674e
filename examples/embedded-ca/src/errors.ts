/**
 * Every way the embedded CA can fail, as a string-literal code.
 *
 * | code | meaning |
 * | --- | --- |
 * | `INVALID_OPTIONS` | an option is malformed (only one of `caCertPath`/`caKeyPath`, a bad `subject`, `validityDays <= 0`, …) |
 * | `CA_LOAD_FAILED` | the CA certificate or key cannot be read or parsed, the key type is unsupported, or the certificate is not a CA |
 * | `CA_KEY_PASSPHRASE` | the CA key is encrypted and the passphrase is missing (the empty one does not open it) or wrong |
 * | `CA_KEY_MISMATCH` | the private key does not belong to the CA certificate |
 * | `CA_CREATE_FAILED` | creating the default CA in `dataDir` failed (I/O, hard links unsupported, …) |
 * | `CSR_INVALID` | the PKCS#10 request cannot be decoded, its signature does not verify, or it names nobody |
 * | `STORAGE_FAILED` | reading or writing the serial epochs, the index or `certs/` failed (a `certs/` copy that cannot be written is told to `onError`, not thrown) |
 * | `UNKNOWN_SERIAL` | `revoke` was given a serial number this CA never issued |
 * | `KEY_COMPROMISED` | `issue` was asked to certify the public key of a certificate revoked with reason keyCompromise (RFC 5280 §5.3.1): the requester must generate a new key |
 * | `CA_EXPIRED` | `issue` was called after the CA certificate's notAfter: nothing issued under it would validate (RFC 5280 §6.1.3); renew the CA |
 * | `SERIAL_SPACE_EXHAUSTED` | 2^32 serials were issued by one open CA or 2^32 epochs were claimed (reopen / new `dataDir`) |
 *
 * @example
 * ```ts
 * import type { EmbeddedCaErrorCode } from "@scep-examples/embedded-ca";
 *
 * const retryable: EmbeddedCaErrorCode[] = ["STORAGE_FAILED"];
 * ```
 */
export type EmbeddedCaErrorCode =
  | "INVALID_OPTIONS"
  | "CA_LOAD_FAILED"
  | "CA_KEY_PASSPHRASE"
  | "CA_KEY_MISMATCH"
  | "CA_CREATE_FAILED"
  | "CSR_INVALID"
  | "STORAGE_FAILED"
  | "SERIAL_SPACE_EXHAUSTED"
  | "UNKNOWN_SERIAL"
  | "KEY_COMPROMISED"
  | "CA_EXPIRED";

/**
 * All {@link EmbeddedCaErrorCode} values, for exhaustive checks and type guards.
 *
 * @example
 * ```ts
 * import { EMBEDDED_CA_ERROR_CODES } from "@scep-examples/embedded-ca";
 *
 * EMBEDDED_CA_ERROR_CODES.includes("CSR_INVALID"); // true
 * ```
 */
export const EMBEDDED_CA_ERROR_CODES: readonly EmbeddedCaErrorCode[] = Object.freeze([
  "INVALID_OPTIONS",
  "CA_LOAD_FAILED",
  "CA_KEY_PASSPHRASE",
  "CA_KEY_MISMATCH",
  "CA_CREATE_FAILED",
  "CSR_INVALID",
  "STORAGE_FAILED",
  "SERIAL_SPACE_EXHAUSTED",
  "UNKNOWN_SERIAL",
  "KEY_COMPROMISED",
  "CA_EXPIRED",
]);

/**
 * The message of a `KEY_COMPROMISED` error, which the example servers send as the FAILURE CertRep's failInfoText.
 *
 * @example
 * ```ts
 * import { KEY_COMPROMISED_TEXT } from "@scep-examples/embedded-ca";
 *
 * console.log(KEY_COMPROMISED_TEXT); // "this key was revoked as compromised: generate a new key"
 * ```
 */
export const KEY_COMPROMISED_TEXT = "this key was revoked as compromised: generate a new key";

/**
 * The one error class of `@scep-examples/embedded-ca`. `code` says what went
 * wrong; `cause` carries the underlying error (an `fs` error, a parser error, …)
 * when there is one.
 *
 * @example
 * ```ts
 * import { EmbeddedCaError, openFileCa } from "@scep-examples/embedded-ca";
 *
 * try {
 *   await openFileCa({ dataDir: "./data", caCertPath: "ca.pem", caKeyPath: "other.key" });
 * } catch (error) {
 *   if (error instanceof EmbeddedCaError && error.code === "CA_KEY_MISMATCH") {
 *     console.error("ca.pem and other.key do not belong together");
 *   }
 *   throw error;
 * }
 * ```
 */
export class EmbeddedCaError extends Error {
  /** What went wrong; see {@link EmbeddedCaErrorCode}. */
  readonly code: EmbeddedCaErrorCode;

  /**
   * @param code - what went wrong
   * @param message - a sentence for humans (no secrets: never key material)
   * @param options - `cause`: the underlying error
   */
  constructor(code: EmbeddedCaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EmbeddedCaError";
    this.code = code;
  }
}

/**
 * Type guard for {@link EmbeddedCaError} that does not rely on `instanceof`
 * alone (two copies of this package in one process still recognise each
 * other's errors): checks `name` and that `code` is a known code, and
 * optionally that it equals `code`.
 *
 * @param value - anything caught
 * @param code - when given, also require this code
 * @returns whether `value` is an embedded-CA error (with that code)
 *
 * @example
 * ```ts
 * import { isEmbeddedCaError } from "@scep-examples/embedded-ca";
 *
 * try {
 *   await ca.issue({ csrDer });
 * } catch (error) {
 *   if (isEmbeddedCaError(error, "CSR_INVALID")) return badRequest(error.message);
 *   throw error;
 * }
 * ```
 */
export function isEmbeddedCaError(
  value: unknown,
  code?: EmbeddedCaErrorCode,
): value is EmbeddedCaError {
  if (value instanceof EmbeddedCaError) return code === undefined || value.code === code;
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown };
  return (
    candidate.name === "EmbeddedCaError" &&
    typeof candidate.code === "string" &&
    (EMBEDDED_CA_ERROR_CODES as readonly string[]).includes(candidate.code) &&
    (code === undefined || candidate.code === code)
  );
}
