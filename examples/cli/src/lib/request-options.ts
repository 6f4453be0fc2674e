/**
 * Options `enroll` and `renew` share: algorithms, method, polling, key size.
 *
 * @module
 */
import { CIPHER_NAMES, DIGEST_NAMES, caIdentifierOption, methodOption, numberOption, oneOf, timeoutOption, urlOption } from "./args.js";
import type { EnrollmentOptions } from "./enrollment.js";
import { PIN_HELP, PIN_OPTIONS } from "./ca-pin.js";

/** parseArgs options for the request settings. */
export const REQUEST_OPTIONS = {
  cipher: { type: "string" },
  digest: { type: "string" },
  "key-size": { type: "string" },
  "poll-interval": { type: "string" },
  "max-poll": { type: "string" },
  post: { type: "boolean" },
  get: { type: "boolean" },
  ...PIN_OPTIONS,
} as const;

/** Help text for {@link REQUEST_OPTIONS}. */
export const REQUEST_HELP = `  --cipher NAME       ${CIPHER_NAMES.join("|")}; default aes128 if the CA
                      advertises AES or SCEPStandard, else des3. aes192 and
                      aes256 are sent with a warning: RFC 8894 §3.5.2's AES is
                      AES-128 only
  --digest NAME       ${DIGEST_NAMES.join("|")}; default sha256 if the CA
                      advertises SHA-256 or SCEPStandard, else sha512 if it
                      advertises SHA-512, else sha1
  --key-size BITS     RSA size of a generated key (default 2048)
  --poll-interval S   seconds between CertPolls while PENDING (default 5; > 0)
  --max-poll S        give up polling after S seconds, exit 3 (default 300; 0: do not poll)
  --post | --get      force the PKIOperation method (default POST if the CA
                      advertises POSTPKIOperation or SCEPStandard)
${PIN_HELP}`;

type Values = {
  url?: string | undefined;
  timeout?: string | undefined;
  "ca-identifier"?: string | undefined;
  cipher?: string | undefined;
  digest?: string | undefined;
  "key-size"?: string | undefined;
  "poll-interval"?: string | undefined;
  "max-poll"?: string | undefined;
  post?: boolean | undefined;
  get?: boolean | undefined;
};

/** Validates the shared request settings. */
export function requestSettings(command: string, v: Values): Omit<EnrollmentOptions, "csr" | "signer" | "renewal" | "pin" | "challengeSent"> & { keySize: number } {
  return {
    url: urlOption(command, v.url),
    timeoutMs: timeoutOption(command, v.timeout),
    ...caIdentifierOption(command, v["ca-identifier"]),
    cipher: oneOf(command, "cipher", v.cipher, CIPHER_NAMES),
    digest: oneOf(command, "digest", v.digest, DIGEST_NAMES),
    method: methodOption(command, v.post, v.get),
    // At least 1 ms: with 0, a CA that stays PENDING was polled back to back without end (the polling budget counts
    // intervals). Whole milliseconds, as ScepClient takes them.
    pollIntervalMs: Math.round(numberOption(command, "poll-interval", v["poll-interval"], 5, { min: 0.001, max: 2_147_483 }) * 1000),
    maxPollMs: Math.round(numberOption(command, "max-poll", v["max-poll"], 300) * 1000),
    keySize: numberOption(command, "key-size", v["key-size"], 2048, { integer: true, min: 1024 }),
  };
}
