/**
 * Which profile answers a path: the profile's path itself, and the
 * suffixes clients append to it (`…/pkiclient.exe`, `…/cgi-bin`; RFC 8894 §4.1,
 * INTEROP quirk 2).
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

/**
 * Whether `rest`, what follows a SCEP endpoint's own path and its `/` (e.g. `pkiclient.exe` after `/scep/`), is a
 * suffix a client appends to the URL it was given (case-insensitive, an empty `rest` included):
 * - `pkiclient.exe`, or any path ending in `/pkiclient.exe` (RFC 8894 §4.1 names the CGI program; sscep, Cisco IOS,
 *   Windows' MDM client and NDES-style URLs such as `certsrv/mscep/mscep.dll/pkiclient.exe` send it);
 * - `cgi-bin` (Windows profiles deployed by Intune point at `…/cgi-bin` and append nothing; INTUNE.md).
 *
 * @param rest - path text, no leading `/`, no query string; a trailing `/` is allowed.
 * @returns true when a request to `{path}/{rest}` is a request to `{path}`.
 * @group Server
 */
export function isScepPathSuffix(rest: string): boolean {
  const r = (rest.endsWith("/") ? rest.slice(0, -1) : rest).toLowerCase();
  return r === "" || r === "pkiclient.exe" || r === "cgi-bin" || r.endsWith("/pkiclient.exe");
}

/**
 * A router over profiles: each answers its `path` and its `aliases`, each with the suffixes of
 * {@link isScepPathSuffix}; the longest matching path wins. A path that matches none as sent is matched again with
 * ASCII letters compared case-insensitively, as IIS (NDES) does: a device whose profile says `/CertSrv/mscep/mscep.dll`
 * or `/SCEP` reaches the endpoint served at `/certsrv/mscep/mscep.dll` or `/scep` instead of a 404.
 * @group Server
 */
export function createRouter<P extends { path: string; aliases?: readonly string[] }>(profiles: readonly P[]): Router<P> {
  const entries = profiles.flatMap((p) => [p.path, ...(p.aliases ?? [])].map((path) => ({ path, folded: foldCase(path), profile: p })));
  entries.sort((a, b) => b.path.length - a.path.length);
  const match = (path: string, folded: boolean): P | undefined => {
    for (const entry of entries) {
      const own = folded ? entry.folded : entry.path;
      if (path === own) return entry.profile;
      const prefix = own === "/" ? "/" : own + "/";
      if (!path.startsWith(prefix)) continue;
      if (isScepPathSuffix(path.slice(prefix.length))) return entry.profile;
    }
    return undefined;
  };
  return {
    route(pathname) {
      const path = normalizePath(pathname);
      return match(path, false) ?? match(foldCase(path), true);
    },
  };
}

/** `p` with its ASCII letters lower-cased; other characters are compared as sent. */
export function foldCase(p: string): string {
  return p.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
