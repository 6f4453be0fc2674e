/**
 * The text of an admin API request's body, at most `maxBytes` bytes (UTF-8): refused by its declared
 * `Content-Length` before anything is read, else once read. Bytes, not characters: a "€" is three.
 *
 * @returns The body decoded as UTF-8 (invalid sequences become U+FFFD), or `"too-large"`.
 */
export async function requestText(request: Request, maxBytes: number): Promise<string | "too-large"> {
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) return "too-large";
  const bytes = new Uint8Array(await request.arrayBuffer());
  return bytes.length > maxBytes ? "too-large" : new TextDecoder().decode(bytes);
}
