/**
 * Reading a byte stream (an HTTP request's or response's body) whole, but no more than a bound: the PKIOperation POST
 * body, a webhook's answer, and (through `@scep/core/internal`) @scep/proxy's upstream answers and @scep/intune's
 * Microsoft answers. It needs only lib/bytes.ts, so the internal entry bundles little beside it.
 *
 * @module
 */
import { concat } from "./bytes.js";

/**
 * All of `stream`'s bytes, or `"too-large"` as soon as they pass `max` (the stream is then cancelled, the rest never
 * read). An absent stream is empty. Rejects with the stream's own error when reading fails (the peer went away), and
 * with `signal`'s reason once it aborts: each read is raced against it rather than left to the stream, since Node
 * 20's `fetch` (undici 6) does not always reject a read already waiting when the request's signal aborts
 * (nodejs/undici#4089), and an answer that drips a byte at a time would keep the caller past its deadline. On abort
 * the reader is cancelled, not awaited (a stuck stream may never settle it).
 */
export async function readCapped(stream: ReadableStream<Uint8Array> | null | undefined, max: number, signal?: AbortSignal): Promise<Uint8Array | "too-large"> {
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  let onAbort = (): void => undefined;
  const aborted =
    signal &&
    new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  aborted?.catch(() => undefined); // raced below; never an unhandled rejection
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await (aborted ? Promise.race([reader.read(), aborted]) : reader.read());
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        return "too-large";
      }
      chunks.push(value);
    }
  } catch (e) {
    if (signal?.aborted) void reader.cancel(signal.reason).catch(() => undefined);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return concat(chunks);
}
