/**
 * A profile: one SCEP endpoint with its own CA, keys, policies and hooks, and
 * how its options are resolved (defaults, checks at start).
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { CaNotValidError, InvalidArgumentError, IssueHookError, type ScepError, errorMessage } from "../errors.js";
import { type AlgorithmPolicy, resolvePolicy } from "../policy.js";
import type { Decrypter, Signer } from "../keys/key.js";
import { Certificate, certificatesIn, signatureAlgorithmsDiffer } from "../x509/certificate.js";
import { sortCertificateBundle } from "../x509/certificate-bundle.js";
import type { CertificationRequest } from "../x509/certification-request.js";
import type { PkiRequest } from "../message/pki-message.js";
import { buildCaCaps } from "../message/ca-caps.js";
import { equalBytes } from "../lib/der.js";
import { samePublicKey } from "../lib/node-crypto.js";
import { type ChallengePolicy, type IssueFailureHook, challengePolicyWarnings } from "./challenge.js";
import { type ChallengeValidator, challengeValidator } from "./challenge-validators.js";
import { type Refusal, hookRefusal } from "./hook-refusal.js";
import type { CsrPolicy } from "./csr-policy.js";
import { MemoryTransactionStore, type TransactionStore } from "./transaction-store.js";
import type { RevocationVerdict, RevokedCertificate } from "./revocation-store.js";
import { normalizePath } from "./routing.js";
import { canReceiveKeyTransport, keyAlgorithmName } from "./key-transport.js";
import { caModeSetWarnings } from "./ca-set-warnings.js";
import { caCapsWarnings, defaultCaCaps } from "./profile-caps.js";
import { MAX_RECORD_MS, MAX_TIMER_MS, RSA_BITS, numberOption, typeOf } from "../number-option.js";

/** What the issue hook is asked. @group Server */
export interface IssueContext {
  /** Profile name. */
  profile: string;
  /** The decoded request (absent when {@link ScepServer.approve} completes a PENDING request later). */
  request?: PkiRequest;
  /** transactionID of the request. */
  transactionId: string;
  /** The requester's signer certificate. */
  signerCertificate: Certificate;
  /** The CSR to issue from. */
  csr: CertificationRequest;
  /**
   * Whether this is a renewal (RFC 8894 §3.3.1.2): a RenewalReq, or a PKCSReq signed by a certificate of this CA that
   * is within its validity, not revoked (`isRevoked`) and, with `renewalSameNames` (the default), whose subject and
   * subjectAltNames the CSR asks for again. A PKCSReq signed by any other certificate is a first enrollment (`false`):
   * the hook is asked once for it, its identical re-send after SUCCESS gets the same certificate (RFC 8894 §3.3.3). A
   * renewal is asked each time (a new certificate each time).
   */
  renewal: boolean;
  /**
   * The certificate being renewed (the request's signer), set when `renewal` is true (at approval too). With
   * `renewalSameNames` the CSR asks for its subject and no subjectAltName it lacks; with `renewalSameNames: false`
   * the hook compares the names itself.
   */
  renewalOf?: Certificate;
  /**
   * The latest notAfter to issue with: now plus `maxValidityDays`, but never past the issuing CA certificate's own
   * notAfter (RFC 5280 §6.1.3 checks the whole path at one time, so a leaf outliving its CA is unusable after it; AD CS
   * truncates the same way, smallstep/certificates#381).
   */
  notAfterMax: Date;
  /** Longest validity the CSR policy allows, in days. */
  maxValidityDays: number;
  /** True when called by {@link ScepServer.approve} for a PENDING request. */
  approved: boolean;
  /** What the challenge validator passed on (`{ ok: true, data }`), when it did. */
  challengeData?: unknown;
  /**
   * The profile's `csrPolicy.allowSid`: whether a Windows SID in the request may be certified. Pass it to
   * `endEntityExtensions({ csr, issuer, allowSid })`, which otherwise never copies a SID.
   */
  allowSid: boolean;
}

/**
 * The issue hook's answer. SUCCESS's `certificate` is a {@link Certificate}, DER bytes, or the bytes of a PEM file
 * (RFC 7468; its first CERTIFICATE block), and must certify the CSR's public key (else the request fails with HTTP
 * 500, as when the hook throws: the client would find no certificate for its key, RFC 8894 §3.3.2). Each `chain`
 * entry takes the same forms, and a PEM bundle entry stands for all of its certificates; without `chain` the
 * profile's CA chain is sent. The CertRep carries DER.
 * @group Server
 */
export type IssueResult =
  | { status: "SUCCESS"; certificate: Certificate | Uint8Array; chain?: readonly (Certificate | Uint8Array)[] }
  | { status: "PENDING" }
  | {
      status: "FAILURE";
      /** RFC 8894 §3.2.1.4.5 failInfo of the FAILURE CertRep (default `badRequest`, also for a name RFC 8894 does not define). */
      failInfo?: FailInfo;
      /** The CertRep's failInfoText (RFC 8894 §3.2.1.4.6; default, also for one that is not a non-empty string: "the issuer rejected the request"). */
      failInfoText?: string;
      /**
       * Stable label for the event's `reason` (`[A-Za-z0-9_]{1,64}`: ASCII letters, digits and `_`, e.g. `key_compromised`); default
       * `issuer_rejected`. Anything else is ignored.
       */
      reason?: string;
    };

/**
 * The validity bound an issue hook is given ({@link IssueContext.notAfterMax}, `maxValidityDays`): `now` plus the
 * CSR policy's `maxValidityDays` (default 365), never past the profile's issuing CA certificate's notAfter.
 * @throws CaNotValidError `ERR_CA_NOT_VALID` when the CA certificate is not valid at `now` (its notAfter would make
 *   `notAfterMax` fall before `now`: a certificate ending before it starts).
 */
export function validityBound(p: ResolvedProfile, now: Date): { notAfterMax: Date; maxValidityDays: number } {
  requireValidCa(p.name, p.ca, now);
  const maxValidityDays = p.csrPolicy.maxValidityDays ?? 365;
  return { notAfterMax: new Date(Math.min(now.getTime() + maxValidityDays * 86_400_000, p.ca.notAfter.getTime())), maxValidityDays };
}

/** Whether a certificate is inside its validity period at `at` (RFC 5280 §4.1.2.5: both bounds inclusive). */
export function caValidAt(ca: Certificate, at: Date): boolean {
  const t = at.getTime();
  return t >= ca.notBefore.getTime() && t <= ca.notAfter.getTime();
}

/**
 * Throws when the issuing CA certificate is outside its validity period at `at` (RFC 5280 §4.1.2.5: notBefore and
 * notAfter are both inside it): nothing issued under it would validate then (RFC 5280 §6.1.3).
 * @throws CaNotValidError `ERR_CA_NOT_VALID`, its message one line naming the profile, the CA and the date.
 */
export function requireValidCa(profile: string, ca: Certificate, at: Date): void {
  if (caValidAt(ca, at)) return;
  const when =
    at.getTime() > ca.notAfter.getTime()
      ? `expired at ${ca.notAfter.toISOString()}: nothing can be issued under it until it is renewed`
      : `is not valid before ${ca.notBefore.toISOString()} (the server's clock says ${at.toISOString()}): nothing can be issued under it until then`;
  throw new CaNotValidError(`profile ${profile}: the issuing CA certificate (${ca.subject}) ${when}`, {
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    at,
  });
}

/**
 * The issue hook's FAILURE as a CertRep and an event can carry it (RFC 8894 §3.2.1.4.5, §3.2.1.4.6; `hook-refusal.ts`):
 * its own reason label, failInfo and text when each is what the field holds, else `issuer_rejected`, `badRequest` and
 * "the issuer rejected the request" (a JavaScript hook's `"2"` or `{ text }` made the CertRep unbuildable: HTTP 500,
 * and a REJECTED record no CertPoll could be answered from).
 */
export function issueRefusal(result: { reason?: unknown; failInfo?: unknown; failInfoText?: unknown }): Refusal {
  return hookRefusal(result, { reason: "issuer_rejected", failInfoText: "the issuer rejected the request" });
}

/** Turns a validated request into a certificate, a PENDING answer or a rejection. @group Server */
export type IssueHook = (ctx: IssueContext) => Promise<IssueResult>;

/** One SCEP endpoint with its own CA, keys, policies and hooks. @group Server */
export interface ScepProfile {
  /** Name used in events, stats and approve/reject (default: the path). */
  name?: string;
  /**
   * URL path, e.g. `/scep` or `/scep/corp`. The suffixes clients append (`/pkiclient.exe`, `/cgi-bin`,
   * `/cgi-bin/pkiclient.exe`: {@link isScepPathSuffix}) are routed here too, so no other profile's path or alias may
   * be this path plus such a suffix (`/scep/cgi-bin` next to `/scep`): `createScepServer` throws
   * `InvalidArgumentError` (`ERR_INVALID_ARGUMENT`) for it, as for a path another profile has.
   */
  path: string;
  /**
   * Other URL paths this profile answers as its own, with the same suffixes (default none). E.g. `["/cgi-bin"]` for
   * clients given a URL without a path, which send RFC 8894 §4.1's `/cgi-bin/pkiclient.exe` (Cisco IOS and ASA,
   * sscep). Events, stats and approve/reject still name the profile by its `name`.
   * Throws `InvalidArgumentError` (`ERR_INVALID_ARGUMENT`) at construction for an alias that is not a string, one
   * that another profile's path or alias already takes, or one that is another profile's path or alias plus a suffix
   * clients append (it would take that profile's requests), or the other way round.
   */
  aliases?: readonly string[];
  /**
   * The issuing CA certificate (renewals must chain to it; CertPoll names it): a {@link Certificate}, DER bytes, or
   * PEM (RFC 7468; a string or the bytes of a PEM file). A PEM bundle (the issuing CA and the certificates above it,
   * e.g. `readFileSync("bundle.pem")`) stands for the whole chain:
   * - the issuing CA is the bundle's certificate whose public key is the signer's or a decrypter's (a CA that signs
   *   or decrypts itself), wherever it stands in the file; with RA keys (no match) it is the bundle's first certificate;
   * - the default {@link ScepProfile.caChain} is the issuing CA, then the bundle's other certificates in issuer order
   *   (each issued by the next: name and signature, RFC 5280 §6.1), whatever their order in the file, so GetCACert
   *   serves the root too.
   *
   * A bundle certificate that is not above the issuing CA is refused at start (`ERR_INVALID_ARGUMENT`) unless
   * `caChain` is given.
   */
  caCertificate: Certificate | Uint8Array | string;
  /** Signs CertReps: the CA key, or an RA key. */
  signer: Signer;
  /**
   * Keys requests may be encrypted to (default: the signer, when it is also a Decrypter). At least one must hold an
   * RSA key: SCEP envelopes use RSA key transport (RFC 8894 §3.2.2), so an EC CA needs an RSA RA decrypter.
   */
  decrypters?: readonly Decrypter[];
  /**
   * The issuing CA and its parents, issuing CA first, each issued by the next (default: `[caCertificate]`, or every
   * certificate of a `caCertificate` PEM bundle, issuing CA first, in issuer order). An entry may be a PEM bundle
   * (all its certificates, in the file's order). Sent
   * after the RA certificates in GetCACert (RFC 8894 §4.2.1.2) and as the chain of a SUCCESS CertRep when the issue
   * hook gives none, so a device can build the path through an intermediate to the root.
   */
  caChain?: readonly (Certificate | Uint8Array | string)[];
  /**
   * The GetCACert set (RFC 8894 §4.2):
   * - `"default"`: the signer certificate, every decrypter certificate (no duplicates), then `caChain`; but when the
   *   issuing CA signs and decrypts itself without keyUsage digitalSignature and keyEncipherment, the issuing CA
   *   alone: Apple's client picks RA certificates from a set by keyUsage (none, or a parent this server cannot
   *   decrypt for) and takes a single CA certificate whatever its keyUsage;
   * - `"issuing-ca"`: the same without the parents of the issuing CA (some Intune clients fail on a full chain);
   * - `"ca-only"`: the issuing CA alone (`application/x-x509-ca-cert`; only when the CA signs and decrypts itself);
   * - a list: these certificates, in this order; one listed twice is sent once (iOS refuses a set with a repeat).
   * One certificate is served as `application/x-x509-ca-cert`, several as a degenerate PKCS#7
   * (`application/x-x509-ca-ra-cert`).
   */
  caCertificates?: "default" | "issuing-ca" | "ca-only" | readonly (Certificate | Uint8Array | string)[];
  /**
   * Capabilities (default: AES, DES3, POSTPKIOperation, Renewal, SHA-1, SHA-256, SHA-384, SHA-512,
   * SCEPStandard, and GetNextCACert when configured; an algorithm's capability is left out when `algorithmPolicy`
   * refuses it, SCEPStandard when it refuses AES-128 or SHA-256). SHA-384 matters: strongSwan 5.9 tests caps by
   * index, so it only uses AES when SHA-384 is advertised. A list that offers an algorithm `algorithmPolicy` refuses,
   * names no SHA digest (sscep falls back to MD5) or no cipher (single DES) while the policy refuses those, or writes
   * an RFC 8894 §3.5.2 keyword in other letter case is accepted with a `ProfileInfo.warnings` entry.
   */
  capabilities?: readonly string[];
  /** How challenges are checked. Required. */
  challenge: ChallengePolicy;
  /** What CSRs are accepted. */
  csrPolicy?: CsrPolicy;
  /** Which algorithms are accepted. */
  algorithmPolicy?: AlgorithmPolicy;
  /** Issues certificates. Required: a profile without an `issue` function makes `createScepServer` throw `ERR_INVALID_ARGUMENT`. */
  issue: IssueHook;
  /**
   * Runs after the issue hook issued and before the SUCCESS CertRep is sent (Intune's success notification plugs
   * in here). `{ ok: false }` turns the reply into FAILURE badRequest with `failInfoText`, event reason `reason`,
   * and calls {@link ScepProfile.onUndelivered}. Also runs when `approve` issues a PENDING request (`approved: true`):
   * a veto records the transaction REJECTED (the next CertPoll gets FAILURE badRequest with `failInfoText`). Runs
   * before the challenge policy's own `confirm` (a custom policy's, e.g. a webhook's success notification).
   */
  confirm?: ConfirmHook;
  /**
   * Told when a certificate was issued but cannot be delivered: the confirm phase vetoed it, building or
   * encrypting the CertRep failed, `approve` could not record it, or the issue hook's certificate is not for the
   * request's key (`wrong_key`). The client got FAILURE badRequest (or the
   * approve call threw); revoke the certificate here. Errors it throws are ignored.
   */
  onUndelivered?: (info: UndeliveredCertificate) => void | Promise<void>;
  /**
   * Whether a certificate was revoked. A stored ISSUED certificate that is revoked (or expired) is never handed
   * out again (RFC 8894 §3.3.3): a re-sent PKCSReq is treated as a new enrollment, a CertPoll gets FAILURE badCertId.
   * A revoked certificate of this CA does not authenticate a renewal either: a RenewalReq signed by one gets FAILURE
   * badCertId (`renewal_revoked`), a PKCSReq signed by one needs a valid challenge like a first enrollment
   * (without one: badCertId, event reason `signer_revoked`, `renewal: false`).
   *
   * Answer true, or better the RFC 5280 §5.3.1 reason name (`"superseded"`) or the store's entry
   * (`revocations.get(serial)`, a {@link RevokedCertificate}); false or undefined when not revoked. A known reason ends
   * the client's failInfoText in parentheses: `the certificate being renewed was revoked (keyCompromise)`, so a client
   * asks for a new key only after a keyCompromise (or when no reason is given).
   *
   * Asked for a RenewalReq, a PKCSReq signed by a certificate of this CA, and a CertPoll or re-sent PKCSReq answered
   * from an ISSUED record. A store read, so bounded as one by the server's `storeTimeoutMs` (default 2 s):
   * - no answer within it, or a rejection with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, what `@scep/redis`'s
   *   revocation store throws while Redis is down): HTTP 503 with `Retry-After` (the error's `retryAfterSeconds`, 30
   *   after a timeout), no CertRep, event reason `store_unavailable`, `onError` given the StoreUnavailableError
   *   (`isRevoked hook: no answer within 2000 ms`). A late answer is ignored, a late rejection never unhandled;
   * - any other error it throws: HTTP 500 `internal error`, no CertRep, event reason `internal_error` (a `ScepError`'s
   *   code in lower case without `ERR_`), `onError` given the error: a fault of the hook, as when a store or the issue
   *   hook throws. Throw StoreUnavailableError for a store that is down, so the device is asked to retry.
   *
   * Either way nothing is issued, no one-time challenge stays spent, and the device's resend is answered normally once
   * the hook answers again.
   */
  isRevoked?: (certificate: Certificate) => RevocationVerdict | Promise<RevocationVerdict>;
  /** PENDING transactions, and issued ones for a re-send (default: a {@link MemoryTransactionStore} with the server's clock). */
  transactions?: TransactionStore;
  /**
   * How long a PENDING transaction waits for approve/reject before it is forgotten, in ms (default 604 800 000, 7
   * days). An integer from 1000 to 31 536 000 000 (365 days); anything else (`NaN` from an unset environment
   * variable, a fraction, a string) makes `createScepServer` throw InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  pendingTtlMs?: number;
  /**
   * How long a finished (ISSUED/REJECTED) transaction stays for CertPoll and a re-sent PKCSReq, in ms (default 1 day);
   * a certificate the issue hook issued directly is recorded ISSUED for as long (RFC 8894 §3.3.3). An integer from
   * 1000 to 31 536 000 000 (365 days); anything else makes `createScepServer` throw InvalidArgumentError
   * `ERR_INVALID_ARGUMENT`.
   */
  transactionRetentionMs?: number;
  /**
   * How long an approver's claim (status ISSUING) holds, in ms (default 5 minutes): after it lapses
   * (the approver crashed mid-issue) another `approve` may claim the transaction again. Also the longest a first
   * enrollment's claim (`claimLeaseMs`) is renewed: an issue hook that has not settled by then (an upstream call
   * without a timeout) lets go of the transactionID, and the device's re-send may then be issued elsewhere. An
   * integer from 300 to 2 147 483 647 (ms); anything else makes `createScepServer` throw InvalidArgumentError
   * `ERR_INVALID_ARGUMENT`.
   */
  approvalLeaseMs?: number;
  /**
   * The lease of a first enrollment's claim on its transactionID (a PKCSReq that is not a renewal; RFC 8894 §3.3.3), in ms
   * (default 10 000, from 300 to 2 147 483 647). The replica that took it renews it every third of this while the
   * challenge is checked and the issue hook runs (up to `approvalLeaseMs`), so a slow hook keeps it; a replica that
   * dies mid-issue holds the transactionID for at most this long. A request with that transactionID on another
   * replica sharing `transactions` waits up to this long and a second for the claim to end (after, in the holder's own
   * process, up to 10 s for the earlier request; plus the store calls' own time): then it is answered as the
   * transactionID's record answers it (the same request: the certificate, or PENDING if the hook answered PENDING;
   * another key or subject: enrolled once the holder's certificate is recorded, refused while it is PENDING), or, if
   * the holder died, takes the claim and is enrolled. Still held after the wait (a slow hook): PENDING for the same
   * request, FAILURE badRequest `transaction_id_in_use` for another. Replicas judge the lease by their own clocks:
   * keep them within a third of this of each other (NTP), or a live claim may be taken over and the request issued
   * twice. Throws InvalidArgumentError (ERR_INVALID_ARGUMENT) at `createScepServer` when not an integer from 300 to
   * 2 147 483 647 (ms).
   */
  claimLeaseMs?: number;
  /** Renewals also need a valid challenge (default false). */
  renewalRequiresChallenge?: boolean;
  /**
   * A renewal must ask for the names of the certificate being renewed (default true; RFC 8894 §3.3.1.2): the same
   * subject (RFC 5280 §7.1 comparison) and only subjectAltNames that certificate holds. A RenewalReq asking for other
   * names is FAILURE badRequest `renewal_names_differ`; such a PKCSReq signed by a certificate of this CA is a first
   * enrollment that needs its challenge (an RA signing on behalf of a device), else FAILURE badRequest
   * `signer_names_differ`. `false` takes any request signed by a valid certificate of this CA as its renewal and
   * leaves the names to the issue hook (`renewalOf`).
   */
  renewalSameNames?: boolean;
  /**
   * GetCert: the certificate with this issuer and serial, as a {@link Certificate}, DER or PEM bytes (undefined: FAILURE badCertId).
   * `issuer` is the Name's DER; `serialNumber` the INTEGER's DER content octets (two's complement, no redundant
   * leading `00`/`ff`): the bytes of a DER certificate's `serialNumber`, whether the client sent `0080…` or BER's
   * `000080…`. A negative serial stays negative (`80 01` is −32767, not 0x8001): `normalizeSerialNumber(serialNumber)`
   * gives the key a store uses (`-7fff`, `008001`). A client may ask for a serial of any length, and
   * `normalizeSerialNumber` throws InvalidArgumentError for one over 20 octets (RFC 5280 §4.1.2.2; 21 with a sign
   * octet): catch that and answer undefined (FAILURE badCertId), as a hook that throws is an HTTP 500.
   *
   * A store read (the CA's index), bounded as one by the server's `storeTimeoutMs` (default 2 s):
   * - no answer within it, or a rejection with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`): HTTP 503 with
   *   `Retry-After` (the error's `retryAfterSeconds`, 30 after a timeout), no CertRep, event reason
   *   `store_unavailable`, `onError` given the StoreUnavailableError (`getCert hook: no answer within 2000 ms`). A late
   *   answer is ignored, a late rejection never unhandled;
   * - any other error it throws: HTTP 500 `internal error`, no CertRep, event reason `internal_error` (a `ScepError`'s
   *   code in lower case without `ERR_`), `onError` given the error. Throw StoreUnavailableError for a store that is
   *   down, so the device is asked to retry.
   */
  getCert?: (q: { issuer: Uint8Array; serialNumber: Uint8Array }) => Promise<Certificate | Uint8Array | undefined>;
  /**
   * GetCRL: the CRL for this issuer and serial, DER or PEM (`X509 CRL`) bytes (undefined: FAILURE badCertId; bytes
   * that are no CertificateList: HTTP 500, `ERR_INVALID_ARGUMENT` to `onError`); `issuer` and `serialNumber` as for
   * `getCert`. Bounded by `storeTimeoutMs` as `getCert` is, with the same answers: no answer within it or a
   * StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) is HTTP 503 with `Retry-After`, no CertRep, event reason
   * `store_unavailable` (`getCrl hook: no answer within 2000 ms`); any other error HTTP 500 `internal error`, event
   * reason `internal_error` (`crl_number_exhausted` for `ERR_CRL_NUMBER_EXHAUSTED`). A hook that signs a new CRL when
   * the last one is stale must do so within the timeout too (or serve the last one and sign in the background).
   */
  getCrl?: (q: { issuer: Uint8Array; serialNumber: Uint8Array }) => Promise<Uint8Array | undefined>;
  /**
   * GetNextCACert (RFC 8894 §4.7): the next CA (and RA) certificates, during a rollover, in the same forms as
   * `caCertificate`. A set that holds nothing GetCACert does not already serve (the next CA has become the CA in
   * service, or an empty list) is no rollover: GetCACaps does not advertise GetNextCACert and GetNextCACert answers
   * 404 (event reason `no_next_ca`), as without this option.
   */
  nextCaCertificates?: readonly (Certificate | Uint8Array | string)[];
}

/** What the confirm hook is asked: the issue context and the certificate just issued. @group Server */
export type ConfirmContext = IssueContext & { certificate: Certificate };

/**
 * The confirm hook's answer; `reason` is a stable label for events (`[A-Za-z0-9_]{1,64}`, e.g.
 * `intune_notification_failed`; else `confirm_rejected`), `failInfoText` a non-empty string (else "the issued
 * certificate was not confirmed"). @group Server
 */
export type ConfirmResult = { ok: true } | { ok: false; reason: string; failInfoText?: string };

/** The last check before a SUCCESS CertRep; see {@link ScepProfile.confirm}. @group Server */
export type ConfirmHook = (ctx: ConfirmContext) => ConfirmResult | Promise<ConfirmResult>;

/** What {@link ScepProfile.onUndelivered} is told. @group Server */
export interface UndeliveredCertificate {
  /** Profile name. */
  profile: string;
  /** transactionID of the request. */
  transactionId: string;
  /** The certificate that was issued and not delivered. */
  certificate: Certificate;
  /**
   * Stable label: the confirm hook's reason, `reply_failed` (CertRep not built), `not_recorded` (approve could not
   * store it), `wrong_key` (the issue hook's certificate is not for the request's key; the request failed with 500,
   * or `approve` threw `ERR_ISSUE_HOOK`).
   */
  reason: string;
  /** The error, when one was thrown. */
  error?: unknown;
}

/** A profile with its defaults applied. Internal. */
export interface ResolvedProfile {
  name: string;
  path: string;
  /** Other paths routed here, normalized. */
  aliases: string[];
  ca: Certificate;
  signer: Signer;
  decrypters: Decrypter[];
  caCerts: Certificate[];
  /** The issuing CA and its parents, DER. */
  caChain: Uint8Array[];
  caps: string;
  challenge: ChallengePolicy;
  validateChallenge: ChallengeValidator;
  /** The challenge policy's own phases (custom policies), run for enrollments it accepted. */
  challengeConfirm: ConfirmHook | undefined;
  challengeFailure: IssueFailureHook | undefined;
  /** The challenge mechanism events, stats and snapshots name (`static`, …, or a custom policy's status `kind`), read once here. */
  challengeKind: string;
  csrPolicy: CsrPolicy;
  algorithmPolicy: AlgorithmPolicy;
  issue: IssueHook;
  confirm: ConfirmHook | undefined;
  onUndelivered: ScepProfile["onUndelivered"];
  isRevoked: ScepProfile["isRevoked"];
  transactions: TransactionStore;
  pendingTtlMs: number;
  retentionMs: number;
  leaseMs: number;
  claimLeaseMs: number;
  renewalRequiresChallenge: boolean;
  renewalSameNames: boolean;
  getCert: ScepProfile["getCert"];
  getCrl: ScepProfile["getCrl"];
  nextCa: Certificate[] | undefined;
  /** Configuration that works but not for every client (see `raKeyUsageWarnings`, `caModeSetWarnings`, `challengePolicyWarnings`, `caCapsWarnings`); shown in `ProfileInfo.warnings`. */
  warnings: string[];
  stats: { outcomes: Record<string, number>; reasons: Record<string, number> };
}

/** Certificates of a list whose entries may each be a PEM bundle (every block counts; see `Certificate.dersOf`), each parsed once. */
export function toCerts(list: readonly (Certificate | Uint8Array | string)[]): Certificate[] {
  return list.flatMap((c) => certificatesIn(c));
}

/**
 * What an issue hook or an operator hands the server for a request, as the server delivers it: the certificate
 * parsed (a {@link Certificate}, DER or PEM bytes), the chain as DER (a PEM bundle entry gives all its
 * certificates; undefined when none is given). The certificate must certify the CSR's public key: the client looks
 * for the certificate of its own key in the CertRep (RFC 8894 §3.3.2) and would fail the enrollment that the
 * server recorded as issued.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (operator) / IssueHookError `ERR_ISSUE_HOOK` (hook) when the
 *   certificate's public key is not the CSR's; an operator's unparseable bytes throw their parse error
 *   (`ERR_ASN1`, `ERR_INVALID_ARGUMENT`), the hook's an `ERR_ISSUE_HOOK` with it as the cause.
 */
export function issuedFor(
  csr: CertificationRequest,
  given: { certificate: Certificate | Uint8Array; chain?: readonly (Certificate | Uint8Array)[] | undefined },
  from: "issue hook" | "operator",
): { certificate: Certificate; chain: Uint8Array[] | undefined } {
  // The operator's mistake is an argument error; the hook's, a fault of the server's own code (500).
  const fault = (message: string, cause?: unknown): ScepError =>
    from === "operator" ? new InvalidArgumentError(message, { cause }) : new IssueHookError(`the issue hook's answer: ${message}`, { cause });
  let issued: Certificate;
  let chain: Uint8Array[] | undefined;
  try {
    issued = Certificate.from(given.certificate);
    chain = given.chain?.flatMap(Certificate.dersOf);
  } catch (error) {
    if (from === "operator") throw error; // ERR_ASN1 / ERR_INVALID_ARGUMENT as they are
    throw fault(`not a certificate (${errorMessage(error)})`, error);
  }
  if (!samePublicKey(issued.spki, csr.spki)) {
    const error = fault(`the issued certificate (${issued.subject}) is not for the request's public key (CSR ${csr.subject})`);
    if (error instanceof IssueHookError) error.issued = issued.der;
    throw error;
  }
  return { certificate: issued, chain };
}

/** Certificates without repeats (compared by DER), first occurrence kept. */
function unique(certs: readonly Certificate[]): Certificate[] {
  const out: Certificate[] = [];
  for (const c of certs) if (!out.some((o) => equalBytes(o.der, c.der))) out.push(c);
  return out;
}

/**
 * Whether Apple's SCEP client finds its RA certificates in a GetCACert set of several (a `x-x509-ca-ra-cert` reply,
 * RFC 8894 §4.2.1.2): it picks them by keyUsage alone, and needs one certificate with digitalSignature and
 * keyEncipherment, or one with each. A certificate without the extension counts as neither, against RFC 5280
 * §4.2.1.3's "unrestricted", because Apple's code does so: `SecSCEPValidateCACertMessage` (apple-open-source/macos,
 * Security/OSX/sec/Security/SecSCEP.c) tests the bits of `SecCertificateGetKeyUsage`, which is
 * `kSecKeyUsageUnspecified` (0, "No KeyUsage extension in certificate", Security's SecCertificate.h) then. Apple also
 * only considers a certificate that chains to another one of the set; a default set of several always has the CA's
 * issuer after the CA (`caChain` is checked), so the bits decide.
 */
function appleFindsRa(certs: readonly Certificate[]): boolean {
  let sign = false;
  let encrypt = false;
  for (const c of certs) {
    const s = c.keyUsage?.has("digitalSignature") ?? false;
    const e = c.keyUsage?.has("keyEncipherment") ?? false;
    if (s && e) return true;
    sign ||= s;
    encrypt ||= e;
  }
  return sign && encrypt;
}

/**
 * The default GetCACert set: the signer, the decrypters, then the chain. In CA mode (the issuing CA signs and decrypts
 * itself) Apple's client must take the CA itself as its RA: when the CA lacks digitalSignature or keyEncipherment
 * ({@link appleFindsRa}), the chain would give it no RA (every iOS and macOS enrollment stops before its
 * PKIOperation) or a parent this server cannot decrypt for, so the CA is served alone (`x-x509-ca-cert`), which Apple
 * takes whatever its keyUsage.
 */
function defaultCaCerts(ca: Certificate, ras: readonly Certificate[], caChain: readonly Certificate[]): Certificate[] {
  const all = unique([...ras, ...caChain]);
  const caMode = ras.every((c) => equalBytes(c.der, ca.der));
  return all.length > 1 && caMode && !appleFindsRa([ca]) ? [ca] : all;
}

/**
 * RA mode (a signer or decrypter certificate that is not the issuing CA, RFC 8894 §2.2): the RA certificates' keyUsage
 * (RFC 5280 §4.2.1.3) must allow their role. A keyUsage extension that forbids it is refused: an RA signer without
 * digitalSignature (clients that check keyUsage refuse every CertRep it signs), an RSA RA decrypter without
 * keyEncipherment (they do not encrypt requests to it; Apple's client picks the encryption certificate by that bit).
 * An RA certificate without the extension is unrestricted for RFC 5280, and sscep, strongSwan, certmonger and this SDK's
 * client enroll with it, so it is not refused; but Apple's client counts it as neither role
 * (`SecSCEPValidateCACertMessage`, see {@link appleFindsRa}) and finds no RA: every iOS and macOS enrollment stops
 * before its PKIOperation. That is returned as a warning (`ProfileInfo.warnings`).
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a keyUsage that forbids the RA certificate's role.
 */
function raKeyUsageWarnings(name: string, ca: Certificate, signer: Certificate, decrypters: readonly Certificate[], caCerts: readonly Certificate[]): string[] {
  const isRa = (c: Certificate): boolean => !equalBytes(c.der, ca.der);
  if (isRa(signer) && signer.keyUsage && !signer.keyUsage.has("digitalSignature")) {
    throw new InvalidArgumentError(
      `profile ${name}: the RA signer certificate (${signer.subject}) has keyUsage without digitalSignature (RFC 5280 §4.2.1.3): clients that check it refuse every CertRep it signs; reissue it with digitalSignature`,
    );
  }
  for (const d of decrypters) {
    if (isRa(d) && canReceiveKeyTransport(d.spki) && d.keyUsage && !d.keyUsage.has("keyEncipherment")) {
      throw new InvalidArgumentError(
        `profile ${name}: the RA decrypter certificate (${d.subject}) has keyUsage without keyEncipherment (RFC 5280 §4.2.1.3): clients that check it (Apple's) do not encrypt requests to it; reissue it with keyEncipherment`,
      );
    }
  }
  // The RA certificates GetCACert serves (several certificates: Apple then looks for its RA by keyUsage).
  const served = unique([signer, ...decrypters]).filter((c) => isRa(c) && caCerts.some((s) => equalBytes(s.der, c.der)));
  if (caCerts.length < 2 || served.length === 0 || appleFindsRa(served)) return [];
  const bare = served.filter((c) => !c.keyUsage).map((c) => c.subject);
  return [
    `profile ${name}: Apple's SCEP client (iOS, macOS) finds no RA certificate in GetCACert: it needs one with keyUsage digitalSignature and keyEncipherment, or one with each` +
      (bare.length > 0 ? `, and ${bare.join("; ")} has no keyUsage extension (Apple counts it as neither)` : "") +
      "; reissue the RA certificate with them",
  ];
}

function badChoice(name: string, choice: string): never {
  throw new InvalidArgumentError(`profile ${name}: caCertificates must be "default", "issuing-ca", "ca-only" or a list of certificates, not "${choice}"`);
}

/**
 * The issuing CA of `caCertificate` and the chain a PEM bundle gives (the CA, then the bundle's other certificates
 * in issuer order; `[ca]` for one certificate). In a bundle, the CA is the certificate of the signer's or a
 * decrypter's public key, else the first block. `leftover`: the bundle's certificates that are not above the CA.
 */
function resolveCa(given: ScepProfile["caCertificate"], keyCertificates: readonly Certificate[]): { ca: Certificate; chain: Certificate[]; leftover: Certificate[] } {
  if (given instanceof Certificate) return { ca: given, chain: [given], leftover: [] };
  const all = unique(toCerts([given]));
  if (all.length === 1) return { ca: all[0]!, chain: [all[0]!], leftover: [] };
  const { certificate, path, rest } = sortCertificateBundle(all, keyCertificates.map((k) => k.spki));
  return { ca: certificate, chain: path, leftover: rest };
}

/** The CA chain: starts with the issuing CA, each certificate issued by the next (default: the `caCertificate` bundle's). */
function resolveChain(name: string, ca: Certificate, given: ScepProfile["caChain"], bundle: { chain: Certificate[]; leftover: Certificate[] }): Certificate[] {
  if (!given || given.length === 0) {
    if (bundle.leftover.length > 0) {
      throw new InvalidArgumentError(
        `profile ${name}: the caCertificate bundle holds ${bundle.leftover.map((c) => c.subject).join("; ")}, which is not above the issuing CA ${ca.subject} ` +
          "(a bundle holds the issuing CA, the one of the signer's or a decrypter's key or else the first, and the certificates above it; or give caChain)",
      );
    }
    return bundle.chain;
  }
  const chain = toCerts(given);
  if (!equalBytes(chain[0]!.der, ca.der)) throw new InvalidArgumentError(`profile ${name}: caChain must start with the issuing CA (caCertificate)`);
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.isIssuedBy(chain[i + 1]!)) {
      const why = signatureAlgorithmsDiffer(chain[i]!) ? ": its TBSCertificate signature field is not its signatureAlgorithm (RFC 5280 §4.1.1.2)" : "";
      throw new InvalidArgumentError(`profile ${name}: caChain[${i}] (${chain[i]!.subject}) is not issued by caChain[${i + 1}] (${chain[i + 1]!.subject})${why}`);
    }
  }
  return chain;
}

/**
 * The policy's mechanism label: a custom policy's own status `kind` (read once, when the profile is resolved: it is
 * named on every enrollment's event, where asking the reporter would build its whole status each time), else its type.
 */
function kindOf(c: ChallengePolicy): string {
  if (c.type !== "custom" || !c.status) return c.type;
  try {
    return c.status.challengeStatus().kind ?? c.type;
  } catch {
    return c.type; // a broken reporter must not break the server
  }
}

/**
 * The profile's numeric options, checked (one line naming the option, its unit, range and the value given):
 * - `claimLeaseMs` (default 10 s): a lease under 300 ms would be renewed more often than a store answers; one over
 *   2 147 483 647 ms is refused as `storeTimeoutMs` is (a third of it past 2^31 - 1 ms made Node run the renewal
 *   timer every millisecond: a store write each);
 * - `approvalLeaseMs` (default 5 minutes): 0 or NaN let every claim lapse at once (a second approve could claim a
 *   transaction being issued);
 * - `pendingTtlMs` (default 7 days) and `transactionRetentionMs` (default 1 day): NaN made an Invalid Date expiry
 *   (a PENDING record that never expires and that `pending` never lists), a fraction or a few ms one that expired
 *   before the first CertPoll.
 */
function durations(name: string, p: ScepProfile): { pendingTtlMs: number; retentionMs: number; leaseMs: number; claimLeaseMs: number } {
  const ms = (option: string, value: unknown, fallback: number, min: number, max: number): number => numberOption(`profile ${name}: ${option}`, value, fallback, { min, max, unit: "ms" });
  return {
    pendingTtlMs: ms("pendingTtlMs", p.pendingTtlMs, 7 * 86_400_000, 1000, MAX_RECORD_MS),
    retentionMs: ms("transactionRetentionMs", p.transactionRetentionMs, 86_400_000, 1000, MAX_RECORD_MS),
    leaseMs: ms("approvalLeaseMs", p.approvalLeaseMs, 300_000, 300, MAX_TIMER_MS),
    claimLeaseMs: ms("claimLeaseMs", p.claimLeaseMs, 10_000, 300, MAX_TIMER_MS),
  };
}

/**
 * The policies' numbers, checked once: a NaN `minRsaBits` (an unset environment variable through `Number`) let every
 * RSA size pass, RSA-512 included (`bits < NaN` is false); a NaN or negative `maxValidityDays` made `notAfterMax` an
 * Invalid Date or a time past. `csrPolicy.minRsaBits` and `algorithmPolicy.minRsaBits`: integers from 512 to 16 384
 * (bits); `csrPolicy.maxValidityDays`: a number of days from 0.001 (about 86 s) to 36 500.
 */
function checkPolicies(name: string, p: ScepProfile): void {
  const csr = p.csrPolicy ?? {};
  numberOption(`profile ${name}: csrPolicy.minRsaBits`, csr.minRsaBits, 2048, RSA_BITS);
  numberOption(`profile ${name}: csrPolicy.maxValidityDays`, csr.maxValidityDays, 365, { min: 0.001, max: 36_500, integer: false });
  try {
    resolvePolicy(p.algorithmPolicy);
  } catch (e) {
    throw new InvalidArgumentError(`profile ${name}: ${(e as Error).message}`);
  }
}

/** Throws unless each named hook is a function (or absent, when optional): a JavaScript caller's missing `issue` was an HTTP 500 at the first enrollment. */
function requireFunctions(name: string, p: ScepProfile): void {
  const hooks: [string, unknown, boolean][] = [
    ["issue", p.issue, true],
    ["confirm", p.confirm, false],
    ["onUndelivered", p.onUndelivered, false],
    ["isRevoked", p.isRevoked, false],
    ["getCert", p.getCert, false],
    ["getCrl", p.getCrl, false],
  ];
  for (const [option, value, required] of hooks) {
    if ((required || value !== undefined) && typeof value !== "function") throw new InvalidArgumentError(`profile ${name}: ${option} must be a function (got ${typeOf(value)})`);
  }
  const signer = p.signer as Partial<Signer> | undefined;
  if (typeof signer?.sign !== "function" || typeof signer.certificate !== "object" || signer.certificate === null) throw new InvalidArgumentError(`profile ${name}: signer must be a Signer (an object with sign and a certificate)`);
  const tx = p.transactions as Partial<TransactionStore> | undefined;
  if (tx !== undefined && (["get", "create", "transition", "list", "delete"] as const).some((m) => typeof tx?.[m] !== "function")) {
    throw new InvalidArgumentError(`profile ${name}: transactions must be a TransactionStore (get, create, transition, list, delete)`);
  }
}

/** A profile's `aliases`, normalized. @throws InvalidArgumentError for a value that is not an array of strings. */
function resolveAliases(name: string, aliases: unknown): string[] {
  if (aliases === undefined) return [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== "string")) throw new InvalidArgumentError(`profile ${name}: aliases must be an array of paths such as ["/cgi-bin"]`);
  return [...new Set(aliases.map((a: string) => normalizePath(a)))];
}

/**
 * Applies defaults and checks a profile at start.
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a configuration that cannot work (an RA certificate whose
 *   keyUsage forbids its role included).
 * @throws CaNotValidError `ERR_CA_NOT_VALID` when the issuing CA certificate is expired or not yet valid at `now()`.
 * @group Server
 */
export function resolveProfile(p: ScepProfile, now: () => Date): ResolvedProfile {
  if (typeof p?.path !== "string") throw new InvalidArgumentError(`a profile's path must be a string such as "/scep" (got ${typeOf(p?.path)})`);
  if (p.name !== undefined && (typeof p.name !== "string" || p.name === "")) throw new InvalidArgumentError(`profile ${p.path}: name must be a non-empty string`);
  const name = p.name ?? normalizePath(p.path);
  requireFunctions(name, p);
  checkPolicies(name, p);
  const times = durations(name, p);
  const c = p.challenge as ChallengePolicy | undefined;
  if (!c) throw new InvalidArgumentError(`profile ${name}: a challenge policy is required (use { type: "none", acknowledgeAnyoneCanEnroll: true } to run without one)`);
  if (c.type === "static" && !c.password) throw new InvalidArgumentError(`profile ${name}: the static challenge password is empty`);
  const decrypters = p.decrypters ? [...p.decrypters] : "decrypt" in p.signer ? [p.signer as unknown as Decrypter] : [];
  if (decrypters.length === 0) throw new InvalidArgumentError(`profile ${name}: no decrypter (the signer cannot decrypt; pass decrypters)`);
  if (!decrypters.some((d) => canReceiveKeyTransport(d.certificate.spki))) {
    const kinds = [...new Set(decrypters.map((d) => keyAlgorithmName(d.certificate.spki)))].join(", ");
    throw new InvalidArgumentError(`profile ${name}: an RSA decrypter (RA) is needed: SCEP requests are encrypted with RSA key transport and this profile's decrypter keys are ${kinds}`);
  }
  const signerCert = p.signer.certificate;
  const bundle = resolveCa(p.caCertificate, [signerCert, ...decrypters.map((d) => d.certificate)]);
  const ca = bundle.ca;
  requireValidCa(name, ca, now());
  const caChain = resolveChain(name, ca, p.caChain, bundle);
  const ras = [signerCert, ...decrypters.map((d) => d.certificate)];
  const choice = p.caCertificates ?? "default";
  const caCerts =
    choice === "default" ? defaultCaCerts(ca, ras, caChain) : choice === "issuing-ca" ? unique([...ras, ca]) : choice === "ca-only" ? [ca] : typeof choice === "string" ? badChoice(name, choice) : unique(toCerts(choice));
  if (caCerts.length === 0) throw new InvalidArgumentError(`profile ${name}: caCertificates is empty`);
  const warnings = [
    ...raKeyUsageWarnings(name, ca, signerCert, decrypters.map((d) => d.certificate), caCerts),
    ...caModeSetWarnings(name, ca, caChain, caCerts, { caMode: ras.every((c) => equalBytes(c.der, ca.der)), explicit: typeof choice !== "string" }),
    ...challengePolicyWarnings(name, c),
  ];
  // A repeat sent once, as in GetCACert. A next set GetCACert already serves in full (the new CA in service, its
  // "next" file left in place after the switch) announces no rollover: no GetNextCACert, 404 no_next_ca.
  const nextCerts = p.nextCaCertificates && unique(toCerts(p.nextCaCertificates));
  const nextCa = nextCerts?.some((n) => !caCerts.some((c) => equalBytes(c.der, n.der))) ? nextCerts : undefined;
  const algorithms = resolvePolicy(p.algorithmPolicy);
  if (p.capabilities !== undefined && (!Array.isArray(p.capabilities) || p.capabilities.some((c) => typeof c !== "string"))) {
    throw new InvalidArgumentError(`profile ${name}: capabilities must be an array of strings`);
  }
  const caps = p.capabilities ?? defaultCaCaps(algorithms, nextCa !== undefined);
  warnings.push(...caCapsWarnings(name, caps, algorithms));
  return {
    name,
    path: normalizePath(p.path),
    aliases: resolveAliases(name, p.aliases),
    ca,
    signer: p.signer,
    decrypters,
    caCerts,
    caChain: caChain.map((c) => c.der),
    caps: buildCaCaps(caps),
    challenge: c,
    validateChallenge: challengeValidator(c),
    challengeConfirm: c.type === "custom" ? c.confirm : undefined,
    challengeFailure: c.type === "custom" ? c.onIssueFailure : undefined,
    challengeKind: kindOf(c),
    csrPolicy: p.csrPolicy ?? {},
    algorithmPolicy: p.algorithmPolicy ?? {},
    issue: p.issue,
    confirm: p.confirm,
    onUndelivered: p.onUndelivered,
    isRevoked: p.isRevoked,
    transactions: p.transactions ?? new MemoryTransactionStore({ now }),
    ...times,
    renewalRequiresChallenge: p.renewalRequiresChallenge ?? false,
    renewalSameNames: p.renewalSameNames ?? true,
    getCert: p.getCert,
    getCrl: p.getCrl,
    nextCa,
    warnings,
    // Null-prototype records: a reason label named by a validator or webhook (`constructor`, `__proto__`) is just a key.
    stats: { outcomes: Object.create(null) as Record<string, number>, reasons: Object.create(null) as Record<string, number> },
  };
}

