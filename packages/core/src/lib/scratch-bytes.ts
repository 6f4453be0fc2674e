/**
 * Bytes reused from call to call, for data that is read at once and let go: an encoding hashed or encrypted, a
 * SignerInfo's attributes re-tagged for verification, a content key while OpenSSL reads it. A new `Uint8Array` of
 * more than 64 bytes lives outside V8's heap and costs ~0.4–1 µs to allocate and to free in the next scavenge (and one
 * of ≤ 64 bytes is copied out of the heap the first time OpenSSL reads it); a view of this long-lived buffer costs
 * the copy alone (measured on the PKIOperation path, docs/performance.md, 2026-12-06).
 */

/**
 * A fixed buffer outside V8's heap, taken as a stack: a use inside another use (a cipher's key inside the content
 * key's, a SET OF written inside an encoding's use) gets the bytes after the outer ones. What does not fit gets an
 * array of its own. Every use's bytes are zeroed when it ends, whether it returns or throws.
 */
export class ScratchBytes {
  readonly #buffer: Uint8Array;
  #used = 0;

  /** `capacity`: bytes in the buffer (allocated once, here). */
  constructor(capacity: number) {
    this.#buffer = new Uint8Array(new ArrayBuffer(capacity));
  }

  /**
   * Calls `use` with `n` zeroed bytes and returns what it returns, zeroing them after. `use` must neither keep the
   * bytes nor a view of them, nor await before it has read them: the next use takes the same memory.
   */
  use<T>(n: number, use: (bytes: Uint8Array) => T): T {
    const start = this.#used;
    const fits = start + n <= this.#buffer.length;
    const bytes = fits ? this.#buffer.subarray(start, start + n) : new Uint8Array(new ArrayBuffer(n));
    if (fits) this.#used = start + n;
    try {
      return use(bytes);
    } finally {
      bytes.fill(0);
      if (fits) this.#used = start;
    }
  }
}
