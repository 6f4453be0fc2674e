// Reading a body with a cap: never more than `max` bytes are buffered. One reader for the upstream's answer
// (HttpUpstream) and the Smallstep webhook's answer; the device's request is read by @scep/core's readBody, as the
// SCEP server reads it. Same contract as @scep/core's internal lib/read-capped.ts (kept private there: a generic
// stream helper is not SCEP API).

/**
 * The stream's bytes, or `"too-large"` once more than `max` bytes arrived (the rest is cancelled, never buffered).
 * A read error (the peer went away mid-body) propagates: the caller classifies it.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null | undefined, max: number): Promise<Uint8Array | "too-large"> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return "too-large";
    }
    chunks.push(chunk.value);
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
