// The admin API an MDM calls: register a pending profile (→ the device's SCEP URL with a fresh one-time
// challenge), read profile statuses, see requeues and other proxy events. Behind `Authorization: Bearer <token>`.
import { withClientAddress } from "@scep-examples/server-kit/audit-entry";
import { bearerAuthorizer, jsonResponse as json } from "@scep-examples/server-kit/bearer-token";
import { requestText } from "@scep-examples/server-kit/request-text";
import { storeUnavailableResponse } from "@scep-examples/server-kit/store-unavailable";
import { allowOf, headOf } from "@scep-examples/server-kit/head";
import { clientAddressOf, isStoreUnavailable, newChallenge, type ChallengeStore } from "@scep/core";
import {
  MAX_CHALLENGE_RETRIEVED_AHEAD_MS,
  MAX_IDENTIFIER_LENGTH,
  buildIdentifier,
  buildProxyUrl,
  challengeHash,
  challengeTtlMs,
  isProxyError,
  type CaConfig,
  type CaRegistry,
  type ChallengeSource,
  type IdentifierErrorReason,
  type ProfileRecord,
  type ProfileStore,
} from "@scep/proxy";

/** Route prefix of the admin API. */
export const ADMIN_PREFIX = "/admin/";
/** The route that registers, lists and forgets device profiles. */
const ADMIN_PROFILES_PATH = "/admin/profiles";

/** Largest JSON body the admin API reads, in bytes. */
export const MAX_ADMIN_BODY = 16 * 1024;

/** One recorded proxy event, numbered in the order this process saw it. */
export interface RecordedEvent {
  seq: number;
  /** When the event happened, ISO 8601 UTC with milliseconds (a proxy event's: when its request arrived). */
  time: string;
  [field: string]: unknown;
}

/**
 * The last `capacity` proxy events of this process, one per device request (every forwarded GetCACaps, GetCACert and
 * PKIOperation, and the refusals, requeues and upstream failures), for `GET /admin/events`.
 */
export class EventLog {
  readonly #events: RecordedEvent[] = [];
  readonly #capacity: number;
  #seq = 0;
  constructor(capacity = 1000) {
    this.#capacity = capacity;
  }
  /** Records `event` (a copy) at `time` and returns it numbered. */
  add(event: object, time: Date): RecordedEvent {
    const recorded: RecordedEvent = { ...event, seq: ++this.#seq, time: time.toISOString() };
    this.#events.push(recorded);
    if (this.#events.length > this.#capacity) this.#events.shift();
    return recorded;
  }
  /** Events after `since` (a seq), oldest first, that pass `filter`. */
  list(since: number, filter: (e: RecordedEvent) => boolean): RecordedEvent[] {
    return this.#events.filter((e) => e.seq > since && filter(e));
  }
}

export interface AdminApiOptions {
  /** The bearer token (at least 16 characters). */
  token: string;
  cas: CaRegistry;
  profiles: ProfileStore;
  challenges: ChallengeStore;
  /** Where to fetch a challenge at registration, per CA type (NDES admin page, Smallstep webhook); absent: the MDM passes `challengeRetrievedAt`. */
  challengeSources?: Partial<Record<CaConfig["type"], ChallengeSource>>;
  /** The challenge password devices of a CA put into their CSR (custom CAs: the upstream's static challenge), by CA name. */
  deviceChallenges?: ReadonlyMap<string, string>;
  /** Base of device URLs: `<publicUrl><path>` (e.g. `http://127.0.0.1:8090/scep`). */
  proxyBase: () => string;
  events: EventLog;
  /**
   * How long a registration waits for a CA's challenge source, in ms (default 30 000, the sources' own default): past
   * it the registration answers 503 + Retry-After as for the source's own timeout.
   */
  challengeTimeoutMs?: number;
  /** Per-CA counts from the proxy handler, for `GET /admin/stats`. */
  stats?: () => unknown;
  /** Writes one JSON log line. */
  log(entry: Record<string, unknown>): void;
  now?: () => Date;
}

/** The admin API: see {@link createAdminApi}. */
export interface AdminApi {
  /** Whether `path` is an admin route. */
  owns(path: string): boolean;
  fetch(request: Request, meta?: { remoteAddress?: string | undefined }): Promise<Response>;
}


interface Registration {
  hostId: string;
  profileId: string;
  caName: string | undefined;
  platform: string | undefined;
  challengeRetrievedAt: number | undefined;
}

function readRegistration(body: unknown): Registration | string {
  const usage = 'expected a JSON body {"hostId": "…", "profileId": "…", "caName"?: "…", "platform"?: "…", "challengeRetrievedAt"?: <ms>}';
  if (typeof body !== "object" || body === null || Array.isArray(body)) return usage;
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!["hostId", "profileId", "caName", "platform", "challengeRetrievedAt"].includes(k)) return `unknown field ${JSON.stringify(k).slice(0, 40)}; ${usage}`;
  const text = (k: string, optional: boolean): string | undefined | null => {
    const v = b[k];
    if (v === undefined && optional) return undefined;
    return typeof v === "string" && v !== "" && v.length <= 256 ? v : null;
  };
  const hostId = text("hostId", false);
  const profileId = text("profileId", false);
  const caName = text("caName", true);
  const platform = text("platform", true);
  if (hostId == null || profileId == null || caName === null || platform === null) return `hostId and profileId (and caName, platform when given) must be non-empty strings of at most 256 characters; ${usage}`;
  const at = b.challengeRetrievedAt;
  if (at !== undefined && (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0)) return "challengeRetrievedAt must be milliseconds since 1970 (an integer)";
  return { hostId, profileId, caName, platform, challengeRetrievedAt: at as number | undefined };
}

/** Why a registration's fields cannot go into a device URL, by the identifier's reason (one line each, never the input). */
const UNCARRIABLE: Partial<Record<IdentifierErrorReason, string>> = {
  control_character: "hostId and profileId must not hold a control character: a device URL cannot carry it",
  bad_encoding: "hostId and profileId must be well-formed text (no lone UTF-16 surrogate): a device URL carries them as UTF-8",
  too_long: `hostId and profileId are too long for a device URL: percent-encoded, its identifier would exceed ${MAX_IDENTIFIER_LENGTH} characters`,
};

/** The latest `Date` there is, in ms since 1970 (ECMA-262 §21.4.1.22): a challenge cannot expire later. */
const MAX_DATE_MS = 8.64e15;

/**
 * Why the device URL of `r` at `ca` could not be built, or undefined when it can: checked with @scep/proxy's own
 * builder before anything is issued, fetched or written, with a challenge of the shape the stores issue
 * (`newChallenge`) standing in for a custom CA's one-time challenge.
 */
function uncarriable(r: Registration, ca: CaConfig): string | undefined {
  try {
    buildIdentifier({ hostId: r.hostId, profileId: r.profileId, caName: ca.name, ...(ca.type === "custom" ? { challenge: newChallenge() } : {}) });
    return undefined;
  } catch (e) {
    if (!isProxyError(e) || e.code !== "ERR_PROXY_IDENTIFIER") throw e;
    return UNCARRIABLE[(e as { reason?: IdentifierErrorReason }).reason ?? "empty"] ?? `hostId and profileId cannot go into a device URL (${e.message})`;
  }
}

/**
 * The example proxy's admin API, behind `Authorization: Bearer <token>` (compared in constant time; 401 without
 * a token, 403 with a wrong one, each writing an `admin-auth-failed` line without the token):
 *
 * - `POST /admin/profiles` `{ hostId, profileId, caName?, platform?, challengeRetrievedAt? }` → 201
 *   `{ hostId, profileId, caName, status: "pending", url, challengePassword?, challengeExpiresAt }`: records the
 *   profile as pending and answers the SCEP URL the device gets. For a `custom` CA the URL carries a fresh
 *   one-time challenge (valid the CA's `challengeTtlMs`, default 1 h; consumed by the device's first
 *   PKIOperation). For `ndes`/`smallstep` the challenge comes from the CA's challenge source when one is
 *   configured (NDES admin page over NTLM, Smallstep webhook; returned as `challengePassword`), else the MDM
 *   fetched it and passes when (`challengeRetrievedAt`, ms since 1970, default now; more than 24 hours
 *   ahead of now, e.g. microseconds: 400). A challenge source's failure answers 503 +
 *   Retry-After when it may pass (NDES "password cache is full", timeouts, `challengeTimeoutMs` included, 5xx) and
 *   502 otherwise, each with the source's `ERR_PROXY_*` code. A hostId or profileId a device URL cannot carry (a
 *   control character, a lone surrogate, an identifier over 4096 characters percent-encoded) is refused with 400
 *   before any challenge is issued or fetched and before anything is written. Registering again replaces the
 *   record (a requeued profile is re-registered this way, with a fresh challenge); for a `custom` CA the earlier
 *   URL's challenge is superseded (gone from the challenge store, and refused with 400 `challenge superseded`):
 *   only the latest URL enrolls.
 * - `GET /admin/profiles[?hostId=…&caName=…&status=…]` → `{ profiles: [record…] }`, least recently updated
 *   first (times in ms since 1970; at most 10 000); a record's `challengeHash` is not shown.
 * - `DELETE /admin/profiles` `{ hostId, profileId, caName? }` → 200 `{ deleted: true|false }`.
 * - `GET /admin/events[?type=…&since=<seq>]` → `{ events: [...] }`: this process's last 1000 proxy events
 *   (`@scep/proxy`'s ProxyEvent plus `seq` and `time`), oldest first; `type=requeue` keeps the requeues, any other
 *   type an outcome (`upstream_error`) or reason (`challenge_expired`). Each profile's status (`none` after a
 *   requeue) is shared by every replica; the events are this process's.
 * - `GET /admin/stats` → per-CA counts of this process.
 *
 * 400 for a malformed request, 404 for an unknown CA or route (an unknown route's `error` names every route, from the
 * route table: `no admin route /admin/nope; routes: GET /admin/profiles, …`), 503 + Retry-After when a store is down.
 * Each action writes an audit line `{ type: "admin", action: "register"|"register-failed"|"delete", …, clientAddress? }`
 * (`clientAddress`: the caller's address, at most 64 characters; never a challenge or the token).
 */
export function createAdminApi(o: AdminApiOptions): AdminApi {
  const now = o.now ?? (() => new Date());
  const challengeTimeoutMs = o.challengeTimeoutMs ?? 30_000;

  const authorize = bearerAuthorizer({ token: o.token, tokenName: "PROXY_ADMIN_TOKEN", realm: "scep-proxy-admin", log: o.log });

  const readJson = async (request: Request): Promise<unknown> => {
    const text = await requestText(request, MAX_ADMIN_BODY);
    if (text === "too-large") throw new RangeError(`the body is larger than ${MAX_ADMIN_BODY} bytes`);
    try {
      return JSON.parse(text);
    } catch {
      throw new RangeError("the body is not JSON");
    }
  };

  /** The body of `POST`/`DELETE /admin/profiles` and its CA (named, else the default), or the 400/404 answer. */
  const readProfileRequest = async (request: Request, noDefault: string): Promise<{ r: Registration; ca: CaConfig } | Response> => {
    let body: unknown;
    try {
      body = await readJson(request);
    } catch (e) {
      return json(400, { error: (e as Error).message });
    }
    const r = readRegistration(body);
    if (typeof r === "string") return json(400, { error: r });
    const ca = o.cas.get(r.caName ?? o.cas.defaultName ?? "");
    // The names configured, so that an MDM's typo reads at once (the admin API's caller holds the token).
    if (!ca) return json(404, { error: r.caName === undefined ? noDefault : `no CA of that name is configured (configured: ${o.cas.list().map((c) => c.name).join(", ")})` });
    return { r, ca };
  };

  const register = async (request: Request, clientAddress: string | undefined): Promise<Response> => {
    const read = await readProfileRequest(request, "no caName given and no default CA configured");
    if (read instanceof Response) return read;
    const { r, ca } = read;
    const t = now().getTime();
    const ttlMs = challengeTtlMs(ca);
    // Refused before a challenge is issued (which supersedes the earlier URL's) or fetched, and before the record is
    // written: what buildProxyUrl or the expiry's date would throw on afterwards.
    const refusal = uncarriable(r, ca);
    if (refusal !== undefined) return json(400, { error: refusal });
    if (r.challengeRetrievedAt !== undefined && r.challengeRetrievedAt + ttlMs > MAX_DATE_MS) return json(400, { error: "challengeRetrievedAt is too late: the challenge would expire after the last date there is (+275760-09-13)" });
    // @scep/proxy takes a fetch time more than 24 hours ahead of its clock as a wrong record (challenge failed,
    // requeued): said here, where the MDM gave it, rather than at the device's enrollment. Clock skew passes.
    if (r.challengeRetrievedAt !== undefined && r.challengeRetrievedAt > t + MAX_CHALLENGE_RETRIEVED_AHEAD_MS) return json(400, { error: "challengeRetrievedAt is in the future: give milliseconds since 1970 (not microseconds)" });
    let challenge: string | undefined;
    let challengePassword = o.deviceChallenges?.get(ca.name);
    let retrievedAt: number | undefined;
    let deadline: AbortSignal | undefined;
    try {
      if (ca.type === "custom") {
        // The holder (host, profile) makes this challenge supersede the one of an earlier registration, and the
        // record keeps its hash: the earlier URL is refused (400 `challenge superseded`), only this one enrolls.
        challenge = await o.challenges.issue({ profile: ca.name, ttlMs, holder: JSON.stringify([r.hostId, r.profileId]) });
      } else {
        const source = o.challengeSources?.[ca.type];
        if (source && (ca.ndes || ca.smallstep)) {
          deadline = AbortSignal.timeout(challengeTimeoutMs);
          const fetched = await source.fetchChallenge(ca, { signal: deadline });
          challengePassword = fetched.challenge;
          retrievedAt = fetched.retrievedAt;
        } else {
          retrievedAt = r.challengeRetrievedAt ?? t;
        }
      }
    } catch (e) {
      if (isStoreUnavailable(e)) return storeUnavailableResponse("profile or challenge", e, { log: o.log, method: request.method, path: ADMIN_PROFILES_PATH });
      // A source that rejects with this deadline's own reason (as the ChallengeSource interface allows; this
      // package's sources answer their typed timeout error instead): a timeout all the same, under the generic code.
      const timedOut = deadline?.aborted === true && e === deadline.reason;
      if (isProxyError(e) || timedOut) {
        // A challenge source failed: NDES's cache of challenges is full, a timeout, a 5xx (retryable: back off and
        // register again later, do not mark the device failed), or bad credentials, no permission, an unknown page.
        const code = isProxyError(e) ? e.code : "ERR_PROXY_CHALLENGE_SOURCE";
        const retryable = timedOut || (e as { retryable?: unknown }).retryable === true;
        o.log(withClientAddress({ type: "admin", action: "register-failed", hostId: r.hostId, profileId: r.profileId, caName: ca.name, code, retryable }, clientAddress));
        return retryable
          ? json(503, { error: "the CA's challenge source is busy or unreachable; register again later", code }, { "retry-after": "60" })
          : json(502, { error: "the CA's challenge source refused to give a challenge", code });
      }
      throw e;
    }
    // The answer is made before the write: nothing that throws comes after it (the fields were checked above).
    const url = buildProxyUrl(o.proxyBase(), { hostId: r.hostId, profileId: r.profileId, caName: ca.name, ...(challenge === undefined ? {} : { challenge }) });
    const challengeExpiresAt = new Date((retrievedAt ?? t) + ttlMs).toISOString();
    const record: ProfileRecord = { hostId: r.hostId, profileId: r.profileId, caName: ca.name, status: "pending", updatedAt: t };
    if (r.platform !== undefined) record.platform = r.platform;
    if (retrievedAt !== undefined) record.challengeRetrievedAt = retrievedAt;
    try {
      if (challenge !== undefined) record.challengeHash = await challengeHash(challenge);
      await o.profiles.put(record);
    } catch (e) {
      if (isStoreUnavailable(e)) return storeUnavailableResponse("profile or challenge", e, { log: o.log, method: request.method, path: ADMIN_PROFILES_PATH });
      throw e;
    }
    o.log(withClientAddress({ type: "admin", action: "register", hostId: r.hostId, profileId: r.profileId, caName: ca.name, caType: ca.type }, clientAddress));
    return json(201, {
      hostId: r.hostId,
      profileId: r.profileId,
      caName: ca.name,
      status: "pending",
      url,
      ...(challengePassword === undefined ? {} : { challengePassword }),
      challengeExpiresAt,
    });
  };

  const listProfiles = async (url: URL): Promise<Response> => {
    const hostId = url.searchParams.get("hostId");
    const caName = url.searchParams.get("caName");
    const status = url.searchParams.get("status");
    const out: Omit<ProfileRecord, "challengeHash">[] = [];
    try {
      for await (const r of o.profiles.list()) {
        // challengeHash stays in the store: a digest of the one-time challenge is nothing an operator needs, and
        // a listing is no place for material to guess the challenge against.
        const { challengeHash: _hash, ...shown } = r;
        if ((hostId === null || r.hostId === hostId) && (caName === null || r.caName === caName) && (status === null || r.status === status)) out.push(shown);
        if (out.length >= 10_000) break;
      }
    } catch (e) {
      if (isStoreUnavailable(e)) return storeUnavailableResponse("profile", e, { log: o.log, method: "GET", path: ADMIN_PROFILES_PATH });
      throw e;
    }
    const order = (r: Omit<ProfileRecord, "challengeHash">): string => `${r.hostId}\u0000${r.profileId}\u0000${r.caName}`;
    out.sort((a, b) => a.updatedAt - b.updatedAt || (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    return json(200, { profiles: out });
  };

  const deleteProfile = async (request: Request, clientAddress: string | undefined): Promise<Response> => {
    const read = await readProfileRequest(request, "no CA of that name is configured");
    if (read instanceof Response) return read;
    const { r, ca } = read;
    try {
      const deleted = await o.profiles.delete({ hostId: r.hostId, profileId: r.profileId, caName: ca.name });
      o.log(withClientAddress({ type: "admin", action: "delete", hostId: r.hostId, profileId: r.profileId, caName: ca.name, deleted }, clientAddress));
      return json(200, { deleted });
    } catch (e) {
      if (isStoreUnavailable(e)) return storeUnavailableResponse("profile", e, { log: o.log, method: request.method, path: ADMIN_PROFILES_PATH });
      throw e;
    }
  };

  /** One route's handlers, by method. */
  type Handler = (request: Request, url: URL, clientAddress: string | undefined) => Promise<Response> | Response;
  /**
   * Every admin route: path → method → handler. answer() routes by it, and reads from it the 405's `Allow` and the
   * list of routes the 404 for an unknown path gives, so neither can name a route that does not answer.
   */
  const routes: Record<string, Partial<Record<"GET" | "POST" | "DELETE", Handler>>> = {
    [ADMIN_PROFILES_PATH]: {
      GET: (_request, url) => listProfiles(url),
      POST: (request, _url, clientAddress) => register(request, clientAddress),
      DELETE: (request, _url, clientAddress) => deleteProfile(request, clientAddress),
    },
    "/admin/events": {
      GET: (_request, url) => {
        const since = Number(url.searchParams.get("since") ?? "0");
        const type = url.searchParams.get("type");
        return json(200, { events: o.events.list(Number.isFinite(since) ? since : 0, (e) => type === null || (type === "requeue" ? e.requeued === true : e.outcome === type || e.reason === type)) });
      },
    },
    "/admin/stats": { GET: () => json(200, { stats: o.stats?.() ?? null }) },
  };
  /** `GET /admin/profiles, POST /admin/profiles, …`: what the 404 for an unknown path names, one line. */
  const routeList = Object.entries(routes)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    .join(", ");

  return {
    owns: (path) => path === "/admin" || path.startsWith(ADMIN_PREFIX),
    // HEAD is answered as GET is, without the content (RFC 9110 §9.3.2), refusals included.
    fetch: async (request, meta = {}) => (request.method === "HEAD" ? headOf(await answer(request, meta)) : answer(request, meta)),
  };

  async function answer(request: Request, meta: { remoteAddress?: string | undefined }): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    // clientAddressOf never throws: meta is the caller's (null, a getter that throws), and the address never fails a request.
    const clientAddress = clientAddressOf(meta ?? undefined);
    const denied = authorize(request, path, clientAddress);
    if (denied) return denied;
    // After authentication only: the list of routes is for the MDM holding the token, not for anyone probing.
    const route = Object.hasOwn(routes, path) ? routes[path]! : undefined;
    if (!route) return json(404, { error: `no admin route ${path}; routes: ${routeList}` });
    const method = request.method === "HEAD" ? "GET" : request.method;
    const handler = Object.hasOwn(route, method) ? route[method as keyof typeof route] : undefined;
    // 405 with the methods the route answers, HEAD listed with GET (RFC 9110 §15.5.6, §10.2.1).
    if (!handler) return json(405, { error: `use ${Object.keys(route).join(", ")}` }, { allow: allowOf(Object.keys(route)) });
    return handler(request, url, clientAddress);
  }
}
