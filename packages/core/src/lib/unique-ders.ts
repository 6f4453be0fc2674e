/**
 * Certificate sets without repeats: a client reads a SET OF certificates (RFC 5652 §5.1) as a set, and iOS refuses a
 * GetCACert reply that names one certificate twice (RFC 8894 §4.2.1.2).
 */
import { equalBytes } from "./der.js";

/** `items` without repeats (their DER, `derOf`, compared byte for byte), first occurrence kept, order otherwise unchanged. */
function uniqueBy<T>(items: readonly T[], derOf: (item: T) => Uint8Array): T[] {
  if (items.length < 2) return items.slice(); // nothing to compare (a SUCCESS CertRep's usual one certificate)
  const out: T[] = [];
  for (const item of items) if (!out.some((o) => equalBytes(derOf(o), derOf(item)))) out.push(item);
  return out;
}

/** `ders` (DER encodings) without repeats, first occurrence kept, order otherwise unchanged. */
export function uniqueDers(ders: readonly Uint8Array[]): Uint8Array[] {
  return uniqueBy(ders, (d) => d);
}

/** `certificates` without repeats (same DER), first occurrence kept, order otherwise unchanged. */
export function uniqueCertificates<C extends { readonly der: Uint8Array }>(certificates: readonly C[]): C[] {
  return uniqueBy(certificates, (c) => c.der);
}
