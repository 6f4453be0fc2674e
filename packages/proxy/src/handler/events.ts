/**
 * One event per proxied request, and per-CA counters.
 *
 * @module
 */
import type { FailInfo, PkiStatus } from "@scep/core";
import type { UpstreamFailureReason } from "../errors.js";
import type { ProfileRecord } from "../stores/profile-store.js";

/** The SCEP operation of a proxied request (`unknown` when missing or not one the proxy forwards). @group Proxy */
export type ProxyOperation = "GetCACaps" | "GetCACert" | "PKIOperation" | "unknown";

/**
 * How a request ended:
 * - `forwarded`: the upstream's answer went to the device;
 * - `rejected`: an HTTP 4xx for the device's request (bad identifier, status, challenge, size, or the upstream refused it with a 4xx);
 * - `upstream_error`: 502 or 504, the upstream failed ({@link ProxyEvent.upstream} says how; a 502 for an
 *   upstream 503 or 429 carries a `Retry-After` unless a one-time challenge stays spent);
 * - `unavailable`: 503, a shared store threw `StoreUnavailableError`;
 * - `error`: 500, the proxy's own fault (details went to the logger).
 *
 * @group Proxy
 */
export type ProxyOutcome = "forwarded" | "rejected" | "upstream_error" | "unavailable" | "error";

/**
 * Stable reason labels of {@link ProxyEvent.reason}, one per answer of the proxy.
 *
 * @group Proxy
 */
export type ProxyReason =
  | "forwarded"
  | "not_found"
  | "method_not_allowed"
  | "bad_operation"
  | "bad_message"
  | "body_already_read"
  | "invalid_identifier"
  | "unknown_identifier"
  | "not_pending"
  | "not_configured"
  | "too_large"
  | "challenge_expired"
  | "challenge_failed"
  | "challenge_superseded"
  | "upstream_timeout"
  | "upstream_failed"
  | "upstream_refused"
  | "store_unavailable"
  | "internal_error";

/**
 * The event emitted once per request the proxy answers. Identifier fields
 * are present once the identifier parsed (the challenge never is); `caName`
 * is the resolved name (the registry's default when the identifier had
 * none). Sinks are called synchronously after the answer is built; a sink
 * that throws, or returns a promise that rejects, is logged and ignored (so
 * return a store call's promise rather than `void` it: a `void`ed one that
 * rejects is an unhandled rejection).
 *
 * @example
 * ```ts
 * import type { ProxyEvent, ProfileStore } from "@scep/proxy";
 *
 * declare const profiles: ProfileStore;
 * // mark the profile failed when its upstream failed, or its CA answered FAILURE, so the MDM shows it; only the
 * // registration the request was checked against (e.record): one the MDM made meanwhile stays pending
 * // (the promise is returned: a store that fails is logged by the proxy, never an unhandled rejection)
 * const onEvent = (e: ProxyEvent): Promise<unknown> | undefined => {
 *   if (!e.hostId || !e.profileId || !e.caName || !e.record) return undefined;
 *   const key = { hostId: e.hostId, profileId: e.profileId, caName: e.caName };
 *   if (e.outcome === "upstream_error") return profiles.markFailed(key, `upstream ${e.upstream?.reason}`, e.record);
 *   if (e.certRep?.status === "FAILURE") return profiles.markFailed(key, `CA answered FAILURE ${e.certRep.failInfo ?? ""}`, e.record);
 *   return undefined;
 * };
 * ```
 *
 * @group Proxy
 */
export interface ProxyEvent {
  /** The SCEP operation. */
  operation: ProxyOperation;
  /** The device's HTTP method. */
  method: string;
  /** The identifier's hostId. */
  hostId?: string;
  /** The identifier's profileId. */
  profileId?: string;
  /** The CA name (resolved to the default when the identifier had none). */
  caName?: string;
  /** The CA's type, once resolved. */
  caType?: string;
  /**
   * The profile record as the proxy read it for this request (check 2), a frozen copy; absent when none was read (a
   * bad identifier, an unknown one, a store failure). Pass it as `expected` to `ProfileStore.markFailed` (or
   * `requeue`) from a sink, so the write applies only while the stored record is still this one: a re-registration
   * the MDM made while the request was forwarded (a new URL, status `pending`) is left alone. After the proxy requeued
   * the profile ({@link ProxyEvent.requeued}) it is the record before that requeue, so such a write does nothing.
   *
   * Not enumerable: `JSON.stringify`, an object spread and `structuredClone` leave it out, so event log lines do not
   * carry the record (its `challengeHash`, its `detail`); a sink that copies the event must read it from the original.
   */
  readonly record?: Readonly<ProfileRecord>;
  /** How the request ended. */
  outcome: ProxyOutcome;
  /** Stable reason label. */
  reason: ProxyReason;
  /** HTTP status answered. */
  status: number;
  /** True when the profile was requeued (expired or invalid challenge). */
  requeued?: boolean;
  /**
   * True when the `custom` CA's one-time challenge this request consumed was given back (`ChallengeStore.release`)
   * because the upstream provably issued nothing (nothing of the request sent, `UpstreamError.beforeRequest`:
   * connection refused, DNS, host or network unreachable, connect timeout, TLS handshake, the GetCACaps asked before
   * the PKIOperation failing; or HTTP 503 or 429): the
   * device's retry of the same URL can pass. Absent when the challenge stays spent.
   */
  challengeReleased?: boolean;
  /**
   * True when a PKCSReq came through a `custom` CA's spent one-time challenge and was forwarded as the re-send of the
   * PKCSReq that spent it (same transactionID, same signer key, signature verified; RFC 8894 §3.3.1, §3.3.3), without
   * a requeue; also for such a re-send, or a CertPoll of that PKCSReq, forwarded although the profile was requeued
   * (status `none`). Absent otherwise.
   */
  resend?: boolean;
  /** Why the upstream call failed (outcome `upstream_error`). */
  upstream?: {
    /** The typed reason. */
    reason: UpstreamFailureReason;
    /** The upstream's HTTP status, for reason `http`. */
    status?: number;
  };
  /**
   * A forwarded PKIOperation's outcome as the upstream's CertRep states it (RFC 8894 §3.2.1.3, §3.2.1.4): `status`
   * `SUCCESS`, `FAILURE` (with `failInfo` when it is one of RFC 8894's five) or `PENDING`. Read from the reply's
   * signed attributes without verifying its signature (the reply comes from the configured CA over the proxy's own
   * connection) or opening its envelope. A FAILURE here is an enrollment that failed at the CA although the device got
   * HTTP 200: the MDM's cue to mark the profile failed. Absent for other operations and for a reply that is no CertRep.
   */
  certRep?: { status: PkiStatus; failInfo?: FailInfo };
  /** Milliseconds spent answering. */
  latencyMs: number;
  /**
   * When the request arrived: the proxy's clock (its `now` option) as it began to answer, a `Date` (UTC instant,
   * millisecond precision; `JSON.stringify` writes ISO 8601 UTC with milliseconds), as the SCEP server's events.
   */
  time: Date;
  /**
   * The device's IP address as the adapter saw it (`info.remoteAddress` passed to `fetch`, see `ConnectionInfo` of
   * `@scep/core`; `@scep/express` passes `req.ip`), at most 64 characters. Absent when the caller did not say.
   * Never counted in {@link ProxyStats}.
   */
  clientAddress?: string;
}

/** A function receiving every {@link ProxyEvent}. @group Proxy */
export type ProxyEventSink = (event: ProxyEvent) => void;

/**
 * Counters of one configured CA, since the proxy was created.
 *
 * @group Proxy
 */
export interface ProxyCaStats {
  /** The CA's name. */
  caName: string;
  /** The CA's type. */
  caType: string;
  /** Requests answered for this CA. */
  requests: number;
  /** Counts by {@link ProxyOutcome}. */
  outcomes: Partial<Record<ProxyOutcome, number>>;
  /** Counts by {@link ProxyReason}. */
  reasons: Partial<Record<ProxyReason, number>>;
  /** Profiles requeued. */
  requeues: number;
  /** One-time challenges given back after an upstream failure that proves nothing was issued ({@link ProxyEvent.challengeReleased}). */
  challengeReleases: number;
  /** PKCSReqs forwarded as the re-send of the request that spent their one-time challenge ({@link ProxyEvent.resend}). */
  resends: number;
  /** Upstream failures by reason (`timeout`, `http`, …). */
  upstreamFailures: Partial<Record<UpstreamFailureReason, number>>;
  /** Upstream failures by HTTP status, for reason `http` (keys are the status as a string). */
  upstreamHttpStatuses: Record<string, number>;
}

/**
 * The proxy's counters: per configured CA, plus the requests no configured CA
 * could be named for (bad identifiers, unknown CAs, unrouted paths) by reason.
 *
 * @group Proxy
 */
export interface ProxyStats {
  /** Requests answered in all. */
  requests: number;
  /** Counters per CA name (only CAs of the registry: a device cannot add keys). */
  cas: Record<string, ProxyCaStats>;
  /** Requests not attributed to a configured CA, by reason. */
  unattributed: Partial<Record<ProxyReason, number>>;
}
