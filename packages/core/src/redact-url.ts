/**
 * URLs fit for a log line, an event or an error message: no credential a user or a configuration put in them. A URL
 * may carry a secret in its userinfo (`https://user:password@host/`) or in a query parameter (`?token=…`, a signed
 * URL's `?sig=…`); either would be written wherever the message goes (terminal, log shipper, metrics label).
 *
 * A URL meant to be read by whoever asked for it (a server's own listen URL, a one-time enrollment URL returned to
 * the admin who created it) is an output, not a log line: it is not passed through here.
 *
 * @module
 */

/**
 * Query parameter names whose value is masked, matched case-insensitively anywhere in the name (`password`,
 * `X-Amz-Signature`, `access_token`, `apiKey`, `client_secret`, `challengePassword`). SCEP's own `operation` and
 * `message` are not among them: a GetCACert `message` is a CA identifier, not a secret.
 */
const SECRET_QUERY_NAME = /pass|user|auth|token|secret|key|sig|code|challenge/i;

/** What replaces a masked part. */
const MASK = "***";

/**
 * A URL with its credentials masked: the userinfo's password (RFC 3986 §3.2.1; or a lone username, which may be a
 * token) replaced by `***`, and the value of every query parameter (RFC 3986 §3.4, `name=value` pairs as WHATWG URL
 * reads them) whose name looks like a credential (its name contains pass, user, auth, token, secret, key, sig, code,
 * challenge). Scheme, host, port, path and the other parameters are kept, so the line still says where.
 *
 * @param url - A URL string or `URL` (not modified).
 * @param options - `unparsable`: the text returned for a string that is not a URL (default `"(unparsable URL)"`;
 *   such a string is never echoed, since it may hold a credential too).
 * @returns The masked URL's `href`. Never throws.
 * @group Utilities
 * @example
 * ```ts
 * redactUrl("https://ops:s3cret@ca.example/scep?token=s3cret&operation=GetCACaps");
 * // "https://ops:***@ca.example/scep?token=***&operation=GetCACaps"
 * ```
 */
export function redactUrl(url: string | URL, options: { unparsable?: string } = {}): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return options.unparsable ?? "(unparsable URL)";
  }
  if (u.password) u.password = MASK;
  else if (u.username) u.username = MASK;
  for (const name of [...new Set(u.searchParams.keys())]) if (SECRET_QUERY_NAME.test(name)) u.searchParams.set(name, MASK);
  return u.href;
}

/**
 * A URL inside free text (an error message from fetch or undici): a scheme, `://`, then up to whitespace or a quote,
 * without a sentence's closing `.,;:)`.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*[^\s"'<>`.,;:)]/gi;

/**
 * `text` with every URL in it passed through {@link redactUrl}: for messages that are not ours, such as fetch's
 * "Request cannot be constructed from a URL that includes credentials: <url>". Other text is kept as it is.
 *
 * @param text - Any string.
 * @returns The same text, each URL in it masked as {@link redactUrl} does (a URL with nothing to mask kept as written).
 *   Never throws.
 * @group Utilities
 * @example
 * ```ts
 * redactUrlsInText("cannot fetch http://u:s3cret@ca.example/scep"); // "cannot fetch http://u:***@ca.example/scep"
 * ```
 */
export function redactUrlsInText(text: string): string {
  return text.replace(URL_IN_TEXT, (m) => {
    let href: string;
    try {
      href = new URL(m).href;
    } catch {
      // Not a URL to the WHATWG parser: mask what looks like userinfo and credential parameters all the same.
      return m.replace(/\/\/[^/?#]*@/, "//***@").replace(/([?&][^=&#]*=)[^&#]*/g, (p, head: string) => (SECRET_QUERY_NAME.test(head) ? `${head}${MASK}` : p));
    }
    const masked = redactUrl(m);
    return masked === href ? m : masked; // as written when nothing is masked (no added trailing "/")
  });
}
