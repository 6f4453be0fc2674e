/**
 * The two hash primitives NTLM needs: MD4 (RFC 1320) for the NT hash and
 * HMAC-MD5 (RFC 2104) for NTLMv2. Node's OpenSSL 3 only has MD4 with the
 * legacy provider loaded (a process flag or an openssl.cnf change), so both
 * come from `hash-wasm` (WebAssembly, no native code, no process flag).
 *
 * @module
 */
import { createMD4, createMD5, type IHasher } from "hash-wasm";

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

// One MD4 and one MD5 instance for the process, created on first use: a
// hash-wasm create*() instantiates WebAssembly (about 1 ms), while init/update/
// digest are synchronous, so calls never interleave on a shared instance.
let md4Hasher: Promise<IHasher> | undefined;
let md5Hasher: Promise<IHasher> | undefined;

/** MD4 digest (16 bytes) of `data` (RFC 1320). */
export async function md4(data: Uint8Array): Promise<Uint8Array> {
  const h = await (md4Hasher ??= createMD4());
  return h.init().update(data).digest("binary").slice();
}

const BLOCK = 64; // MD5 block size in bytes

/**
 * HMAC-MD5 (RFC 2104, checked against RFC 2202's test cases) of the
 * concatenation of `parts` under `key`: 16 bytes.
 */
export async function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const h = await (md5Hasher ??= createMD5());
  const k = new Uint8Array(BLOCK);
  k.set(key.length > BLOCK ? h.init().update(key).digest("binary") : key);
  const ipad = k.map((b) => b ^ 0x36);
  const opad = k.map((b) => b ^ 0x5c);
  h.init().update(ipad);
  for (const p of parts) h.update(p);
  const inner = h.digest("binary").slice();
  return h.init().update(opad).update(inner).digest("binary").slice();
}

/**
 * The NT hash of a password: `MD4(UNICODE(password))`, 16 bytes
 * (MS-NLMP §3.3.1 NTOWFv1, the key NTOWFv2 starts from).
 */
export function ntHash(password: string): Promise<Uint8Array> {
  return md4(utf16le(password));
}
