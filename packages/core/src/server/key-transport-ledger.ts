/**
 * Which content-encryption key transports this server has unwrapped, and for which ciphertext: a guard against a
 * CBC padding oracle (RFC 5652 §6.3, Vaudenay) on a captured request. Whoever captured a device's message can send its
 * key transport again (the CA unwraps the device's own content key) with ciphertext of its choosing, under a signature
 * and a messageType of its own, and read from each answer whether the padding held. A client draws a fresh content key
 * for every envelope it builds, and re-sends the same envelope whole, so a key transport seen before with another IV
 * or ciphertext is such a probe: refused before anything is decrypted, with the answer a bad padding gets.
 *
 * Per server process and bounded (the `max` most recently seen key transports, default 10 000, about 2 MiB; three SHA-256 and a Map update per decrypted request): an
 * attacker who first pushes a captured key transport out with `max` messages of its own pays that per probe, and each
 * replica of a server answers at most one probe per captured message from its own memory.
 *
 * @module
 */
import { toBase64Url } from "../lib/bytes.js";
import * as nc from "../lib/node-crypto.js";

/** See the module comment. Internal. */
export class KeyTransportLedger {
  /** SHA-256 of a key transport's encryptedKey → SHA-256 of its IV and of its ciphertext (base64url); oldest first. */
  readonly #seen = new Map<string, string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /**
   * Whether this key transport may be unwrapped for this IV and ciphertext: true when it is new (then recorded) or was
   * seen with exactly these; false when it was seen with another. Bound: it may be passed on as it is.
   */
  readonly check = (encryptedKey: Uint8Array, iv: Uint8Array, encryptedContent: Uint8Array): boolean => {
    const key = digest(encryptedKey);
    const content = digest(iv) + digest(encryptedContent);
    const seen = this.#seen.get(key);
    if (seen !== undefined) {
      if (seen !== content) return false;
      this.#seen.delete(key); // most recent last
    } else if (this.#seen.size >= this.#max) {
      this.#seen.delete(this.#seen.keys().next().value!);
    }
    this.#seen.set(key, content);
    return true;
  };
}

function digest(bytes: Uint8Array): string {
  return toBase64Url(nc.digest("sha256", bytes));
}
