/**
 * Orders a bundle of CA certificates by issuer (RFC 5280 §6.1), whatever their
 * order in the file. Internal: the server's profile uses it for a
 * `caCertificate` PEM bundle.
 */
import type { Certificate } from "./certificate.js";

/**
 * `first`, then the certificates of `others` above it in issuer order: each one's issuer is the next one's subject
 * and the next one's key verifies its signature ({@link Certificate.isIssuedBy}; RFC 5280 §6.1 builds paths by name
 * and signature, not by the order of a file). The path stops at a self-issued certificate or when none of `others`
 * issued the last one. `rest`: the certificates of `others` not on the path, in their order.
 */
export function issuerPath(first: Certificate, others: readonly Certificate[]): { path: Certificate[]; rest: Certificate[] } {
  const rest = [...others];
  const path = [first];
  let current = first;
  while (rest.length > 0 && !current.isSelfIssued) {
    const child = current;
    const next = rest.findIndex((c) => child.isIssuedBy(c));
    if (next < 0) break;
    current = rest.splice(next, 1)[0]!;
    path.push(current);
  }
  return { path, rest };
}
