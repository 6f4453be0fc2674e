// The user info of a CA's SCEP URL (`https://user:pass@host/…`), which HttpUpstream sends as HTTP Basic
// authentication (RFC 7617) instead of in the URL. URL user info is percent-encoded (RFC 3986 §3.2.1), and a URL
// parser keeps a `%` that starts no escape as it is: whether it decodes is known only when decoded. Checked when a CA
// is registered (MemoryCaRegistry), and again on each call for a CaConfig from a registry of one's own. The same
// Basic rules hold for the Smallstep webhook's and the NDES admin page's user name and password.
import { ProxyConfigError } from "../errors.js";
import { CONTROL_CHARACTER } from "./text.js";

/** A URL's user name and password, percent-decoded. */
export interface UrlCredentials {
  username: string;
  password: string;
}

/**
 * Why a user name and password cannot go into an HTTP Basic `Authorization` header as the CA would read them, or
 * undefined when they can. RFC 7617 §2: the user-id ends at the first colon (a user name holding one reaches the CA
 * as a shorter name, the rest prepended to the password), and neither may hold a control character (CTL: U+0000–
 * U+001F, U+007F). `names` words the two fields for the message, which never holds either value.
 */
export function basicCredentialsFault(username: string, password: string, names: { username: string; password: string }): string | undefined {
  if (username.includes(":")) return `${names.username} holds a colon, which HTTP Basic authentication cannot carry in a user name (RFC 7617 section 2: the user-id ends at the first colon)`;
  if (CONTROL_CHARACTER.test(username)) return `${names.username} holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)`;
  if (CONTROL_CHARACTER.test(password)) return `${names.password} holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)`;
  return undefined;
}

/**
 * The user name and password of `url`, percent-decoded as UTF-8 (`decodeURIComponent`); undefined when it has
 * neither. `what` names the URL in the error, e.g. `CA #2: url`.
 *
 * @throws ProxyConfigError (`ERR_PROXY_CONFIG`) when the user name or the password does not decode (a `%` not
 *   followed by two hex digits, or escapes whose bytes are not UTF-8: a truncated sequence, an overlong form, a
 *   surrogate), or decodes to what HTTP Basic authentication cannot carry (a user name holding a colon, `%3A`; a
 *   control character such as `%0D`, `%0A` or `%00` in either: {@link basicCredentialsFault}). One line saying which
 *   of the two, never its value.
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
  const credentials = { username: decode(url.username, "user name"), password: decode(url.password, "password") };
  const fault = basicCredentialsFault(credentials.username, credentials.password, { username: "the user name in its user info", password: "the password in its user info" });
  if (fault !== undefined) throw new ProxyConfigError(`${what}: ${fault}`);
  return credentials;
}
