/**
 * A small memo of what a pure check of a byte string found, keyed by the bytes themselves, so that checks made one
 * after the other on the same value by functions that each must check it alone (a CSR subject: the server's CSR
 * policy, the issue hook, endEntityExtensions, buildCertificate) read it once.
 *
 * Keyed by content, not by the array: an array changed after its check is a new value, checked again; no caller can
 * get another value's verdict. The key is the bytes as a Latin-1 string (one character per octet, so two keys are
 * equal exactly when the bytes are): a string lives on V8's heap, where a kept copy of the bytes as a Uint8Array
 * (an ArrayBuffer each) cost several µs per value once the collector moved it (measured); a WeakMap keyed by the array
 * cost as much. The `capacity` most recently stored values are kept (a Map in insertion order, the oldest dropped), so
 * concurrent enrollments that interleave between two checks of their own value still find it; values longer than
 * `maxBytes` are not kept, so what stays in memory is bounded whatever a client sends.
 */
import { latin1 } from "./bytes.js";
import { oldestKeyOf } from "./oldest-key.js";

/** What a check found for byte strings, for the last `capacity` of them. */
export class ByteMemo<T> {
  // Not a #private field: where it is compiled to an older target, every access is a WeakMap look-up.
  private readonly entries = new Map<string, T>();
  private readonly oldest = oldestKeyOf(this.entries);

  /**
   * @param capacity - how many values are kept
   * @param maxBytes - the longest value kept: a longer one is checked each time (at most capacity × maxBytes bytes of
   *   keys stay in memory, whatever size of request a client sends)
   */
  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number,
  ) {}

  /** The key of `bytes`; undefined for a value too long to keep, or for what is not a Uint8Array (that caller's check says what is wrong). */
  key(bytes: Uint8Array): string | undefined {
    return bytes instanceof Uint8Array && bytes.length <= this.maxBytes ? latin1(bytes) : undefined;
  }

  /** What was stored for `key`, or undefined. */
  get(key: string | undefined): T | undefined {
    return key === undefined ? undefined : this.entries.get(key);
  }

  /** Stores `value` for `key`, as the most recent. */
  set(key: string | undefined, value: T): void {
    if (key === undefined) return;
    if (this.entries.has(key)) {
      this.entries.delete(key);
      this.oldest.forget(); // no iterator kept across the rebuilds moves cause (oldest-key.ts)
    }
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.oldest()!);
  }
}
