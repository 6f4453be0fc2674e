/**
 * Reading a reply body whole, but no further than a bound. The CLI's own copy of @scep/core's internal `readCapped`:
 * `@scep/core/internal` is for the `@scep/*` packages of the very same release, and this package accepts any
 * compatible @scep/core (`^`).
 *
 * @module
 */

/**
 * All of `stream`'s bytes, or `"too-large"` as soon as they pass `max` bytes (the stream is then cancelled, the rest
 * never read). An absent stream is empty. Rejects with the stream's own error when reading fails, and with `signal`'s
 * reason once it aborts: each read is raced against it (Node 20's fetch does not always reject a read already waiting
 * when the request's signal aborts, nodejs/undici#4089, and a server that drips a byte at a time would outlast the
 * deadline).
 */
export async function readCapped(stream: ReadableStream<Uint8Array> | null, max: number, signal?: AbortSignal): Promise<Uint8Array | "too-large"> {
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  let onAbort = (): void => undefined;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      })
    : undefined;
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
  } catch (error) {
    if (signal?.aborted) void reader.cancel(signal.reason).catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
