// One SCEP profile of an example server from its settings (the configuration file's, or the single default one
// flags and environment describe): CA, challenge (static, one-time, Intune API, signed token), issue hook.
import { readFile } from "node:fs/promises";
import { CaNotValidError, Certificate, InvalidArgumentError, normalizeSerialNumber, sameName, webhookChallenge, type ChallengePolicy, type ChallengeStore, type ScepProfile } from "@scep/core";
import {
  IntuneRevocationClient,
  IntuneValidator,
  SignedTokenValidator,
  nodeHttpFetch,
  TrustAnchorPool,
  isIntuneError,
  revocationStoreRevoker,
  syncIntuneRevocations,
  type IntuneApiOptions,
  type IntuneRevoke,
  type IntuneRevokeOutcome,
  type IntuneRevocationSyncSummary,
  type RateLimiter,
  type ReplayCache,
} from "@scep/intune";
import { KEY_COMPROMISED_TEXT, isEmbeddedCaError, type FileCa } from "@scep-examples/embedded-ca";
import type { ProfileSettings } from "./config-file.js";
import type { ServerConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { fileErrorReason } from "./file-error.js";
import { grantedValidityDays } from "./granted-validity.js";

/** Where a profile's Intune validator keeps nonces and counts (this process, or Redis). */
export interface IntuneStores {
  /** A replay cache for one profile (`namespace` keeps profiles apart in a shared store). */
  replayCache(namespace: string): ReplayCache;
  /** A rate limiter for one profile. */
  rateLimiter(namespace: string): RateLimiter;
}

/** What the banner and the `listening` line say about a profile: never a secret. */
export interface ProfileSummary {
  name: string;
  path: string;
  /** `static`, `one-time`, `intune-api` or `intune-signed-token`. */
  challenge: string;
}

/** A profile's Intune revocation sync: one round of it, and how often the kit runs it. */
export interface RevocationSync {
  everyMs: number;
  /** The CA whose revocation store the round writes to (its CRL is re-signed after a round that revoked). */
  ca: FileCa;
  /**
   * One round: download, revoke in the CA's store, upload. Rejects with the download's typed error, or with `signal`'s
   * reason once it aborts (shutdown: the calls under way are cut, what was revoked stays, the next round redoes the rest).
   */
  round(signal?: AbortSignal): Promise<IntuneRevocationSyncSummary>;
  /** Resolves once every revoke a round started has ended (an aborted round leaves its revoke under way to finish). */
  revokesSettled?(): Promise<void>;
}

/** What {@link buildProfile} needs from the kit. */
export interface ProfileDeps {
  config: ServerConfig;
  env: Readonly<Record<string, string | undefined>>;
  /** The CA of this profile (the server's, or its own). */
  ca: FileCa;
  /** Another CA of this server has the same subject: GetCRL then also asks this CA's index whether it issued the serial. */
  sharedIssuerName?: boolean;
  /** The server-wide static challenge (flags, environment or generated), for static profiles that name none. */
  defaultChallenge: () => string;
  /** Where one-time challenges live. */
  challenges: ChallengeStore;
  intuneStores: IntuneStores;
  log(entry: Record<string, unknown>): void;
}

/** Reads a secret from the variable or file a profile names; the field names it in errors (never its value). */
export async function readSecret(source: { env: string } | { file: string }, field: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  if ("env" in source) {
    const v = env[source.env];
    if (!v) throw new ConfigError(`${field}Env: the environment variable ${source.env} is not set`, { showUsage: false });
    return v;
  }
  let text: string;
  try {
    text = await readFile(source.file, "utf8");
  } catch (e) {
    throw new ConfigError(`${field}File: cannot read ${source.file}: ${fileErrorReason(e)}`, { showUsage: false });
  }
  const v = text.replace(/\r?\n$/, "");
  if (!v) throw new ConfigError(`${field}File: ${source.file} is empty`, { showUsage: false });
  return v;
}

const where = (s: { env: string } | { file: string }): string => ("env" in s ? `$${s.env}` : s.file);

/** Origin and path of a URL (a query string may hold a token: never shown). */
const endpointOf = (url: string): string => {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return "(unparsable URL)";
  }
};

/** RFC 5280 §7.1 name matching (the asked issuer may be spelled in another string type); bytes that are not a Name match nothing. */
const sameIssuer = (certIssuer: Uint8Array, asked: Uint8Array): boolean => {
  try {
    return sameName(certIssuer, asked);
  } catch {
    return false;
  }
};

/**
 * Builds the core profile for `p` (the `index`-th of the configuration file).
 *
 * @throws ConfigError naming the field (`profiles[1].intune.clientSecretEnv: …`) for a secret that is not set, an
 * unreadable or refused trust-anchor bundle, or Intune settings the validator refuses.
 */
export async function buildProfile(
  p: ProfileSettings,
  index: number,
  d: ProfileDeps,
): Promise<{ profile: ScepProfile; summary: ProfileSummary; trustAnchors?: TrustAnchorPool; revocationSync?: RevocationSync }> {
  const at = `profiles[${index}]`;
  const { ca, config, log } = d;
  const chain = ca.chainDer;
  const caSubject = new Certificate(ca.certificateDer).subjectDer;
  const validityDays = p.validityDays ?? config.validityDays;
  const pending = p.pending ?? config.pending;
  // RFC 5280 §5.3.1: the key of a certificate revoked as keyCompromise is never certified again (a new enrollment, a
  // renewal, a request signed by the revoked certificate or by a self-signed one alike): FAILURE badRequest, event
  // reason key_compromised. Other revocation reasons leave the key usable.
  const keyCompromised = { status: "FAILURE", failInfo: "badRequest", failInfoText: KEY_COMPROMISED_TEXT, reason: "key_compromised" } as const;
  let issue: NonNullable<ScepProfile["issue"]> = async (ctx) => {
    if (pending && !ctx.approved && !ctx.renewal) {
      // Refused now rather than recorded PENDING for an operator to approve in vain.
      return (await ca.isKeyCompromised(ctx.csr.spki)) ? keyCompromised : { status: "PENDING" };
    }
    try {
      // ctx.csr was decoded and its signature verified by decodePkiMessage: the CA does not redo either.
      // A shorter validity the device asks for (Windows/Intune ValidPeriod) is granted; a longer one is not. Counted from
      // the CA's clock, the instant its issue() starts the lifetime from ("1 month" is 28 to 31 days).
      const issued = await ca.issue({ csr: ctx.csr, validityDays: grantedValidityDays(ctx, validityDays, ca.now()), allowSid: ctx.allowSid });
      return { status: "SUCCESS", certificate: issued.certificateDer, ...(chain.length > 0 ? { chain: [...chain] } : {}) };
    } catch (e) {
      if (isEmbeddedCaError(e, "CSR_INVALID")) return { status: "FAILURE", failInfo: "badRequest", failInfoText: e.message };
      if (isEmbeddedCaError(e, "KEY_COMPROMISED")) return keyCompromised;
      // The CA expired (between the server's own check and this call): 503 ca_not_valid, as the server answers then.
      if (isEmbeddedCaError(e, "CA_EXPIRED")) throw new CaNotValidError(`profile ${ctx.profile}: ${e.message}`, { cause: e, notBefore: ca.notBefore, notAfter: ca.notAfter, at: ca.now() });
      throw e;
    }
  };
  let challenge: ChallengePolicy;
  let extra: Partial<ScepProfile> = {};
  let pool: TrustAnchorPool | undefined;
  let revocationSync: RevocationSync | undefined;
  const c = p.challenge;
  // Intune failures to reach Microsoft: typed code and a message that never holds a secret or a token.
  const onIntuneError = (e: { code: string; message: string }, operation: string): void => log({ type: "intune-error", profile: p.name, operation, code: e.code, message: e.message });
  const intuneConfig = <T>(make: () => T): T => {
    try {
      return make();
    } catch (e) {
      if (isIntuneError(e)) throw new ConfigError(`${at}.intune: ${e.message}`, { showUsage: false });
      throw e;
    }
  };
  switch (c.type) {
    case "static":
      if (c.password) {
        challenge = { type: "static", password: await readSecret(c.password, `${at}.challengePassword`, d.env) };
      } else {
        challenge = { type: "static", password: d.defaultChallenge() };
      }
      break;
    case "one-time":
      challenge = { type: "store", store: d.challenges };
      break;
    case "webhook": {
      const secret = c.secret ? await readSecret(c.secret, `${at}.webhook.secret`, d.env) : undefined;
      let authorization: string | undefined;
      if (c.authorizationEnv !== undefined) authorization = await readSecret({ env: c.authorizationEnv }, `${at}.webhook.authorization`, d.env);
      try {
        challenge = webhookChallenge({
          url: c.url,
          ...(c.notifyUrl !== undefined ? { notifyUrl: c.notifyUrl } : {}),
          ...(secret !== undefined ? { secret: c.secretEncoding === "base64" ? new Uint8Array(Buffer.from(secret, "base64")) : secret } : {}),
          ...(c.signatureHeader !== undefined ? { signatureHeader: c.signatureHeader } : {}),
          ...(authorization !== undefined ? { headers: { authorization } } : {}),
          ...(c.id !== undefined ? { id: c.id } : {}),
          ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
          deliverWhenNotificationFails: c.deliverWhenNotificationFails,
          // Failed calls: typed code and a message that never holds the secret or the Authorization value.
          onError: (e, operation) => log({ type: "webhook-error", profile: p.name, operation, code: e.code, message: e.message }),
        });
      } catch (e) {
        if (e instanceof InvalidArgumentError) throw new ConfigError(`${at}.webhook: ${e.message}`, { showUsage: false });
        throw e;
      }
      extra = {
        onUndelivered: (u) => log({ type: "undelivered", profile: u.profile, transactionId: u.transactionId, reason: u.reason, serial: u.certificate.serialNumberHex, subject: u.certificate.subject }),
      };
      break;
    }
    case "intune-api": {
      const clientSecret = await readSecret(c.clientSecret, `${at}.intune.clientSecret`, d.env);
      // The Entra ID app and endpoints: the validator's and the revocation sync's client are the same app.
      const api: IntuneApiOptions = {
        tenant: c.tenantId,
        clientId: c.clientId,
        credential: { clientSecret },
        fetch: nodeHttpFetch, // node:http keep-alive: about half the CPU of the global fetch per Intune call
        ...(c.loginBaseUrl !== undefined ? { loginBaseUrl: c.loginBaseUrl } : {}),
        ...(c.graphBaseUrl !== undefined ? { graphBaseUrl: c.graphBaseUrl } : {}),
        ...(c.intuneResource !== undefined ? { intuneResource: c.intuneResource } : {}),
        ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
        ...(c.retries !== undefined ? { retries: c.retries } : {}),
      };
      const intune = intuneConfig(
        () =>
          new IntuneValidator({
            ...api,
            ...(c.replayTtlMs !== undefined ? { replayCache: d.intuneStores.replayCache(p.name), replayTtlMs: c.replayTtlMs } : {}),
            ...(c.rateLimit ? { rateLimit: c.rateLimit, rateLimiter: d.intuneStores.rateLimiter(p.name) } : {}),
            onError: onIntuneError,
          }),
      );
      challenge = { type: "custom", validate: (ctx) => intune.validate(ctx), status: intune }; // status: kind intune in snapshots, activity, metrics
      // Issue, notify, then deliver (a failed successNotification vetoes delivery); a failed issuance is reported.
      issue = intune.withFailureNotification(issue);
      extra = {
        confirm: intune.confirmHook({ deliverWhenNotificationFails: c.deliverWhenNotificationFails, ...(c.caConfiguration !== undefined ? { caConfiguration: c.caConfiguration } : {}) }),
        // The operator is told which certificate to revoke (POST /admin/scep/revoke puts it on the CRL).
        onUndelivered: (u) => log({ type: "undelivered", profile: u.profile, transactionId: u.transactionId, reason: u.reason, serial: u.certificate.serialNumberHex, subject: u.certificate.subject }),
      };
      if (c.revocationSyncSeconds !== undefined) {
        const client = intuneConfig(() => new IntuneRevocationClient(api));
        // Through the CA, as the admin API's revoke: the serial normalized (a malformed one is 4002), the CA's clock; the
        // store's ERR_STORE_UNAVAILABLE goes through (4101). A serial not in this CA's index is 4004 only where this
        // process is the one authority on this issuer name. With Redis, another replica may have issued it (its own
        // data directory and index, the same CA), and another CA in service may share the name: every one of them syncs
        // and downloads the same requests, so a final 4004 from one that lacks the certificate could be the answer
        // Intune keeps, and the certificate would never be revoked. There it is revoked in this CA's store all the
        // same (Intune asks only about certificates a successNotification reported under this issuer name; a CRL entry
        // for a serial this CA did not issue is harmless).
        // The reason is `unspecified`: Intune's request names the serial and issuer only (no reason field; it asks on a
        // wipe, retire or delete, or when the profile no longer applies), so no other RFC 5280 reason would be known.
        const soleAuthority = config.redisUrl === undefined && !d.sharedIssuerName;
        const revokeAnyway = revocationStoreRevoker(ca.revocations);
        // Revokes under way, so shutdown waits for their writes: an aborted round rejects at once, but a revoke it
        // started runs on (the store write is not cut), and the process must not exit (and release the data
        // directory's lock) under it. One that has not started yet when the round is aborted does not start.
        const revoking = new Set<Promise<unknown>>();
        const revoke: IntuneRevoke = (request, call) => {
          const run = (async (): Promise<IntuneRevokeOutcome> => {
            call?.signal?.throwIfAborted();
            try {
              return (await ca.revoke(request.serialNumber, "unspecified")).created ? "revoked" : "already_revoked";
            } catch (e) {
              if (isEmbeddedCaError(e, "UNKNOWN_SERIAL")) return soleAuthority ? "not_found" : revokeAnyway(request, call);
              if (isEmbeddedCaError(e, "INVALID_OPTIONS")) return "invalid_serial";
              throw e;
            }
          })();
          const tracked = run.then(
            () => undefined,
            () => undefined,
          );
          revoking.add(tracked);
          void tracked.then(() => revoking.delete(tracked));
          return run;
        };
        const issuerName = new Certificate(ca.certificateDer).subject;
        revocationSync = {
          everyMs: c.revocationSyncSeconds * 1000,
          ca,
          // alreadyRevoked "succeeded": every worker and replica runs the sync, and a round after a failed upload gets
          // the same requests again; an entry already on the CRL is the state Intune asked for, not a conflict.
          round: (signal) => syncIntuneRevocations({ client, issuerName, revoke, maxRequests: 500, alreadyRevoked: "succeeded", ...(signal ? { signal } : {}) }),
          revokesSettled: async () => void (await Promise.all([...revoking])),
        };
      }
      break;
    }
    case "intune-signed-token": {
      let anchors: TrustAnchorPool;
      try {
        anchors = await TrustAnchorPool.fromFile(c.trustAnchors);
      } catch (e) {
        if (isIntuneError(e)) throw new ConfigError(`${at}.intune.trustAnchors: ${e.message}`, { showUsage: false });
        throw e;
      }
      const tokens = intuneConfig(
        () =>
          new SignedTokenValidator({
            trustAnchors: anchors,
            strict: c.strict,
            ...(c.audience !== undefined ? { audience: c.audience } : {}),
            ...(c.clockSkewMs !== undefined ? { clockSkewMs: c.clockSkewMs } : {}),
            ...(c.maxValidityMs !== undefined ? { maxValidityMs: c.maxValidityMs } : {}),
            ...(c.replayTtlMs !== undefined ? { replayTtlMs: c.replayTtlMs } : {}),
            ...(c.rateLimit !== undefined ? { rateLimit: c.rateLimit } : {}),
            replayCache: d.intuneStores.replayCache(p.name),
            rateLimiter: d.intuneStores.rateLimiter(p.name),
          }),
      );
      challenge = { type: "custom", validate: (ctx) => tokens.validate(ctx), status: tokens }; // status: trust-anchor expiry in snapshots and metrics
      pool = anchors;
      break;
    }
  }
  const profile: ScepProfile = {
    name: p.name,
    path: p.path,
    ...(p.aliases ? { aliases: p.aliases } : {}),
    caCertificate: ca.certificatePem,
    // The CA's own LocalKey (openCa): with --key-workers N > 0 every private-key operation (decryptions, signatures)
    // runs on the process's N key worker threads. With 0 (the default when --workers takes every core) on the event
    // loop: a thread hop costs more CPU than it frees when every core already has its own process.
    signer: ca.signer,
    // An intermediate CA: GetCACert serves it with the certificates above it (a degenerate PKCS#7, RFC 8894 §4.2.1.2).
    ...(chain.length > 0 ? { caCertificates: [ca.certificateDer, ...chain] } : {}),
    challenge,
    // Windows SIDs only where the configuration allows them (SID spoofing); the issue hook passes ctx.allowSid on.
    csrPolicy: { maxValidityDays: validityDays, ...(p.allowSid ? { allowSid: true } : {}) },
    // GetCRL (RFC 8894 §3.3.5): the CA's current CRL for any certificate it issued; another issuer is badCertId.
    // Two CAs of one server may share a name (certificates given by the operator): then only the CA whose index holds
    // the serial answers, so a profile never hands out another CA's CRL.
    // GetCert (RFC 8894 §3.3.4): a certificate this CA's index holds, when the asked issuer is the one in the certificate
    // (any requester may ask: certificates are public). The index is this CA's record, so this also answers for what the
    // previous CA of a rollover issued (same data directory, its certificates still in the index: their issuer is the
    // previous CA's name) and, for an intermediate, the intermediate's name. A serial of another issuer, or unknown, is
    // badCertId. The serial arrives as the INTEGER's DER content octets, sign kept: normalizeSerialNumber spells a
    // negative one (80 01) -7fff, never as 0x8001's 008001, so the index hands out only that INTEGER's certificate. With --redis-url the index
    // is the data directory's: replicas that share one answer for all of them; a replica with its own answers only for
    // what it issued (badCertId for the others' certificates).
    getCert: async ({ issuer, serialNumber }) => {
      const serial = storeSerial(serialNumber);
      const found = serial === undefined ? undefined : await ca.getCertificate(serial);
      if (!found) return undefined;
      const certificate = new Certificate(found.certificateDer);
      // The certificate must hold the asked INTEGER itself: an index line imported from elsewhere may name a negative
      // serial by its magnitude-looking text (`8002` as @peculiar/x509 prints content 80 02), which is 0x8002's key.
      return sameIssuer(certificate.issuerDer, issuer) && storeSerial(certificate.serialNumber) === serial ? certificate : undefined;
    },
    getCrl: async ({ issuer, serialNumber }) => {
      if (!Buffer.from(issuer).equals(caSubject)) return undefined;
      if (d.sharedIssuerName) {
        const serial = storeSerial(serialNumber);
        if (serial === undefined || !(await ca.getCertificate(serial).catch(() => undefined))) return undefined;
      }
      return (await ca.crl()).der;
    },
    issue,
    // A certificate of this CA that was revoked (POST /admin/scep/revoke, Intune's revocation sync) is never handed out
    // again (RFC 8894 §3.3.3) and no longer signs a renewal (RenewalReq: FAILURE badCertId). The store is the CA's:
    // Redis's, or the data directory's, so this holds on every worker and after a restart; a serial on the last
    // published CRL counts even when the store lost it (a Redis restarted empty), and goes back into the store.
    // The entry (its reason) rather than true: a RenewalReq signed by a revoked certificate is told the reason
    // ("… was revoked (superseded)"), so a client asks for a new key only after keyCompromise.
    isRevoked: async (certificate) => {
      if (!Buffer.from(certificate.issuerDer).equals(caSubject)) return false;
      const serial = storeSerial(certificate.serialNumber);
      return serial === undefined ? false : await ca.revocation(serial);
    },
    ...extra,
  };
  return { profile, summary: { name: p.name, path: p.path, challenge: c.type }, ...(pool ? { trustAnchors: pool } : {}), ...(revocationSync ? { revocationSync } : {}) };
}

/**
 * One banner line about a profile, from its settings alone (the cluster primary prints it before any worker
 * reads a secret): the challenge kind and where its secret comes from, never the secret.
 */
export function describeProfile(p: ProfileSettings, config: ServerConfig, defaultChallengeLine: string): string {
  const c = p.challenge;
  const pending = p.pending ?? config.pending;
  const what =
    c.type === "static"
      ? c.password
        ? `static challenge from ${where(c.password)}`
        : `static challenge ${defaultChallengeLine}`
      : c.type === "one-time"
        ? `one-time challenges (POST /admin/scep/challenges {"profile":${JSON.stringify(p.name)}})`
        : c.type === "webhook"
          ? `webhook ${endpointOf(c.url)}${c.notifyUrl ? `, notifications to ${endpointOf(c.notifyUrl)}` : ""}${c.secret ? `, signed with the secret from ${where(c.secret)}` : ", calls NOT signed (no secretEnv/secretFile)"}`
          : c.type === "intune-api"
          ? `Intune API (tenant ${c.tenantId}, client ${c.clientId}, secret from ${where(c.clientSecret)}${c.deliverWhenNotificationFails ? ", delivers without successNotification" : ""}${c.revocationSyncSeconds !== undefined ? `, revocation sync every ${c.revocationSyncSeconds} s` : ""})`
          : `signed tokens (anchors ${c.trustAnchors}${c.audience ? `, audience ${c.audience}` : ""}${c.strict ? "" : ", NOT strict"}, ${c.rateLimit === false ? "no rate limit" : `at most ${c.rateLimit?.max ?? 3} per device in ${(c.rateLimit?.windowMs ?? 86_400_000) / 1000} s`})`;
  return `${what}; ${!pending ? "issued at once" : config.adminToken ? "PENDING until approved" : pendingWithoutAdmin(config)}, ${p.validityDays ?? config.validityDays} days`;
}

/**
 * What PENDING means on a server without the admin API (no `SCEP_ADMIN_TOKEN`), the only place requests are approved:
 * a replica on the same Redis that has it approves them, and without Redis nothing can (the banner says so; the start
 * is not refused, the requests simply stay PENDING until their TTL).
 */
export function pendingWithoutAdmin(config: Pick<ServerConfig, "redisUrl">): string {
  return config.redisUrl !== undefined
    ? "PENDING until approved through a replica with SCEP_ADMIN_TOKEN (this one has no admin API)"
    : "PENDING, but NOTHING CAN APPROVE: this server has no admin API (set SCEP_ADMIN_TOKEN)";
}

/** The store spelling of a GetCert/GetCRL serial (the INTEGER's content octets), or undefined for one no store holds (over 20 octets). */
function storeSerial(serialNumber: Uint8Array): string | undefined {
  try {
    return normalizeSerialNumber(serialNumber);
  } catch {
    return undefined;
  }
}
