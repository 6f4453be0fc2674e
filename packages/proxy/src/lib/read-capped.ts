// Reading a body with a cap: never more than `max` bytes are buffered. One reader for the upstream's answer
// (HttpUpstream) and the Smallstep webhook's answer; the device's request is read by @scep/core's readBody, as the
// SCEP server reads it. Same contract as @scep/core's internal lib/read-capped.ts (kept private there: a generic
// stream helper is not SCEP API).

/**
 * The stream's bytes, or `"too-large"` once more than `max` bytes arrived (the rest is cancelled, never buffered).
 * A read error (the peer went away mid-body) propagates: the caller classifies it. Once `signal` aborts, rejects with
 * its reason: each read is raced against it rather than left to the stream, since Node 20's `fetch` (undici 6) does
 * not always reject a read already waiting when the request's signal aborts (nodejs/undici#4089), and an answer that
 * drips a byte at a time would outlive the caller's deadline. On abort the reader is cancelled, not awaited.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null | undefined, max: number, signal?: AbortSignal): Promise<Uint8Array | "too-large"> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
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
      const chunk = await (aborted ? Promise.race([reader.read(), aborted]) : reader.read());
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        return "too-large";
      }
      chunks.push(chunk.value);
    }
  } catch (e) {
    if (signal?.aborted) void reader.cancel(signal.reason).catch(() => undefined);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
