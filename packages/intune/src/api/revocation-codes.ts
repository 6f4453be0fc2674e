/**
 * The result codes a CA reports for each Intune revocation request
 * (`uploadRevocationResults`). Source: Microsoft's reference libraries,
 * github.com/microsoft/Intune-Resource-Access, src/CsrValidation: C#
 * `CARequestErrorCode` and Java `CARequestErrorCodes` (the same values in
 * both, with their comments saying which are retryable). Both libraries send
 * the code as a JSON number.
 *
 * @module
 */

/**
 * Every result code of a revocation result, by name (the reference's enum
 * member names), with its numeric value as sent in `errorCode`.
 *
 * - `None` (0): revoked; only with `succeeded: true`.
 * - 4000–4007: the request failed and Intune should not send it again.
 * - 4100–4103: a passing failure; Intune may send the request again.
 *
 * @example
 * ```ts
 * import { INTUNE_REVOCATION_CODES, isRetryableRevocationCode } from "@scep/intune";
 *
 * INTUNE_REVOCATION_CODES.CertificateNotFoundError; // 4004
 * isRetryableRevocationCode(INTUNE_REVOCATION_CODES.ServiceUnavailableException); // true
 * ```
 *
 * @group Intune API
 */
export const INTUNE_REVOCATION_CODES = Object.freeze({
  /** No error: the certificate is revoked. */
  None: 0,
  /** A failure of the CA that another attempt will not fix (a catch-all). */
  NonRetryableServiceException: 4000,
  /** The request could not be read (its data did not deserialize). */
  DataSerializationError: 4001,
  /** The request's data is invalid (for example a serial number that is not hex). */
  ParameterDataInvalidError: 4002,
  /** A cryptographic failure while fulfilling the request. */
  CryptographyError: 4003,
  /** The CA holds no such certificate. */
  CertificateNotFoundError: 4004,
  /** The request conflicts with the certificate's state; Microsoft's example: it is already revoked. */
  ConflictError: 4005,
  /** The CA does not support the request. */
  NotSupportedError: 4006,
  /** The request is larger than the CA accepts. */
  PayloadTooLargeError: 4007,
  /** A passing failure of the CA (a catch-all); Intune may try again. */
  RetryableServiceException: 4100,
  /** The CA (or its revocation store) is unavailable; Intune may try again. */
  ServiceUnavailableException: 4101,
  /** The CA is too busy; Intune may try again. */
  ServiceTooBusyException: 4102,
  /** The CA could not authenticate to something it needs; Intune may try again. */
  AuthenticationException: 4103,
} as const);

/**
 * A result code name, e.g. `"CertificateNotFoundError"`.
 *
 * @group Intune API
 */
export type IntuneRevocationCodeName = keyof typeof INTUNE_REVOCATION_CODES;

/**
 * A result code value: 0, 4000–4007 or 4100–4103.
 *
 * @group Intune API
 */
export type IntuneRevocationCode = (typeof INTUNE_REVOCATION_CODES)[IntuneRevocationCodeName];

const KNOWN = new Set<number>(Object.values(INTUNE_REVOCATION_CODES));

/**
 * Whether `code` is one of {@link INTUNE_REVOCATION_CODES}.
 *
 * @example
 * ```ts
 * isIntuneRevocationCode(4005); // true
 * isIntuneRevocationCode(4008); // false
 * ```
 *
 * @group Intune API
 */
export function isIntuneRevocationCode(code: unknown): code is IntuneRevocationCode {
  return typeof code === "number" && KNOWN.has(code);
}

/**
 * Whether Intune may send a request answered with `code` again: true for
 * 4100–4103, false for 0 and 4000–4007 (and for any undocumented number).
 *
 * @example
 * ```ts
 * isRetryableRevocationCode(4101); // true: the store was down
 * isRetryableRevocationCode(4004); // false: no such certificate
 * ```
 *
 * @group Intune API
 */
export function isRetryableRevocationCode(code: number): boolean {
  return isIntuneRevocationCode(code) && code >= 4100 && code <= 4103;
}
