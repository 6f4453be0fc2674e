// The operator API of the example servers under /admin/scep/…: profiles, activity, pending requests and their
// approval, one-time challenges, issued certificates, revocation, trust-anchor reload; and the admin page.
// A fetch-style handler (web Request → Response) with a cheap owns(path), mounted by each framework.
// The JSON shapes are documented in docs/admin-api.openapi.yaml.
import { withClientAddress } from "./audit-entry.js";
import { bearerAuthorizer, jsonResponse } from "./bearer-token.js";
import { storeUnavailableResponse } from "./store-unavailable.js";
import { retryAfterDelaySeconds } from "@scep/core/internal";
import {
  Certificate,
  CertificationRequest,
  REVOCATION_REASONS,
  isScepError,
  clientAddressOf,
  isStoreUnavailable,
  normalizeSerialNumber,
  type ChallengeStore,
  type RevocationReason,
  type ScepOutcome,
  type ScepServer,
  type Transaction,
  type TransactionStore,
} from "@scep/core";
import { isEmbeddedCaError, type FileCa } from "@scep-examples/embedded-ca";
import { ADMIN_PAGE_PATH, ADMIN_SCRIPT_PATH, adminPageHtml, adminPageScript } from "./admin-page.js";
import { allowOf, allows, headOf } from "./head.js";
import { requestText } from "./request-text.js";

/** Path prefix of every admin API route. */
export const ADMIN_PREFIX = "/admin/scep/";

/** Largest JSON body accepted, in bytes. */
const MAX_BODY = 4096;

/** Most certificates one page of `GET certificates` holds. */
export const MAX_PAGE_SIZE = 500;

/** What the admin API needs to reload one profile's Intune trust anchors (an `@scep/intune` `TrustAnchorPool` fits). */
export interface ReloadableTrustAnchors {
  /** Reads the anchors again (from their file); rejects with the reason and keeps the old pool when the new one is bad. */
  reload(): Promise<readonly { subject: string; notAfter: Date; fingerprintSha256?: string }[]>;
}

/** What `GET /admin/scep/activity` reads: an `ActivityLog` from `@scep/core` fits. */
export interface ActivitySource {
  list(filter?: { kind?: string | readonly string[]; challenge?: string | readonly string[]; outcome?: string | readonly string[]; profile?: string; limit?: number }): readonly object[];
}

/** Every method an admin route (or the admin page, GET) answers: the routes' `method` is one of these. */
const ADMIN_METHODS = ["GET", "POST"] as const;

/**
 * The `Allow` of the admin API as a whole (`GET, HEAD, POST`), for a method no admin route takes and that never reaches
 * the API (TRACE, TRACK, CONNECT: a web `Request` cannot carry them, see node-fetch.ts).
 */
export const ADMIN_API_ALLOW = allowOf(ADMIN_METHODS);

/** The admin API: see {@link createAdminApi}. */
export interface AdminApi {
  /** Whether `path` (URL pathname, still percent-encoded) is an admin route or the admin page: mount the handler for these only. */
  owns(path: string): boolean;
  /** Answers one admin request. `meta.remoteAddress` only goes into audit events, as their `clientAddress`. */
  fetch(request: Request, meta?: { remoteAddress?: string | undefined }): Promise<Response>;
}

/** Options of {@link createAdminApi}. */
export interface AdminApiOptions {
  /** The bearer token (at least 16 characters). */
  token: string;
  /** Where the operator set `token`, named in a 403's `error` (never the token itself); default `SCEP_ADMIN_TOKEN`. */
  tokenName?: string;
  server: ScepServer;
  /** Profile used when a request names none. */
  defaultProfile: string;
  /** Writes one JSON event line. */
  log(entry: Record<string, unknown>): void;
  /** Clock for ages (default `() => new Date()`). */
  now?: () => Date;
  /** Where `POST challenges` issues one-time challenges (undefined: the route answers 409). */
  challenges?: ChallengeStore;
  /**
   * The profiles that take one-time challenges (configuration file `"challenge": "one-time"`), by name: `POST
   * challenges` for any other profile answers 409 naming these, instead of issuing a challenge that profile never
   * accepts. Undefined: every profile does (one profile, `--one-time-challenges`).
   */
  oneTimeChallengeProfiles?: readonly string[];
  /** Lifetime of an issued one-time challenge when the request gives none, in ms (default one hour). */
  challengeTtlMs?: number;
  /** The embedded CA: `GET certificates` reads a page of its index (`listPage`), `POST revoke` revokes through it. */
  ca?: FileCa;
  /** A profile's own CA, when it has one (else `ca` is used): `GET certificates?profile=` and `POST revoke` with `profile`. */
  caFor?: (profile: string) => FileCa | undefined;
  /** Called after a revocation (the example signs and writes the CRL at once). */
  onRevoked?: (ca: FileCa) => Promise<unknown>;
  /** Per-profile snapshot for `GET profiles` (the SCEP server's `snapshot()`). */
  snapshot?: () => Promise<readonly object[]>;
  /** Fields added to every profile of `GET profiles` (e.g. `{ redis: true }`). */
  profileExtras?: (profile: string) => Record<string, unknown>;
  /** Recent activity for `GET activity`. */
  activity?: ActivitySource;
  /** Reloadable Intune trust anchors, by profile name, for `POST reload-trust`. */
  trustAnchors?: ReadonlyMap<string, ReloadableTrustAnchors>;
  /**
   * The profiles' transaction store (the server's `transactions`): where an approve or reject without `profile`
   * looks for the transaction, in every profile (without it, among `server.pending()`, the 1000 oldest of each
   * profile), and what it reads when that finds nothing PENDING: a transaction that exists but was decided (ISSUED,
   * REJECTED) or is being issued (ISSUING) gets 409 naming its status, and only an unknown one 404. Without it every
   * such answer is 404.
   */
  transactions?: Pick<TransactionStore, "get">;
}

const json = jsonResponse;



function subjectOf(tx: Transaction): string {
  try {
    return CertificationRequest.from(tx.csr).subject;
  } catch {
    return "";
  }
}

class BadRequest extends Error {}
/** A profile name no profile has: 404. */
class UnknownProfile extends Error {}

async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = await requestText(request, MAX_BODY);
  if (text === "too-large") throw new BadRequest(`the body is larger than ${MAX_BODY} bytes`);
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest("the body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequest("the body must be a JSON object");
  return body as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v === "") throw new BadRequest(`${name} must be a non-empty string`);
  return v;
}

/** Renames the pre-/admin/scep routes (`/admin/pending`, `/admin/approve/<tid>`, …) to their /admin/scep/ form. */
function canonicalPath(path: string): string {
  if (path.startsWith(ADMIN_PREFIX) || path === "/admin/scep") return path;
  const m = /^\/admin\/(pending|stats|challenges|approve|reject)(\/.*)?$/.exec(path);
  return m ? `${ADMIN_PREFIX}${m[1]}${m[2] ?? ""}` : path;
}

/** The outcomes an activity entry has (`@scep/core`'s ScepOutcome): what `GET activity?outcome=` takes. */
const OUTCOMES: ReadonlySet<string> = new Set(["success", "failure", "pending", "rejected", "error"] satisfies ScepOutcome[]);

/** The activity filter chips: an enrollment kind, or a challenge kind. */
const KIND_FILTERS = new Set(["initial", "renewal", "poll", "query", "ca", "proxy", "other"]);

/**
 * The admin API of the example servers, every route behind `Authorization: Bearer <token>` (shapes in
 * docs/admin-api.openapi.yaml):
 *
 * - `GET /admin/scep/profiles`: `{ profiles: [...] }`, the server's per-profile snapshot plus `redis`;
 * - `GET /admin/scep/activity?filter=initial|renewal|intune|static&outcome=…&limit=…`: `{ activity: [...] }`, newest first
 *   (`outcome`: success, failure, pending, rejected or error, else 400; `limit` 1 to 1000, default 100),
 *   each entry with the client's address as `clientAddress` when known (the TCP peer: behind a reverse proxy, the proxy's);
 * - `GET /admin/scep/pending`: `{ pending: [{ profile, transactionId, subject, status, ageSeconds }] }`, oldest first;
 * - `POST /admin/scep/approve` and `/reject` with `{ "transactionId": "…", "profile"?: "…" }` (or the ID as the
 *   rest of the path, percent-encoded or as it is, and `?profile=`): `{ profile, transactionId, status }`; without
 *   `profile`, the profile where the transaction is pending (409 `{ error, profiles }` when several hold that ID;
 *   404 naming the profiles searched when none does); an approve that cannot issue leaves the transaction PENDING and
 *   says why in `{ error, profile, transactionId, status: "PENDING" }`: 409 while the profile's CA is expired or not
 *   yet valid (an unknown transaction is still 404, a decided one 409 naming its status), 502 when the issue hook
 *   answered what an approve cannot take (`ERR_ISSUE_HOOK`: PENDING again, or a certificate for another key; a hook
 *   that throws an error of its own is a 500), 503 + `Retry-After` (seconds) while the CA key's worker is unavailable;
 * - `POST /admin/scep/challenges` with `{ "profile"?, "ttlSeconds"? }`: 201 `{ profile, challenge, expiresAt, expiresInSeconds }`,
 *   409 for a profile that takes no one-time challenges (`oneTimeChallengeProfiles`);
 * - `GET /admin/scep/certificates?subject=&serial=&page=1&pageSize=50&profile=`: `{ certificates, page, pageSize, total }`, newest first
 *   (`profile`: that profile's own CA, when it has one);
 * - `POST /admin/scep/revoke` with `{ "serialNumber": "…", "reason"?: "keyCompromise", "profile"?: "…" }`: `{ serialNumber, subject, reason, revokedAt, created, updated, alsoRevoked }`;
 *   revoking again keeps the first entry (`created: false`), except that `keyCompromise` upgrades an entry revoked for a
 *   reason that says nothing of the key (superseded, …) and any reason but certificateHold makes a hold permanent: the
 *   new reason, first revokedAt kept, `updated: true` (CA/B BR §4.9.1.1; RFC 5280 §5.3.1). An entry that ends
 *   keyCompromise also revokes keyCompromise the CA's other unexpired certificates of the same key (`alsoRevoked`: their
 *   serials, hex, those this call changed; `FileCa.revoke`), the key is refused from then on, and the CRL is re-signed
 *   once for all of them;
 * - `POST /admin/scep/reload-trust` with `{ "profile": "…" }`: `{ profile, anchors }`, or 422 `{ error, profile }` (old anchors kept);
 * - `GET /admin/scep/stats`: `{ stats }`, request counts over every replica.
 *
 * `GET /admin/scep` is the admin page (no token needed to load it: it holds no data, and asks for the token).
 * The pre-0.2 paths `/admin/pending`, `/admin/approve…`, `/admin/reject…`, `/admin/challenges`, `/admin/stats`
 * still answer, as aliases.
 *
 * 401 without a bearer token, 403 with a wrong one (compared in constant time; its `error` says the token does not
 * match `tokenName`), 400 for a malformed request, 404
 * for an unknown object or route (an unknown route's `error` names every route, from the route table: `no admin
 * route /admin/scep/nope; routes: GET /admin/scep/profiles, …`), 405 with `Allow` for a wrong method, 503 +
 * Retry-After when a store is down. HEAD of a
 * GET route (and of the page) gets the GET's status and header fields, `Content-Length` included, and no content
 * (RFC 9110 §9.3.2). Every refused
 * authentication writes an audit event `{ type: "admin-auth-failed", reason, method, path, clientAddress }`
 * (never the presented token); every action writes `{ type: "admin", action, … }` (never a challenge).
 */
export function createAdminApi(o: AdminApiOptions): AdminApi {
  const now = o.now ?? (() => new Date());

  const authorize = bearerAuthorizer({ token: o.token, tokenName: o.tokenName ?? "SCEP_ADMIN_TOKEN", realm: "scep-admin", log: o.log });

  /**
   * The `profile` a request names, checked against the server's profiles (`server.profiles()`); undefined when it
   * names none (null or ""). A name no profile has throws UnknownProfile (404 naming the profiles): it never falls
   * back to the server CA or the default profile, so a typo in `profile` cannot revoke or list another CA's
   * certificates, nor fail as HTTP 500.
   */
  const knownProfile = (name: string | null | undefined): string | undefined => {
    if (name === null || name === undefined || name === "") return undefined;
    const names = o.server.profiles().map((p) => p.profile);
    if (!names.includes(name)) throw new UnknownProfile(`no profile ${name} (profiles: ${names.join(", ")})`);
    return name;
  };

  /**
   * The 409 for a transaction of `profile` that exists but is not PENDING (decided, or being issued), naming its
   * status; undefined when the store holds none (or is not given): then the answer is 404.
   */
  const notPending = async (profile: string, transactionId: string): Promise<Response | undefined> => {
    const tx = await o.transactions?.get(profile, transactionId);
    if (!tx || tx.status === "PENDING") return undefined;
    return json(409, { error: `transaction ${transactionId} in profile ${profile} is already ${tx.status}`, profile, transactionId, status: tx.status });
  };

  const decide = async (action: "approve" | "reject", profile: string, transactionId: string, clientAddress: string | undefined): Promise<Response> => {
    try {
      const tx = action === "approve" ? await o.server.approve(profile, transactionId) : await o.server.reject(profile, transactionId);
      const subject = subjectOf(tx);
      // The issued certificate's serial (hex, as GET certificates and revoke spell it); a rejected request has none.
      let serialNumber: string | undefined;
      if (tx.certificate) {
        try {
          serialNumber = normalizeSerialNumber(new Certificate(tx.certificate).serialNumberHex);
        } catch {
          /* a store that mangled it: the line goes without */
        }
      }
      // The answer says what the audit line says (the subject decided on; for an approval, the certificate's serial,
      // which GET certificates and revoke take), so an operator's script needs no second call.
      const decided = { profile, transactionId, status: tx.status, ...(subject ? { subject } : {}), ...(serialNumber ? { serialNumber } : {}) };
      o.log(withClientAddress({ type: "admin", action, ...decided }, clientAddress));
      return json(200, decided);
    } catch (e) {
      if (!isScepError(e)) throw e;
      if (e.code === "ERR_TRANSACTION_STATE") return (await notPending(profile, transactionId)) ?? json(404, { error: `${e.message} in profile ${profile}` });
      if (e.code === "ERR_INVALID_ARGUMENT") return json(404, { error: e.message });
      // An approve that could not issue leaves the transaction PENDING (core releases its claim): the answer says
      // why and that it still waits, instead of a bare 500. An expired (or not yet valid) CA: 409 until it is renewed;
      // core checks the CA before it reads the transaction, so an unknown or decided one is told apart here first.
      // The issue hook answered what an approve cannot take (ERR_ISSUE_HOOK): 502, its message (the operator's own CA
      // code). The CA key's worker is down or busy: 503 with the key's Retry-After, to be tried again.
      if (action === "approve" && e.code === "ERR_CA_NOT_VALID") {
        const decided = await notPending(profile, transactionId);
        if (decided) return decided;
        if (o.transactions && !(await o.transactions.get(profile, transactionId))) return json(404, { error: `no pending transaction ${transactionId} in profile ${profile}` });
        return json(409, { error: e.message, profile, transactionId, ...(o.transactions ? { status: "PENDING" } : {}) });
      }
      if (action === "approve" && e.code === "ERR_ISSUE_HOOK") return json(502, { error: e.message, profile, transactionId, status: "PENDING" });
      if (e.code === "ERR_KEY_UNAVAILABLE") {
        const retryAfter = retryAfterDelaySeconds((e as { retryAfterSeconds?: unknown }).retryAfterSeconds) ?? 1;
        return json(503, { error: e.message, profile, transactionId, status: "PENDING" }, { "retry-after": String(retryAfter) });
      }
      throw e;
    }
  };

  /** `clientAddress`: the caller's address (clipped, at most 64 characters), for the audit lines. */
  type Route = (request: Request, url: URL, rest: string | undefined, clientAddress: string | undefined) => Promise<Response>;
  /**
   * `store`: the shared store a route reads or writes; when it is down (ERR_STORE_UNAVAILABLE) the answer is 503 naming it.
   * `idInPath`: the route also takes the transactionID as the rest of the path (`approve/<tid>`); any other route with a
   * rest of path is 404.
   */
  const routes: Record<string, { method: (typeof ADMIN_METHODS)[number]; store?: string; idInPath?: true; run: Route }> = {
    profiles: {
      method: "GET",
      run: async () => {
        if (!o.snapshot) return json(404, { error: "no profile snapshot on this server" });
        const list = await o.snapshot();
        return json(200, { profiles: list.map((p) => ({ ...p, ...(o.profileExtras?.(String((p as { profile?: unknown }).profile)) ?? {}) })) });
      },
    },
    activity: {
      method: "GET",
      run: async (_request, url) => {
        if (!o.activity) return json(404, { error: "no activity log on this server" });
        const filters = url.searchParams.getAll("filter").flatMap((f) => f.split(",")).filter((f) => f !== "");
        const kinds = filters.filter((f) => KIND_FILTERS.has(f));
        const challenges = filters.filter((f) => !KIND_FILTERS.has(f));
        const outcomes = url.searchParams.getAll("outcome").flatMap((f) => f.split(",")).filter((f) => f !== "");
        // An outcome no entry can have (a typo: `failed`) is a 400 naming the five, not an empty list that reads as
        // "no failures".
        if (outcomes.some((f) => !OUTCOMES.has(f))) throw new BadRequest(`outcome must be one of ${[...OUTCOMES].join(", ")} (repeat it or separate with commas)`);
        const limit = positive(url.searchParams.get("limit"), 100, "limit", 1000);
        const profile = knownProfile(url.searchParams.get("profile"));
        const activity = o.activity.list({
          ...(kinds.length ? { kind: kinds } : {}),
          ...(challenges.length ? { challenge: challenges } : {}),
          ...(outcomes.length ? { outcome: outcomes } : {}),
          ...(profile ? { profile } : {}),
          limit,
        });
        return json(200, { activity });
      },
    },
    pending: {
      method: "GET",
      store: "transaction",
      run: async (_request, url) => {
        const list = await o.server.pending(knownProfile(url.searchParams.get("profile")));
        const t = now().getTime();
        return json(200, {
          pending: list.map((tx) => ({ profile: tx.profile, transactionId: tx.transactionId, subject: subjectOf(tx), status: tx.status, ageSeconds: Math.max(0, Math.floor((t - tx.createdAt.getTime()) / 1000)) })),
        });
      },
    },
    approve: { method: "POST", store: "transaction", idInPath: true, run: (request, url, rest, address) => decideRoute("approve", request, url, rest, address) },
    reject: { method: "POST", store: "transaction", idInPath: true, run: (request, url, rest, address) => decideRoute("reject", request, url, rest, address) },
    challenges: {
      method: "POST",
      store: "challenge",
      run: async (request, url, _rest, clientAddress) => {
        const body = await readJson(request);
        const profile = knownProfile(stringField(body, "profile", false) ?? url.searchParams.get("profile")) ?? o.defaultProfile;
        if (!o.challenges) return json(409, { error: `profile ${profile} does not take one-time challenges (start the server with --one-time-challenges)` });
        const takers = o.oneTimeChallengeProfiles;
        if (takers && !takers.includes(profile)) return json(409, { error: `profile ${profile} does not take one-time challenges (profiles that do: ${takers.join(", ")}; give "profile")` });
        const ttl = body.ttlSeconds;
        if (ttl !== undefined && (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 60 || ttl > 7 * 86_400)) throw new BadRequest("ttlSeconds must be an integer from 60 to 604800");
        const ttlMs = ttl === undefined ? (o.challengeTtlMs ?? 3_600_000) : ttl * 1000;
        const challenge = await o.challenges.issue({ profile, ttlMs });
        o.log(withClientAddress({ type: "admin", action: "challenge", profile, ttlSeconds: Math.floor(ttlMs / 1000) }, clientAddress));
        return json(201, { profile, challenge, expiresAt: new Date(now().getTime() + ttlMs).toISOString(), expiresInSeconds: Math.floor(ttlMs / 1000) });
      },
    },
    certificates: {
      method: "GET",
      store: "revocation",
      run: async (_request, url) => {
        const profileName = knownProfile(url.searchParams.get("profile"));
        const ca = (profileName ? o.caFor?.(profileName) : undefined) ?? o.ca;
        if (!ca) return json(404, { error: "no embedded CA on this server" });
        const page = positive(url.searchParams.get("page"), 1, "page", Number.MAX_SAFE_INTEGER);
        const pageSize = positive(url.searchParams.get("pageSize"), 50, "pageSize", MAX_PAGE_SIZE);
        const subject = url.searchParams.get("subject") ?? undefined;
        // `serial` matches a whole serial in any spelling (80…, 0080…, 00:80:…: normalizeSerialNumber's canonical form,
        // which the index's records have) or a run of hex digits inside one (a prefix copied from a log line): listPage's
        // filter. Checked here first, so the 400 says what the API documents.
        const serial = url.searchParams.get("serial") || undefined;
        if (serial !== undefined) {
          try {
            normalizeSerialNumber(serial);
          } catch {
            throw new BadRequest("serial must be hex digits");
          }
        }
        // One page of the index is read (its lines), not the whole index, and the revocation store is asked about that
        // page's serials only (one get each, concurrent: pipelined on Redis), not listed whole: the cost is the page's,
        // not the CA's history.
        const { records, total } = await ca.listPage({ offset: Math.min((page - 1) * pageSize, Number.MAX_SAFE_INTEGER), limit: pageSize, ...(subject ? { subject } : {}), ...(serial ? { serial } : {}) });
        const revoked = await Promise.all(records.map((r) => ca.revocations.get(r.serialNumber)));
        return json(200, {
          certificates: records.map((r, i) => {
            const rev = revoked[i];
            return {
              serialNumber: r.serialNumber,
              subject: r.subject,
              notBefore: r.notBefore.toISOString(),
              notAfter: r.notAfter.toISOString(),
              issuedAt: r.issuedAt.toISOString(),
              revoked: rev ? { reason: rev.reason, revokedAt: rev.revokedAt.toISOString() } : null,
            };
          }),
          page,
          pageSize,
          total,
        });
      },
    },
    revoke: {
      method: "POST",
      store: "revocation",
      run: async (request, _url, _rest, clientAddress) => {
        const body = await readJson(request);
        const profileName = knownProfile(stringField(body, "profile", false));
        const ca = (profileName ? o.caFor?.(profileName) : undefined) ?? o.ca;
        if (!ca) return json(404, { error: "no embedded CA on this server" });
        const serialNumber = stringField(body, "serialNumber", true)!;
        const reason = (stringField(body, "reason", false) ?? "unspecified") as RevocationReason;
        if (!Object.hasOwn(REVOCATION_REASONS, reason)) throw new BadRequest(`reason must be one of ${Object.keys(REVOCATION_REASONS).join(", ")}`);
        try {
          // A keyCompromise revoke also revokes the CA's other unexpired certificates of that key (CA/B BR §4.9.1.1):
          // alsoRevoked. The CRL is re-signed once for all of them (onRevoked), after the last.
          const { entry, created, updated = false, subject, alsoRevoked } = await ca.revoke(serialNumber, reason);
          o.log(withClientAddress({ type: "admin", action: "revoke", ...(profileName ? { profile: profileName } : {}), serialNumber: entry.serialNumber, subject, reason: entry.reason, created, updated, alsoRevoked }, clientAddress));
          await o.onRevoked?.(ca);
          return json(200, { serialNumber: entry.serialNumber, subject, reason: entry.reason, revokedAt: entry.revokedAt.toISOString(), created, updated, alsoRevoked });
        } catch (e) {
          if (isEmbeddedCaError(e, "UNKNOWN_SERIAL")) return json(404, { error: e.message });
          if (isEmbeddedCaError(e, "INVALID_OPTIONS")) throw new BadRequest(e.message);
          throw e;
        }
      },
    },
    "reload-trust": {
      method: "POST",
      run: async (request, _url, _rest, clientAddress) => {
        const body = await readJson(request);
        const profile = stringField(body, "profile", false) ?? o.defaultProfile;
        const pool = o.trustAnchors?.get(profile);
        if (!pool) return json(404, { error: `profile ${profile} has no Intune trust anchors to reload` });
        try {
          const anchors = await pool.reload();
          o.log(withClientAddress({ type: "admin", action: "reload-trust", profile, anchors: anchors.length }, clientAddress));
          return json(200, { profile, anchors: anchors.map((a) => ({ subject: a.subject, notAfter: a.notAfter.toISOString(), ...(a.fingerprintSha256 ? { fingerprintSha256: a.fingerprintSha256 } : {}) })) });
        } catch (e) {
          const error = (e as Error).message.split("\n", 1)[0];
          o.log(withClientAddress({ type: "admin", action: "reload-trust", profile, error }, clientAddress));
          return json(422, { profile, error: `the trust anchors were not reloaded (the old ones stay in use): ${error}` });
        }
      },
    },
    stats: { method: "GET", store: "counter", run: async () => json(200, { stats: await o.server.sharedStats() }) },
  };

  /**
   * Every route as the 404 for an unknown path names it, one line (`GET /admin/scep/profiles, …, POST
   * /admin/scep/approve[/{transactionId}], …`): read from the table above, so it lists exactly what answers.
   */
  const routeList = Object.entries(routes)
    .map(([name, r]) => `${r.method} ${ADMIN_PREFIX}${name}${r.idInPath ? "[/{transactionId}]" : ""}`)
    .join(", ");

  const decideRoute = async (action: "approve" | "reject", request: Request, url: URL, rest: string | undefined, clientAddress: string | undefined): Promise<Response> => {
    if (rest !== undefined) {
      let transactionId: string;
      try {
        transactionId = decodeURIComponent(rest);
      } catch {
        throw new BadRequest("the transactionID in the path is not valid percent-encoding");
      }
      return decideIn(action, url.searchParams.get("profile") ?? undefined, transactionId, clientAddress);
    }
    const body = await readJson(request);
    const transactionId = body.transactionId ?? body.transactionID;
    if (typeof transactionId !== "string" || transactionId === "") throw new BadRequest('expected a JSON body {"transactionId": "…", "profile"?: "…"}');
    return decideIn(action, stringField(body, "profile", false), transactionId, clientAddress);
  };

  /**
   * Decides in the named profile; without one, in the profile where the transaction waits: the transactionID is the
   * client's, so two profiles can each hold one with the same ID (409 naming them: give "profile"), and a 404 names
   * the profiles searched.
   */
  const decideIn = async (action: "approve" | "reject", profile: string | undefined, transactionId: string, clientAddress: string | undefined): Promise<Response> => {
    if (profile !== undefined) return decide(action, profile, transactionId, clientAddress);
    // Asked of the store profile by profile when the API has it: `pending()` holds only the 1000 oldest of each
    // profile, and a newer request was answered 404 "no pending transaction".
    const store = o.transactions;
    const holders = store
      ? (await Promise.all(o.server.profiles().map(async ({ profile: name }) => ((await store.get(name, transactionId))?.status === "PENDING" ? name : undefined)))).filter((name): name is string => name !== undefined)
      : [...new Set((await o.server.pending()).filter((tx) => tx.transactionId === transactionId).map((tx) => tx.profile))];
    if (holders.length === 1) return decide(action, holders[0]!, transactionId, clientAddress);
    if (holders.length > 1) return json(409, { error: `transaction ${transactionId} is pending in profiles ${holders.join(", ")}: give "profile"`, profiles: holders });
    const searched = o.server.profiles().map((p) => p.profile);
    // Pending nowhere: decided already (or being issued) in a profile, 409 with its status; else unknown, 404.
    for (const name of searched) {
      const decided = await notPending(name, transactionId);
      if (decided) return decided;
    }
    return json(404, { error: `no pending transaction ${transactionId} in profile${searched.length === 1 ? "" : "s"} ${searched.join(", ")}` });
  };

  return {
    owns: (path) => path === "/admin" || path.startsWith("/admin/"),
    // HEAD is answered as GET is, without the content (RFC 9110 §9.3.2): every GET route, the page, and every refusal.
    fetch: async (request, meta = {}) => (request.method === "HEAD" ? headOf(await answer(request, meta)) : answer(request, meta)),
  };

  async function answer(request: Request, meta: { remoteAddress?: string | undefined }): Promise<Response> {
    const url = new URL(request.url);
    const path = canonicalPath(url.pathname);
    // The page and its script hold no data: they load without a token, and ask the user for it.
    if (path === ADMIN_PAGE_PATH || path === `${ADMIN_PAGE_PATH}/` || path === ADMIN_SCRIPT_PATH) {
      if (!allows(["GET"], request.method)) return json(405, { error: "use GET" }, { allow: allowOf(["GET"]) });
      return path === ADMIN_SCRIPT_PATH ? adminPageScript() : adminPageHtml(url);
    }
    // clientAddressOf never throws: meta is the caller's (null, a getter that throws), and the address never fails a request.
    const clientAddress = clientAddressOf(meta ?? undefined);
    const denied = authorize(request, url.pathname, clientAddress);
    if (denied) return denied;
    const m = path.startsWith(ADMIN_PREFIX) ? /^([a-z-]+)(?:\/(.+))?$/.exec(path.slice(ADMIN_PREFIX.length)) : null;
    const route = m && Object.hasOwn(routes, m[1]!) ? routes[m[1]!] : undefined;
    // After authentication only: the list of routes is for an operator holding the token, not for anyone probing.
    if (!m || !route || (m[2] !== undefined && !route.idInPath)) return json(404, { error: `no admin route ${url.pathname}; routes: ${routeList}` });
    if (!allows([route.method], request.method)) return json(405, { error: `use ${route.method}` }, { allow: allowOf([route.method]) });
    try {
      return await route.run(request, url, m[2], clientAddress);
    } catch (e) {
      if (e instanceof BadRequest) return json(400, { error: e.message });
      if (e instanceof UnknownProfile) return json(404, { error: e.message });
      if (route.store !== undefined && isStoreUnavailable(e)) return storeUnavailableResponse(route.store, e, { log: o.log, method: request.method, path: url.pathname, operation: m[1]! });
      throw e;
    }
  }
}

function positive(text: string | null, fallback: number, name: string, max: number): number {
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new BadRequest(`${name} must be an integer from 1 to ${max}`);
  return n;
}
