/**
 * A POST that survives the redirects found in front of SCEP servers (an HTTP → HTTPS 301 or 308 at a load balancer,
 * PacketFence's `/scep/CA` → `/scep/CA/` 301): the PKIOperation body is sent again to the new location, never dropped.
 *
 * fetch's own `redirect: "follow"` turns a POST answered 301 or 302 into a GET without a body (the Fetch standard's
 * "HTTP-redirect fetch"), which a SCEP server can only refuse ("missing message"); and Node 20's fetch fails a
 * 307 or 308 with a byte body outright ("fetch failed": the body's buffer was detached by the first send).
 *
 * `ScepClient` uses it, and @scep/proxy's `HttpUpstream` through `@scep/core/internal` (a generic HTTP helper is not
 * SCEP API, so not in the main entry).
 *
 * @module
 */

/** The redirects a POST follows with its body (RFC 9110 §15.4.2, §15.4.3, §15.4.8, §15.4.9). 303 is not one of them. */
export const POST_REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 307, 308]);

/** At most this many redirects are followed for one POST; the next one is returned to the caller as it came. */
export const MAX_POST_REDIRECTS = 5;

/**
 * POSTs `body` to `url` through `doFetch`, following up to {@link MAX_POST_REDIRECTS} redirects of
 * {@link POST_REDIRECT_STATUSES} with the same method, headers and body (a fresh copy each time). A redirect to
 * another origin drops the `authorization` header, as fetch does. A redirect without a usable `Location` (absent,
 * not http or https), one past the limit, a 303, and an opaque redirect (a browser's fetch) are returned as they came:
 * the caller reports their status like any other non-2xx answer. The bodies of the redirect answers are cancelled.
 *
 * @param init - fetch options; `method` is forced to POST and `redirect` to `"manual"`.
 * @returns the last response and the URL it answered for.
 * @throws whatever `doFetch` throws (network errors, the caller's abort).
 */
export async function postFollowingRedirects(
  doFetch: typeof fetch,
  url: URL,
  body: Uint8Array,
  init: Omit<RequestInit, "body" | "method" | "redirect"> & { headers?: Record<string, string> } = {},
): Promise<{ response: Response; url: URL }> {
  let target = url;
  let headers: Record<string, string> = { ...init.headers };
  for (let hop = 0; ; hop++) {
    const response = await doFetch(target, { ...init, headers, method: "POST", body: body.slice() as Uint8Array<ArrayBuffer>, redirect: "manual" });
    if (!POST_REDIRECT_STATUSES.has(response.status) || hop >= MAX_POST_REDIRECTS) return { response, url: target };
    const next = nextLocation(response, target);
    if (!next) return { response, url: target };
    await response.body?.cancel().catch(() => undefined);
    if (next.origin !== target.origin) headers = withoutAuthorization(headers);
    target = next;
  }
}

function nextLocation(response: Response, base: URL): URL | undefined {
  const location = response.headers.get("location");
  if (!location) return undefined;
  let next: URL;
  try {
    next = new URL(location, base);
  } catch {
    return undefined;
  }
  return next.protocol === "http:" || next.protocol === "https:" ? next : undefined;
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
}
