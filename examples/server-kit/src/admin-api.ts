// The operator API of the example servers: list PENDING transactions, approve or reject one.
// A fetch-style handler (web Request → Response) with a cheap owns(path), mounted by each framework.
import { createHash, timingSafeEqual } from "node:crypto";
import { CertificationRequest, isScepError, type ChallengeStore, type ScepServer, type Transaction } from "@scep/core";

/** Path prefix of every admin route. */
export const ADMIN_PREFIX = "/admin/";

/** Largest JSON body accepted, in bytes. */
const MAX_BODY = 4096;

/** The admin API: see {@link createAdminApi}. */
export interface AdminApi {
  /** Whether `path` (URL pathname, still percent-encoded) is an admin route: mount the handler for these only. */
  owns(path: string): boolean;
  /** Answers one admin request. `remoteAddress` only goes into audit events. */
  fetch(request: Request, meta?: { remoteAddress?: string | undefined }): Promise<Response>;
}

export interface AdminApiOptions {
  /** The bearer token (at least 16 characters). */
  token: string;
  server: ScepServer;
  /** Profile used when a request names none. */
  defaultProfile: string;
  /** Writes one JSON event line. */
  log(entry: Record<string, unknown>): void;
  /** Clock for the pending list's ages (default `() => new Date()`). */
  now?: () => Date;
  /** Where `POST /admin/challenges` issues one-time challenges (undefined: the route answers 404). */
  challenges?: ChallengeStore;
  /** Lifetime of an issued one-time challenge, in ms (default one hour). */
  challengeTtlMs?: number;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body) + "\n", { status, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers } });

/** Compares two secrets in constant time (equal-length digests, so the length leaks nothing either). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

function subjectOf(tx: Transaction): string {
  try {
    return CertificationRequest.from(tx.csr).subject;
  } catch {
    return "";
  }
}

/**
 * The admin API of the example servers, behind `Authorization: Bearer <token>`:
 *
 * - `GET /admin/pending`: `{ pending: [{ profile, transactionId, subject, status, ageSeconds }] }`, oldest first;
 * - `POST /admin/approve/<transactionID>` and `POST /admin/reject/<transactionID>`: the ID is the rest of
 *   the path, percent-decoded (so micromdm's base64 IDs work encoded, `cNJTus%2Bu%2FQH3uR5EDxDj6%2BbzBi4%3D`,
 *   or as they are, `cNJTus+u/QH3uR5EDxDj6+bzBi4=`);
 * - `POST /admin/approve` and `POST /admin/reject` with a JSON body `{ "transactionId": "…", "profile"?: "…" }`;
 * - `POST /admin/challenges` (with one-time challenges): 201 `{ profile, challenge, expiresInSeconds }`, a
 *   fresh one-time challenge (never logged);
 * - `GET /admin/stats`: `{ stats: [{ profile, outcomes, reasons, … }] }`, request counts summed over every
 *   replica sharing the counter store (Redis), expiry dates, never a secret.
 *
 * Answers 200 `{ profile, transactionId, status }`, 404 when no such transaction is pending, 400 for a
 * malformed request, 401 without a bearer token, 403 with a wrong one (compared in constant time), 503 when
 * the transaction store is unavailable. Every refused authentication writes an audit event
 * `{ type: "admin-auth-failed", reason, method, path, remoteAddress }` (never the presented token); every
 * decision writes `{ type: "admin", action, profile, transactionId, status }`.
 */
export function createAdminApi(o: AdminApiOptions): AdminApi {
  const now = o.now ?? (() => new Date());

  const authorize = (request: Request, path: string, remoteAddress: string | undefined): Response | undefined => {
    const header = request.headers.get("authorization");
    const given = header === null ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (given !== undefined && sameSecret(given, o.token)) return undefined;
    const reason = header === null ? "missing_token" : given === undefined ? "malformed_authorization" : "wrong_token";
    o.log({ type: "admin-auth-failed", reason, method: request.method, path, ...(remoteAddress ? { remoteAddress } : {}) });
    return given === undefined
      ? json(401, { error: "an Authorization: Bearer <token> header is required" }, { "www-authenticate": 'Bearer realm="scep-admin"' })
      : json(403, { error: "wrong token" });
  };

  const decide = async (action: "approve" | "reject", profile: string, transactionId: string): Promise<Response> => {
    try {
      const tx = action === "approve" ? await o.server.approve(profile, transactionId) : await o.server.reject(profile, transactionId);
      o.log({ type: "admin", action, profile, transactionId, status: tx.status });
      return json(200, { profile, transactionId, status: tx.status });
    } catch (e) {
      if (!isScepError(e)) throw e;
      if (e.code === "ERR_STORE_UNAVAILABLE") return json(503, { error: "the transaction store is unavailable; try again" }, { "retry-after": "30" });
      if (e.code === "ERR_TRANSACTION_STATE" || e.code === "ERR_INVALID_ARGUMENT") return json(404, { error: e.message });
      throw e;
    }
  };

  const readBody = async (request: Request): Promise<{ profile: string; transactionId: string } | string> => {
    const text = await request.text();
    if (text.length > MAX_BODY) return `the body is larger than ${MAX_BODY} bytes`;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return 'expected a JSON body {"transactionId": "…", "profile"?: "…"}';
    }
    const b = body as { transactionId?: unknown; profile?: unknown } | null;
    if (typeof b !== "object" || b === null || typeof b.transactionId !== "string" || b.transactionId === "") return 'expected a JSON body {"transactionId": "…", "profile"?: "…"}';
    if (b.profile !== undefined && typeof b.profile !== "string") return "profile must be a string";
    return { profile: b.profile ?? o.defaultProfile, transactionId: b.transactionId };
  };

  return {
    owns: (path) => path === "/admin" || path.startsWith(ADMIN_PREFIX),
    async fetch(request, meta = {}) {
      const url = new URL(request.url);
      const path = url.pathname;
      const denied = authorize(request, path, meta.remoteAddress);
      if (denied) return denied;
      if (path === "/admin/challenges" && o.challenges) {
        if (request.method !== "POST") return json(405, { error: "use POST" }, { allow: "POST" });
        const profile = url.searchParams.get("profile") ?? o.defaultProfile;
        const ttlMs = o.challengeTtlMs ?? 3_600_000;
        try {
          const challenge = await o.challenges.issue({ profile, ttlMs });
          o.log({ type: "admin", action: "challenge", profile });
          return json(201, { profile, challenge, expiresInSeconds: Math.floor(ttlMs / 1000) });
        } catch (e) {
          if (isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE") return json(503, { error: "the challenge store is unavailable; try again" }, { "retry-after": "30" });
          throw e;
        }
      }
      if (path === "/admin/stats") {
        if (request.method !== "GET") return json(405, { error: "use GET" }, { allow: "GET" });
        try {
          return json(200, { stats: await o.server.sharedStats() });
        } catch (e) {
          if (isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE") return json(503, { error: "the counter store is unavailable; try again" }, { "retry-after": "30" });
          throw e;
        }
      }
      if (path === "/admin/pending") {
        if (request.method !== "GET") return json(405, { error: "use GET" }, { allow: "GET" });
        const profile = url.searchParams.get("profile") ?? undefined;
        let list: Transaction[];
        try {
          list = await o.server.pending(profile);
        } catch (e) {
          if (isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE") return json(503, { error: "the transaction store is unavailable; try again" }, { "retry-after": "30" });
          throw e;
        }
        const t = now().getTime();
        return json(200, {
          pending: list.map((tx) => ({ profile: tx.profile, transactionId: tx.transactionId, subject: subjectOf(tx), status: tx.status, ageSeconds: Math.max(0, Math.floor((t - tx.createdAt.getTime()) / 1000)) })),
        });
      }
      const m = /^\/admin\/(approve|reject)(?:\/(.+))?$/.exec(path);
      if (!m) return json(404, { error: `no admin route ${path}` });
      if (request.method !== "POST") return json(405, { error: "use POST" }, { allow: "POST" });
      const action = m[1] as "approve" | "reject";
      if (m[2] !== undefined) {
        let transactionId: string;
        try {
          transactionId = decodeURIComponent(m[2]);
        } catch {
          return json(400, { error: "the transactionID in the path is not valid percent-encoding" });
        }
        return decide(action, url.searchParams.get("profile") ?? o.defaultProfile, transactionId);
      }
      const body = await readBody(request);
      if (typeof body === "string") return json(400, { error: body });
      return decide(action, body.profile, body.transactionId);
    },
  };
}
