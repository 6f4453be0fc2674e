/**
 * One structured event per operation, and per-profile counters.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import type { ConnectionInfo } from "./handler.js";

/** SCEP operations as the server reports them. @group Server */
export type ScepOperation = "GetCACaps" | "GetCACert" | "GetNextCACert" | "PKCSReq" | "RenewalReq" | "CertPoll" | "GetCert" | "GetCRL" | "PKIOperation" | "unknown";

/** How an operation ended. @group Server */
export type ScepOutcome = "success" | "failure" | "pending" | "rejected" | "error";

/**
 * The event emitted once per request. `outcome` is `failure` for a FAILURE
 * CertRep, `rejected` for an HTTP 4xx, `error` for a server-side fault (5xx).
 * @group Server
 */
export interface ScepEvent {
  /** The operation. */
  operation: ScepOperation;
  /** Profile name (undefined when no profile matched). */
  profile?: string;
  /** transactionID, when read. */
  transactionId?: string;
  /** How it ended. */
  outcome: ScepOutcome;
  /** A short, stable reason label (e.g. `issued`, `bad_challenge`, `decode_error`). */
  reason: string;
  /** failInfo of a FAILURE CertRep. */
  failInfo?: FailInfo;
  /**
   * Subject of the CSR or the issued certificate (RFC 4514 text), at most 1024 characters: a longer one is cut and
   * ends in `…` (a CSR may carry attributes RFC 5280 does not bound, up to the request size limit).
   */
  subject?: string;
  /** Serial of the issued certificate (hex). */
  serial?: string;
  /**
   * PKCSReq/RenewalReq: whether the request was taken as a renewal (a RenewalReq, or a PKCSReq signed by a valid
   * certificate of this CA; RFC 8894 §3.3.1.2). A PKCSReq signed by an expired or revoked certificate of this CA, or
   * by one whose names its CSR does not ask for again (`renewalSameNames`), is a first enrollment (`false`) that
   * needs a challenge; refused, its reason is `signer_expired`/`signer_revoked`/`signer_names_differ` (a
   * RenewalReq's is `renewal_expired`/`renewal_revoked`/`renewal_names_differ`). Absent when the message could not
   * be decoded.
   */
  renewal?: boolean;
  /**
   * PKCSReq/RenewalReq: the profile's challenge mechanism (`static`, `store`, `custom`, `none`, or the validator's
   * own kind such as `intune`; never the secret). Absent when the message could not be decoded.
   */
  challengeKind?: string;
  /**
   * PKCSReq/RenewalReq refused after its one-time challenge was spent (`transaction_id_in_use`): whether the
   * challenge was given back (`ChallengeStore.release`, or a custom validator's `release`) for the retry, or stays
   * spent because the release failed, timed out (`storeTimeoutMs`) or was refused (`false`). Absent when nothing was
   * to be given back.
   */
  challengeReleased?: boolean;
  /** HTTP status returned. */
  status: number;
  /** Milliseconds spent. */
  latencyMs: number;
  /**
   * When the request arrived: the server's clock (its `now` option) as it began to answer, a `Date` (UTC instant,
   * millisecond precision). `JSON.stringify` writes it as ISO 8601 UTC with milliseconds (`2026-12-02T16:04:29.123Z`),
   * the shape of the example servers' log lines. The event itself is emitted `latencyMs` later.
   */
  time: Date;
  /**
   * The client's IP address as the adapter saw it (the `remoteAddress` passed to `fetch`/`handle`, see
   * {@link ConnectionInfo}): `127.0.0.1`, `::1`, `::ffff:192.0.2.7`; behind a reverse proxy, the proxy's address
   * unless the adapter takes it from a forwarding header (`@scep/express` reads `req.ip`, which follows Express's
   * `trust proxy` setting). At most 64 characters (a longer one is cut and ends in `…`). Absent when the caller did
   * not say (a web `Request` carries no peer address). Personal data under some laws; never a metric label.
   */
  clientAddress?: string;
}

/** Counters of one profile. @group Server */
export interface ProfileStats {
  /** Profile name. */
  profile: string;
  /** Request counts by outcome. */
  outcomes: Record<string, number>;
  /** Request counts by reason label. */
  reasons: Record<string, number>;
  /** notAfter of the certificate that signs CertReps (CA or RA). */
  signerCertificateExpiry: Date;
  /** notAfter of the issuing CA certificate. */
  caCertificateExpiry: Date;
  /** Whether a challenge is configured (never the secret itself). */
  challengeConfigured: boolean;
  /** Challenge mechanism: `static`, `store`, `none`, `custom`, or a custom policy's status `kind` (e.g. `intune`, `webhook`). */
  challengeType: string;
}
