/**
 * Which profile answers a path: the profile's path itself, and the
 * `…/pkiclient.exe` suffixes clients append (RFC 8894 §4.1, INTEROP quirk 2).
 * Cheap and synchronous, so an adapter can ask before building a `Request`.
 *
 * @module
 */

/** `//a/b/` → `/a/b`; `` → `/`. @group Server */
export function normalizePath(p: string): string {
  const s = ("/" + p).replace(/\/+/g, "/");
  return s.length > 1 ? s.replace(/\/$/, "") : s;
}

/** A path a WHATWG URL parse leaves as it is: no dot segment, no `%`, `\\` or character it would escape. */
const PLAIN_PATH = /^\/[\w\-.~!$&'()*+,;=:@/]*$/;

/**
 * The path of a request target (RFC 9112 §3.2), the same a web `Request` built from it reports in
 * `new URL(request.url).pathname`: origin-form (`/scep?…`) as sent when no URL parse would change it (the common
 * case, no parse at all), else through `URL` (dot segments, escapes, `\\`); absolute-form through `URL`. `"/"` for
 * a target that is no URL. @group Server
 */
export function targetPath(target: string): string {
  let end = target.length;
  const q = target.indexOf("?");
  if (q >= 0) end = q;
  const hash = target.indexOf("#");
  if (hash >= 0 && hash < end) end = hash;
  const path = target.slice(0, end);
  if (PLAIN_PATH.test(path) && !path.includes("/.")) return path;
  try {
    return new URL(target.startsWith("/") ? "http://localhost" + target : target).pathname;
  } catch {
    return "/";
  }
}

/** Maps a pathname to the profile serving it. @group Server */
export interface Router<P> {
  /** The profile serving `pathname` (no query string), or undefined. */
  route(pathname: string): P | undefined;
}

/** A router over profiles; the longest matching path wins. @group Server */
export function createRouter<P extends { path: string }>(profiles: readonly P[]): Router<P> {
  const sorted = [...profiles].sort((a, b) => b.path.length - a.path.length);
  return {
    route(pathname) {
      const path = normalizePath(pathname);
      for (const p of sorted) {
        if (path === p.path) return p;
        const prefix = p.path === "/" ? "/" : p.path + "/";
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length).toLowerCase();
        if (rest === "pkiclient.exe" || rest === "cgi-bin/pkiclient.exe" || rest.endsWith("/pkiclient.exe")) return p;
      }
      return undefined;
    },
  };
}
