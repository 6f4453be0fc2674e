// HEAD for the fetch-style handlers of the examples (the admin APIs and page): RFC 9110 §9.3.2.

/**
 * The answer to a HEAD, from the answer its GET gets: the same status and header fields, `content-length` set to the
 * GET's content length in bytes, and no content. Done in the handler rather than left to the framework, so every
 * mount (node:http, Express, @hono/node-server) sends the same header fields.
 */
export async function headOf(get: Response): Promise<Response> {
  const headers = new Headers(get.headers);
  headers.set("content-length", String((await get.arrayBuffer()).byteLength));
  return new Response(null, { status: get.status, statusText: get.statusText, headers });
}

/**
 * The `Allow` field value (RFC 9110 §10.2.1) of a resource answering `methods`: HEAD added after GET, since every GET
 * route also answers HEAD (RFC 9110 §9.1: a server that answers GET answers HEAD). `allowOf(["GET", "POST"])` is
 * `"GET, HEAD, POST"`.
 */
export function allowOf(methods: readonly string[]): string {
  return methods.flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m])).join(", ");
}

/** Whether `method` is one of `methods`, HEAD counting as GET. */
export function allows(methods: readonly string[], method: string): boolean {
  return methods.includes(method === "HEAD" ? "GET" : method);
}
