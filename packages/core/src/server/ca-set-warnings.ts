/**
 * Warnings about a GetCACert set (RFC 8894 §4.2.1) in CA mode (the issuing CA signs and decrypts itself) that works
 * for some MDM clients and not for others, shown in `ProfileInfo.warnings`:
 *
 * - The issuing CA served alone while it has parents: a fingerprint pinned to the root matches nothing in the answer.
 *   Windows' ClientCertificateInstall CSP (`SCEP/{UniqueID}/Install/CAThumbprint`, the SHA-1 of the root CA) checks
 *   the CA certificate of the GetCACert answer against it and stops the enrollment when it does not match
 *   (NeySlim/ultimate-ca-manager#228: "hash mismatch" until the root was served too); Apple's `CAFingerprint` is
 *   compared with the top of the chain it builds from the answer (`SecSCEPValidateCACertMessage`).
 * - Several certificates in which Apple's client finds no RA (see `appleFindsRa` in profile.ts): every iOS and macOS
 *   enrollment stops before its PKIOperation (NeySlim/ultimate-ca-manager#101). Only an explicit `caCertificates`
 *   list can be so in CA mode (the default serves such a CA alone).
 *
 * @module
 */
import { toHex } from "../lib/bytes.js";
import { digest } from "../lib/node-crypto.js";
import type { Certificate } from "../x509/certificate.js";

const sha1Hex = (c: Certificate): string => toHex(digest("sha1", c.der)).toUpperCase();

/** Whether Apple finds its RA among the certificates of `set` that chain to another one of it (its candidates). */
function appleFindsRaIn(set: readonly Certificate[]): boolean {
  const candidates = set.filter((c) => set.some((o) => o !== c && c.isIssuedBy(o)));
  const has = (c: Certificate, u: "digitalSignature" | "keyEncipherment"): boolean => c.keyUsage?.has(u) ?? false;
  if (candidates.some((c) => has(c, "digitalSignature") && has(c, "keyEncipherment"))) return true;
  return candidates.some((c) => has(c, "digitalSignature")) && candidates.some((c) => has(c, "keyEncipherment"));
}

/**
 * The warnings for profile `name` whose issuing CA `ca` (with `caChain`, issuing CA first) signs and decrypts itself
 * and whose GetCACert set is `served`; `explicit` when the set is the profile's own `caCertificates` list. Empty in RA
 * mode (`raKeyUsageWarnings` judges RA certificates).
 */
export function caModeSetWarnings(name: string, ca: Certificate, caChain: readonly Certificate[], served: readonly Certificate[], options: { caMode: boolean; explicit: boolean }): string[] {
  if (!options.caMode) return [];
  const out: string[] = [];
  const top = caChain[caChain.length - 1]!;
  if (!options.explicit && served.length === 1 && caChain.length > 1) {
    out.push(
      `profile ${name}: GetCACert serves the issuing CA ${ca.subject} alone (it lacks keyUsage digitalSignature or keyEncipherment, so Apple's client would find no RA in its chain); ` +
        `a Windows CAThumbprint or Apple CAFingerprint pinned to ${top.subject} (SHA-1 ${sha1Hex(top)}) matches nothing in that answer: pin the issuing CA (SHA-1 ${sha1Hex(ca)}), ` +
        "or add an RA certificate with digitalSignature and keyEncipherment (signer, decrypters) so the whole chain is served",
    );
  }
  if (options.explicit && served.length > 1 && !appleFindsRaIn(served)) {
    out.push(
      `profile ${name}: caCertificates lists ${served.length} certificates in which Apple's SCEP client (iOS, macOS) finds no RA (none that chains to another one has keyUsage digitalSignature and keyEncipherment): ` +
        "every Apple enrollment stops before its PKIOperation; leave caCertificates at its default (the issuing CA alone), give the issuing CA those bits, or add an RA certificate with them",
    );
  }
  return out;
}
