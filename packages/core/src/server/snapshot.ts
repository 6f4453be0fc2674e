/**
 * What an operator sees of each profile: its RA/CA certificates and how long
 * they have left, how challenges are checked (never the secret), what the
 * challenge validator depends on (Intune trust anchors), request counters
 * and the number of transactions waiting for a decision.
 *
 * @module
 */
import { equalBytes } from "../lib/der.js";
import { pending } from "./approval.js";
import type { Certificate } from "../x509/certificate.js";
import type { ChallengeStatus } from "./challenge.js";
import type { ServerContext } from "./context.js";
import type { ProfileCounters } from "./counter-store.js";
import type { ResolvedProfile } from "./profile.js";

const DAY_MS = 86_400_000;

/** Whole days from `now` until `notAfter`, rounded down: negative once `notAfter` has passed. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** One certificate as an operator sees it. @group Server */
export interface CertificateSummary {
  /** Subject DN, `CN=…, O=…`. */
  subject: string;
  /** Issuer DN. */
  issuer: string;
  /** Serial number, lower-case hex. */
  serialNumber: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** Whole days left until `notAfter` at the snapshot's time, rounded down (negative: expired). */
  daysLeft: number;
}

/** One trust anchor of a challenge validator (Intune signed tokens) with its expiry. @group Server */
export interface TrustAnchorSummary {
  /** Subject DN. */
  subject: string;
  /** End of validity. */
  notAfter: Date;
  /** Whole days left until `notAfter`, rounded down (negative: expired). */
  daysLeft: number;
  /** SHA-256 of the certificate's DER, lower-case hex, when the validator reports it. */
  fingerprintSha256?: string;
}

/** How a profile checks challenges, never the secret. @group Server */
export interface ChallengeSummary {
  /** Whether a challenge is required (false only for `{ type: "none" }`). */
  configured: boolean;
  /** The policy type: `static`, `store` (one-time challenges), `custom` or `none`. */
  type: "static" | "store" | "custom" | "none";
  /** The mechanism: the validator's own {@link ChallengeStatus.kind} (e.g. `intune`) when it reports one, else `type`. */
  kind: string;
  /** The validator's mode (e.g. `signed-token`, `validation-api`), when it reports one. */
  mode?: string;
  /** The validator's trust anchors, when it reports them. */
  trustAnchors?: TrustAnchorSummary[];
  /** Why the validator's last reload failed, when it did. */
  lastReloadError?: string;
}

/** A profile's configuration as an operator sees it (synchronous, no store call). @group Server */
export interface ProfileInfo {
  /** Profile name. */
  profile: string;
  /** URL path. */
  path: string;
  /** The issuing CA certificate. */
  ca: CertificateSummary;
  /** The RA certificates (the CertRep signer and the decrypters that are not the CA), signer first; empty when the CA does both. */
  ra: CertificateSummary[];
  /** The next CA (and RA) certificates served by GetNextCACert during a rollover, when configured. */
  nextCa?: CertificateSummary[];
  /** How challenges are checked. */
  challenge: ChallengeSummary;
  /**
   * Configuration that works, but not for every client, one sentence each; absent when there is none. Today: RA
   * certificates in which Apple's client (iOS, macOS) finds no RA, because one has no keyUsage extension (RFC 5280
   * allows that; Apple counts it as neither signing nor encryption) or none has digitalSignature and keyEncipherment;
   * in CA mode, a `caCertificates` list in which Apple finds no RA, or an issuing CA served alone without its root
   * (a Windows `CAThumbprint` or Apple `CAFingerprint` pinned to the root matches nothing; the warning names both
   * SHA-1 thumbprints); a static challenge password with a character outside PrintableString, which Windows' SCEP
   * client cannot send (the warning names neither the password nor the characters).
   */
  warnings?: string[];
}

/** {@link ProfileInfo} plus counters and pending transactions, at one instant. @group Server */
export interface ProfileSnapshot extends ProfileInfo {
  /** When the snapshot was taken (the server's clock); every `daysLeft` counts from here. */
  at: Date;
  /**
   * Requests by outcome and by reason label. `scope` is `replicas` when read from the shared `counters` store (every
   * replica), `process` when there is none or it could not be read (then `unavailable` names it).
   */
  counters: ProfileCounters & { scope: "replicas" | "process" };
  /** Transactions waiting for a decision (PENDING, or ISSUING while an approve runs); null when the store could not be read. */
  pending: number | null;
  /** The stores that could not be read for this snapshot (`counter store`, `transaction store`); absent when all answered. */
  unavailable?: string[];
}

/** A certificate summary at `now`. */
export function summarize(c: Certificate, now: Date): CertificateSummary {
  return { subject: c.subject, issuer: c.issuer, serialNumber: c.serialNumberHex, notBefore: c.notBefore, notAfter: c.notAfter, daysLeft: daysLeft(c.notAfter, now) };
}

/** The validator's status, or undefined when it has none or reporting it throws. */
export function challengeStatusOf(p: ResolvedProfile): ChallengeStatus | undefined {
  const c = p.challenge;
  if (c.type !== "custom" || !c.status) return undefined;
  try {
    return c.status.challengeStatus();
  } catch {
    return undefined; // a broken reporter must not break a snapshot
  }
}

function challengeSummary(p: ResolvedProfile, now: Date): ChallengeSummary {
  const type = p.challenge.type;
  const s = challengeStatusOf(p);
  return {
    configured: type !== "none",
    type,
    kind: p.challengeKind,
    ...(s?.mode ? { mode: s.mode } : {}),
    ...(s?.trustAnchors
      ? { trustAnchors: s.trustAnchors.map((a) => ({ subject: a.subject, notAfter: a.notAfter, daysLeft: daysLeft(a.notAfter, now), ...(a.fingerprintSha256 ? { fingerprintSha256: a.fingerprintSha256 } : {}) })) }
      : {}),
    ...(s?.lastReloadError ? { lastReloadError: s.lastReloadError } : {}),
  };
}

/** The synchronous part of a profile's snapshot. */
export function profileInfo(p: ResolvedProfile, now: Date): ProfileInfo {
  const ras: Certificate[] = [];
  for (const c of [p.signer.certificate, ...p.decrypters.map((d) => d.certificate)]) {
    if (!equalBytes(c.der, p.ca.der) && !ras.some((r) => equalBytes(r.der, c.der))) ras.push(c);
  }
  return {
    profile: p.name,
    path: p.path,
    ca: summarize(p.ca, now),
    ra: ras.map((c) => summarize(c, now)),
    ...(p.nextCa ? { nextCa: p.nextCa.map((c) => summarize(c, now)) } : {}),
    challenge: challengeSummary(p, now),
    ...(p.warnings.length > 0 ? { warnings: [...p.warnings] } : {}),
  };
}

/** A profile's full snapshot; never rejects: a store that fails or times out is named in `unavailable`. */
export async function profileSnapshot(ctx: ServerContext, p: ResolvedProfile, readCounters: ((profile: string) => Promise<ProfileCounters>) | undefined): Promise<ProfileSnapshot> {
  const at = ctx.now();
  const unavailable: string[] = [];
  const local = { outcomes: { ...p.stats.outcomes }, reasons: { ...p.stats.reasons } };
  const [counters, waiting] = await Promise.all([
    readCounters
      ? ctx.store("counter store", () => readCounters(p.name)).then(
          (c) => ({ outcomes: { ...c.outcomes }, reasons: { ...c.reasons }, scope: "replicas" as const }),
          () => {
            unavailable.push("counter store");
            return { ...local, scope: "process" as const };
          },
        )
      : { ...local, scope: "process" as const },
    pending(ctx, [p]).then(
      (list) => list.length,
      () => {
        unavailable.push("transaction store");
        return null;
      },
    ),
  ]);
  return { ...profileInfo(p, at), at, counters, pending: waiting, ...(unavailable.length ? { unavailable: unavailable.sort() } : {}) };
}
