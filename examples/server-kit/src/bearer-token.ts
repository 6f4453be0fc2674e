// Bearer-token checks shared by the example servers' admin API and /metrics and the example proxy's admin API
// (RFC 6750 §2.1 `Authorization: Bearer <token>`), compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { withClientAddress } from "./audit-entry.js";

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();

/** Compares two secrets in constant time (equal-length SHA-256 digests, so the length leaks nothing either). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** The token of an `Authorization: Bearer <token>` header value; undefined when absent or malformed. */
export function bearerToken(header: string | null | undefined): string | undefined {
  return header == null ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
}

const MALFORMED = "the Authorization header is not Bearer <token> (another scheme, or an empty token: is the variable holding it set?)";

/** A JSON answer of an admin API: one line, `no-store`. */
export const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body) + "\n", { status, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers } });

/**
 * Checks an admin request's bearer token: undefined when it is `token`, else the 401 (no header: its `error` names
 * `tokenName`, `an Authorization: Bearer <SCEP_ADMIN_TOKEN> header is required`; or one that is not `Bearer <token>`:
 * its own `error` text; with `WWW-Authenticate: Bearer realm=…`) or 403 (wrong token: its
 * `error` names `tokenName`, where the operator configured the token, e.g. `SCEP_ADMIN_TOKEN`, so the caller knows
 * what to compare with; never the token) to answer. Every refusal is logged as
 * `{ type: "admin-auth-failed", reason, method, path, clientAddress? }` (`clientAddress`: the caller's IP address, as
 * the SCEP events name it; the TCP peer, so behind a reverse proxy the proxy's), never with the presented token.
 */
export function bearerAuthorizer(o: { token: string; tokenName: string; realm: string; log: (entry: Record<string, unknown>) => void }) {
  const missing = `an Authorization: Bearer <${o.tokenName}> header is required`;
  const wrong = `wrong token: it does not match ${o.tokenName}, the admin token the server was started with`;
  return (request: Request, path: string, clientAddress: string | undefined): Response | undefined => {
    const header = request.headers.get("authorization");
    const given = bearerToken(header);
    if (given !== undefined && sameSecret(given, o.token)) return undefined;
    const reason = header === null ? "missing_token" : given === undefined ? "malformed_authorization" : "wrong_token";
    o.log(withClientAddress({ type: "admin-auth-failed", reason, method: request.method, path }, clientAddress));
    // A header that is there but is no `Bearer <token>` (another scheme, an empty token: a shell variable unset in the
    // operator's terminal) is told apart from a missing one; the header itself is never echoed.
    if (given === undefined) return jsonResponse(401, { error: header === null ? missing : MALFORMED }, { "www-authenticate": `Bearer realm="${o.realm}"` });
    return jsonResponse(403, { error: wrong });
  };
}
