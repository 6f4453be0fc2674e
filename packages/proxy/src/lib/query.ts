// Reading query parameters from the raw query string: percent-decoded, `+` kept (iOS sends a literal `+` in
// base64 messages; form decoding would turn it into a space).

/** The value of the first `name` parameter (case-insensitive name), percent-decoded with `+` kept; "" when bare. */
export function rawQueryParam(search: string, name: string): string | undefined {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query === "") return undefined;
  const wanted = name.toLowerCase();
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (safeDecode(key).toLowerCase() !== wanted) continue;
    return eq < 0 ? "" : safeDecode(part.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // A stray % (not an escape) or bytes that are not UTF-8: decode the escapes byte by byte.
    return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}
