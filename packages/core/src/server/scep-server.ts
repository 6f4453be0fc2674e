/**
 * A framework-free SCEP server: web-standard `Request` in, `Response` out.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { InvalidArgumentError, ScepError, StoreUnavailableError, TransactionStateError, isScepError } from "../errors.js";
import type { AlgorithmPolicy } from "../policy.js";
import type { Decrypter, Signer } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import { CertificationRequest } from "../x509/certification-request.js";
import { type PkiRequest, decodePkiMessage } from "../message/pki-message.js";
import { buildCertRep, type CertRepRequest } from "../message/cert-rep.js";
import { buildCaCaps, CA_CAPS_CONTENT_TYPE } from "../message/ca-caps.js";
import { buildGetCaCertResponse, buildGetNextCaCertResponse, PKI_MESSAGE_CONTENT_TYPE } from "../message/ca-cert.js";
import { MessageType, type PkiStatus, messageTypeName } from "../message/types.js";
import { equalBytes } from "../lib/der.js";
import { type ChallengePolicy, staticChallengeMatches } from "./challenge.js";
import { type CsrPolicy, checkCsrPolicy } from "./csr-policy.js";
import { MemoryTransactionStore, type Transaction, type TransactionStore } from "./transaction-store.js";
import type { ProfileStats, ScepEvent, ScepOperation, ScepOutcome } from "./events.js";
import { decodeMessageParam, rawQueryParam } from "./query.js";

/** What the issue hook is asked. */
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
}

/** The issue hook's answer. */
export type IssueResult =
  | { status: "SUCCESS"; certificate: Certificate | Uint8Array; chain?: readonly (Certificate | Uint8Array)[] }
  | { status: "PENDING" }
  | { status: "FAILURE"; failInfo?: FailInfo; failInfoText?: string };

/** Turns a validated request into a certificate, a PENDING answer or a rejection. */
export type IssueHook = (ctx: IssueContext) => Promise<IssueResult>;

/** One SCEP endpoint with its own CA, keys, policies and hooks. */
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

/** Options of {@link createScepServer}. */
export interface ScepServerOptions {
  /** The endpoints. */
  profiles: readonly ScepProfile[];
  /** Largest POST body accepted (default 64 KiB): larger gets HTTP 413. */
  maxBodyBytes?: number;
  /** Receives one event per request. Exceptions it throws are ignored. */
  onEvent?: (event: ScepEvent) => void;
  /** Clock (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Longest wait for one store call (transactions, one-time challenges), in ms (default 2000). A call that takes
   * longer, or rejects with {@link StoreUnavailableError}, makes the request fail closed: HTTP 503 with `Retry-After`,
   * event reason `store_unavailable`, nothing issued. GetCACaps and GetCACert never touch a store.
   */
  storeTimeoutMs?: number;
}

interface Profile {
  name: string;
  path: string;
  ca: Certificate;
  signer: Signer;
  decrypters: Decrypter[];
  caCerts: Certificate[];
  caps: string;
  challenge: ChallengePolicy;
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

/** A running SCEP server: `fetch` handles one request. */
export interface ScepServer {
  /** Handles a request. Never throws; never answers 5xx for a client's mistake. */
  fetch(request: Request): Promise<Response>;
  /**
   * Approves a PENDING request (RFC 8894 §3.3.3): claims it (PENDING→ISSUING, atomic in the store, so a racing
   * approve or reject loses), runs the profile's issue hook with `approved: true` (or takes `options.certificate`),
   * then records it ISSUED; the next CertPoll gets the certificate. When the hook fails the claim is released
   * (back to PENDING) and the error is rethrown.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an unknown profile.
   * @throws TransactionStateError `ERR_TRANSACTION_STATE` ("no pending transaction <id>") when the transaction is
   *   unknown, expired, already decided, or claimed by a concurrent approve.
   * @throws StoreUnavailableError `ERR_STORE_UNAVAILABLE` when the store fails or times out.
   */
  approve(profile: string, transactionId: string, options?: { certificate?: Certificate | Uint8Array; chain?: readonly (Certificate | Uint8Array)[] }): Promise<Transaction>;
  /**
   * Rejects a PENDING request (PENDING→REJECTED, atomic); the next CertPoll gets FAILURE with `failInfo`
   * (default badRequest). Throws like {@link ScepServer.approve}.
   */
  reject(profile: string, transactionId: string, options?: { failInfo?: FailInfo; failInfoText?: string }): Promise<Transaction>;
  /**
   * Transactions waiting for a decision (PENDING, and ISSUING while an approve runs), oldest first, of one profile
   * or of every profile. For admin endpoints.
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an unknown profile.
   */
  pending(profile?: string): Promise<Transaction[]>;
  /** Counters and expiry dates per profile (never secrets). */
  stats(): ProfileStats[];
}

class Reply {
  constructor(
    readonly response: Response,
    readonly outcome: ScepOutcome,
    readonly reason: string,
    readonly extra: Partial<ScepEvent> = {},
  ) {}
}

const text = (status: number, body: string): Response => new Response(body + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });

function toCert(c: Certificate | Uint8Array | string): Certificate {
  return Certificate.from(c);
}

function toDer(c: Certificate | Uint8Array): Uint8Array {
  return c instanceof Certificate ? c.der : c;
}

function normalizePath(p: string): string {
  const s = ("/" + p).replace(/\/+/g, "/");
  return s.length > 1 ? s.replace(/\/$/, "") : s;
}

function resolveProfile(p: ScepProfile, now: () => Date): Profile {
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

/** Whether two CSRs ask for the same thing for the same key (a re-sent request). */
function sameRequest(a: CertificationRequest, b: CertificationRequest): boolean {
  return equalBytes(a.spki, b.spki) && equalBytes(a.subjectDer, b.subjectDer);
}


/**
 * Creates a SCEP server.
 *
 * @example
 * ```ts
 * const ca = LocalKey.fromPem(caPem, caKeyPem);
 * const server = createScepServer({
 *   profiles: [{
 *     path: "/scep", caCertificate: ca.certificate, signer: ca,
 *     challenge: { type: "static", password: process.env.SCEP_CHALLENGE! },
 *     issue: async ({ csr, maxValidityDays }) => ({ status: "SUCCESS", certificate: await myCa.issue(csr.der, maxValidityDays) }),
 *   }],
 * });
 * const response = await server.fetch(request);
 * ```
 */
export function createScepServer(options: ScepServerOptions): ScepServer {
  if (!options.profiles.length) throw new InvalidArgumentError("at least one profile is required");
  const now = options.now ?? (() => new Date());
  const profiles = options.profiles.map((p) => resolveProfile(p, now));
  const byName = new Map<string, Profile>();
  for (const p of profiles) {
    if (byName.has(p.name) || profiles.filter((q) => q.path === p.path).length > 1) throw new InvalidArgumentError(`duplicate profile ${p.name} / ${p.path}`);
    byName.set(p.name, p);
  }
  const sorted = [...profiles].sort((a, b) => b.path.length - a.path.length);
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const storeTimeoutMs = options.storeTimeoutMs ?? 2000;

  /** One store call, bounded by `storeTimeoutMs`: a timeout becomes StoreUnavailableError. */
  function store<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`${what}: no answer within ${storeTimeoutMs} ms`, { retryAfterSeconds: 30 })), storeTimeoutMs);
    });
    const op = Promise.resolve().then(call);
    op.catch(() => undefined); // a late rejection after the timeout is not unhandled
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }

  function route(pathname: string): Profile | undefined {
    const path = normalizePath(pathname);
    for (const p of sorted) {
      if (path === p.path) return p;
      const prefix = p.path === "/" ? "/" : p.path + "/";
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length).toLowerCase();
      if (rest === "pkiclient.exe" || rest === "cgi-bin/pkiclient.exe" || rest.endsWith("/pkiclient.exe")) return p;
    }
    return undefined;
  }

  function emit(e: ScepEvent, profile?: Profile): void {
    if (profile) {
      profile.stats.outcomes[e.outcome] = (profile.stats.outcomes[e.outcome] ?? 0) + 1;
      profile.stats.reasons[e.reason] = (profile.stats.reasons[e.reason] ?? 0) + 1;
    }
    if (options.onEvent) {
      try {
        options.onEvent(e);
      } catch {
        /* a broken event sink must not break the server */
      }
    }
  }

  async function certRep(p: Profile, request: CertRepRequest, status: PkiStatus, extra: { failInfo?: FailInfo; failInfoText?: string; certificates?: Uint8Array[]; crl?: Uint8Array }, req?: PkiRequest): Promise<Response> {
    const policy = p.algorithmPolicy;
    const cipher = req ? (policy.responseCipher ? policy.responseCipher(req.contentCipher) : req.contentCipher) : undefined;
    const body = await buildCertRep({
      request,
      signer: p.signer,
      status,
      ...(extra.failInfo ? { failInfo: extra.failInfo } : {}),
      ...(extra.failInfoText ? { failInfoText: extra.failInfoText } : {}),
      ...(extra.certificates ? { certificates: extra.certificates } : {}),
      ...(extra.crl ? { crl: extra.crl } : {}),
      ...(cipher ? { contentCipher: cipher } : {}),
      ...(request.digestAlgorithm === "md5" && !policy.allowMd5 ? { digestAlgorithm: "sha256" as const } : {}),
      now: now(),
    });
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: { "content-type": PKI_MESSAGE_CONTENT_TYPE } });
  }

  async function failure(p: Profile, req: CertRepRequest, failInfo: FailInfo, reason: string, failInfoText: string, full?: PkiRequest): Promise<Reply> {
    return new Reply(await certRep(p, req, "FAILURE", { failInfo, failInfoText }, full), "failure", reason, { failInfo });
  }

  async function checkChallenge(p: Profile, req: PkiRequest, csr: CertificationRequest): Promise<string | undefined> {
    const c = p.challenge;
    switch (c.type) {
      case "none":
        return undefined;
      case "static":
        return staticChallengeMatches(csr.challengePassword, c.password) ? undefined : "challenge password mismatch";
      case "store":
        if (csr.challengePassword === undefined) return "challenge password missing";
        return (await store("challenge store", () => c.store.consume(csr.challengePassword!, { profile: p.name }))) ? undefined : "challenge password invalid or already used";
      case "custom": {
        const v = await c.validate({ challenge: csr.challengePassword, csr, request: req, profile: p.name });
        if (v === true) return undefined;
        return (typeof v === "object" && v.failInfoText) || "challenge rejected";
      }
    }
  }

  async function issueAndAnswer(p: Profile, req: PkiRequest, ctx: IssueContext): Promise<Reply> {
    const result = await p.issue(ctx);
    if (result.status === "SUCCESS") {
      const cert = toCert(result.certificate);
      const certs = [cert.der, ...(result.chain ?? [p.ca]).map((c) => toDer(c as Certificate | Uint8Array))];
      return new Reply(await certRep(p, req, "SUCCESS", { certificates: certs }, req), "success", "issued", { subject: cert.subject, serial: cert.serialNumberHex });
    }
    if (result.status === "PENDING") {
      const t = now();
      const created = await store("transaction store", () =>
        p.transactions.create({
          profile: p.name,
          transactionId: req.transactionId,
          status: "PENDING",
          csr: ctx.csr.der,
          signerCertificate: req.signerCertificate.der,
          renewal: ctx.renewal,
          createdAt: t,
          updatedAt: t,
          expiresAt: new Date(t.getTime() + p.pendingTtlMs),
        }),
      );
      // A concurrent request with this transactionID stored it first: answer with its state.
      if (!created) return poll(p, req);
      return new Reply(await certRep(p, req, "PENDING", {}, req), "pending", "pending_approval", { subject: ctx.csr.subject });
    }
    return failure(p, req, result.failInfo ?? "badRequest", "issuer_rejected", result.failInfoText ?? "the issuer rejected the request", req);
  }

  async function enroll(p: Profile, req: PkiRequest): Promise<Reply> {
    const csr = req.csr!;
    // A client re-sending a PKCSReq it already sent (some poll this way) gets the
    // transaction's state, as a CertPoll would: the stored request must not be
    // overwritten (an ISSUED certificate would be lost) nor its challenge re-checked.
    // Same key and subject, not the same bytes: certmonger rebuilds its CSR on each submission
    // (a fresh subjectKeyIdentifier every time); the CSR's signature proves the same key holder.
    // A request signed by a certificate this CA issued is a renewal and always gets a new certificate.
    const existing = await store("transaction store", () => p.transactions.get(p.name, req.transactionId));
    const waiting = existing?.status === "PENDING" || existing?.status === "ISSUING";
    const resent = existing && sameRequest(new CertificationRequest(existing.csr), csr) && (waiting || req.signerCertificate.isSelfIssued);
    if (resent) return poll(p, req);
    const signer = req.signerCertificate;
    const t = now();
    let renewal = req.messageType === MessageType.RenewalReq;
    let renewalOf: Certificate | undefined;
    if (!signer.isSelfIssued || renewal) {
      if (!signer.isIssuedBy(p.ca)) {
        if (renewal) return failure(p, req, "badRequest", "renewal_not_chained", "the renewal is not signed by a certificate of this CA", req);
      } else if (signer.notAfter.getTime() < t.getTime() || signer.notBefore.getTime() > t.getTime()) {
        return failure(p, req, "badTime", "renewal_expired", "the certificate being renewed is expired or not yet valid", req);
      } else {
        renewal = true;
        renewalOf = signer;
      }
    }
    const policyError = checkCsrPolicy(csr, p.csrPolicy);
    if (policyError) return failure(p, req, "badRequest", "csr_policy", policyError, req);
    if (!renewal || p.renewalRequiresChallenge) {
      const challengeError = await checkChallenge(p, req, csr);
      if (challengeError) return failure(p, req, "badRequest", "bad_challenge", challengeError, req);
    }
    const maxValidityDays = p.csrPolicy.maxValidityDays ?? 365;
    const ctx: IssueContext = {
      profile: p.name,
      request: req,
      transactionId: req.transactionId,
      signerCertificate: signer,
      csr,
      renewal,
      notAfterMax: new Date(t.getTime() + maxValidityDays * 86_400_000),
      maxValidityDays,
      approved: false,
    };
    if (renewalOf) ctx.renewalOf = renewalOf;
    return issueAndAnswer(p, req, ctx);
  }

  async function poll(p: Profile, req: PkiRequest): Promise<Reply> {
    const tx = await store("transaction store", () => p.transactions.get(p.name, req.transactionId));
    if (!tx) return failure(p, req, "badCertId", "unknown_transaction", "no pending request with this transactionID", req);
    // ISSUING: an approver is running the issue hook right now.
    if (tx.status === "PENDING" || tx.status === "ISSUING") return new Reply(await certRep(p, req, "PENDING", {}, req), "pending", "still_pending");
    if (tx.status === "REJECTED") return failure(p, req, tx.failInfo ?? "badRequest", "rejected_by_operator", tx.failInfoText ?? "the request was rejected", req);
    const certs = [tx.certificate!, ...(tx.chain ?? [p.ca.der])];
    const cert = new Certificate(tx.certificate!);
    return new Reply(await certRep(p, req, "SUCCESS", { certificates: certs }, req), "success", "issued_after_approval", { subject: cert.subject, serial: cert.serialNumberHex });
  }

  async function getCertOrCrl(p: Profile, req: PkiRequest): Promise<Reply> {
    const q = req.issuerAndSerialNumber!;
    if (req.messageType === MessageType.GetCert) {
      if (!p.getCert) return failure(p, req, "badRequest", "getcert_unsupported", "GetCert is not supported", req);
      const c = await p.getCert(q);
      if (!c) return failure(p, req, "badCertId", "unknown_certificate", "no such certificate", req);
      return new Reply(await certRep(p, req, "SUCCESS", { certificates: [toDer(c)] }, req), "success", "certificate_returned");
    }
    if (!p.getCrl) return failure(p, req, "badRequest", "getcrl_unsupported", "GetCRL is not supported", req);
    const crl = await p.getCrl(q);
    if (!crl) return failure(p, req, "badCertId", "unknown_crl", "no CRL for this certificate", req);
    return new Reply(await certRep(p, req, "SUCCESS", { crl }, req), "success", "crl_returned");
  }

  async function readBody(request: Request): Promise<Uint8Array | "too-large" | "aborted"> {
    const declared = Number(request.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > maxBody) return "too-large";
    if (!request.body) return new Uint8Array();
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        return "aborted"; // the client went away mid-body: its mistake, not a server fault
      }
      const { done, value } = chunk;
      if (done) break;
      total += value.length;
      if (total > maxBody) {
        await reader.cancel().catch(() => undefined);
        return "too-large";
      }
      chunks.push(value);
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  async function pkiOperation(p: Profile, request: Request, url: string): Promise<Reply> {
    let message: Uint8Array | undefined;
    if (request.method === "POST") {
      const body = await readBody(request);
      if (body === "too-large") return new Reply(text(413, "message too large"), "rejected", "body_too_large");
      if (body === "aborted") return new Reply(text(400, "request body aborted"), "rejected", "body_aborted");
      message = body;
      // Some clients POST base64 text instead of DER.
      if (body.length > 0 && body[0] !== 0x30) message = decodeMessageParam(new TextDecoder().decode(body)) ?? body;
    } else {
      const param = rawQueryParam(url, "message");
      if (param === undefined || param === "") return new Reply(text(400, "missing message parameter"), "rejected", "missing_message");
      if (param.length > (maxBody * 4) / 3 + 1024) return new Reply(text(413, "message too large"), "rejected", "body_too_large");
      message = decodeMessageParam(param);
      if (!message) return new Reply(text(400, "message is not base64"), "rejected", "bad_base64");
    }
    if (message.length === 0) return new Reply(text(400, "empty message"), "rejected", "empty_message");
    let req: PkiRequest;
    try {
      req = await decodePkiMessage(message, { decrypters: p.decrypters, policy: p.algorithmPolicy, maxSize: maxBody });
    } catch (e) {
      if (!isScepError(e)) throw e;
      const partial = e.request;
      if (partial?.transactionId && partial.senderNonce) {
        const reason = e.code.replace(/^ERR_/, "").toLowerCase();
        const fr: CertRepRequest = { transactionId: partial.transactionId, senderNonce: partial.senderNonce };
        if (partial.digestAlgorithm) fr.digestAlgorithm = partial.digestAlgorithm;
        // Name the operation when the messageType was read and is a request type.
        const name = partial.messageType === undefined ? undefined : messageTypeName(partial.messageType);
        const operation = name && name !== "CertRep" ? { operation: name as ScepOperation } : {};
        return new Reply(await certRep(p, fr, "FAILURE", { failInfo: e.failInfo, failInfoText: e.message }), "failure", reason, { ...operation, failInfo: e.failInfo, transactionId: partial.transactionId });
      }
      return new Reply(text(400, `malformed PKIOperation: ${e.message}`), "rejected", "decode_error");
    }
    const op = req.messageTypeName as ScepOperation;
    let reply: Reply;
    switch (req.messageType) {
      case MessageType.PKCSReq:
      case MessageType.RenewalReq:
        reply = await enroll(p, req);
        break;
      case MessageType.CertPoll:
        reply = await poll(p, req);
        break;
      default:
        reply = await getCertOrCrl(p, req);
    }
    // (The CSR's subject only when the reply does not name one: formatting a DN is not free.)
    const subject = reply.extra.subject === undefined && req.csr ? { subject: req.csr.subject } : {};
    return new Reply(reply.response, reply.outcome, reply.reason, { operation: op, transactionId: req.transactionId, ...subject, ...reply.extra });
  }

  async function handle(request: Request, p: Profile, url: string, operation: string): Promise<Reply> {
    if (request.method !== "GET" && request.method !== "POST" && request.method !== "HEAD") {
      return new Reply(new Response("method not allowed\n", { status: 405, headers: { allow: "GET, POST", "content-type": "text/plain; charset=utf-8" } }), "rejected", "method_not_allowed");
    }
    switch (operation.toLowerCase()) {
      case "getcacaps":
        return new Reply(new Response(p.caps, { headers: { "content-type": CA_CAPS_CONTENT_TYPE } }), "success", "caps");
      case "getcacert": {
        const r = await buildGetCaCertResponse(p.caCerts);
        return new Reply(new Response(r.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": r.contentType } }), "success", "ca_cert");
      }
      case "getnextcacert": {
        if (!p.nextCa) return new Reply(text(404, "no next CA certificate is configured"), "rejected", "no_next_ca");
        const r = await buildGetNextCaCertResponse({ certificates: p.nextCa, signer: p.signer, now: now() });
        return new Reply(new Response(r.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": r.contentType } }), "success", "next_ca_cert");
      }
      case "pkioperation":
        return pkiOperation(p, request, url);
      case "":
        return new Reply(text(400, "missing operation parameter"), "rejected", "missing_operation");
      default:
        return new Reply(text(400, "unknown operation"), "rejected", "unknown_operation");
    }
  }

  function profileNamed(name: string): Profile {
    const p = byName.get(name);
    if (!p) throw new InvalidArgumentError(`unknown profile ${name}`);
    return p;
  }

  /**
   * An approver's claim: PENDING→ISSUING, or a lapsed ISSUING claim (its approver crashed) taken over.
   * (Two approvers taking over the same lapsed claim in the same instant could both win: the store's
   * compare-and-set is on status only. It needs a crash and a double approve within one lease.)
   */
  async function claim(p: Profile, transactionId: string): Promise<Transaction> {
    const t = now();
    const update = { status: "ISSUING" as const, updatedAt: t };
    let tx = await store("transaction store", () => p.transactions.transition(p.name, transactionId, "PENDING", update));
    if (!tx) {
      const current = await store("transaction store", () => p.transactions.get(p.name, transactionId));
      if (current?.status === "ISSUING" && t.getTime() - current.updatedAt.getTime() >= p.leaseMs) {
        tx = await store("transaction store", () => p.transactions.transition(p.name, transactionId, "ISSUING", update));
      }
    }
    if (!tx) throw new TransactionStateError(`no pending transaction ${transactionId}`);
    return tx;
  }

  const OPS: Record<string, ScepOperation> = { getcacaps: "GetCACaps", getcacert: "GetCACert", getnextcacert: "GetNextCACert", pkioperation: "PKIOperation" };

  return {
    async fetch(request: Request): Promise<Response> {
      const started = performance.now();
      const url = request.url;
      let pathname: string;
      try {
        pathname = new URL(url).pathname;
      } catch {
        pathname = "/";
      }
      const p = route(pathname);
      const operation = rawQueryParam(url, "operation") ?? "";
      let reply: Reply;
      if (!p) reply = new Reply(text(404, "no SCEP endpoint at this path"), "rejected", "unknown_path");
      else {
        try {
          reply = await handle(request, p, url, operation);
        } catch (e) {
          if (e instanceof StoreUnavailableError || (isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE")) {
            // Fail closed: nothing was issued; the client retries later (RFC 8894 §3.3.3 allows a resend).
            const retry = Math.max(1, Math.round((e as StoreUnavailableError).retryAfterSeconds ?? 30));
            reply = new Reply(new Response("store unavailable, retry later\n", { status: 503, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": String(retry) } }), "error", "store_unavailable");
          } else {
            // Client mistakes are answered above; reaching here is a server fault (a hook failed).
            const reason = isScepError(e) ? e.code.replace(/^ERR_/, "").toLowerCase() : "internal_error";
            reply = new Reply(text(500, "internal error"), "error", reason);
          }
        }
      }
      const event: ScepEvent = {
        operation: OPS[operation.toLowerCase()] ?? "unknown",
        outcome: reply.outcome,
        reason: reply.reason,
        status: reply.response.status,
        latencyMs: performance.now() - started,
        ...(p ? { profile: p.name } : {}),
        ...reply.extra,
      };
      emit(event, p);
      if (request.method === "HEAD") return new Response(null, { status: reply.response.status, headers: reply.response.headers });
      return reply.response;
    },

    async approve(profile, transactionId, opts = {}) {
      const p = profileNamed(profile);
      const tx = await claim(p, transactionId);
      let certificate: Uint8Array;
      let chain: Uint8Array[] | undefined;
      try {
        if (opts.certificate) {
          certificate = toDer(opts.certificate);
          chain = opts.chain?.map(toDer);
        } else {
          const csr = new CertificationRequest(tx.csr);
          const maxValidityDays = p.csrPolicy.maxValidityDays ?? 365;
          const signerCertificate = new Certificate(tx.signerCertificate);
          const ctx: IssueContext = { profile: p.name, transactionId, signerCertificate, csr, renewal: tx.renewal, notAfterMax: new Date(now().getTime() + maxValidityDays * 86_400_000), maxValidityDays, approved: true };
          // A stored renewal was signed by the certificate it renews.
          if (tx.renewal) ctx.renewalOf = signerCertificate;
          const r = await p.issue(ctx);
          if (r.status !== "SUCCESS") throw new ScepError(`the issue hook answered ${r.status} to an approved request`);
          certificate = toDer(r.certificate);
          chain = r.chain?.map(toDer);
        }
      } catch (e) {
        // Release the claim so the operator can retry (best effort: if this fails too, the lease lapses).
        await store("transaction store", () => p.transactions.transition(p.name, transactionId, "ISSUING", { status: "PENDING", updatedAt: now() })).catch(() => undefined);
        throw e;
      }
      const t = now();
      const done = await store("transaction store", () =>
        p.transactions.transition(p.name, transactionId, "ISSUING", { status: "ISSUED", updatedAt: t, expiresAt: new Date(t.getTime() + p.retentionMs), certificate, ...(chain ? { chain } : {}) }),
      );
      if (!done) throw new TransactionStateError(`transaction ${transactionId} was claimed by another approver while this one issued`);
      return done;
    },

    async reject(profile, transactionId, opts = {}) {
      const p = profileNamed(profile);
      const t = now();
      const done = await store("transaction store", () =>
        p.transactions.transition(p.name, transactionId, "PENDING", {
          status: "REJECTED",
          updatedAt: t,
          expiresAt: new Date(t.getTime() + p.retentionMs),
          failInfo: opts.failInfo ?? "badRequest",
          ...(opts.failInfoText ? { failInfoText: opts.failInfoText } : {}),
        }),
      );
      if (!done) throw new TransactionStateError(`no pending transaction ${transactionId}`);
      return done;
    },

    async pending(profile) {
      const ps = profile === undefined ? profiles : [profileNamed(profile)];
      const out: Transaction[] = [];
      for (const p of ps) {
        for (const status of ["PENDING", "ISSUING"] as const) out.push(...(await store("transaction store", () => p.transactions.list(p.name, { status }))));
      }
      return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    },

    stats() {
      return profiles.map((p) => ({
        profile: p.name,
        outcomes: { ...p.stats.outcomes },
        reasons: { ...p.stats.reasons },
        signerCertificateExpiry: p.signer.certificate.notAfter,
        caCertificateExpiry: p.ca.notAfter,
        challengeConfigured: p.challenge.type !== "none",
        challengeType: p.challenge.type,
      }));
    },
  };
}
