/**
 * Certificate sets without repeats: a client reads a SET OF certificates (RFC 5652 §5.1) as a set, and iOS refuses a
 * GetCACert reply that names one certificate twice (RFC 8894 §4.2.1.2).
 */
import { equalBytes } from "./der.js";

/** `ders` without repeats (compared byte for byte), first occurrence kept, order otherwise unchanged. */
export function uniqueDers(ders: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const d of ders) if (!out.some((o) => equalBytes(o, d))) out.push(d);
  return out;
}
