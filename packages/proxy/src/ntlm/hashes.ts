/**
 * The two hash primitives NTLM needs: MD4 (RFC 1320) for the NT hash and
 * HMAC-MD5 (RFC 2104) for NTLMv2. Node's OpenSSL 3 only has MD4 with the
 * legacy provider loaded (a process flag or an openssl.cnf change), so both
 * come from `hash-wasm` (WebAssembly, no native code, no process flag).
 *
 * @module
 */
import { createHMAC, createMD4, createMD5 } from "hash-wasm";

/** UTF-16LE bytes of a string (what MS-NLMP calls `UNICODE(s)`). */
export function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i * 2] = c & 0xff;
    out[i * 2 + 1] = c >>> 8;
  }
  return out;
}

/** MD4 digest (16 bytes) of `data` (RFC 1320). */
export async function md4(data: Uint8Array): Promise<Uint8Array> {
  const h = await createMD4();
  h.init();
  h.update(data);
  return h.digest("binary").slice();
}

/** HMAC-MD5 (RFC 2104) of the concatenation of `parts` under `key`: 16 bytes. */
export async function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const h = await createHMAC(createMD5(), key);
  h.init();
  for (const p of parts) h.update(p);
  return h.digest("binary").slice();
}

/**
 * The NT hash of a password: `MD4(UNICODE(password))`, 16 bytes
 * (MS-NLMP §3.3.1 NTOWFv1, the key NTOWFv2 starts from).
 */
export function ntHash(password: string): Promise<Uint8Array> {
  return md4(utf16le(password));
}
