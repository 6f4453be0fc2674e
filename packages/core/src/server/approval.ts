/**
 * Where a PENDING request is approved or rejected (RFC 8894 §3.3.3), and the
 * list of requests waiting for a decision. Approve claims the transaction
 * (PENDING→ISSUING, a compare-and-set in the store), runs the issue hook and
 * the confirm phase (as an immediate issuance does), and records ISSUED (or
 * REJECTED when the confirm phase vetoed delivery); so an approve racing a
 * reject or another approve cannot both win or issue twice. Reject and a
 * vetoed approve run the challenge policy's failure phase.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { InvalidArgumentError, IssueHookError, TransactionStateError } from "../errors.js";
import { FAIL_INFO_CODE, isFailInfo } from "../message/types.js";
import { typeOf } from "../number-option.js";
import { Certificate } from "../x509/certificate.js";
import { CertificationRequest } from "../x509/certification-request.js";
import type { ServerContext } from "./context.js";
import { type IssueContext, type IssueResult, type ResolvedProfile, issueRefusal, issuedFor, requireValidCa, validityBound } from "./profile.js";
import type { Transaction } from "./transaction-store.js";
import { type ConfirmVeto, confirmIssued } from "./enrollment/confirm.js";
import { issueFailed } from "./enrollment/failure.js";
import { tellWrongKey } from "./enrollment/issue.js";
import { tellUndelivered } from "./enrollment/undelivered.js";

/** Options of `approve`. @group Server */
export interface ApproveOptions {
  /**
   * An operator-supplied certificate (the issue hook is not called): a {@link Certificate}, DER, or PEM file bytes.
   * It must certify the pending CSR's public key: otherwise `approve` throws `ERR_INVALID_ARGUMENT` and the
   * transaction stays PENDING (the same holds for the hook's certificate when this is not given).
   */
  certificate?: Certificate | Uint8Array;
  /** Its chain, each entry in the same forms as `certificate` (a PEM bundle entry stands for all of its certificates). */
  chain?: readonly (Certificate | Uint8Array)[];
}

/** Options of `reject`. @group Server */
export interface RejectOptions {
  /**
   * failInfo of the FAILURE the next CertPoll gets (default badRequest): one of RFC 8894 §3.2.1.4.5's five names;
   * anything else makes `reject` throw InvalidArgumentError `ERR_INVALID_ARGUMENT`, nothing recorded.
   */
  failInfo?: FailInfo;
  /** Text for the client (RFC 8894 §3.2.1.4.6 failInfoText): a string; anything else throws as a bad `failInfo` does. */
  failInfoText?: string;
}

/**
 * An approver's claim: PENDING→ISSUING, or a lapsed ISSUING claim (its approver crashed) taken over. The claim's
 * `updatedAt` is its fencing token: the takeover compares it (of two approvers taking over one lapsed claim, one
 * wins), and every later ISSUING→… transition of this approver too (one whose claim was taken over cannot finish).
 */
async function claim(ctx: ServerContext, p: ResolvedProfile, transactionId: string): Promise<Transaction> {
  const t = ctx.now();
  const update = { status: "ISSUING" as const, updatedAt: t };
  let tx = await ctx.store("transaction store", () => p.transactions.transition(p.name, transactionId, "PENDING", update));
  if (!tx) {
    const current = await ctx.store("transaction store", () => p.transactions.get(p.name, transactionId));
    // Not an enrollment's own claim (`direct`: its issue hook is running, enrollment/claim.ts): nothing to approve.
    if (current?.status === "ISSUING" && !current.direct && t.getTime() - current.updatedAt.getTime() >= p.leaseMs) {
      tx = await ctx.store("transaction store", () => p.transactions.transition(p.name, transactionId, "ISSUING", update, { updatedAt: current.updatedAt }));
    }
  }
  if (!tx) throw new TransactionStateError(`no pending transaction ${transactionId}`);
  return tx;
}

/** The issue context of a stored transaction (what the issue, confirm and failure hooks are given at approve/reject). */
function storedIssueContext(ctx: ServerContext, p: ResolvedProfile, tx: Transaction): IssueContext {
  const csr = new CertificationRequest(tx.csr);
  const { notAfterMax, maxValidityDays } = validityBound(p, ctx.now());
  const signerCertificate = new Certificate(tx.signerCertificate);
  const ic: IssueContext = { profile: p.name, transactionId: tx.transactionId, signerCertificate, csr, renewal: tx.renewal, notAfterMax, maxValidityDays, approved: true, allowSid: p.csrPolicy.allowSid ?? false };
  // A stored renewal was signed by the certificate it renews.
  if (tx.renewal) ic.renewalOf = signerCertificate;
  if (tx.challengeData !== undefined) {
    try {
      ic.challengeData = JSON.parse(tx.challengeData);
    } catch {
      /* a store that mangled it: the hooks get no challengeData */
    }
  }
  return ic;
}

/**
 * Approves a PENDING transaction; see `ScepServer.approve`. Runs the same confirm phase as an immediate issuance
 * (the profile's `confirm`, then the challenge policy's): a veto records the transaction REJECTED (the next
 * CertPoll gets FAILURE badRequest) and tells `onUndelivered`; the REJECTED record is returned.
 * @group Server
 */
export async function approve(ctx: ServerContext, p: ResolvedProfile, transactionId: string, opts: ApproveOptions = {}): Promise<Transaction> {
  // Before the claim: an expired CA leaves the transaction PENDING for when it is renewed.
  requireValidCa(p.name, p.ca, ctx.now());
  const tx = await claim(ctx, p, transactionId);
  let ic: IssueContext;
  let issued: Certificate;
  let chain: Uint8Array[] | undefined;
  try {
    // A record the store mangled (a CSR or signer certificate that no longer parses) fails here, after the claim:
    // the claim goes back with the rest below, rather than holding the transaction ISSUING until its lease lapses.
    ic = storedIssueContext(ctx, p, tx);
    // Not for the request's key (or not a certificate): refused before anything is recorded; the claim goes back.
    if (opts.certificate) ({ certificate: issued, chain } = issuedFor(ic.csr, { certificate: opts.certificate, chain: opts.chain }, "operator"));
    else {
      const r = await p.issue(ic);
      // The issuer refuses the request (e.g. its key was revoked as compromised since it was recorded): final, as a reject.
      if (r.status === "FAILURE") return await refuseIssue(ctx, p, tx, ic, r);
      if (r.status !== "SUCCESS") throw new IssueHookError(`the issue hook answered ${r.status} to an approved request`);
      ({ certificate: issued, chain } = issuedFor(ic.csr, r, "issue hook"));
    }
  } catch (e) {
    await tellWrongKey(p, transactionId, e);
    // Release the claim so the operator can retry (best effort: if this fails too, the lease lapses).
    await ctx.store("transaction store", () => p.transactions.transition(p.name, transactionId, "ISSUING", { status: "PENDING", updatedAt: ctx.now() }, { updatedAt: tx.updatedAt })).catch(() => undefined);
    throw e;
  }
  let veto: ConfirmVeto | undefined;
  try {
    veto = await confirmIssued(p, { ...ic, certificate: issued }, tx.challengeValidated);
  } catch (error) {
    return refuseDelivery(ctx, p, tx, ic, issued, { reason: "confirm_failed", failInfoText: "the certificate was issued but could not be delivered", byChallenge: false }, error);
  }
  if (veto) return refuseDelivery(ctx, p, tx, ic, issued, veto);
  const t = ctx.now();
  let done: Transaction | undefined;
  try {
    done = await ctx.store("transaction store", () =>
      p.transactions.transition(p.name, transactionId, "ISSUING", { status: "ISSUED", updatedAt: t, expiresAt: new Date(t.getTime() + p.retentionMs), certificate: issued.der, ...(chain ? { chain } : {}) }, { updatedAt: tx.updatedAt }),
    );
  } catch (error) {
    await tellUndelivered(p, transactionId, issued, "not_recorded", error);
    await issueFailed(p, tx.challengeValidated, { ...ic, reason: "not_recorded", failInfo: "badRequest", failInfoText: "the certificate was issued but could not be delivered", certificate: issued });
    throw error;
  }
  if (!done) {
    const error = new TransactionStateError(`transaction ${transactionId} was claimed by another approver while this one issued`);
    await tellUndelivered(p, transactionId, issued, "not_recorded", error);
    throw error;
  }
  return done;
}

/**
 * A certificate `approve` issued that the confirm phase did not let through: recorded REJECTED (so CertPoll answers
 * FAILURE badRequest with the veto's text and reason), `onUndelivered` told, and the challenge policy's failure
 * hook too unless its own confirm vetoed.
 */
async function refuseDelivery(ctx: ServerContext, p: ResolvedProfile, tx: Transaction, ic: IssueContext, certificate: Certificate, veto: ConfirmVeto, error?: unknown): Promise<Transaction> {
  const t = ctx.now();
  await tellUndelivered(p, tx.transactionId, certificate, veto.reason, error);
  if (!veto.byChallenge) await issueFailed(p, tx.challengeValidated, { ...ic, reason: veto.reason, failInfo: "badRequest", failInfoText: veto.failInfoText, certificate });
  const done = await ctx.store("transaction store", () =>
    p.transactions.transition(p.name, tx.transactionId, "ISSUING", {
      status: "REJECTED",
      updatedAt: t,
      expiresAt: new Date(t.getTime() + p.retentionMs),
      failInfo: "badRequest",
      failInfoText: veto.failInfoText,
      reason: veto.reason,
    }, { updatedAt: tx.updatedAt }),
  );
  if (!done) throw new TransactionStateError(`transaction ${tx.transactionId} was claimed by another approver while this one issued`);
  return done;
}

/**
 * The issue hook answered FAILURE to an approved request: recorded REJECTED with its failInfo, text and reason (the
 * next CertPoll gets that FAILURE, RFC 8894 §3.3.3), and the challenge policy's failure hook told, as for an
 * immediate issuance the hook refused, with `approved: true` (a webhook's `failed` notification says so).
 */
async function refuseIssue(ctx: ServerContext, p: ResolvedProfile, tx: Transaction, ic: IssueContext, r: Extract<IssueResult, { status: "FAILURE" }>): Promise<Transaction> {
  const t = ctx.now();
  const { reason, failInfo, failInfoText } = issueRefusal(r);
  const done = await ctx.store("transaction store", () =>
    p.transactions.transition(p.name, tx.transactionId, "ISSUING", { status: "REJECTED", updatedAt: t, expiresAt: new Date(t.getTime() + p.retentionMs), failInfo, failInfoText, reason }, { updatedAt: tx.updatedAt }),
  );
  if (!done) throw new TransactionStateError(`transaction ${tx.transactionId} was claimed by another approver while this one issued`);
  // `approved` stays true (the context's): it came from the operator's approve, as a confirm failure there does.
  await issueFailed(p, tx.challengeValidated, { ...ic, reason, failInfo, failInfoText });
  return done;
}

/** Rejects a PENDING transaction; see `ScepServer.reject`. */
export async function reject(ctx: ServerContext, p: ResolvedProfile, transactionId: string, opts: RejectOptions = {}): Promise<Transaction> {
  // Checked before anything is written: a REJECTED record whose failInfo or failInfoText a CertRep cannot carry made
  // every CertPoll and resend of the device an HTTP 500 until the record expired.
  const { failInfo, failInfoText } = opts;
  if (failInfo !== undefined && !isFailInfo(failInfo)) throw new InvalidArgumentError(`reject: failInfo must be one of ${Object.keys(FAIL_INFO_CODE).join(", ")} (got ${givenValue(failInfo)})`);
  if (failInfoText !== undefined && typeof failInfoText !== "string") throw new InvalidArgumentError(`reject: failInfoText must be a string (got ${typeOf(failInfoText)})`);
  const t = ctx.now();
  const done = await ctx.store("transaction store", () =>
    p.transactions.transition(p.name, transactionId, "PENDING", {
      status: "REJECTED",
      updatedAt: t,
      expiresAt: new Date(t.getTime() + p.retentionMs),
      failInfo: opts.failInfo ?? "badRequest",
      ...(opts.failInfoText ? { failInfoText: opts.failInfoText } : {}),
    }),
  );
  if (!done) throw new TransactionStateError(`no pending transaction ${transactionId}`);
  // The operator's decision is final: what validated the request is told it came to nothing (the stored CSR and
  // signer certificate are parsed for it only when there is such a hook).
  if (done.challengeValidated && p.challengeFailure) await issueFailed(p, true, { ...storedIssueContext(ctx, p, done), approved: false, reason: "rejected", failInfo: done.failInfo ?? "badRequest", failInfoText: done.failInfoText ?? "the request was rejected" });
  return done;
}

/**
 * PENDING and ISSUING transactions of these profiles, oldest first; not an enrollment's own claim while its issue
 * hook runs (ISSUING with `direct`, enrollment/claim.ts): no operator decides on it.
 * @group Server
 */
export async function pending(ctx: ServerContext, profiles: readonly ResolvedProfile[]): Promise<Transaction[]> {
  const out: Transaction[] = [];
  for (const p of profiles) {
    for (const status of ["PENDING", "ISSUING"] as const) {
      for (const tx of await ctx.store("transaction store", () => p.transactions.list(p.name, { status }))) if (!tx.direct) out.push(tx);
    }
  }
  return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/** A rejected option's value for the error message: a short word quoted, any other string by its length, else its type. */
function givenValue(value: unknown): string {
  if (typeof value !== "string") return typeOf(value);
  return /^[A-Za-z0-9_-]{0,32}$/.test(value) ? JSON.stringify(value) : `a string of ${value.length} characters`;
}
