/**
 * A profile: one SCEP endpoint with its own CA, keys, policies and hooks, and
 * how its options are resolved (defaults, checks at start).
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { InvalidArgumentError } from "../errors.js";
import type { AlgorithmPolicy } from "../policy.js";
import type { Decrypter, Signer } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import type { CertificationRequest } from "../x509/certification-request.js";
import type { PkiRequest } from "../message/pki-message.js";
import { buildCaCaps } from "../message/ca-caps.js";
import { equalBytes } from "../lib/der.js";
import type { ChallengePolicy } from "./challenge.js";
import { type ChallengeValidator, challengeValidator } from "./challenge-validators.js";
import type { CsrPolicy } from "./csr-policy.js";
import { MemoryTransactionStore, type TransactionStore } from "./transaction-store.js";
import { normalizePath } from "./routing.js";

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
  /** Whether this is a renewal (RenewalReq, or PKCSReq signed by a certificate of this CA). */
  renewal: boolean;
  /** The certificate being renewed. */
  renewalOf?: Certificate;
  /** The latest notAfter the CSR policy allows. */
  notAfterMax: Date;
  /** Longest validity the CSR policy allows, in days. */
  maxValidityDays: number;
  /** True when called by {@link ScepServer.approve} for a PENDING request. */
  approved: boolean;
  /** What the challenge validator passed on (`{ ok: true, data }`), when it did. */
  challengeData?: unknown;
}

/** The issue hook's answer. @group Server */
export type IssueResult =
  | { status: "SUCCESS"; certificate: Certificate | Uint8Array; chain?: readonly (Certificate | Uint8Array)[] }
  | { status: "PENDING" }
  | { status: "FAILURE"; failInfo?: FailInfo; failInfoText?: string };

/** Turns a validated request into a certificate, a PENDING answer or a rejection. @group Server */
export type IssueHook = (ctx: IssueContext) => Promise<IssueResult>;

/** One SCEP endpoint with its own CA, keys, policies and hooks. @group Server */
export interface ScepProfile {
  /** Name used in events, stats and approve/reject (default: the path). */
  name?: string;
  /** URL path, e.g. `/scep` or `/scep/corp`. Suffixes such as `/pkiclient.exe` are routed here too. */
  path: string;
  /** The issuing CA certificate (renewals must chain to it; CertPoll names it). */
  caCertificate: Certificate | Uint8Array | string;
  /** Signs CertReps: the CA key, or an RA key. */
  signer: Signer;
  /** Keys requests may be encrypted to (default: the signer, when it is also a Decrypter). */
  decrypters?: readonly Decrypter[];
  /** The GetCACert set (default: the RA certificate if the signer is not the CA, then the CA). */
  caCertificates?: readonly (Certificate | Uint8Array | string)[];
  /**
   * Capabilities (default: AES, DES3, POSTPKIOperation, Renewal, SHA-1, SHA-256, SHA-384, SHA-512,
   * SCEPStandard, and GetNextCACert when configured). SHA-384 matters: strongSwan 5.9 tests caps by
   * index, so it only uses AES when SHA-384 is advertised.
   */
  capabilities?: readonly string[];
  /** How challenges are checked. Required. */
  challenge: ChallengePolicy;
  /** What CSRs are accepted. */
  csrPolicy?: CsrPolicy;
  /** Which algorithms are accepted. */
  algorithmPolicy?: AlgorithmPolicy;
  /** Issues certificates. */
  issue: IssueHook;
  /** PENDING transactions (default: a {@link MemoryTransactionStore} with the server's clock). */
  transactions?: TransactionStore;
  /** How long a PENDING transaction waits for approve/reject before it is forgotten, in ms (default 7 days). */
  pendingTtlMs?: number;
  /** How long a finished (ISSUED/REJECTED) transaction stays for CertPoll, in ms (default 1 day). */
  transactionRetentionMs?: number;
  /**
   * How long an approver's claim (status ISSUING) holds, in ms (default 5 minutes): after it lapses
   * (the approver crashed mid-issue) another `approve` may claim the transaction again.
   */
  approvalLeaseMs?: number;
  /** Renewals also need a valid challenge (default false). */
  renewalRequiresChallenge?: boolean;
  /** GetCert: the certificate with this issuer and serial (undefined: FAILURE badCertId). */
  getCert?: (q: { issuer: Uint8Array; serialNumber: Uint8Array }) => Promise<Certificate | Uint8Array | undefined>;
  /** GetCRL: the CRL for this issuer and serial (undefined: FAILURE badCertId). */
  getCrl?: (q: { issuer: Uint8Array; serialNumber: Uint8Array }) => Promise<Uint8Array | undefined>;
  /** GetNextCACert: the next CA (and RA) certificates, during a rollover. */
  nextCaCertificates?: readonly (Certificate | Uint8Array | string)[];
}

/** A profile with its defaults applied. Internal. @group Server */
export interface ResolvedProfile {
  name: string;
  path: string;
  ca: Certificate;
  signer: Signer;
  decrypters: Decrypter[];
  caCerts: Certificate[];
  caps: string;
  challenge: ChallengePolicy;
  validateChallenge: ChallengeValidator;
  csrPolicy: CsrPolicy;
  algorithmPolicy: AlgorithmPolicy;
  issue: IssueHook;
  transactions: TransactionStore;
  pendingTtlMs: number;
  retentionMs: number;
  leaseMs: number;
  renewalRequiresChallenge: boolean;
  getCert: ScepProfile["getCert"];
  getCrl: ScepProfile["getCrl"];
  nextCa: Certificate[] | undefined;
  stats: { outcomes: Record<string, number>; reasons: Record<string, number> };
}

/** A certificate from any accepted form (DER, PEM, {@link Certificate}). @group Server */
export function toCert(c: Certificate | Uint8Array | string): Certificate {
  return Certificate.from(c);
}

/** DER of a certificate. @group Server */
export function toDer(c: Certificate | Uint8Array): Uint8Array {
  return c instanceof Certificate ? c.der : c;
}

/**
 * Applies defaults and checks a profile at start.
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a configuration that cannot work.
 * @group Server
 */
export function resolveProfile(p: ScepProfile, now: () => Date): ResolvedProfile {
  const ca = toCert(p.caCertificate);
  const name = p.name ?? normalizePath(p.path);
  const c = p.challenge as ChallengePolicy | undefined;
  if (!c) throw new InvalidArgumentError(`profile ${name}: a challenge policy is required (use { type: "none", acknowledgeAnyoneCanEnroll: true } to run without one)`);
  if (c.type === "static" && !c.password) throw new InvalidArgumentError(`profile ${name}: the static challenge password is empty`);
  const decrypters = p.decrypters ? [...p.decrypters] : "decrypt" in p.signer ? [p.signer as unknown as Decrypter] : [];
  if (decrypters.length === 0) throw new InvalidArgumentError(`profile ${name}: no decrypter (the signer cannot decrypt; pass decrypters)`);
  const signerCert = p.signer.certificate;
  const caCerts = p.caCertificates
    ? p.caCertificates.map(toCert)
    : equalBytes(signerCert.der, ca.der)
      ? [ca]
      : [signerCert, ca];
  const nextCa = p.nextCaCertificates?.map(toCert);
  const caps = p.capabilities ?? ["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard", ...(nextCa ? ["GetNextCACert"] : [])];
  return {
    name,
    path: normalizePath(p.path),
    ca,
    signer: p.signer,
    decrypters,
    caCerts,
    caps: buildCaCaps(caps),
    challenge: c,
    validateChallenge: challengeValidator(c),
    csrPolicy: p.csrPolicy ?? {},
    algorithmPolicy: p.algorithmPolicy ?? {},
    issue: p.issue,
    transactions: p.transactions ?? new MemoryTransactionStore({ now }),
    pendingTtlMs: p.pendingTtlMs ?? 7 * 86_400_000,
    retentionMs: p.transactionRetentionMs ?? 86_400_000,
    leaseMs: p.approvalLeaseMs ?? 300_000,
    renewalRequiresChallenge: p.renewalRequiresChallenge ?? false,
    getCert: p.getCert,
    getCrl: p.getCrl,
    nextCa,
    stats: { outcomes: {}, reasons: {} },
  };
}

