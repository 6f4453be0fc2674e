/**
 * The URL of one SCEP request (RFC 8894 §4.1): the CA's URL as configured, its own query kept as written, with
 * `operation` (and `message`) appended. Shared by the core client and the proxy's upstream.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.js";
import { encodeQueryValue } from "./query-value.js";

/** The SCEP parameters of one request (RFC 8894 §4.1), as {@link scepRequestUrl} appends them. @group Client */
export interface ScepQuery {
  /** The operation, e.g. `GetCACaps`, `GetCACert`, `GetNextCACert`, `PKIOperation`. */
  operation: string;
  /** The `message`: a CA identifier (GetCACaps, GetCACert) or a base64 PKIOperation for GET. Absent: none sent. */
  message?: string | undefined;
}

/**
 * The URL of a SCEP request to `caUrl` (RFC 8894 §4.1: `CA-URL?operation=OPERATION&message=MESSAGE`).
 *
 * The CA URL's own query is kept byte for byte, in order: `URL.searchParams` would re-serialize all of it as a form
 * (`%20` → `+`, `~` → `%7E`, `flag` → `flag=`), which a CA matching its query as text (a signed URL, a provisioner
 * name, a reverse proxy's route) refuses or misroutes. `operation`, then `message` when given, are appended after it,
 * each value percent-encoded by {@link encodeQueryValue} (a space as `%20`, base64's `+ / =` as `%2B %2F %3D`).
 *
 * A pair in the CA URL's query named like a parameter sent here (`operation`; `message` when one is sent), the name
 * compared percent-decoded and case-insensitively (as ASP.NET reads NDES's query, and as `rawQueryParam` does), is
 * removed, and only that pair: servers read the first occurrence, so a stale `operation=GetCACaps` in the configured
 * URL would otherwise win over the request's own. A `message` in the CA URL is kept when none is sent (a CA
 * identifier written into the URL still reaches GetCACaps and GetCACert). The fragment is dropped (it is never sent).
 * An empty query (`…/scep?`) is as none: `…/scep?operation=GetCACaps`.
 *
 * "Byte for byte" is the query as the WHATWG URL parser spells it, which is what `fetch` sends: for a URL in RFC 3986
 * syntax that is the text as written, but for `'`, which http and https URLs send as `%27`; characters that cannot
 * stand in a request target (a space, `"`, `<`, `>`, non-ASCII) are percent-encoded (UTF-8).
 *
 * @param caUrl - The CA's absolute SCEP URL (a string or a `URL`, which is not changed).
 * @param query - The parameters to append.
 * @returns A new `URL`: no fragment, the query `[CA query &]operation=…[&message=…]`.
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `caUrl` does not parse as an absolute URL (the URL is not
 *   echoed: it may hold a secret).
 *
 * @example
 * ```ts
 * import { scepRequestUrl } from "@scep/core";
 *
 * scepRequestUrl("https://ca.example/scep?profile=a%20b&x=~y*z&flag#top", { operation: "GetCACaps" }).href;
 * // "https://ca.example/scep?profile=a%20b&x=~y*z&flag&operation=GetCACaps"
 * scepRequestUrl("https://ca.example/scep?operation=GetCACaps&token=a+b", { operation: "GetCACert", message: "My CA" }).href;
 * // "https://ca.example/scep?token=a+b&operation=GetCACert&message=My%20CA"
 * ```
 * @group Client
 */
export function scepRequestUrl(caUrl: string | URL, query: ScepQuery): URL {
  let url: URL;
  try {
    url = new URL(caUrl);
  } catch (cause) {
    throw new InvalidArgumentError("the SCEP URL is not an absolute URL", { cause });
  }
  url.hash = "";
  const ours: [string, string][] = [["operation", query.operation]];
  if (query.message !== undefined) ours.push(["message", query.message]);
  const replaced = new Set(ours.map(([name]) => name));
  // `search` is "" for both no query and an empty one; otherwise "?" and the query as parsed, escapes untouched.
  const kept = url.search === "" ? "" : url.search.slice(1).split("&").filter((pair) => !replaced.has(pairName(pair))).join("&");
  const appended = ours.map(([name, value]) => `${name}=${encodeQueryValue(value)}`).join("&");
  // The setter re-parses with the query state, which leaves `%XX` and every character already in `search` as it is.
  url.search = `?${kept}${kept === "" || kept.endsWith("&") ? "" : "&"}${appended}`;
  return url;
}

/** A query pair's name, percent-decoded and lower-cased; a name that does not decode (a stray `%`) as written. */
function pairName(pair: string): string {
  const eq = pair.indexOf("=");
  const name = eq < 0 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(name).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}
