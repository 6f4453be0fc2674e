/**
 * Which content-encryption key transports this server has unwrapped, and for which envelope: a guard against a
 * CBC padding oracle (RFC 5652 §6.3, Vaudenay) on a captured request. Whoever captured a device's message can send its
 * key transport again (the CA unwraps the device's own content key) with ciphertext of its choosing, under a signature
 * and a messageType of its own, and read from each answer whether the padding held. A client draws a fresh content key
 * for every envelope it builds, and re-sends the same envelope whole, so a key transport seen before in another
 * envelope is such a probe: refused before anything is decrypted, with the answer a bad padding gets.
 *
 * An envelope is known by the digest its request's signature already vouches for (the messageDigest attribute, checked
 * against the EnvelopedData DER before this is asked): nothing is hashed here. A probe must carry its own envelope's
 * digest, so matching the device's digest under the device's algorithm takes a second preimage of the device's
 * envelope; another digest algorithm is another envelope.
 *
 * Per server process and bounded (the `max` most recently seen key transports, default 10 000; about 3 MiB with
 * RSA-2048 keys, 6 MiB with RSA-4096; one Map lookup and update per decrypted request): an attacker who first pushes a
 * captured key transport out with `max` messages of its own pays that per probe, and each replica of a server answers
 * at most one probe per captured message from its own memory.
 *
 * @module
 */
import type { DigestAlgorithm } from "../algorithms.js";
import { latin1 } from "../lib/bytes.js";
import { oldestKeyOf } from "../lib/oldest-key.js";

/** See the module comment. Internal. */
export class KeyTransportLedger {
  /** encryptedKey (latin1) → digest algorithm and envelope digest (latin1); least recently seen first. */
  readonly #seen = new Map<string, string>();
  readonly #oldest = oldestKeyOf(this.#seen);
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /**
   * Whether this key transport may be unwrapped for this envelope: true when it is new (then recorded) or was seen
   * with exactly this envelope; false when it was seen with another. `envelopeDigest` is the verified messageDigest
   * (bytes) under `digestAlgorithm`. Bound: it may be passed on as it is.
   */
  readonly check = (encryptedKey: Uint8Array, envelopeDigest: Uint8Array, digestAlgorithm: DigestAlgorithm): boolean => {
    const key = latin1(encryptedKey);
    const envelope = `${digestAlgorithm}:${latin1(envelopeDigest)}`;
    const seen = this.#seen.get(key);
    if (seen !== undefined) {
      if (seen !== envelope) return false;
      this.#seen.delete(key); // most recent last
      this.#oldest.forget(); // no iterator kept across the rebuilds re-sends cause (lib/oldest-key.ts)
    } else if (this.#seen.size >= this.#max) {
      this.#seen.delete(this.#oldest()!);
    }
    this.#seen.set(key, envelope);
    return true;
  };
}
