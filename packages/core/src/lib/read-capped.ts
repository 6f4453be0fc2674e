/**
 * Reading a byte stream (an HTTP request's or response's body) whole, but no
 * more than a bound: the PKIOperation POST body and a webhook's answer.
 *
 * @module
 */
import { concat } from "./der.js";

/**
 * All of `stream`'s bytes, or `"too-large"` as soon as they pass `max` (the stream is then cancelled, the rest never
 * read). An absent stream is empty. Rejects with the stream's own error when reading fails (the peer went away).
 */
export async function readCapped(stream: ReadableStream<Uint8Array> | null | undefined, max: number): Promise<Uint8Array | "too-large"> {
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return "too-large";
    }
    chunks.push(value);
  }
  return concat(chunks);
}
