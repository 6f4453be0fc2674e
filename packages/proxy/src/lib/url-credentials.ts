// The user info of a CA's SCEP URL (`https://user:pass@host/…`), which HttpUpstream sends as HTTP Basic
// authentication (RFC 7617) instead of in the URL. URL user info is percent-encoded (RFC 3986 §3.2.1), and a URL
// parser keeps a `%` that starts no escape as it is: whether it decodes is known only when decoded. Checked when a CA
// is registered (MemoryCaRegistry), and again on each call for a CaConfig from a registry of one's own.
import { ProxyConfigError } from "../errors.js";

/** A URL's user name and password, percent-decoded. */
export interface UrlCredentials {
  username: string;
  password: string;
}

/**
 * The user name and password of `url`, percent-decoded as UTF-8 (`decodeURIComponent`); undefined when it has
 * neither. `what` names the URL in the error, e.g. `CA #2: url`.
 *
 * @throws ProxyConfigError (`ERR_PROXY_CONFIG`) when the user name or the password does not decode: a `%` not followed
 *   by two hex digits, or escapes whose bytes are not UTF-8 (a truncated sequence, an overlong form, a surrogate). One
 *   line saying which of the two, never its value.
 */
export function urlCredentials(url: URL, what: string): UrlCredentials | undefined {
  if (url.username === "" && url.password === "") return undefined;
  const decode = (value: string, field: "user name" | "password"): string => {
    try {
      return decodeURIComponent(value);
    } catch (cause) {
      throw new ProxyConfigError(`${what}: the ${field} in its user info is not percent-encoded UTF-8 (a % must start an escape of two hex digits, and the escapes must decode to UTF-8)`, { cause });
    }
  };
  return { username: decode(url.username, "user name"), password: decode(url.password, "password") };
}
