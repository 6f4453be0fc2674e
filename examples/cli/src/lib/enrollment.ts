/**
 * The enrollment exchange `enroll` and `renew` share: GetCACaps, GetCACert,
 * PKCSReq (or RenewalReq), CertPoll while PENDING, and the CertRep outcome
 * turned into certificates or an exit code.
 *
 * @module
 */
import {
  type CaCaps,
  type Certificate,
  type CertRep,
  type ContentCipher,
  type DigestAlgorithm,
  type LocalKey,
  CertificationRequest,
  CertRepError,
  ScepClient,
  isScepError,
  parseCaCaps,
  REVOCATION_REASONS,
} from "@scep/core";
import { warnAlgorithms } from "./algorithm-warnings.js";
import type { CliPin } from "./ca-pin.js";
import { CliError, ExitCode, describeError, pkiOperationUnanswered, transportOperation } from "./exit.js";
import type { Context } from "./context.js";
import { failureLine } from "./failure.js";
import { operationOf, scepFetch } from "./scep-fetch.js";
import { printable } from "./printable.js";
import { x509 } from "./x509.js";

/** What {@link enrollWithCa} needs. */
export interface EnrollmentOptions {
  url: string;
  timeoutMs: number;
  /** --ca-identifier: sent as the `message` of GetCACaps and GetCACert (ScepClient's `caIdentifier`); none when unset. */
  caIdentifier?: string;
  /** The PKCS#10 request, DER. */
  csr: Uint8Array;
  /** Signs the request and opens the reply: self-signed (enroll) or the old certificate (renew). */
  signer: LocalKey;
  /**
   * Content cipher; default aes128 when the CA advertises AES or SCEPStandard (RFC 8894 §3.5.2: AES-128-CBC), else
   * des3. An explicit aes192/aes256 (and des, to a CA advertising anything) is sent with a warning: no capability
   * promises it (see warnAlgorithms).
   */
  cipher?: ContentCipher | undefined;
  /** Digest; default sha256 when advertised (or SCEPStandard), else sha512 when advertised, else sha1. */
  digest?: DigestAlgorithm | undefined;
  /** PKIOperation method; default POST when the CA advertises POSTPKIOperation or SCEPStandard. */
  method?: "post" | "get" | undefined;
  /** Send RenewalReq (17) instead of PKCSReq (19). */
  renewal?: boolean;
  pollIntervalMs: number;
  maxPollMs: number;
  /** --ca-fingerprint / --ca-cert. */
  pin: CliPin;
  /** Whether the CSR carries a challenge password (to explain a FAILURE without one). */
  challengeSent: boolean;
  /** Where the challenge came from, for messages (`--challenge`, `--challenge-file F`, the variable); default `--challenge`. */
  challengeFrom?: string;
  /** `renew`: the certificate being renewed and the file it came from (--cert), to explain a FAILURE about it. */
  renewing?: { certificate: Certificate; file: string };
  /** `renew --new-key`: the request is for a fresh key, not --cert's (to say so after a revoked --cert). */
  newKey?: boolean;
  /**
   * Called once, with the transactionID, when the CA first answers PENDING and polling is to follow (before the first
   * wait): the command saves a generated key then, so whatever ends the polling leaves it. Not called when
   * `maxPollMs` allows no poll (the PENDING {@link CliError} follows at once). A throw ends the enrollment with it.
   */
  onFirstPending?: (transactionId: string) => void;
  /**
   * Called each time a PKIOperation (the request, then each CertPoll) is handed to `fetch`: from then on it may have
   * reached the CA, which may hold a transaction for the request's key even if no answer comes.
   */
  onSent?: () => void;
}

async function caCapabilities(ctx: Context, client: ScepClient): Promise<CaCaps> {
  try {
    return await client.getCaCaps();
  } catch (error) {
    // Old CAs answer GetCACaps with 404/500: carry on with RFC defaults. A
    // refused connection or a timeout would only fail again on GetCACert.
    if (isScepError(error) && error.code === "ERR_TRANSPORT" && (error as { status?: number }).status !== undefined) {
      // Warn only about a CA that answers GetCACert: a --url that is no SCEP endpoint (404 to both) or a server that
      // cannot answer (503 to both) ends with GetCACert's one line, not a warning and then that line.
      await client.getCaCert();
      ctx.err(`warning: ${printable(error.message, 260)}; assuming no capabilities`);
      return parseCaCaps("");
    }
    throw error;
  }
}

/** Where a rejected challenge is checked: the CA's text names the challenge, or a badRequest says nothing more. */
const CHALLENGE_WHERE = "the CA's challenge (the example servers: SCEP_CHALLENGE or --challenge if set, else the file <data-dir>/challenge; a one-time challenge works once)";

/** What to check after a badRequest to a request that sent --challenge (RFC 8894 §3.2.1.4.4: badRequest covers a wrong challenge). */
function challengeHint(failInfoText: string | undefined, from: string): string | undefined {
  // "…unavailable; try again later": the CA could not check the challenge, so the challenge is not what to check.
  if (failInfoText !== undefined && /unavailable|try again/i.test(failInfoText)) return undefined;
  // Intune's SubjectNameMismatch, SubjectAltNameMissing…: the challenge is bound to a subject, and the request's differs.
  if (failInfoText !== undefined && /Subject(Alt)?Name(Missing|Mismatch)/.test(failInfoText)) return "the challenge was issued for another subject or subjectAltName: request the ones it names (--cn, --dns, …)";
  // step-ca says "wrong password provided": the challenge password, as aboutChallenge reads it.
  if (failInfoText !== undefined && /challenge|password/i.test(failInfoText)) return `check ${from} against ${CHALLENGE_WHERE}`;
  if (failInfoText === undefined) return `a wrong ${from} is the usual reason: check it against ${CHALLENGE_WHERE}`;
  return undefined;
}

/** Whether the CA's text is about the challenge (so a missing --challenge does not contradict it). */
const aboutChallenge = (text: string | undefined): boolean => text === undefined || /challenge|password/i.test(text);

/** Why a revoked certificate's key is not asked for again (RFC 5280 §5.3.1: it may have been revoked as compromised). */
const REVOKED_KEY = "a revoked certificate's key may be compromised and must not be certified again";

/**
 * The RFC 5280 §5.3.1 reason a CA's text gives for a revoked certificate (`… was revoked (superseded)`, the @scep/core
 * server's text), or undefined when it gives none.
 */
function revocationReason(text: string): string | undefined {
  return /\brevoked \(([A-Za-z]+)\)/.exec(text)?.[1];
}

/**
 * What to check when the certificate being renewed is one the CA will not take as a renewal (revoked, expired, or
 * not this CA's): the same command as a first enrollment (a PKCSReq with --challenge; RFC 8894 §3.3.1.2 leaves a
 * PKCSReq signed by such a certificate to the CA's challenge), or the CA that issued it. `revoked`: `"key"` when it
 * was revoked keyCompromise or for a reason the CA did not give: then with a new key (--new-key) unless the command
 * has one already, since the CA refuses a key revoked as compromised and a certificate for it would be no safer than
 * the revoked one; `"other"` for another RFC 5280 §5.3.1 reason (superseded, cessationOfOperation, …): the key may
 * stay, a challenge is all a first enrollment needs (the static one again, or a fresh one-time challenge).
 */
function firstEnrollmentHint(why: string, options: EnrollmentOptions, revoked?: "key" | "other"): string {
  const newKey = revoked === "key" && !options.newKey;
  // A static challenge may be given again; a one-time one was spent on the first enrollment.
  const notes = revoked === "other" ? ["a fresh one if the CA's challenges are one-time", ...(options.newKey ? [] : ["the key may stay: it was not revoked as compromised"])] : [];
  const after = notes.length > 0 ? ` (${notes.join("; ")})` : "";
  if (options.renewal) return newKey ? `${why}: send it as a first enrollment with a new key instead (drop --renewal-req, give --new-key and --challenge: ${REVOKED_KEY})` : `${why}: send it as a first enrollment instead (drop --renewal-req, give --challenge)${after}`;
  if (!options.challengeSent) return newKey ? `${why}: enroll anew with a new key: give --new-key and --challenge to the same command (${REVOKED_KEY})` : `${why}: give --challenge to enroll anew with the same command${after}`;
  const also = newKey ? `; and give --new-key: ${REVOKED_KEY}` : "";
  return `${why}, and the CA did not accept ${options.challengeFrom ?? "--challenge"} for a first enrollment: check it against ${CHALLENGE_WHERE}${also}`;
}

/** What to check when the CA cannot put the request's subject in a certificate (@scep/core: "the subject cannot be certified: …"). */
function subjectHint(options: EnrollmentOptions): string {
  const bounds = "(CN, O and OU: at most 64 characters each)";
  return options.renewing
    ? `the subject is --cert ${options.renewing.file}'s: enroll anew with a --cn within RFC 5280 Appendix A's bounds ${bounds}`
    : `shorten --cn to the RFC 5280 Appendix A bound the CA names ${bounds}`;
}

/** What to do when the CA refuses the request's key as compromised (the example servers: "this key was revoked as compromised"). */
function compromisedKeyHint(options: EnrollmentOptions): string {
  if (options.renewing) return `the CA will not certify this key again: give --new-key (with --challenge) so the new certificate gets a fresh key`;
  return "the CA will not certify this key again: enroll with a new key (another --key, or none: a new key is generated)";
}

/**
 * The `meaning` and `hint` of {@link failureLine} for a FAILURE to PKCSReq/RenewalReq (or a CertPoll after it). Each
 * agrees with the CA's failInfoText: the CLI's guess (no --challenge, a wrong challenge, --cert from another CA) is
 * said only when the CA's text does not say something else (RFC 8894 §3.2.1.4.5: failInfo is coarse, the text is
 * the CA's own account).
 */
function explainEnrollmentFailure(rep: CertRep & { caCertificates: Certificate[] }, options: EnrollmentOptions): Parameters<typeof failureLine>[1] {
  const renewing = options.renewing;
  // Checked against the CA certificates GetCACert returned before the request was sent: issuer name and signature.
  const foreign = renewing && rep.caCertificates.length > 0 && !rep.caCertificates.some((ca) => renewing.certificate.isIssuedBy(ca));
  const foreignWhy = foreign ? `--cert ${renewing.file} was not issued by this CA (its issuer is ${renewing.certificate.issuer}, and none of the CA certificates GetCACert returned signed it)` : "";
  return {
    meaning: (failInfo) => {
      const text = rep.failInfoText || undefined;
      if (failInfo === "badRequest" && !options.challengeSent && !foreign && aboutChallenge(text)) return "no challenge password was sent (no --challenge), the likely reason";
      // FAIL_INFO_WORDS' badCertId is GetCert's; in an enrollment it is the certificate being renewed or the transaction's.
      if (failInfo === "badCertId") {
        return renewing
          ? `the CA did not accept a certificate this request depends on (--cert ${renewing.file}, the one being renewed, or the one issued for this transaction)`
          : "the CA could not identify a certificate or pending request for this transaction";
      }
      return undefined;
    },
    hint: (failInfo, text) => {
      if (renewing && text !== undefined && /revoked/i.test(text) && failInfo === "badCertId") {
        // keyCompromise, or no reason given: a new key. Any other reason leaves the key usable: a plain first enrollment.
        const reason = revocationReason(text);
        const known = reason !== undefined && Object.hasOwn(REVOCATION_REASONS, reason) ? reason : undefined;
        return firstEnrollmentHint(`--cert ${renewing.file} was revoked${known ? ` (${known})` : ""} and cannot be renewed`, options, known && known !== "keyCompromise" ? "other" : "key");
      }
      if (renewing && text !== undefined && /expired|not yet valid/i.test(text) && failInfo === "badTime") {
        return firstEnrollmentHint(`--cert ${renewing.file} is valid ${renewing.certificate.notBefore.toISOString()} to ${renewing.certificate.notAfter.toISOString()}, so it cannot be renewed now`, options);
      }
      if (failInfo !== "badRequest") return undefined;
      if (text?.startsWith("the subject cannot be certified:")) return subjectHint(options);
      if (text !== undefined && /compromised/i.test(text)) return compromisedKeyHint(options);
      if (foreign && (options.renewal || !options.challengeSent)) return `${foreignWhy}: renew it at the CA that issued it, or give --challenge${options.renewal ? " without --renewal-req" : ""} to enroll here anew`;
      return options.challengeSent ? challengeHint(text, options.challengeFrom ?? "--challenge") : undefined;
    },
  };
}

/**
 * A PKIOperation sent with no answer (see {@link pkiOperationUnanswered}): the CA may have issued, and only a re-send
 * with the same key (RFC 8894 §3.3.3: same transactionID) collects that certificate instead of a second one. The
 * command keeps a generated key and says how to re-send. Exit 4.
 */
export class UnansweredError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.TRANSPORT);
  }
}

/**
 * The error an enrollment ends with for `error` from the exchange: an {@link UnansweredError} for a PKIOperation the
 * CA may have processed; for an HTTP 414/431 to a PKIOperation sent by GET (the request line too long for the
 * server), a line that says to send it by POST; else `error` itself.
 */
function pkiOperationError(error: unknown, options: EnrollmentOptions): unknown {
  if (pkiOperationUnanswered(error)) {
    const { message, saysMayHaveProcessed } = describeError(error, new URL(options.url));
    return new UnansweredError(saysMayHaveProcessed ? message : `${message}; the CA may have processed the request`);
  }
  const status = (error as { status?: unknown }).status;
  if (transportOperation(error) === "PKIOperation" && (status === 414 || status === 431)) {
    const post = options.method === "get" ? "drop --get, so it goes by POST" : "give --post (the CA does not advertise POSTPKIOperation, so GET was used)";
    return new CliError(`${describeError(error, new URL(options.url)).message}: the request was too large to send by GET: ${post}`, ExitCode.TRANSPORT);
  }
  return error;
}

/** The final CertRep's outcome as an exit: FAILURE → 2, PENDING → 3. */
function assertSuccess(rep: CertRep & { caCertificates: Certificate[] }, options: EnrollmentOptions, polled: { polls: number; ms: number }): void {
  if (rep.status === "FAILURE") throw new CliError(failureLine(rep, explainEnrollmentFailure(rep, options)), ExitCode.FAILURE);
  if (rep.status === "PENDING") {
    const waited = polled.polls > 0 ? ` after ${polled.polls} poll${polled.polls === 1 ? "" : "s"} over ${polled.ms / 1000} s` : "";
    throw new CliError(`PENDING: transaction ${rep.transactionId} is still pending${waited}; run the command again with the same key to poll`, ExitCode.PENDING);
  }
}

/** {@link scepFetch}, calling `onSent` first for a PKIOperation. */
function sendingFetch(onSent: (() => void) | undefined): typeof fetch {
  if (!onSent) return scepFetch;
  return (input, init) => {
    if (operationOf(input) === "PKIOperation") onSent();
    return scepFetch(input, init);
  };
}

/**
 * Runs one enrollment and returns the issued certificate first, then the
 * rest of what the CA sent. FAILURE and PENDING end as {@link CliError}s.
 */
export async function enrollWithCa(ctx: Context, options: EnrollmentOptions): Promise<Certificate[]> {
  const client = new ScepClient({ url: options.url, timeoutMs: options.timeoutMs, ...caId(options.caIdentifier), ...options.pin, fetch: sendingFetch(options.onSent) });
  const caps = await caCapabilities(ctx, client);
  warnAlgorithms(ctx, caps, options);
  // Never announce a wait --max-poll does not allow: with --max-poll 1 and --poll-interval 5, poll after 1 s.
  const interval = options.maxPollMs > 0 ? Math.min(options.pollIntervalMs, options.maxPollMs) : options.pollIntervalMs;
  const polled = { polls: 0, ms: 0 };
  let rep;
  try {
    rep = await client.enroll({
    csr: options.csr,
    signer: options.signer,
    cipher: options.cipher,
    digest: options.digest,
    post: options.method === undefined ? undefined : options.method === "post",
    caps,
    renewal: options.renewal ?? false,
    pollIntervalMs: interval,
    maxPollMs: options.maxPollMs,
    onPending: (pending, ms) => {
      if (polled.polls === 0) options.onFirstPending?.(pending.transactionId);
      polled.polls++;
      polled.ms += ms;
      ctx.err(`PENDING: transaction ${pending.transactionId}; polling again in ${ms / 1000} s`);
    },
    });
  } catch (error) {
    throw pkiOperationError(error, options);
  }
  assertSuccess(rep, options, polled);

  // The issued certificate is the one for our key (ScepClient finds it by key), wherever the CA put it.
  const issued = rep.certificate;
  if (!issued) throw new CliError("the CA's SUCCESS reply holds no certificate for the requested key", ExitCode.ERROR);
  assertUsable(issued, options.csr);
  return [issued, ...rep.certificates.filter((c) => c !== issued)];
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Throws {@link CertRepError} (`ERR_CERTREP`, exit 1) unless `issued` parses as a whole X.509 certificate (RFC 5280
 * §4.1, with @peculiar/x509's schema: @scep/core reads only the fields it uses, so a TBSCertificate with, say, a
 * signature field that is no AlgorithmIdentifier got through and was written, a file other tools cannot read) and its
 * subjectPublicKeyInfo is the one of `csr` (DER), the request's key. Runs before the key or the certificate is written.
 */
function assertUsable(issued: Certificate, csr: Uint8Array): void {
  let spki: Uint8Array;
  try {
    spki = new Uint8Array(new x509.X509Certificate(Uint8Array.from(issued.der)).publicKey.rawData);
  } catch (error) {
    throw new CertRepError(`the certificate the CA issued does not parse as an X.509 certificate (${printable((error as Error).message, 160)}); nothing was written`, { cause: error });
  }
  const requested = CertificationRequest.from(csr).spki;
  if (!sameBytes(issued.spki, requested) || !sameBytes(spki, requested)) {
    throw new CertRepError("the certificate the CA issued is not for the requested key (its public key is not the request's); nothing was written");
  }
}

/** `caIdentifier` as ScepClient options: none when unset (an explicit `undefined` is not allowed by exactOptionalPropertyTypes). */
function caId(caIdentifier: string | undefined): { caIdentifier?: string } {
  return caIdentifier === undefined ? {} : { caIdentifier };
}
