/**
 * A framework-free SCEP server: web-standard `Request` in, `Response` out
 * (`fetch`), or the same request and answer as plain parts (`handle`, for
 * adapters that hold the body's bytes). Both run one code path, and a reply
 * becomes a `Response` only in `fetch`. This file wires the parts together; each concept has its own file:
 * `profile.ts` (options, defaults), `routing.ts` (which profile owns a path),
 * `read-request.ts`, `replies.ts`, `ca-operations.ts` (GetCACaps, GetCACert,
 * GetNextCACert), `pki-operation.ts` (dispatch), `enrollment/` (the phases of
 * a PKCSReq), `cert-poll.ts`, `get-cert.ts`, `approval.ts` (approve/reject),
 * `challenge-validators.ts`, `store-call.ts` (store timeouts).
 *
 * @module
 */
import { type CaNotValidError, InvalidArgumentError, isScepError, isStoreUnavailable } from "../errors.js";
import { clip } from "../lib/clip.js";
import { ignoreRejection } from "../ignore-rejection.js";
import { type ApproveOptions, type RejectOptions, approve, pending, reject } from "./approval.js";
import { getCaCaps, getCaCert, getNextCaCert } from "./ca-operations.js";
import { KeyTransportLedger } from "./key-transport-ledger.js";
import type { ServerContext } from "./context.js";
import { type CounterStore, countLabel } from "./counter-store.js";
import type { ProfileStats, ScepEvent, ScepOperation } from "./events.js";
import { type ConnectionInfo, type FetchHandler, type HttpRequestParts, type HttpResponseParts, clientAddressOf } from "./handler.js";
import { PkiOperationFailure, pkiOperation } from "./pki-operation.js";
import { type ResolvedProfile, type ScepProfile, resolveProfile } from "./profile.js";
import { rawQueryParam } from "./query.js";
import { type BodyReader, readBody, takeBody } from "./read-request.js";
import { Reply, caNotValid, keyUnavailable, storeUnavailable, text } from "./replies.js";
import { createRouter, foldCase, isScepPathSuffix, targetPath } from "./routing.js";
import { createStoreCall } from "./store-call.js";
import { MAX_TIMER_MS, SIZE_BYTES, numberOption, typeOf } from "../number-option.js";
import type { Transaction } from "./transaction-store.js";
import { type ProfileInfo, type ProfileSnapshot, profileInfo, profileSnapshot } from "./snapshot.js";
import type { ChallengeStatusReporter } from "./challenge.js";

export type { IssueContext, IssueHook, IssueResult, ScepProfile, ConfirmHook, ConfirmContext, ConfirmResult, UndeliveredCertificate } from "./profile.js";
export type { ApproveOptions, RejectOptions } from "./approval.js";


/** Options of {@link createScepServer}. @group Server */
export interface ScepServerOptions {
  /** The endpoints. */
  profiles: readonly ScepProfile[];
  /**
   * Largest POST body accepted, in bytes (default 65 536, 64 KiB): larger gets HTTP 413 `body_too_large`. A GET
   * PKIOperation's `message` is held to it too (its base64 to 4/3 of it plus 1 KiB, its DER to it): larger gets HTTP
   * 414 URI Too Long (RFC 9110 §15.5.15), event reason `uri_too_long`. Behind Node's HTTP server (`node:http`,
   * Express, `@hono/node-server`) a request line and headers over its `maxHeaderSize` (16 KiB by default) get 431 from
   * Node itself, before this server sees them and with no event: there a GET PKIOperation is held to about 12 KiB of
   * DER, and larger messages must be POSTed (a client does so when GetCACaps lists `POSTPKIOperation`). An integer
   * from 1 to 1 073 741 824 (1 GiB); anything else (`NaN`, a string, a fraction) makes {@link createScepServer} throw
   * `ERR_INVALID_ARGUMENT`.
   */
  maxBodyBytes?: number;
  /**
   * Receives one event per request the server answered (a sink, or several: each gets every event). Exceptions a
   * sink throws (or a promise it returns rejects with) are ignored and do not keep the others from running. Emitted as the response is returned, with one
   * exception: a SUCCESS whose ISSUED record (kept for a re-send, RFC 8894 §3.3.3) the transaction store has not
   * confirmed within 100 ms leaves without waiting for it, and its event follows once the store answers or
   * `storeTimeoutMs` passes (reason `issued` or `issued_not_recorded`).
   */
  onEvent?: EventSink | readonly EventSink[];
  /**
   * Told of the error behind every request answered with a 5xx, after its event: a store that did not answer in
   * time, is down or is full (503, reason `store_unavailable`), the CA/RA key unusable (503, `key_unavailable`), a
   * hook that threw (500, `internal_error` or the thrown `ScepError`'s code). The event names only a reason; this is
   * where an operator finds the cause. `error` is what was thrown, as is: its message is the store's or your hook's
   * own text, so log it only where your hooks' errors may go. Once a PKIOperation's message is decoded, `event` names
   * the request (`operation`: its messageType, `transactionId`, the CSR's `subject`). Whatever the callback throws is
   * ignored, and so is the rejection of a promise it returns (it is not awaited).
   *
   * @example
   * ```ts
   * import { createScepServer, type ScepProfile } from "@scep/core";
   *
   * declare const profile: ScepProfile;
   * createScepServer({ profiles: [profile], onError: (error, event) => console.error(`${event.operation} ${event.reason}:`, error) });
   * ```
   */
  onError?: (error: unknown, event: ScepEvent) => void;
  /** Clock (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Longest wait for one store call, in ms (default 2000): the transaction and one-time challenge stores, the counter
   * store's reads, and the profile hooks that read a store (`isRevoked`, `getCert`, `getCrl`) or undo a store write (a
   * custom challenge verdict's `release`). A call that takes longer, or rejects with {@link StoreUnavailableError}
   * (`ERR_STORE_UNAVAILABLE`), makes the request fail closed: HTTP 503 with `Retry-After` (the error's
   * `retryAfterSeconds`; 30 after a timeout), no CertRep (so no failInfo), event reason `store_unavailable`, `onError`
   * given the StoreUnavailableError (`isRevoked hook: no answer within 2000 ms`), nothing issued, a one-time challenge
   * the request spent given back. Any other error such a call throws is HTTP 500 `internal error` (event reason
   * `internal_error`, or a thrown `ScepError`'s code in lower case without `ERR_`). The hooks that are not store calls
   * are not bounded by it: `issue`, `confirm`, `onUndelivered`, a custom challenge policy's `validate`, `confirm` and
   * `onIssueFailure` (`webhookChallenge` bounds its own calls by its `timeoutMs`). GetCACaps and GetCACert never touch
   * a store. An integer from 1 to 2 147 483 647; anything else makes {@link createScepServer} throw
   * `ERR_INVALID_ARGUMENT`.
   */
  storeTimeoutMs?: number;
  /**
   * Also count every request here (default: only in this process, for {@link ScepServer.stats}). Pass a shared store
   * (`RedisCounterStore` from `@scep/redis`) so {@link ScepServer.sharedStats} adds up every replica. `increment` is
   * called without waiting; whatever it throws or rejects with is ignored.
   */
  counters?: CounterStore;
}

/**
 * Receives events. What it throws is ignored, and so is the rejection of a promise it returns (an async sink is not
 * awaited). @group Server
 */
export type EventSink = (event: ScepEvent) => void;

/** A running SCEP server: `fetch` (or `handle`) answers one request. @group Server */
export interface ScepServer extends FetchHandler {
  /**
   * Handles a request. Never throws; never answers 5xx for a client's mistake.
   *
   * @param request - The web request.
   * @param info - What the caller knows of the connection: `info.remoteAddress` (the client's IP address) becomes the
   *   event's `clientAddress`. A web `Request` carries no peer address, so without `info` the event has none.
   *
   * @example
   * ```ts
   * declare const incoming: Request; // as your runtime hands it over
   * declare const peer: string | undefined; // the runtime's peer address: Node's req.socket.remoteAddress, Bun's server.requestIP(req)?.address
   * const response = await server.fetch(incoming, { remoteAddress: peer });
   * ```
   */
  fetch(request: Request, info?: ConnectionInfo): Promise<Response>;
  /**
   * Answers a request given as plain parts exactly as {@link ScepServer.fetch} answers the same `Request`: the same
   * status, header fields and content bytes (none for HEAD), the same event, the same limits (a body over
   * `maxBodyBytes`, or a declared `Content-Length` over it, gets 413 `body_too_large`; a `body` promise that rejects,
   * 400 `body_aborted`; one that rejects with `BodyAlreadyReadError`, 400 `body_already_read`). The body is awaited only for a POST PKIOperation. Never throws; never answers 5xx for a
   * client's mistake. Cheaper than `fetch` for an adapter that has the request's bytes (no `Request`, `Headers`,
   * stream or `Response` is built); `@scep/express` uses it.
   *
   * @param request - Method, request target (origin-form `req.url` or an absolute URL), header fields (Node's
   *   `req.headers` as is, or a `Headers`), and the body's bytes or a promise of them.
   * @param info - As for {@link ScepServer.fetch}: `info.remoteAddress` becomes the event's `clientAddress`.
   * @returns Status, lower-case header fields (no `content-length`: write `body.length`), and the content bytes. For
   *   HEAD: the GET's header fields with its `content-length` (RFC 9110 §9.3.2), and no content bytes; a HEAD of a
   *   PKIOperation is 405 (`allow: GET, POST`, event reason `method_not_allowed`): it has effects, HEAD must not.
   *
   * @example
   * ```ts
   * import { createServer } from "node:http";
   *
   * createServer((req, res) => {
   *   const chunks: Buffer[] = [];
   *   req.on("data", (c: Buffer) => chunks.push(c)).on("end", async () => {
   *     const r = await server.handle({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) }, { remoteAddress: req.socket.remoteAddress });
   *     res.writeHead(r.status, req.method === "HEAD" ? r.headers : { ...r.headers, "content-length": r.body.length }).end(r.body);
   *   });
   * }).listen(8080);
   * ```
   */
  handle(request: HttpRequestParts, info?: ConnectionInfo): Promise<HttpResponseParts>;
  /**
   * Whether a profile serves `pathname` (its path or a `…/pkiclient.exe` suffix below it; a query string is
   * ignored). Cheap and synchronous: adapters ask it before building a `Request`, hand owned paths to `fetch` whatever
   * the status (GetNextCACert without a next CA is the server's own 404), and every other path to the next handler.
   */
  owns(pathname: string): boolean;
  /**
   * Approves a PENDING request (RFC 8894 §3.3.3): claims it (PENDING→ISSUING, atomic in the store, so a racing
   * approve or reject loses), runs the profile's issue hook with `approved: true` (or takes `options.certificate`),
   * then runs the same confirm phase as an immediate issuance (the profile's `confirm`, then the challenge policy's
   * own, with the `challengeData` stored with the request) and records it ISSUED; the next CertPoll gets the
   * certificate. When the confirm phase vetoes (or throws), the transaction is recorded REJECTED (the next CertPoll
   * gets FAILURE badRequest with the veto's text, event reason the veto's label), `onUndelivered` is told, and the
   * REJECTED record is returned. When the issue hook answers FAILURE (the issuer refuses: a key revoked as
   * compromised since the request was recorded, …), the transaction is recorded REJECTED with the hook's failInfo,
   * failInfoText and reason (the next CertPoll gets that FAILURE), the challenge policy's `onIssueFailure` is told,
   * and the REJECTED record is returned. When the issue hook throws, or answers PENDING, or the certificate
   * is refused (below), the claim is released (back to PENDING) and the error is rethrown.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an unknown profile, and when `options.certificate` does
   *   not certify the pending CSR's public key, or is PEM bytes without a CERTIFICATE block (the transaction stays
   *   PENDING).
   * @throws Asn1Error `ERR_ASN1` when `options.certificate`'s DER does not parse (the transaction stays PENDING).
   * @throws IssueHookError `ERR_ISSUE_HOOK` when the issue hook answers PENDING, a certificate that is not
   *   for the pending CSR's key, or bytes that are no certificate (the transaction stays PENDING).
   * @throws TransactionStateError `ERR_TRANSACTION_STATE` ("no pending transaction <id>") when the transaction is
   *   unknown, expired, already decided, or claimed by a concurrent approve.
   * @throws StoreUnavailableError `ERR_STORE_UNAVAILABLE` when the store fails or times out.
   * @throws CaNotValidError `ERR_CA_NOT_VALID` when the profile's issuing CA certificate has expired (or is not yet
   *   valid): nothing is claimed, the transaction stays PENDING.
   */
  approve(profile: string, transactionId: string, options?: ApproveOptions): Promise<Transaction>;
  /**
   * Rejects a PENDING request (PENDING→REJECTED, atomic); the next CertPoll gets FAILURE with `failInfo`
   * (default badRequest). When the challenge policy accepted the request, its `onIssueFailure` is told (reason
   * `rejected`). Throws like {@link ScepServer.approve}.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT`, before anything is recorded (the transaction stays PENDING),
   *   for a `failInfo` that is not one of RFC 8894's five or a `failInfoText` that is not a string: `reject: failInfo
   *   must be one of badAlg, badMessageCheck, badRequest, badTime, badCertId (got "badThing")`.
   */
  reject(profile: string, transactionId: string, options?: RejectOptions): Promise<Transaction>;
  /**
   * Transactions waiting for a decision (PENDING, and ISSUING while an approve runs), oldest first, of one profile
   * or of every profile. For admin endpoints. Bounded: at most the 1000 oldest of each status in each profile (the
   * store's `list` default); to find one transaction, ask the store (`TransactionStore.get`) for it.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an unknown profile.
   */
  pending(profile?: string): Promise<Transaction[]>;
  /** Counters (of this process) and expiry dates per profile (never secrets). */
  stats(): ProfileStats[];
  /**
   * Like {@link ScepServer.stats}, with the counts read from the `counters` store: the sum over every replica that
   * shares it (this process's counts when no store is configured).
   * @throws StoreUnavailableError `ERR_STORE_UNAVAILABLE` when the store fails or takes longer than `storeTimeoutMs`.
   */
  sharedStats(): Promise<ProfileStats[]>;
  /**
   * Each profile's configuration as an operator sees it: RA/CA certificates with notAfter and whole days left, the
   * next CA during a rollover, how challenges are checked (never the secret) and what the validator reports
   * ({@link ChallengeStatusReporter}: Intune mode, trust anchors with days left). Synchronous and store-free: cheap
   * enough for a metrics collection or a readiness probe.
   */
  profiles(): ProfileInfo[];
  /**
   * {@link ScepServer.profiles} plus, per profile, the request counters (from the shared `counters` store when
   * configured: every replica) and the number of transactions waiting for a decision. Never rejects: a store that
   * fails or takes longer than `storeTimeoutMs` is named in `unavailable` (counters then come from this process,
   * `pending` is null).
   */
  snapshot(): Promise<ProfileSnapshot[]>;
}

/** Most distinct reason labels a profile's in-process counters keep; later new ones count as `other`. */
const MAX_REASON_LABELS = 1000;

const OPS: Record<string, ScepOperation> = { getcacaps: "GetCACaps", getcacert: "GetCACert", getnextcacert: "GetNextCACert", pkioperation: "PKIOperation" };

/**
 * Creates a SCEP server.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, buildCertificate, createScepServer, endEntityExtensions } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const server = createScepServer({
 *   profiles: [{
 *     path: "/scep", caCertificate: ca.certificate, signer: ca,
 *     challenge: { type: "static", password: process.env.SCEP_CHALLENGE! },
 *     issue: async ({ csr, notAfterMax, allowSid }) => ({
 *       status: "SUCCESS",
 *       certificate: await buildCertificate({
 *         issuer: ca, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: crypto.getRandomValues(new Uint8Array(16)),
 *         notAfter: notAfterMax, extensions: endEntityExtensions({ csr, issuer: ca, allowSid }),
 *       }),
 *     }),
 *   }],
 * });
 * const response = await server.fetch(new Request("http://localhost/scep?operation=GetCACaps"));
 * ```
 * A complete, tested server (CA files, Express, enrolling): the README's quick start.
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for no profile, two profiles with one name or path, a profile
 *   option its resolver refuses (a numeric option out of its range, a missing `issue` function), a `storeTimeoutMs`
 *   that is not an integer from 1 to 2 147 483 647 (ms), a `maxBodyBytes` that is not an integer from 1 to
 *   1 073 741 824 (bytes), or a hook (`now`, `onError`, `onEvent`) that is not a function. The message is one line
 *   naming the option, its unit and range, and the value given.
 * @throws CaNotValidError `ERR_CA_NOT_VALID` when a profile's issuing CA certificate is expired or not yet valid at
 *   `now()` (a one-line message naming the profile, the CA and the date). One that expires later while the server
 *   runs: enrollments get HTTP 503 (event reason `ca_not_valid`, the error passed to `onError`), GetCACert still
 *   serves it with event reason `ca_cert_not_valid`.
 * @group Server
 */
export function createScepServer(options: ScepServerOptions): ScepServer {
  if (!Array.isArray(options.profiles) || !options.profiles.length) throw new InvalidArgumentError("at least one profile is required");
  // Checked before the profiles, whose CA files and keys cost more to look at.
  // NaN or 0 would time out every store call (every enrollment 503); above 2^31 − 1 ms Node fires a timer at once.
  const storeTimeoutMs = numberOption("storeTimeoutMs", options.storeTimeoutMs, 2000, { min: 1, max: MAX_TIMER_MS, unit: "ms" });
  // NaN compares false with every length: it lifted the limit (a 30 MB body read and parsed).
  const maxBody = numberOption("maxBodyBytes", options.maxBodyBytes, 64 * 1024, SIZE_BYTES);
  for (const [name, fn] of [["now", options.now], ["onError", options.onError]] as const) {
    if (fn !== undefined && typeof fn !== "function") throw new InvalidArgumentError(`${name} must be a function (got ${typeOf(fn)})`);
  }
  if (options.onEvent !== undefined && (typeof options.onEvent === "function" ? false : !Array.isArray(options.onEvent) || options.onEvent.some((s) => typeof s !== "function"))) {
    throw new InvalidArgumentError("onEvent must be a function or an array of functions");
  }
  if (options.counters !== undefined && typeof options.counters?.increment !== "function") throw new InvalidArgumentError("counters must be a CounterStore (an object with increment)");
  const now = options.now ?? (() => new Date());
  const profiles = options.profiles.map((p) => resolveProfile(p, now));
  const byName = new Map<string, ResolvedProfile>();
  const byPath = new Map<string, ResolvedProfile>();
  for (const p of profiles) {
    if (byName.has(p.name) || byPath.has(p.path)) throw new InvalidArgumentError(`duplicate profile ${p.name} / ${p.path}`);
    byName.set(p.name, p);
    byPath.set(p.path, p);
  }
  for (const p of profiles) {
    for (const alias of p.aliases) {
      const taken = byPath.get(alias);
      if (taken) throw new InvalidArgumentError(`profile ${p.name}: alias ${alias} is already ${taken === p ? "its own path or alias" : `profile ${taken.name}'s path or alias`}`);
      byPath.set(alias, p);
    }
  }
  // The router matches a path in any case when none matches as sent (IIS does, and NDES URLs are deployed in both
  // spellings), so two profiles whose paths differ only in case would share those requests.
  const folded = new Map<string, [string, ResolvedProfile]>();
  for (const [path, p] of byPath) {
    const other = folded.get(foldCase(path));
    if (other && other[1] !== p) {
      throw new InvalidArgumentError(`profile ${p.name}: path or alias ${path} differs from profile ${other[1].name}'s ${other[0]} only in case, and SCEP paths are matched in any case`);
    }
    folded.set(foldCase(path), [path, p]);
  }
  // A path that is another profile's path plus a suffix clients append (`/scep/cgi-bin` next to `/scep`) would take
  // that profile's devices: the longest match wins the route, so a Windows device given `/scep/cgi-bin` for `/scep`
  // would enroll with the other profile's CA and challenge.
  const kind = (r: ResolvedProfile, x: string): string => (x === r.path ? "path" : "alias");
  for (const [path, p] of byPath) {
    for (const [shorter, q] of byPath) {
      if (q === p) continue;
      const prefix = shorter === "/" ? "/" : shorter + "/";
      if (path.startsWith(prefix) && isScepPathSuffix(path.slice(prefix.length))) {
        throw new InvalidArgumentError(`profile ${p.name}: ${kind(p, path)} ${path} is profile ${q.name}'s ${kind(q, shorter)} ${shorter} with a suffix clients append, so it would take ${q.name}'s requests`);
      }
    }
  }
  const router = createRouter(profiles);
  const sinks: readonly EventSink[] = options.onEvent === undefined ? [] : typeof options.onEvent === "function" ? [options.onEvent] : [...options.onEvent];
  const ctx: ServerContext = { now, maxBody, store: createStoreCall(storeTimeoutMs), keyTransports: new KeyTransportLedger() };

  function emit(e: ScepEvent, profile?: ResolvedProfile): void {
    const subject = clip(e.subject, MAX_EVENT_SUBJECT);
    if (subject !== e.subject) e = { ...e, subject };
    if (profile) {
      profile.stats.outcomes[e.outcome] = (profile.stats.outcomes[e.outcome] ?? 0) + 1;
      countLabel(profile.stats.reasons, e.reason, MAX_REASON_LABELS); // bounded like MemoryCounterStore
      if (options.counters) {
        try {
          ignoreRejection(options.counters.increment(profile.name, e.outcome, e.reason));
        } catch {
          /* counting must never break or slow a request */
        }
      }
    }
    for (const sink of sinks) {
      try {
        ignoreRejection(sink(e));
      } catch {
        /* a broken event sink must not break the server, nor keep the others from the event */
      }
    }
  }

  async function operate(method: string, p: ResolvedProfile, url: string, operation: string, bodyReader: BodyReader): Promise<Reply> {
    if (method !== "GET" && method !== "POST" && method !== "HEAD") {
      // Allow (RFC 9110 §15.5.6, §10.2.1) lists what the target answers: HEAD too, except for a PKIOperation (below).
      const allow = operation.toLowerCase() === "pkioperation" ? "GET, POST" : "GET, HEAD, POST";
      return new Reply(text(405, "method not allowed", { allow }), "rejected", "method_not_allowed");
    }
    switch (operation.toLowerCase()) {
      case "getcacaps":
        return getCaCaps(p);
      case "getcacert":
        return getCaCert(ctx, p);
      case "getnextcacert":
        return getNextCaCert(ctx, p);
      case "pkioperation":
        // HEAD is safe (RFC 9110 §9.2.1, §9.3.2): clients, caches and link checkers send it expecting no effect. A
        // PKIOperation spends a challenge and issues a certificate, so a HEAD is refused rather than run as its GET.
        if (method === "HEAD") return new Reply(text(405, "method not allowed", { allow: "GET, POST" }), "rejected", "method_not_allowed");
        return pkiOperation(ctx, p, method, url, bodyReader);
      case "":
        return new Reply(text(400, "missing operation parameter"), "rejected", "missing_operation");
      default:
        return new Reply(text(400, "unknown operation"), "rejected", "unknown_operation");
    }
  }

  /** The one path `fetch` and `handle` share: route, answer, emit the event. The reply keeps its body for HEAD. */
  async function serve(method: string, pathname: string, url: string, bodyReader: BodyReader, info: ConnectionInfo | undefined): Promise<HttpResponseParts> {
    // The event's time. A `now` that throws fails the operations that read the clock (a 500 with onError told), not
    // every request: GetCACaps never needed it.
    let time: Date;
    try {
      time = now();
    } catch {
      time = new Date();
    }
    const started = performance.now();
    const p = router.route(pathname);
    const operation = rawQueryParam(url, "operation") ?? "";
    let reply: Reply;
    let failure: { error: unknown } | undefined;
    if (!p) reply = new Reply(text(404, "no SCEP endpoint at this path"), "rejected", "unknown_path");
    else {
      let named: Partial<ScepEvent> = {};
      try {
        reply = await operate(method, p, url, operation, bodyReader);
      } catch (caught) {
        // A PKIOperation's failure comes with the request's transactionID, messageType and subject for its event.
        const e = caught instanceof PkiOperationFailure ? caught.error : caught;
        if (caught instanceof PkiOperationFailure) named = caught.extra;
        failure = { error: e };
        if (isStoreUnavailable(e)) {
          // Fail closed: nothing was issued; the client retries later (RFC 8894 §3.3.3 allows a resend).
          reply = storeUnavailable(e.retryAfterSeconds);
        } else if (isScepError(e) && e.code === "ERR_KEY_UNAVAILABLE") {
          // The key's worker thread crashed or its queue is full (or an HSM is unreachable): not the client's fault.
          reply = keyUnavailable((e as { retryAfterSeconds?: number }).retryAfterSeconds);
        } else if (isScepError(e) && e.code === "ERR_CA_NOT_VALID") {
          // The CA expired while the server ran: the operator's problem (onError is told), never the client's. By code:
          // an issue hook may throw it from another copy of the package.
          reply = caNotValid((e as Partial<CaNotValidError>).retryAfterSeconds ?? 3600);
        } else {
          // Client mistakes are answered above; reaching here is a server fault (a hook failed).
          const reason = isScepError(e) ? e.code.replace(/^ERR_/, "").toLowerCase() : "internal_error";
          reply = new Reply(text(500, "internal error"), "error", reason);
        }
        reply = reply.with(named);
      }
    }
    const event: ScepEvent = {
      operation: OPS[operation.toLowerCase()] ?? "unknown",
      outcome: reply.outcome,
      reason: reply.reason,
      status: reply.response.status,
      latencyMs: performance.now() - started,
      time,
      ...withClientAddress(info),
      ...(p ? { profile: p.name } : {}),
      ...reply.extra,
    };
    // A reason known only after the response leaves (enrollment/reply.ts; bounded by storeTimeoutMs): the event waits
    // for it, the response does not.
    if (reply.lateReason) void reply.lateReason.then((reason) => emit({ ...event, reason }, p)).catch(() => undefined);
    else emit(event, p);
    if (failure && options.onError) {
      try {
        ignoreRejection(options.onError(failure.error, event));
      } catch {
        // An operator's logger must not turn a 5xx into an unhandled rejection.
      }
    }
    return reply.response;
  }

  function profileNamed(name: string): ResolvedProfile {
    const p = byName.get(name);
    if (!p) throw new InvalidArgumentError(`unknown profile ${name}`);
    return p;
  }

  const withClientAddress = (info: ConnectionInfo | undefined): { clientAddress?: string } => {
    const clientAddress = clientAddressOf(info);
    return clientAddress === undefined ? {} : { clientAddress };
  };

  return {
    async fetch(request: Request, info?: ConnectionInfo): Promise<Response> {
      const url = request.url;
      let pathname: string;
      try {
        pathname = new URL(url).pathname;
      } catch {
        pathname = "/";
      }
      const r = await serve(request.method, pathname, url, () => readBody(request, ctx.maxBody), info);
      // (An empty body is still a body: `new Response(new Uint8Array())` has the same headers as any other.) HEAD: the
      // GET's header fields, Content-Length included, and no content (RFC 9110 §9.3.2).
      if (request.method === "HEAD") return new Response(null, { status: r.status, headers: { ...r.headers, "content-length": String(r.body.length) } });
      return new Response(r.body as Uint8Array<ArrayBuffer>, { status: r.status, headers: r.headers });
    },

    async handle(request: HttpRequestParts, info?: ConnectionInfo): Promise<HttpResponseParts> {
      // A promised body is awaited only by a POST PKIOperation (a lazy promise-like is not read before): until then,
      // or for ever, a promise's rejection is handled here.
      if (request.body instanceof Promise) request.body.catch(() => undefined);
      const r = await serve(request.method, targetPath(request.url), request.url, () => takeBody(request, ctx.maxBody), info);
      return request.method === "HEAD" ? { status: r.status, headers: { ...r.headers, "content-length": String(r.body.length) }, body: new Uint8Array() } : r;
    },

    owns(pathname: string): boolean {
      let path = pathname;
      if (!path.startsWith("/")) {
        // An absolute-form request target (`GET http://host/scep` through a forward proxy).
        try {
          path = new URL(path).pathname;
        } catch {
          return false;
        }
      }
      const end = path.search(/[?#]/);
      return router.route(end < 0 ? path : path.slice(0, end)) !== undefined;
    },

    approve: async (profile, transactionId, opts) => approve(ctx, profileNamed(profile), transactionId, opts),
    reject: async (profile, transactionId, opts) => reject(ctx, profileNamed(profile), transactionId, opts),
    pending: async (profile) => pending(ctx, profile === undefined ? profiles : [profileNamed(profile)]),

    stats() {
      return profiles.map((p) => profileStats(p, p.stats));
    },

    profiles() {
      const t = now();
      return profiles.map((p) => profileInfo(p, t));
    },

    async snapshot() {
      const counters = options.counters;
      return Promise.all(profiles.map((p) => profileSnapshot(ctx, p, counters ? (name) => counters.read(name) : undefined)));
    },

    async sharedStats() {
      const counters = options.counters;
      if (!counters) return profiles.map((p) => profileStats(p, p.stats));
      const counts = await Promise.all(profiles.map((p) => ctx.store("counter store", () => counters.read(p.name))));
      return profiles.map((p, i) => profileStats(p, counts[i]!));
    },
  };
}

function profileStats(p: ResolvedProfile, counts: { outcomes: Record<string, number>; reasons: Record<string, number> }): ProfileStats {
  return {
    profile: p.name,
    outcomes: { ...counts.outcomes },
    reasons: { ...counts.reasons },
    signerCertificateExpiry: p.signer.certificate.notAfter,
    caCertificateExpiry: p.ca.notAfter,
    challengeConfigured: p.challenge.type !== "none",
    challengeType: p.challengeKind,
  };
}

/**
 * Most characters of an event's `subject`: a CSR subject may hold attributes RFC 5280 does not bound (UID,
 * dnQualifier, an unknown OID) up to the request size limit, and every event sink (a log line, a metric label
 * source) would carry it whole.
 */
const MAX_EVENT_SUBJECT = 1024; // cut by lib/clip.ts: ends in `…`, never between the halves of a surrogate pair
