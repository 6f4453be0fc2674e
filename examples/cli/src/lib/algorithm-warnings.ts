/**
 * The `warning:` lines `enroll` and `renew` write before sending an algorithm (or RenewalReq) the CA's GetCACaps
 * did not promise (RFC 8894 §3.5.2). The defaults are ScepClient.enroll's to pick; these lines are only about what
 * the user chose with `--cipher`, `--digest` and `--renewal-req`.
 *
 * @module
 */
import type { CaCaps, ContentCipher, DigestAlgorithm } from "@scep/core";
import type { Context } from "./context.js";

/** What {@link warnAlgorithms} looks at: the user's explicit choices (undefined: the client's default, never warned). */
export interface ChosenAlgorithms {
  cipher?: ContentCipher | undefined;
  digest?: DigestAlgorithm | undefined;
  renewal?: boolean | undefined;
}

/** RFC 8894 §3.5.2: `SCEPStandard` implies these capabilities (the rule ScepClient.enroll's defaults follow too). */
const IMPLIED_BY_STANDARD = new Set(["aes", "postpkioperation", "sha-256"]);

/** Whether the CA advertises `cap`, itself or through `SCEPStandard`. */
function advertises(caps: CaCaps, cap: string): boolean {
  return caps.has(cap) || (IMPLIED_BY_STANDARD.has(cap.toLowerCase()) && caps.has("SCEPStandard"));
}

/**
 * RFC 8894 §3.5.2 (and IANA's SCEP CA Capabilities registry): `AES` is AES128-CBC, `DES3` triple DES-CBC; no
 * capability promises AES-192, AES-256 or single DES. Digests: `SHA-1`, `SHA-256`, `SHA-512`; `SHA-384` is no RFC 8894
 * capability, but some CAs list it (our own server does), and then it is promised.
 * Every choice `--cipher` and `--digest` accept is in one of these (rfc8894.3.5.2.cli-algorithm-warnings.test.ts).
 */
const CIPHER_CAP: Readonly<Partial<Record<ContentCipher, string>>> = { aes128: "AES", des3: "DES3" };
const LONGER_AES: ReadonlySet<ContentCipher> = new Set(["aes192", "aes256"]);
/** Single DES: no capability names it; RFC 8894 keeps it only as the fallback for a CA that advertises nothing. */
const SINGLE_DES: ReadonlySet<ContentCipher> = new Set(["des"]);
const DIGEST_CAP: Readonly<Partial<Record<DigestAlgorithm, string>>> = { sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" };
/** Digests no RFC 8894 capability names, with the name a CA that supports them lists anyway. */
const UNADVERTISABLE_DIGEST: Readonly<Partial<Record<DigestAlgorithm, string>>> = { sha384: "SHA-384" };

/** What the CA's AES means, for the AES-192/256 warning: `AES` itself, `SCEPStandard` (which implies it), or none. */
function aesAdvertised(caps: CaCaps): string | undefined {
  if (caps.has("AES")) return "the CA advertises AES, which";
  if (caps.has("SCEPStandard")) return "the CA advertises AES (implied by SCEPStandard), which";
  return undefined;
}

/**
 * Writes one `warning:` line to stderr (`ctx.err`) for each explicit choice the CA does not advertise, `SCEPStandard`
 * counting as AES, POSTPKIOperation and SHA-256 (RFC 8894 §3.5.2):
 * - `--cipher aes192|aes256`, always, even to a CA with no capabilities (RFC 8894 §3.5.2's `AES` is AES-128-CBC, and
 *   no capability promises a longer AES key: jscep#61/#64 are CAs that decrypt only AES-128):
 *   `warning: the CA advertises AES, which RFC 8894 §3.5.2 defines as AES-128; sending aes256 anyway`, or
 *   `warning: the CA does not advertise AES; sending aes256 anyway`;
 * - `--digest sha384` unless the CA lists `SHA-384`, even to a CA with no capabilities (RFC 8894 §3.5.2 defines only
 *   SHA-1, SHA-256 and SHA-512, so no default promises it): `warning: the CA does not advertise SHA-384 (RFC 8894
 *   §3.5.2 defines only SHA-1, SHA-256 and SHA-512); sending sha384 anyway`;
 * - otherwise only when the CA advertises something (no capabilities at all: the defaults are the RFC's, and a
 *   failed GetCACaps was warned about already): `--cipher aes128` without AES, `--cipher des3` without DES3,
 *   `--cipher des` whatever it advertises (no capability promises single DES, the fallback for a CA that advertises
 *   nothing: `warning: no capability promises single DES, the fallback for a CA that advertises none; sending des
 *   anyway`), `--digest sha1|sha256|sha512` without SHA-1/SHA-256/SHA-512, `--renewal-req` without Renewal.
 * Never throws; the request is sent anyway.
 */
export function warnAlgorithms(ctx: Context, caps: CaCaps, chosen: ChosenAlgorithms): void {
  if (chosen.cipher !== undefined && LONGER_AES.has(chosen.cipher)) {
    const aes = aesAdvertised(caps);
    ctx.err(aes ? `warning: ${aes} RFC 8894 §3.5.2 defines as AES-128; sending ${chosen.cipher} anyway` : `warning: the CA does not advertise AES; sending ${chosen.cipher} anyway`);
  }
  // No capabilities at all: nothing else is warned about (the RFC's defaults; a failed GetCACaps was warned about).
  const some = caps.list.length > 0;
  if (some && chosen.cipher !== undefined && SINGLE_DES.has(chosen.cipher)) ctx.err(`warning: no capability promises single DES, the fallback for a CA that advertises none; sending ${chosen.cipher} anyway`);
  const c = chosen.cipher && CIPHER_CAP[chosen.cipher];
  if (some && c && !advertises(caps, c)) ctx.err(`warning: the CA does not advertise ${c}; sending ${chosen.cipher} anyway`);
  const unadvertisable = chosen.digest && UNADVERTISABLE_DIGEST[chosen.digest];
  if (unadvertisable && !caps.has(unadvertisable)) ctx.err(`warning: the CA does not advertise ${unadvertisable} (RFC 8894 §3.5.2 defines only SHA-1, SHA-256 and SHA-512); sending ${chosen.digest} anyway`);
  const d = chosen.digest && DIGEST_CAP[chosen.digest];
  if (some && d && !advertises(caps, d)) ctx.err(`warning: the CA does not advertise ${d}; sending ${chosen.digest} anyway`);
  if (some && chosen.renewal && !caps.has("Renewal")) ctx.err("warning: the CA does not advertise Renewal; sending RenewalReq anyway");
}
