// openFileCa(): the file-backed CA the example SCEP servers embed.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Certificate, KeyWorkerPool, MAX_CRL_NUMBER, type LocalKey, crlNumberExhausted, ignoreRejection, isScepError, isStoreUnavailable, normalizeSerialNumber, type CertificationRequest, type RevocationReason, type RevocationStore, type RevokeResult, type RevokedCertificate } from "@scep/core";
import { readCrlParts } from "./crl-entries.js";
import { CRL_FILE, CRL_STATE_FILE, CrlPublication, type PublishedCrl } from "./crl-publication.js";
import { CRL_DISTRIBUTION_POINTS_OID, crlDistributionPointsValue, signCrl } from "./crl.js";
import type { CaKeyAlgorithm, CaMaterial } from "./ca-material.js";
import { DEFAULT_CA_SUBJECT, loadCaFiles, openDefaultCa, parseDistinguishedName } from "./default-ca.js";
import { CompromisedKeys, certificateKeyMatcher } from "./compromised-keys.js";
import { EmbeddedCaError, KEY_COMPROMISED_TEXT, isEmbeddedCaError } from "./errors.js";
import { IndexLookup, type IndexPage, type IndexPageOptions } from "./index-lookup.js";
import { INDEX_FILE, IndexWriter, type IndexLine } from "./issuance-index.js";
import { checkDecodedCsr, parseCsr, prepareCertificate, type CertificateExtension } from "./issue-certificate.js";
import { ensureDirectory, ensureFile, publishFileExclusive } from "./lib/durable-fs.js";
import { CERTS_DIR, CERTS_TEMP_DIR, removeLeftovers } from "./leftover-temps.js";
import { firstPemBlock, toPem } from "./lib/pem.js";
import { SerialAllocator } from "./serial-allocator.js";
import { FileRevocationStore, REVOCATIONS_FILE } from "./revocation-file.js";
import { checkStaleness, type Staleness } from "./lib/staleness.js";
import { UNSETTLED_FILE, UnsettledIssues } from "./unsettled-issues.js";

/**
 * Options of {@link openFileCa}.
 *
 * | option | default | meaning |
 * | --- | --- | --- |
 * | `dataDir` | (required) | directory for the generated CA, `index.jsonl`, `epochs/`, `certs/`; created with mode 0700 |
 * | `caCertPath` | — | PEM certificate of an existing CA (first `CERTIFICATE` block is used; DER is refused, "expected PEM"); needs `caKeyPath` |
 * | `caKeyPath` | — | its private key, PEM or DER: PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, or any of them encrypted |
 * | `caKeyPassphrase` | — | passphrase of an encrypted `caKeyPath` (without one, the empty passphrase is tried: micromdm's depot `ca.key`) |
 * | `subject` | `CN=SCEP Example CA,O=scep-sdk` | subject of a CA created on first start; ignored when a CA already exists or paths are given |
 * | `clock` | `() => new Date()` | time source for the CA's and certificates' validity and `issuedAt` |
 * | `backdateSeconds` | `0` | start issued certificates (and a CA created on first start) this many seconds before now, for clients whose clock is slow; never before the CA's own notBefore |
 * | `certificateFiles` | `true` | also write a convenience copy `certs/<serial>.pem` of each certificate, whole or not at all (false: the index alone holds them; saves a file creation per issue) |
 * | `revocations` | a `FileRevocationStore` in `dataDir` (`revocations.jsonl`, `crl-numbers`) | where {@link FileCa.revoke} records revocations and the CRL number comes from: kept across restarts and shared by the processes of one machine using `dataDir` (`RedisRevocationStore` to share them between replicas on several machines) |
 * | `crlValiditySeconds` | `86400` | nextUpdate − thisUpdate of each CRL {@link FileCa.crl} signs; a CRL is re-signed once half of it has passed; each is published to `dataDir/ca.crl` (and `ca.crl.json`) |
 * | `crlDistributionPoint` | — | URL (http://…) put in every issued certificate as its CRL distribution point (RFC 5280 §4.2.1.13) |
 * | `onRevocationsRestored` | — | called with `{ restored, skipped, crlNumber }` when entries of the published CRL (`ca.crl.json`) that `revocations` lacked were put back into it, or entries of it did not read (see {@link FileCa.crl}) |
 * | `restoreOnOpen` | `true` | put the published CRL's entries that `revocations` lacks back into it at open; `false` for a process that only looks at the CA while others serve it with another store (the restore then happens in theirs, and in this CA's first `crl()` or `revocation()`) |
 * | `onPublishedCrlIgnored` | — | called with `{ crlNumber, reason }` once per published CRL (`ca.crl.json`) that is not the CA's (signature, issuer, or a number or times the file states that are not the CRL's), or with `{ reason }` for a `ca.crl.json` that does not parse: it is not served, not copied to `ca.crl`, nothing is restored from it |
 * | `maxStalenessMs` | `1000` | how long `issue`'s first compromised-key check, {@link FileCa.revocation} and {@link FileCa.isKeyCompromised} answer from what they read of `ca.crl.json` (and the default store of `revocations.jsonl`) before looking again: the most time by which another process's revocation or CRL goes unseen by them; this process's own count at once, and {@link FileCa.crl} and `issue`'s re-check after its index line always look (0: look on every call) |
 * | `monotonicNow` | `performance.now` | monotonic milliseconds `maxStalenessMs` is measured with (tests inject one) |
 * | `onError` | — | called with each error the CA handles without failing a call (see {@link OpenFileCaOptions.onError}): an `unsettled.jsonl` line it cannot settle, a certificate whose key cannot be known or (revoked keyCompromise) read now, a `certs/<serial>.pem` copy that could not be written (the certificate is issued all the same), a `ca.crl` left behind the published CRL, a failed restore or settling at open or after a revoke; the revocation store being down is not reported (the next call that needs it rejects) |
 *
 * @example
 * ```ts
 * import { openFileCa, type OpenFileCaOptions } from "@scep-examples/embedded-ca";
 *
 * const options: OpenFileCaOptions = {
 *   dataDir: "./data",
 *   subject: "CN=Lab SCEP CA,O=Example Corp",
 * };
 * const ca = await openFileCa(options);
 * ```
 */
export interface OpenFileCaOptions {
  /** Directory for the CA's state; created if missing. */
  dataDir: string;
  /** PEM certificate of an existing CA. Must be given together with `caKeyPath`. */
  caCertPath?: string;
  /** Private key of that CA, PEM or DER (told apart by the bytes). Must be given together with `caCertPath`. */
  caKeyPath?: string;
  /** Passphrase of an encrypted `caKeyPath`; without it an encrypted key is tried with the empty passphrase. */
  caKeyPassphrase?: string;
  /** Distinguished name of a CA created on first start, e.g. `"CN=My CA,O=Org"`. */
  subject?: string;
  /** Injected time source; tests pass a fixed clock. */
  clock?: () => Date;
  /**
   * Back-dates notBefore by this many seconds (default 0): of the CA created
   * on first start, and of every certificate {@link FileCa.issue} issues
   * without an explicit `notBefore` (never before the CA's notBefore; notAfter
   * stays `validityDays` after now). A device whose clock is a little slow
   * then does not see "not yet valid".
   */
  backdateSeconds?: number;
  /**
   * Whether `issue` also writes `certs/<serial>.pem` (default `true`), whole
   * or not at all (a temporary file linked to its name; not fsynced). The
   * index holds every certificate anyway ({@link FileCa.getCertificate});
   * creating one file per certificate costs about as much CPU as signing it.
   */
  certificateFiles?: boolean;
  /** Revocations and CRL numbers (default: a `FileRevocationStore` in `dataDir`, kept across restarts). */
  revocations?: RevocationStore;
  /** Lifetime of a signed CRL, nextUpdate − thisUpdate, in seconds (default 86 400: one day). */
  crlValiditySeconds?: number;
  /** URL every issued certificate names as its CRL distribution point (default: none). */
  crlDistributionPoint?: string;
  /**
   * Called when the CA put back into `revocations` entries of the last published CRL that the store lacked (a flushed
   * Redis, a data directory switched from Redis to files): `restored` how many, `crlNumber` the CRL they came from,
   * `skipped` how many entries of that CRL did not read (a serial, revocationDate or reasonCode that does not decode:
   * those are left out, the others restored). Called once per restore that created at least one entry (at open,
   * before a publication, or on a look-up), and once per CRL whose entries were skipped though none was restored.
   */
  onRevocationsRestored?: (event: RevocationsRestoredEvent) => void;
  /**
   * Called once per version of `ca.crl.json` whose CRL is not the CA's: its issuer is not the CA's subject, or its
   * signature does not verify with the CA's key (RFC 5280 §6.3.3), or it does not parse as a CRL, or the number,
   * thisUpdate, nextUpdate or entry count the file states are not the CRL's own (an older CRL passed off as a newer
   * one, RFC 5280 §5.2.3); and once per version of a `ca.crl.json` that is not a state file at all (not JSON, cut
   * short, a field missing: then without `crlNumber`). `crlNumber` is the number `ca.crl.json` states, `reason` one
   * line (no key material). Such a
   * CRL is not served by {@link FileCa.crl} (the CA keeps the one it has, or signs a new one, which replaces the file),
   * not copied to `ca.crl` at open, and nothing is restored from it; the CA still opens and no request fails because
   * of it. The number it states is no floor for the next CRL number: only the cRLNumber inside a CRL that verifies
   * under the CA's key is (RFC 5280 §5.2.3), so a damaged or forged file claiming 2^159 - 1 does not leave the CA
   * without a number to sign with (`ERR_CRL_NUMBER_EXHAUSTED` only once the CA itself signed the last one). The
   * `ca.crl` copy's cRLNumber is a floor too when that CRL verifies under the CA's key.
   */
  onPublishedCrlIgnored?: (event: { crlNumber?: bigint; reason: string }) => void;
  /**
   * Whether the open puts the published CRL's entries that `revocations` lacks back into it (default `true`). `false`
   * for a process that only looks at the CA (a `--workers` primary whose workers serve it with a Redis store): a
   * restore into this process's default file store would write revocations no server reads.
   */
  restoreOnOpen?: boolean;
  /**
   * Sign certificates and CRLs on libuv's thread pool (default `true`): the
   * event loop stays free while OpenSSL signs. `false` signs on the calling
   * thread, which costs less CPU per signature (no thread hop) and is the
   * better choice when there is one process per core (`--workers auto`).
   */
  threadPool?: boolean;
  /** Sign certificates and CRLs on this `KeyWorkerPool`'s threads instead (wins over `threadPool`; see `LocalKeyOptions.workerPool`). */
  workerPool?: KeyWorkerPool;
  /**
   * How long (ms, default 1000; 0: every call) the per-request checks, `issue`'s compromised-key check,
   * {@link FileCa.revocation} and {@link FileCa.isKeyCompromised}, answer from the published CRL (`ca.crl.json`) and,
   * with the default store, `revocations.jsonl` as last read, before one stat looks at them again: another process's
   * revocation (another worker's, another replica's on the same volume) is refused by them at most this late. This
   * process's own {@link FileCa.revoke} counts at once; {@link FileCa.crl} always reads the latest state. A store of
   * your own (Redis) decides its own freshness: `RedisRevocationStore` reads Redis on every call.
   */
  maxStalenessMs?: number;
  /** Monotonic milliseconds `maxStalenessMs` is measured with (default `performance.now`; tests inject one). */
  monotonicNow?: () => number;
  /**
   * Called with each error the CA deals with itself instead of failing a call, for the operator's log: an
   * `EmbeddedCaError` (`STORAGE_FAILED`, one-line message naming the serial and file, the file system's error as its
   * `cause`) for an `unsettled.jsonl` line that cannot be settled now (told once; the line is tried again by every
   * later settling, the other lines go on) or ever (its certificate is unknowable: an index line written before the
   * index held certificates whose `certs/<serial>.pem` is gone or holds none, or a certificate that does not parse;
   * told, then removed from the file by the settling's compaction, so a later open does not tell it again; processes
   * settling the file at the same time may each tell it once), or for a compaction of `unsettled.jsonl` that failed
   * (told once until one succeeds; the lines stay), or for a compaction of `revocations.jsonl` after a CRL that failed
   * (see {@link FileCa.crl}; told at each CRL that tries it), or for such a certificate met by the compromised-key check or a keyCompromise revoke's sweep
   * (told once per serial; its key is not known), or for a certificate revoked keyCompromise whose certificate file
   * cannot be read now (EACCES, EIO: its key is not refused by `issue` until the file reads, see {@link FileCa.issue};
   * told once per serial until it reads), or for a certificate's copy `certs/<serial>.pem` that could not be written
   * (a full disk, EACCES, its name taken by another file: the certificate is issued and recorded all the same, the
   * index holds it), or for a `ca.crl` that could not be rewritten after a publication that wrote `ca.crl.json` but
   * not it (told once until a later {@link FileCa.crl} rewrites it); and any error but the store being down (`ERR_STORE_UNAVAILABLE`,
   * which the next call needing the store answers) of the restore and settling at open and of the settling after a
   * keyCompromise revoke. Its return value is ignored (an async one that rejects is not an unhandled rejection) and
   * what it throws is swallowed. Default: none, such errors are dropped.
   */
  onError?: (error: unknown) => void;
}

/**
 * What {@link OpenFileCaOptions.onRevocationsRestored} hears: `restored` entries of the published CRL number
 * `crlNumber` were put back into the revocation store, `skipped` of its entries did not read and were left out.
 *
 * @example
 * ```ts
 * const onRevocationsRestored = (e: RevocationsRestoredEvent): void => console.log(e.restored, e.skipped, String(e.crlNumber));
 * ```
 */
export interface RevocationsRestoredEvent {
  restored: number;
  skipped: number;
  crlNumber: bigint;
}

/**
 * A CRL signed by {@link FileCa.crl}.
 *
 * @example
 * ```ts
 * import type { SignedCrl } from "@scep-examples/embedded-ca";
 *
 * const crl: SignedCrl = await ca.crl();
 * console.log(crl.crlNumber, crl.nextUpdate.toISOString(), crl.revokedCount);
 * ```
 */
export interface SignedCrl {
  /** The CRL, DER (RFC 5280 §5: `application/pkix-crl`). */
  der: Uint8Array<ArrayBuffer>;
  /** The same as PEM (`-----BEGIN X509 CRL-----`, with trailing newline). */
  pem: string;
  /** Its cRLNumber extension. */
  crlNumber: bigint;
  /** thisUpdate (second precision, as on the CRL). */
  thisUpdate: Date;
  /** nextUpdate (second precision). */
  nextUpdate: Date;
  /** How many certificates it lists. */
  revokedCount: number;
}

/**
 * Options of {@link FileCa.issue}.
 *
 * @example
 * ```ts
 * import type { IssueOptions } from "@scep-examples/embedded-ca";
 *
 * const options: IssueOptions = { csrDer, validityDays: 30 };
 * const { serialNumber } = await ca.issue(options);
 *
 * // In a SCEP issue hook the request is already decoded and its signature checked:
 * const issued = await ca.issue({ csr: ctx.csr, validityDays: ctx.maxValidityDays });
 * ```
 */
export interface IssueOptions {
  /** DER-encoded PKCS#10 certification request; decoded here and its signature must verify. Give this or `csr`. */
  csrDer?: Uint8Array;
  /**
   * A request already decoded by @scep/core **whose signature the caller has
   * verified** (`decodePkiMessage` does, so `IssueContext.csr` qualifies); it
   * is not verified again. Give this or `csrDer`.
   */
  csr?: CertificationRequest;
  /** Lifetime in days (fractions allowed), default 365; never extends past the CA's `notAfter`. */
  validityDays?: number;
  /** Start of validity; default `clock()` minus the CA's `backdateSeconds`, never before the CA's notBefore. */
  notBefore?: Date;
  /** Distinguished name to use instead of the CSR's subject, e.g. `"CN=device-42,O=Org"`. */
  subjectOverride?: string;
  /** Extra extensions; each replaces a default extension with the same OID. */
  extensions?: readonly CertificateExtension[];
  /**
   * Certify a Windows SID the request carries (its SID extension 1.3.6.1.4.1.311.25.2, a SID URI or otherName in its
   * subjectAltName). Default false: a SID in the subjectAltName is refused (`CSR_INVALID`) and the SID extension is
   * not copied, since a certificate with a SID logs in as that Windows account. In a SCEP issue hook pass
   * `ctx.allowSid` (the profile's `csrPolicy.allowSid`).
   */
  allowSid?: boolean;
}

/**
 * A certificate returned by {@link FileCa.issue}. By the time you hold it, its
 * index record is on disk (see {@link FileCa.issue}).
 *
 * @example
 * ```ts
 * import type { IssuedCertificate } from "@scep-examples/embedded-ca";
 *
 * const issued: IssuedCertificate = await ca.issue({ csrDer });
 * console.log(issued.serialNumber, issued.certificatePem);
 * ```
 */
export interface IssuedCertificate {
  /** DER of the new certificate (backed by a plain `ArrayBuffer`, so it can go straight to WebCrypto). */
  certificateDer: Uint8Array<ArrayBuffer>;
  /** The same certificate as PEM (with trailing newline). */
  certificatePem: string;
  /** Serial number as lower-case hex without separators (34 digits), as in `index.jsonl` and `certs/<serial>.pem`. */
  serialNumber: string;
}

/**
 * One entry of the issuance index, as returned by {@link FileCa.list}.
 *
 * @example
 * ```ts
 * import type { IssuedCertificateRecord } from "@scep-examples/embedded-ca";
 *
 * const expiringSoon = (records: IssuedCertificateRecord[], now: Date) =>
 *   records.filter((r) => r.notAfter.getTime() - now.getTime() < 7 * 86_400_000);
 * ```
 */
export interface IssuedCertificateRecord {
  /** Serial number, lower-case hex in `normalizeSerialNumber`'s canonical spelling (@scep/core). */
  serialNumber: string;
  /** Subject DN as a string, e.g. `"CN=device-42, O=Example"`. */
  subject: string;
  /** Start of the certificate's validity (second precision, as in the certificate). */
  notBefore: Date;
  /** End of the certificate's validity (second precision, as in the certificate). */
  notAfter: Date;
  /** When the CA issued it (the injected clock's time). */
  issuedAt: Date;
}

/**
 * Options of {@link FileCa.listPage}.
 *
 * @example
 * ```ts
 * import type { ListPageOptions } from "@scep-examples/embedded-ca";
 *
 * const second: ListPageOptions = { offset: 50, limit: 50, serial: "4F:1C" };
 * ```
 */
export interface ListPageOptions {
  /** Records skipped, newest first (default 0). */
  offset?: number;
  /** Most records returned (default: all). */
  limit?: number;
  /** Keep records whose subject DN contains this, ignoring case (e.g. `"cn=device-4"`). */
  subject?: string;
  /**
   * Keep records whose serial is this one in any spelling of `normalizeSerialNumber` (`80…`, `0080…`, `00:80:…`)
   * or holds it as a run of hex digits (a part copied from a log line; `:` and spaces ignored, any case).
   */
  serial?: string;
}

/**
 * A page returned by {@link FileCa.listPage}.
 *
 * @example
 * ```ts
 * import type { CertificatePage } from "@scep-examples/embedded-ca";
 *
 * const page: CertificatePage = await ca.listPage({ limit: 10 });
 * console.log(page.total, page.records.map((r) => r.serialNumber));
 * ```
 */
export interface CertificatePage {
  /** The page's records, newest first. */
  records: IssuedCertificateRecord[];
  /** Records matching the filters on all pages. */
  total: number;
}

/**
 * A CA whose state lives in a directory: see {@link openFileCa}.
 *
 * Durability guarantees (process crash = `kill -9`; power loss = as far as the
 * file system honours fsync; local file systems, not NFS):
 *
 * - serial numbers are never reused: not by concurrent `issue` calls, not by
 *   several processes sharing `dataDir`, not across crashes and restarts;
 * - every certificate `issue` returned has a complete line in `index.jsonl`,
 *   holding the certificate itself, written and on disk before return.
 *   Concurrent issues share that work (group commit: one `write` on an
 *   `O_DSYNC` descriptor on Linux, one `write` and one `fdatasync`
 *   elsewhere, for all records waiting at that moment);
 * - `certs/<serial>.pem` (unless `certificateFiles: false`) is a convenience
 *   copy, written whole or not at all (a temporary file in `certs/.tmp` linked to
 *   its name, not fsynced) before the index line: after `kill -9` every
 *   indexed certificate has its complete file, unless writing it failed (a
 *   full disk: then there is none, `onError` hears it, and the certificate is
 *   issued all the same), never a partial one; after a power loss it may be
 *   missing or empty.
 *   {@link FileCa.getCertificate} (which reads the index) is the way to get
 *   a certificate. A temporary copy left by a process killed mid-copy is
 *   removed by the next open on the same host, which reads `certs/.tmp`, not
 *   `certs/` (so an open does not slow down with the number of certificates);
 * - a crash can only burn serial numbers (allocated but never returned; such a
 *   serial may have an unindexed file in `certs/`, or an index line that no
 *   caller saw) and leave a torn last line in the index, which
 *   {@link FileCa.list} skips. The index, not `certs/`, is the record of what
 *   was issued.
 *
 * @example
 * ```ts
 * import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
 *
 * const ca: FileCa = await openFileCa({ dataDir: "./data" });
 * console.log(ca.fingerprintSha256, ca.notAfter.toISOString());
 * ```
 */
export interface FileCa {
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** The CA certificate as PEM. */
  readonly certificatePem: string;
  /** The CA certificate as DER (a fresh copy on each read). */
  readonly certificateDer: Uint8Array<ArrayBuffer>;
  /** The certificates above the CA from its certificate file (its issuer first, up to the root), DER; empty for a root CA. */
  readonly chainDer: readonly Uint8Array<ArrayBuffer>[];
  /** The CA private key as unencrypted PKCS#8 PEM, whatever format it was loaded from (not enumerable: `JSON.stringify(ca)` and `console.log(ca)` do not show it). */
  readonly privateKeyPem: string;
  /** The CA private key as a Node `KeyObject` (e.g. for decrypting SCEP envelopes). */
  readonly privateKey: KeyObject;
  /** The CA private key as a WebCrypto `CryptoKey` (usage `sign`; extractable, as `privateKeyPem` exports it anyway). */
  readonly signingKey: CryptoKey;
  /**
   * The CA key as a @scep/core `LocalKey` (a `Signer` and `Decrypter`): it signs this CA's certificates and CRLs
   * where `threadPool` / `workerPool` say, and serves as a SCEP profile's `signer` with the same key object.
   */
  readonly signer: LocalKey;
  /** `"RSA"` or `"EC"`. An EC CA can sign but cannot decrypt SCEP envelopes. */
  readonly keyAlgorithm: CaKeyAlgorithm;
  /** Subject DN of the CA certificate. */
  readonly subject: string;
  /** SHA-256 of the certificate DER, upper-case hex pairs joined by `:` (like `openssl x509 -fingerprint -sha256`). */
  readonly fingerprintSha256: string;
  /** Start of the CA certificate's validity. */
  readonly notBefore: Date;
  /** End of the CA certificate's validity. */
  readonly notAfter: Date;

  /**
   * The CA's time: its `clock` option (default `() => new Date()`), the instant `issue` starts a lifetime from. A
   * caller that sizes `validityDays` from a date (a device asking for "1 month") reads it here, so a pinned clock
   * pins both.
   */
  now(): Date;

  /**
   * Issues an end-entity certificate for a PKCS#10 request.
   *
   * Give the request as `csrDer` (decoded and its signature verified here) or
   * as `csr`, a @scep/core `CertificationRequest` the caller has already
   * verified (not verified again: the SCEP server's issue hook passes
   * `ctx.csr`).
   *
   * Subject and subjectAltName come from the CSR (other requested extensions
   * are ignored; a Windows SID only with `allowSid`); the certificate gets basicConstraints CA:false (critical),
   * keyUsage digitalSignature + keyEncipherment for RSA keys or
   * digitalSignature for other keys (critical), extendedKeyUsage clientAuth,
   * subjectKeyIdentifier and authorityKeyIdentifier, and is signed with
   * sha256WithRSAEncryption (RSA CA) or ECDSA with SHA-256/384/512 (EC CA by
   * curve).
   *
   * The certificate is built with @scep/core's `buildCertificate`, copied to
   * `certs/<serial>.pem` (whole or not at all; unless `certificateFiles: false`; a copy that cannot be written does
   * not fail the issue, `onError` hears it), and its
   * index line (certificate included) is appended and on disk (an O_DSYNC write on Linux, else write + fdatasync) **before**
   * the promise resolves.
   *
   * A request for the public key of a certificate of this CA revoked with reason keyCompromise (RFC 5280 §5.3.1)
   * is refused with `KEY_COMPROMISED` before a serial is spent: see {@link FileCa.isKeyCompromised}. Once the index
   * line is durable the key is checked again, against the store's latest revision (one stat of the default store's
   * `revocations.jsonl`, or one Redis GET): a {@link FileCa.revoke} by this or any process sharing the data directory
   * and the store that made the key compromised while the certificate was being signed (its sweep of the index came
   * before the line) is seen then (the revoke writes the store before it reads the index), the recorded certificate
   * is revoked keyCompromise (CA/B BR §4.9.1.1) and the issue still rejects with `KEY_COMPROMISED`. When that revoke
   * fails, or the re-check cannot be made (the store down), the certificate is not handed out and its serial goes to
   * `dataDir/unsettled.jsonl`, settled (revoked keyCompromise if its key is compromised) at the next open (one with `restoreOnOpen: false` leaves it to its first `crl()`), before
   * the next {@link FileCa.crl} signs, and after the next keyCompromise revoke.
   *
   * A certificate revoked keyCompromise whose key cannot be read now (an index line written before the index held
   * certificates, its `certs/<serial>.pem` unreadable: EACCES, EIO, a directory) does not make every issue reject: its
   * key cannot be known, so it is **not refused** until the file reads again (tried again at most once per
   * `maxStalenessMs`); `onError` hears it (`STORAGE_FAILED`, once per serial). Certificates issued for that key
   * meanwhile stay valid until that serial is revoked keyCompromise again once the file reads (its sweep revokes them).
   * An index that cannot be read still rejects `STORAGE_FAILED`.
   *
   * @throws EmbeddedCaError `CA_EXPIRED` (the clock is past the CA certificate's notAfter and no `notBefore` is given), `CSR_INVALID`, `KEY_COMPROMISED` ({@link KEY_COMPROMISED_TEXT}), `INVALID_OPTIONS`, `STORAGE_FAILED` (also when a certificate to revoke could be neither revoked nor recorded in `unsettled.jsonl`), `SERIAL_SPACE_EXHAUSTED`
   * @throws KeyUnavailableError (`ERR_KEY_UNAVAILABLE`, from @scep/core) when the `workerPool` cannot sign (closed, queue full); nothing is recorded
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, from @scep/core) when the revocation store is down: at the first check, nothing is recorded; at the re-check, the certificate is recorded in the index and in `unsettled.jsonl`, not handed out
   *
   * @example
   * ```ts
   * const { certificatePem, serialNumber } = await ca.issue({ csrDer, validityDays: 90 });
   * ```
   */
  issue(options: IssueOptions): Promise<IssuedCertificate>;

  /**
   * An issued certificate by serial number, read from the index; `undefined`
   * when this CA never returned it. The serial is hex in any spelling of
   * `normalizeSerialNumber` (@scep/core): upper case, `:` separators, with or
   * without the `00` before a first octet of 0x80 or more, redundant leading
   * zeros; both it and the index's serials are compared in that canonical
   * spelling, which the result's `serialNumber` has. Index lines written by
   * versions that did not store the certificate fall back to `certs/<serial>.pem`.
   * For a serial on several lines the first line counts.
   *
   * Cost: not a read of the index. The CA keeps a map serial → byte offset of
   * its line, built on the first look-up or listing; later calls stat the index, read only
   * what was appended since (by any process sharing `dataDir`; a last line
   * still without its newline is read once complete), and on a hit read that
   * one line. An index truncated, replaced, or rewritten in place (same size, new
   * mtime) is read again from the start.
   *
   * @throws EmbeddedCaError `INVALID_OPTIONS` for a malformed serial, `STORAGE_FAILED`
   *
   * @example
   * ```ts
   * const issued = await ca.getCertificate("4f1c…");
   * if (issued) console.log(issued.certificatePem);
   * ```
   */
  getCertificate(serialNumber: string): Promise<IssuedCertificate | undefined>;

  /**
   * Every record of the issuance index (all processes' issuances, in append order; a serial on several lines is
   * listed once per line). Torn lines left by a crash are skipped, and so is a last line still being written.
   * For one page of it, newest first, use {@link FileCa.listPage}, which reads only that page.
   *
   * @throws EmbeddedCaError `STORAGE_FAILED`
   *
   * @example
   * ```ts
   * for (const record of await ca.list()) console.log(record.serialNumber, record.subject);
   * ```
   */
  list(): Promise<IssuedCertificateRecord[]>;

  /**
   * One page of the issuance index, newest first, and how many records match on all pages (the admin API's
   * `GET /admin/scep/certificates`). Same records as {@link FileCa.list} (in reverse), filtered.
   *
   * Cost: as {@link FileCa.getCertificate}'s look-up (a stat, and a read of what was appended since), then a read
   * of the page's lines only (adjacent lines in one read), not of the index: the serials are in memory, so a
   * `serial` filter costs no read either. A `subject` filter reads every record whose serial matches (the subjects
   * are not kept in memory).
   *
   * @throws EmbeddedCaError `INVALID_OPTIONS` (an offset or limit that is not an integer ≥ 0, a serial that is not hex), `STORAGE_FAILED`
   *
   * @example
   * ```ts
   * const { records, total } = await ca.listPage({ offset: 0, limit: 50, subject: "device-" });
   * console.log(`${records.length} of ${total}`, records[0]?.serialNumber);
   * ```
   */
  listPage(options?: ListPageOptions): Promise<CertificatePage>;

  /** Where revocations are recorded (the `revocations` option). */
  readonly revocations: RevocationStore;

  /**
   * Revokes a certificate this CA issued (RFC 5280 §5.3.1 reason). The serial
   * is hex in any spelling of `normalizeSerialNumber`, as for {@link FileCa.getCertificate}. Revoking again keeps the
   * first revocation (`created: false`), except that `keyCompromise` upgrades an entry revoked for a reason that says
   * nothing of the key (superseded, …), and any reason but `certificateHold` makes a hold permanent: the new reason,
   * first revocation date kept, `updated: true` (CA/B BR §4.9.1.1; RFC 5280 §5.3.1; see `RevocationStore.revoke`). A
   * key revoked keyCompromise is refused by {@link FileCa.issue} from then on.
   * The serial is looked up as by {@link FileCa.getCertificate} (not a read of the whole index).
   *
   * When the entry ends `keyCompromise` (created, upgraded, or already so), every other unexpired certificate (notAfter
   * after the clock) in this data directory's index for the same public key (one key in any DER spelling) is revoked
   * `keyCompromise` too, in the same call (CA/B BR §4.9.1.1: all certificates of a compromised key): `alsoRevoked`
   * lists, in canonical hex (sorted), those this call revoked or upgraded (not those already keyCompromise).
   * That costs one read of the whole index; with the default FileRevocationStore their revocations (all at this
   * call's time) are written in batches of 2 000, each one locked append and one fdatasync (`revokeMany`), so another worker waits for one batch, not the whole sweep; another store gets one `revoke` each. A replica with a data directory of its own does not see the certificates
   * another replica issued (`UNKNOWN_SERIAL` for their serials): revoke one of its own certificates of the key there. The next {@link FileCa.crl} lists them all in one CRL (re-signed once:
   * the store's revision moved). A failure part way (store down) leaves the revoked ones revoked; the call rejects and
   * revoking again finishes the sweep. An {@link FileCa.issue} of the key in flight when the sweep reads the index, in
   * this process or another sharing the data directory and the store, revokes its own certificate and rejects
   * `KEY_COMPROMISED` (its re-check after its index line reads the store's latest state). A keyCompromise revoke then
   * settles `unsettled.jsonl` (certificates such issues could not revoke; its failure does not fail this call, and
   * is told to `onError` unless it is the store being down). A certificate whose key cannot be known (an index line
   * from before the index held certificates, its `certs/<serial>.pem` gone) is revoked without a sweep, told to
   * `onError`; one whose file cannot be read now rejects `STORAGE_FAILED` after the revocation (revoking again sweeps).
   *
   * @throws EmbeddedCaError `UNKNOWN_SERIAL` when the index has no such serial, `INVALID_OPTIONS` for a malformed serial or reason, `STORAGE_FAILED`
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, from @scep/core) when the revocation store is down
   *
   * @example
   * ```ts
   * const { entry, created, alsoRevoked } = await ca.revoke(serialNumber, "keyCompromise");
   * ```
   */
  revoke(serialNumber: string, reason: RevocationReason): Promise<RevokeResult & { subject: string; alsoRevoked: string[] }>;

  /**
   * The revocation of a serial of this CA (hex in any spelling of `normalizeSerialNumber`), or undefined when it is not
   * revoked: the store's entry, else the entry of the last published CRL (`ca.crl.json`), which then goes back into
   * the store with every other entry the store lost (RFC 5280 §3.3: a certificate once on a published CRL stays
   * revoked). Only a published CRL whose issuer is the CA and whose signature verifies with its key counts (RFC 5280
   * §6.3.3). Cost: one store `get` (the default file store stats `revocations.jsonl` at most once per
   * `maxStalenessMs`); for a serial the store lacks, a map look-up in the published CRL, whose file is looked at at most
   * once per `maxStalenessMs` (the CRL is read and verified once); the restore lists the store, once per published CRL
   * for a serial it leaves out because its certificate expired before that CRL was issued (that entry is still
   * answered). Another process's revocation is answered at most `maxStalenessMs` late with the default store (a
   * RedisRevocationStore: at once); this process's own at once.
   * Use it, not `revocations.get`, to refuse a certificate (the example servers' `isRevoked` hook does).
   *
   * @throws EmbeddedCaError `INVALID_OPTIONS` for a malformed serial
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, from @scep/core) when the revocation store is down or `ca.crl.json` cannot be read
   *
   * @example
   * ```ts
   * if (await ca.revocation(serialNumber)) throw new Error("revoked");
   * ```
   */
  revocation(serialNumber: string): Promise<RevokedCertificate | undefined>;

  /**
   * Whether `spkiDer` (a SubjectPublicKeyInfo, DER: `CertificationRequest.spki` of @scep/core) is the public key of a
   * certificate of this CA revoked with reason keyCompromise (RFC 5280 §5.3.1), by any process sharing the revocation
   * store, or listed so on the published CRL (`ca.crl.json`), whose certificate is in this data directory's index (the
   * key is read from there: a replica with a data directory of its own does not know the keys of certificates another
   * one issued, and does not refuse them). {@link FileCa.issue} refuses such a key
   * (`KEY_COMPROMISED`); the example servers answer FAILURE badRequest, event reason `key_compromised`. Revocations
   * with another reason (superseded, …) do not block the key. One key spelled two ways in DER counts as one.
   *
   * Cost: one `revocations.revision()` (O(1); the default file store stats `revocations.jsonl` at most once per
   * `maxStalenessMs`, Redis is one GET) and the published CRL as last read (`ca.crl.json` is looked at at most once per
   * `maxStalenessMs`): no file system call per request while neither is due; when either changed, one
   * `revocations.list()` and an index look-up per keyCompromise serial not seen before (a store without `revision`
   * is listed at most once per `maxStalenessMs` for this check and `issue`'s first, and once per `issue` for its
   * re-check, which concurrent issues share). This process's own {@link FileCa.revoke} counts at once; another process's revoke with the
   * default file store at most `maxStalenessMs` (default 1 s) later, through a shared Redis store at once.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, from @scep/core) when the revocation store is down or `ca.crl.json` cannot be read
   * @throws EmbeddedCaError `STORAGE_FAILED` when the index cannot be read
   *
   * @example
   * ```ts
   * if (await ca.isKeyCompromised(csr.spki)) console.log("refuse: generate a new key");
   * ```
   */
  isKeyCompromised(spkiDer: Uint8Array): Promise<boolean>;

  /**
   * The current CRL (RFC 5280 §5), signed with the CA key: the one signed
   * last, while it lists exactly the store's revocations and less than half
   * of its validity has passed; else a new one, with the next CRL number from
   * the store (concurrent calls share one signing). Whether the store changed
   * is one O(1) read of `revocations.revision({ latest: true })` (every replica sharing the store
   * sees the same, without `maxStalenessMs`'s delay; a store without it is listed per call); only a new CRL
   * lists the revocations. Call it on a schedule to
   * keep a published copy fresh, and on demand to answer GetCRL.
   *
   * Shared by the processes of one `dataDir` (workers, replicas on one
   * volume; RFC 5280 §5.2.3): each new CRL is published to `dataDir/ca.crl`
   * (DER) and `dataDir/ca.crl.json` (the same, with the revocation state it
   * lists) under `dataDir/ca.crl.lock`, by temporary file + rename and only
   * over a lower CRL number; every call stats `ca.crl.json` and serves a CRL
   * another process published when its number is higher and it is checked as
   * the CA's (issuer, signature, and the number and times the file states are
   * the CRL's own; else `onPublishedCrlIgnored` hears why). So neither a reader
   * of `ca.crl` nor a client asking the processes in turn ever sees the
   * number go back, and a CRL is signed once per state, not once per process.
   * A new CRL's number is the store's next one, or one above the last CRL
   * published when that is higher (a store that was reset: a flushed Redis,
   * a new `MemoryRevocationStore`). When `ca.crl` cannot be written after `ca.crl.json` was (a disk full between the
   * two), the call rejects (StoreUnavailableError) and the next calls rewrite `ca.crl` from `ca.crl.json` first (a
   * failure told to `onError` once, the CRL still served), so it does not hold the older CRL until the next one is
   * signed.
   *
   * A published CRL's entries stay on every later one (RFC 5280 §3.3, §5.3.1): when the CA opens, adopts a CRL
   * another process published, or signs a new one, each entry of the published CRL that the store lacks (and whose
   * certificate has not expired, per the index) goes back into the store with its reason and revocationDate, and
   * `onRevocationsRestored` hears how many. A published CRL is trusted for that only when its issuer is the CA's
   * subject and its signature verifies with the CA's key (RFC 5280 §6.3.3; else `onPublishedCrlIgnored` hears why,
   * once); an entry of it that does not read is skipped and counted, the others go back. A store down at open is not an error: the restore is tried again by the
   * next call (which answers StoreUnavailableError while the store is down).
   *
   * First, the certificates `unsettled.jsonl` lists (an issue refused them but could not revoke them) are revoked
   * keyCompromise when their key is compromised, so this CRL lists them (an open and a stat of the file while nothing
   * is new). A line that cannot be settled now (its certificate file or the index unreadable) is told to `onError` once
   * and tried again by every later call, one whose certificate is unknowable is told and skipped: neither holds up the
   * other lines or the CRL. The lines done with (settled or unknowable) are then removed from the file (temporary file,
   * fdatasync, rename, under `unsettled.jsonl.lock`: a crash leaves the old file or the new one whole), so it does not
   * grow and an unknowable line is not told again at the next open.
   *
   * After a new CRL is published, the default store's `revocations.jsonl` (a FileRevocationStore) is compacted: the
   * entries this CRL lists whose certificate (per the index) expired before its thisUpdate are removed (RFC 5280 §3.3:
   * they have been on a CRL issued after their expiry), except keyCompromise ones, which `issue` refuses the key from
   * (see FileRevocationStore.compact: under `revocations.jsonl.lock`, temporary file, fdatasync, rename). The store's
   * revision then moves on, so the next call signs a CRL without them. Only when there is such an entry; a failure is
   * told to `onError` (STORAGE_FAILED; the entries stay, the next CRL tries again), and this call still answers.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`, from @scep/core) when the revocation store is down, or `ca.crl`/`ca.crl.json` cannot be read or written (its lock held by a live process for over 10 s included)
   * @throws EmbeddedCaError `STORAGE_FAILED` when `unsettled.jsonl` cannot be read
   * @throws KeyUnavailableError (`ERR_KEY_UNAVAILABLE`, from @scep/core) when the `workerPool` cannot sign (closed, queue full)
   * @throws CrlNumberExhaustedError (`ERR_CRL_NUMBER_EXHAUSTED`, from @scep/core) when a new CRL is due but its number
   * would pass 2^159 - 1 (RFC 5280 §5.2.3's 20 octets): the store's counter or this CA's last published CRL is there.
   * Retrying does not help; a new CA does. The CRL published last stays in `ca.crl`.
   *
   * @example
   * ```ts
   * const { der } = await ca.crl(); // serve as application/pkix-crl
   * ```
   */
  crl(): Promise<SignedCrl>;
}

const DAY_MS = 86_400_000;
const DEFAULT_VALIDITY_DAYS = 365;
const DEFAULT_CRL_VALIDITY_SECONDS = 86_400;

function invalidOptions(message: string): EmbeddedCaError {
  return new EmbeddedCaError("INVALID_OPTIONS", message);
}

function storageFailed(what: string, error: unknown): EmbeddedCaError {
  return new EmbeddedCaError("STORAGE_FAILED", `${what}: ${(error as Error).message}`, {
    cause: error,
  });
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * `onError` guarded: what it throws is swallowed, and a promise it returns (an async callback) has its rejection
 * ignored rather than left unhandled (which would end the process).
 */
function errorReporter(onError: ((error: unknown) => void) | undefined): (error: unknown) => void {
  return (error) => {
    if (onError === undefined) return;
    try {
      ignoreRejection(onError(error));
    } catch {
      // A log line that failed must not fail the CA's work.
    }
  };
}

/** An errno of a certificate file that says it is not there (rather than not readable now). */
const GONE = new Set(["ENOENT", "ENOTDIR"]);

/** The key of a certificate as the CA needs it: SPKI DER and end of validity. */
interface CertifiedKey {
  spki: Uint8Array;
  notAfter: Date;
}

/** A certificate of the index read: its DER, or why it can never be known (see FileCaImpl's certificateOf). */
type CertificateRead = { der: Uint8Array<ArrayBuffer> } | { gone: EmbeddedCaError };

/** A published CRL's entries as FileCaImpl reads them once per CRL. */
interface PublishedEntries {
  crl: PublishedCrl;
  bySerial: Map<string, RevokedCertificate>;
  skipped: number;
  reported: boolean;
  leftOff: Set<string>;
}

class FileCaImpl implements FileCa {
  readonly dataDir: string;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
  readonly signingKey: CryptoKey;
  readonly keyAlgorithm: CaKeyAlgorithm;
  readonly subject: string;
  readonly fingerprintSha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly #material: CaMaterial;
  readonly #serials: SerialAllocator;
  readonly #clock: () => Date;
  readonly #index: IndexWriter;
  readonly #lookup: IndexLookup;
  readonly #certificateFiles: boolean;
  readonly #backdateMs: number;
  readonly chainDer: readonly Uint8Array<ArrayBuffer>[];
  readonly revocations: RevocationStore;
  readonly #crlValidityMs: number;
  readonly #distributionPoint: Uint8Array | undefined;
  #crl: PublishedCrl | undefined;
  readonly #publication: CrlPublication;
  #signing: { promise: Promise<SignedCrl>; key: string } | undefined;
  readonly #onRestored: ((event: RevocationsRestoredEvent) => void) | undefined;
  /** The number of the published CRL whose entries are known to be in the store (restored, or checked). */
  #restoredFrom: bigint | undefined;
  /**
   * The published CRL's entries by serial, read and checked once per CRL: `skipped` entries did not read, `reported`
   * whether its skipped entries or its distrust were told, `leftOff` the serials a restore from it left out because
   * their certificate expired before it was issued (a look-up of one does not run the restore again).
   */
  #entries: PublishedEntries | undefined;
  /** The notAfter (ms) of revoked serials the index was asked for (a certificate's never changes): see #compactRevocations. */
  readonly #notAfter = new Map<string, number>();
  /** Restores run one at a time (concurrent ones would each report part of the count). */
  #restoring: Promise<unknown> = Promise.resolve();
  /** The keys of certificates revoked as compromised, which `issue` refuses. */
  readonly #compromised: CompromisedKeys;
  /** Issued, not handed out, their keyCompromise revocation not known to be in the store (`unsettled.jsonl`). */
  readonly #unsettled: UnsettledIssues;
  /** `onError`, guarded (see errorReporter). */
  readonly #report: (error: unknown) => void;
  /** Serials whose certificate was told to onError as unknowable (told once each). */
  readonly #toldUnknowable = new Set<string>();
  /** keyCompromise serials whose certificate was told to onError as unreadable now (told again after it read once). */
  readonly #toldUnreadable = new Set<string>();
  /** Whether a failed rewrite of `ca.crl` behind the published CRL was told to onError (once until one succeeds). */
  #toldCopyBehind = false;

  constructor(
    dataDir: string,
    material: CaMaterial,
    serials: SerialAllocator,
    clock: () => Date,
    certificateFiles: boolean,
    backdateSeconds: number,
    crl: {
      revocations: RevocationStore;
      validitySeconds: number;
      distributionPoint: string | undefined;
      onRestored?: ((event: RevocationsRestoredEvent) => void) | undefined;
      publication: CrlPublication;
      /** How long a store without revision() may answer a check without `latest` from its last listing. */
      staleness: Staleness;
    },
    report: (error: unknown) => void,
  ) {
    this.#report = report;
    this.#onRestored = crl.onRestored;
    this.dataDir = dataDir;
    this.revocations = crl.revocations;
    this.#crlValidityMs = crl.validitySeconds * 1000;
    this.#distributionPoint = crl.distributionPoint === undefined ? undefined : crlDistributionPointsValue(crl.distributionPoint);
    this.#backdateMs = backdateSeconds * 1000;
    this.chainDer = material.chainDer;
    this.#certificateFiles = certificateFiles;
    this.#material = material;
    this.#serials = serials;
    this.#clock = clock;
    this.#index = new IndexWriter(join(dataDir, INDEX_FILE));
    this.#lookup = new IndexLookup(join(dataDir, INDEX_FILE));
    this.certificatePem = material.certificatePem;
    this.privateKey = material.privateKey;
    this.signingKey = material.signingKey;
    this.keyAlgorithm = material.keyAlgorithm;
    this.subject = material.certificate.subject;
    this.fingerprintSha256 = material.fingerprintSha256;
    this.notBefore = material.certificate.notBefore;
    this.notAfter = material.certificate.notAfter;
    this.#publication = crl.publication;
    this.#unsettled = new UnsettledIssues(dataDir, (error) =>
      this.#report(storageFailed(`cannot compact ${UNSETTLED_FILE} (its settled lines stay until a later settling compacts it)`, error)),
    );
    this.#compromised = new CompromisedKeys({
      revocations: this.revocations,
      keyOf: (serial) => this.#compromisedKeyOf(serial),
      staleness: crl.staleness,
      published: async () => {
        const published = await this.#publication.read();
        return published ? { crlNumber: published.signed.crlNumber, entries: this.#publishedEntries(published).bySerial.values() } : undefined;
      },
    });
  }

  /** Tells `error` to onError (guarded). Not on the FileCa interface: {@link openFileCa} calls it. */
  report(error: unknown): void {
    this.#report(error);
  }

  now(): Date {
    return this.#clock();
  }

  isKeyCompromised(spkiDer: Uint8Array): Promise<boolean> {
    if (!(spkiDer instanceof Uint8Array)) return Promise.reject(invalidOptions("spkiDer must be a Uint8Array"));
    return this.#compromised.has(spkiDer);
  }

  // A getter (on the prototype), so console.log(ca) / JSON.stringify(ca) never print the key.
  get privateKeyPem(): string {
    return this.#material.privateKeyPem;
  }

  get signer(): LocalKey {
    return this.#material.signer;
  }

  get certificateDer(): Uint8Array<ArrayBuffer> {
    return this.#material.certificateDer.slice();
  }

  async issue(options: IssueOptions): Promise<IssuedCertificate> {
    if (typeof options !== "object" || options === null) {
      throw invalidOptions("issue() needs an options object with csrDer or csr");
    }
    if (options.csr !== undefined && options.csrDer !== undefined) {
      throw invalidOptions("give csrDer or csr, not both");
    }
    const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
    if (typeof validityDays !== "number" || !Number.isFinite(validityDays) || validityDays <= 0) {
      throw invalidOptions(`validityDays must be a positive number, got ${String(validityDays)}`);
    }
    if (options.notBefore !== undefined && !isValidDate(options.notBefore)) throw invalidOptions("notBefore must be a valid Date");
    const now = this.#clock();
    // An expired CA: the operator's problem, said as such (the check below would call it the caller's notBefore).
    if (options.notBefore === undefined && now.getTime() > this.notAfter.getTime()) {
      throw new EmbeddedCaError("CA_EXPIRED", `the CA certificate (${this.subject}) expired at ${this.notAfter.toISOString()}; nothing can be issued under it: renew the CA`);
    }
    // Back-dated for slow client clocks, never before the CA itself; the lifetime still runs from now.
    const notBefore = options.notBefore ?? new Date(Math.max(now.getTime() - this.#backdateMs, this.notBefore.getTime()));
    const start = options.notBefore ?? now;
    const subjectOverride =
      options.subjectOverride === undefined
        ? undefined
        : new Uint8Array(parseDistinguishedName(options.subjectOverride, "subjectOverride").toArrayBuffer());
    for (const extension of options.extensions ?? []) {
      if (typeof extension?.oid !== "string" || !/^\d+(\.\d+)+$/.test(extension.oid)) {
        throw invalidOptions(`extension oid must be a dotted OID, got ${String(extension?.oid)}`);
      }
      if (!(extension.value instanceof Uint8Array)) {
        throw invalidOptions(`extension ${extension.oid}: value must be a Uint8Array`);
      }
    }
    const caNotAfter = this.notAfter.getTime();
    const notAfter = new Date(Math.min(start.getTime() + validityDays * DAY_MS, caNotAfter));
    if (notAfter.getTime() <= notBefore.getTime()) {
      throw invalidOptions(
        `notBefore ${notBefore.toISOString()} is not before the CA's notAfter ${this.notAfter.toISOString()}`,
      );
    }

    // Decode and check the CSR, and build the extensions (which may refuse it: a SID without allowSid), before a
    // serial is spent on it (a csr the caller decoded was verified by the caller: only its shape is checked).
    const csr = options.csr !== undefined ? checkDecodedCsr(options.csr) : parseCsr(options.csrDer as Uint8Array);
    const prepared = prepareCertificate(this.#material, {
      csr,
      notBefore,
      notAfter,
      subjectOverride,
      extensions: this.#distributionPoint
        ? [{ oid: CRL_DISTRIBUTION_POINTS_OID, value: this.#distributionPoint }, ...(options.extensions ?? [])]
        : options.extensions,
      allowSid: options.allowSid === true,
    });
    // RFC 5280 §5.3.1 keyCompromise: a key this CA knows is compromised is never certified again.
    // The request's thumbprint comes from the key its signature check read: the SPKI is not parsed again (~0.12 ms).
    if (await this.#compromised.has(csr)) throw new EmbeddedCaError("KEY_COMPROMISED", KEY_COMPROMISED_TEXT);
    const serialNumber = this.#serials.next();
    const certificate = await prepared.sign(serialNumber);
    // buildCertificate encodes into a fresh ArrayBuffer of exactly this size.
    const certificateDer = certificate.der as Uint8Array<ArrayBuffer>;
    const certificatePem = toPem("CERTIFICATE", certificateDer);

    // Written first, so an indexed serial has its complete copy (or none, if writing it failed: told to onError).
    if (this.#certificateFiles) await this.#writeCopy(serialNumber, certificatePem);
    try {
      // The commit point: once this line is durable the certificate exists.
      // Concurrent issues share one O_DSYNC write, or write + fdatasync off Linux (group commit).
      await this.#index.append({
        serial: serialNumber,
        subject: certificate.subject,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
        issuedAt: this.#clock().toISOString(),
        certificate: Buffer.from(certificateDer.buffer, certificateDer.byteOffset, certificateDer.byteLength).toString("base64"),
      });
    } catch (error) {
      throw storageFailed(`cannot record certificate ${serialNumber} in ${INDEX_FILE}`, error);
    }
    // A keyCompromise revoke that swept the index while this certificate was being signed could not see it. The revoke
    // writes the store, then reads the index; this wrote the index line, and now reads the store's latest revision
    // (not the snapshot of up to maxStalenessMs the first check used): whichever came second sees the other, so a
    // revoke by any process sharing the store either swept this certificate or is seen here (this process's own is
    // known in memory at once). Then the certificate is revoked like the sweep's (CA/B BR §4.9.1.1) and not handed out.
    // Cost: one revision read (the default file store: one stat; Redis: one GET) while no key is compromised meanwhile.
    const serial = normalizeSerialNumber(serialNumber);
    let compromised: boolean;
    try {
      compromised = await this.#compromised.has(csr, { latest: true });
    } catch (error) {
      // Not known whether the key was revoked meanwhile: not handed out (StoreUnavailableError: 503, try again), and
      // recorded so that the next settling pass checks it again.
      await this.#recordUnsettled(serial, error);
      throw error;
    }
    if (compromised) {
      try {
        await this.revocations.revoke({ serialNumber: serial, reason: "keyCompromise", revokedAt: this.#clock() });
      } catch (error) {
        // The store down (or throwing): revoked by a later settling pass (at open, before each CRL, after each
        // keyCompromise revoke) instead of staying valid. The requester's answer is the same either way.
        await this.#recordUnsettled(serial, error);
      }
      throw new EmbeddedCaError("KEY_COMPROMISED", KEY_COMPROMISED_TEXT);
    }
    return { certificateDer, certificatePem, serialNumber };
  }

  /**
   * Writes `certs/<serial>.pem`, the convenience copy of a certificate, whole or not at all: a temporary file in
   * `certs/.tmp` (which a start sweeps, without reading certs/), linked to its name (publishFileExclusive, without its fsyncs: the index line is the durable record, and
   * two fsyncs per issue would cost the server's throughput), so neither a crash nor a disk that fills part way leaves
   * a truncated PEM under a certificate's name. Never rejects: the index line holds the
   * certificate (the record of truth), so a copy that cannot be written (ENOSPC, EACCES, …), or a name already taken
   * by another file (left as it is), does not fail the issue; it is told to onError (STORAGE_FAILED).
   */
  async #writeCopy(serialNumber: string, pem: string): Promise<void> {
    const path = join(this.dataDir, CERTS_DIR, `${serialNumber}.pem`);
    const tempDir = join(this.dataDir, CERTS_TEMP_DIR);
    const publish = (): Promise<boolean> => publishFileExclusive(path, pem, 0o644, { durable: false, tempDir });
    try {
      // certs/.tmp removed since the open (by hand): made again, once, before the copy is given up.
      const created = await publish().catch(async (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        await ensureDirectory(tempDir);
        return publish();
      });
      if (created) return;
      this.#report(new EmbeddedCaError("STORAGE_FAILED", `${path} exists already and is not the copy of certificate ${serialNumber}: left as it is (the index holds the certificate)`));
    } catch (error) {
      this.#report(storageFailed(`cannot write ${path}, the copy of certificate ${serialNumber}: the certificate is issued without it (the index holds it)`, error));
    }
  }

  /** Records `serial` in `unsettled.jsonl`; when even that fails, rejects STORAGE_FAILED (`cause`: the first error). */
  async #recordUnsettled(serial: string, cause: unknown): Promise<void> {
    try {
      await this.#unsettled.record(serial);
    } catch (error) {
      throw new EmbeddedCaError("STORAGE_FAILED", `certificate ${serial} of a key that may be compromised is neither revoked nor recorded to be: ${(error as Error).message}`, { cause });
    }
  }

  /**
   * Settles the issues `unsettled.jsonl` lists (see unsettled-issues.ts): each certificate whose key is compromised
   * (in this process's memory, or by the store's latest state) is revoked keyCompromise; one whose key is not, or that
   * has expired, or that the index lacks, is left alone; one whose certificate is unknowable (see {@link #keyOf}) is
   * told to onError and skipped (its line removed from the file by the compaction that follows). A line that fails otherwise (its certificate file or the index unreadable now) is
   * told to onError once and tried again by every later pass; the other lines go on. Not on the FileCa interface:
   * {@link openFileCa}, {@link FileCa.crl} and {@link FileCa.revoke} call it.
   * @throws StoreUnavailableError when the store is down (the pass stops there; the next one resumes)
   * @throws EmbeddedCaError STORAGE_FAILED when `unsettled.jsonl` cannot be read
   */
  async settleUnsettled(): Promise<void> {
    try {
      await this.#unsettled.settle(async (line, retry) => {
        try {
          await this.#settleOne(line);
          return true;
        } catch (error) {
          if (isStoreUnavailable(error)) throw error;
          if (!retry) this.#report(new EmbeddedCaError("STORAGE_FAILED", `${UNSETTLED_FILE}: certificate ${line} not settled, tried again at each settling: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
          return false;
        }
      });
    } catch (error) {
      if (isStoreUnavailable(error) || isEmbeddedCaError(error)) throw error;
      throw storageFailed(`cannot read ${UNSETTLED_FILE}`, error);
    }
  }

  /** Settles one line of unsettled.jsonl (see {@link settleUnsettled}). */
  async #settleOne(line: string): Promise<void> {
    let serial: string;
    try {
      serial = normalizeSerialNumber(line);
    } catch (error) {
      // Never written by an issue (a hand-edited line): no certificate to settle.
      this.#report(new EmbeddedCaError("STORAGE_FAILED", `${UNSETTLED_FILE}: ${line.slice(0, 80)} is not a serial number, skipped and removed from the file: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const key = await this.#keyOf(serial);
    if (!key || key.notAfter.getTime() <= this.#clock().getTime()) return;
    if (await this.#compromised.has(key.spki, { latest: true })) {
      await this.revocations.revoke({ serialNumber: serial, reason: "keyCompromise", revokedAt: this.#clock() });
    }
  }

  /**
   * The key and notAfter of this CA's certificate `serial` (canonical) as the index holds it; undefined when the
   * index lacks the serial, or when its certificate is unknowable: a line written before the index held certificates
   * whose `certs/<serial>.pem` is gone or holds no certificate, or a certificate that does not parse (told to onError,
   * once per serial). The compromised-key set, the keyCompromise sweep and the settling of unsettled.jsonl read keys
   * through it.
   * @throws EmbeddedCaError STORAGE_FAILED when the index, or the certificate file, cannot be read now (EACCES, EIO, …)
   */
  async #keyOf(serial: string): Promise<CertifiedKey | undefined> {
    const key = await this.#readKey(serial);
    if (key && "unreadable" in key) throw key.unreadable;
    return key;
  }

  /**
   * The key of a certificate revoked keyCompromise, for the compromised-key set: as {@link #keyOf}, but a certificate
   * file that cannot be read now (EACCES, EIO, a directory in its place) answers `"unreadable"` instead of failing the
   * check, so one such file does not make every issue reject. Its key is then not known and not refused (no other
   * source holds it) until the file reads again (the set tries it again at most once per maxStalenessMs): told to
   * onError, once per serial until it reads, with what to do.
   * @throws EmbeddedCaError STORAGE_FAILED when the index cannot be read (the check rejects: every key is unknown then)
   */
  async #compromisedKeyOf(serial: string): Promise<Uint8Array | undefined | "unreadable"> {
    const key = await this.#readKey(serial);
    if (key === undefined || "spki" in key) {
      this.#toldUnreadable.delete(serial);
      return key?.spki;
    }
    if (!this.#toldUnreadable.has(serial)) {
      this.#toldUnreadable.add(serial);
      const text = `the key of certificate ${serial} (revoked keyCompromise) cannot be read now, so issue() does not refuse it until the file reads; then revoke ${serial} keyCompromise again to revoke what was issued for it meanwhile: ${key.unreadable.message}`;
      this.#report(new EmbeddedCaError("STORAGE_FAILED", text, { cause: key.unreadable }));
    }
    return "unreadable";
  }

  /** {@link #keyOf}'s answer, with a certificate file that cannot be read now as `unreadable` (not thrown). */
  async #readKey(serial: string): Promise<CertifiedKey | undefined | { unreadable: EmbeddedCaError }> {
    const record = await this.#find(serial);
    if (!record) return undefined;
    let read: CertificateRead;
    try {
      read = await this.#certificateOf(record);
    } catch (error) {
      return { unreadable: error as EmbeddedCaError };
    }
    let why: EmbeddedCaError;
    if ("der" in read) {
      try {
        const certificate = new Certificate(read.der);
        return { spki: certificate.spki, notAfter: certificate.notAfter };
      } catch (error) {
        why = new EmbeddedCaError("STORAGE_FAILED", `the certificate of ${serial} in ${INDEX_FILE} does not parse: ${(error as Error).message}`, { cause: error });
      }
    } else {
      why = read.gone;
    }
    if (!this.#toldUnknowable.has(serial)) {
      this.#toldUnknowable.add(serial);
      this.#report(new EmbeddedCaError("STORAGE_FAILED", `the key of certificate ${serial} cannot be known: ${why.message}`, { cause: why }));
    }
    return undefined;
  }

  /**
   * `value` in `normalizeSerialNumber`'s canonical spelling (lower-case hex, no separators or redundant zeros).
   *
   * @throws EmbeddedCaError INVALID_OPTIONS "`option` must be hex, got …" when it is not a serial number.
   */
  #serial(value: string, option = "serialNumber"): string {
    try {
      return normalizeSerialNumber(value);
    } catch (error) {
      throw invalidOptions(`${option} must be hex, got ${String(value)}: ${(error as Error).message}`);
    }
  }

  async getCertificate(serialNumber: string): Promise<IssuedCertificate | undefined> {
    const serial = this.#serial(serialNumber);
    const record = await this.#find(serial);
    if (!record) return undefined;
    const read = await this.#certificateOf(record);
    if (!("der" in read)) throw read.gone;
    return { certificateDer: read.der, certificatePem: toPem("CERTIFICATE", read.der), serialNumber: serial };
  }

  /**
   * The certificate (DER) of an index line: the line's own, or for a line written before the index held certificates
   * the first CERTIFICATE block of its `certs/<serial>.pem`; `gone` (STORAGE_FAILED) when that file is missing or
   * holds no certificate, which no later read changes.
   * @throws EmbeddedCaError STORAGE_FAILED when the file cannot be read now (another errno than ENOENT/ENOTDIR)
   */
  async #certificateOf(record: IndexLine): Promise<CertificateRead> {
    if (record.certificate !== undefined) return { der: new Uint8Array(Buffer.from(record.certificate, "base64")) };
    const path = join(this.dataDir, CERTS_DIR, `${record.serial}.pem`); // the file is named as the line spells it
    let der: Uint8Array<ArrayBuffer> | undefined;
    try {
      der = firstPemBlock(await readFile(path, "utf8"), "CERTIFICATE");
    } catch (error) {
      if (GONE.has((error as NodeJS.ErrnoException)?.code ?? "")) return { gone: storageFailed(`cannot read ${path}`, error) };
      throw storageFailed(`cannot read ${path}`, error);
    }
    return der ? { der } : { gone: storageFailed(`cannot read ${path}`, new Error("no CERTIFICATE block")) };
  }

  /** The index's first line for `serial` (canonical): a map look-up and one line read, not a read of the whole index. */
  async #find(serial: string): Promise<IndexLine | undefined> {
    try {
      return await this.#lookup.find(serial);
    } catch (error) {
      throw storageFailed(`cannot read ${INDEX_FILE}`, error);
    }
  }

  async list(): Promise<IssuedCertificateRecord[]> {
    return (await this.#page({})).records.map(toRecord).reverse();
  }

  async listPage(options: ListPageOptions = {}): Promise<CertificatePage> {
    if (typeof options !== "object" || options === null) throw invalidOptions("listPage() takes an options object");
    const { offset = 0, limit } = options;
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidOptions(`offset must be an integer >= 0, got ${String(offset)}`);
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw invalidOptions(`limit must be an integer >= 0, got ${String(limit)}`);
    let serial: ((s: string) => boolean) | undefined;
    if (options.serial !== undefined && options.serial !== "") {
      const canonical = this.#serial(options.serial, "serial");
      const digits = options.serial.replace(/[:\s]/g, "").toLowerCase();
      serial = (s) => s === canonical || s.includes(digits);
    }
    const subject = options.subject?.toLowerCase();
    const page = await this.#page({
      offset,
      ...(limit === undefined ? {} : { limit }),
      ...(serial ? { serial } : {}),
      ...(subject ? { record: (r: IndexLine) => r.subject.toLowerCase().includes(subject) } : {}),
    });
    return { records: page.records.map(toRecord), total: page.total };
  }

  async #page(options: IndexPageOptions): Promise<IndexPage> {
    try {
      return await this.#lookup.page(options);
    } catch (error) {
      throw storageFailed(`cannot read ${INDEX_FILE}`, error);
    }
  }

  async revoke(serialNumber: string, reason: RevocationReason): Promise<RevokeResult & { subject: string; alsoRevoked: string[] }> {
    let serial: string;
    try {
      serial = normalizeSerialNumber(serialNumber);
    } catch (error) {
      throw invalidOptions(`cannot revoke: ${(error as Error).message}`);
    }
    const record = await this.#find(serial);
    if (!record) throw new EmbeddedCaError("UNKNOWN_SERIAL", `this CA issued no certificate with serial ${serialAsGiven(serialNumber, serial)}`);
    try {
      const result = await this.revocations.revoke({ serialNumber: serial, reason, revokedAt: this.#clock() });
      let alsoRevoked: string[] = [];
      if (result.entry.reason === "keyCompromise") {
        // A certificate that cannot be read now rejects (revoking again finishes the sweep); one unknowable has no key
        // to sweep for (told to onError).
        const key = await this.#keyOf(serial);
        if (key) {
          // Refused by this process's next issue at once, without waiting for a refresh from the store.
          this.#compromised.add(serial, key.spki);
          alsoRevoked = await this.#revokeSameKey(serial, key.spki);
          // Issues refused meanwhile whose own revoke failed: this revoke found the store up. Its result stands if not:
          // the store down is the next CRL's to answer, anything else is told to onError.
          await this.settleUnsettled().catch((error: unknown) => {
            if (!isStoreUnavailable(error)) this.#report(error);
          });
        }
      }
      return { ...result, subject: record.subject, alsoRevoked };
    } catch (error) {
      if (isScepError(error) && error.code === "ERR_INVALID_ARGUMENT") throw invalidOptions(`cannot revoke: ${error.message}`);
      throw error;
    }
  }

  /**
   * Revokes keyCompromise every other unexpired certificate of the index for `spkiDer` (CA/B BR §4.9.1.1); answers
   * the serials whose entry this call created or upgraded, sorted. One read of the whole index; a certificate is
   * parsed only when its DER holds the key's bytes (certificateKeyMatcher). Lines without their certificate (written
   * before the index held them) are not looked at.
   */
  async #revokeSameKey(serial: string, spkiDer: Uint8Array): Promise<string[]> {
    const matches = certificateKeyMatcher(spkiDer);
    const now = this.#clock().getTime();
    const { records } = await this.#page({
      serial: (s) => s !== serial,
      record: (r) => r.certificate !== undefined && Date.parse(r.notAfter) > now && matches(Buffer.from(r.certificate, "base64")),
    });
    const others = [...new Set(records.map((r) => r.canonicalSerial))].sort();
    const revokedAt = this.#clock();
    const results = await revokeAll(this.revocations, others.map((serialNumber) => ({ serialNumber, reason: "keyCompromise" as const, revokedAt })));
    return others.filter((_, i) => results[i]!.created || results[i]!.updated);
  }

  async crl(): Promise<SignedCrl> {
    // A ca.crl this process could not write with its last CRL (the disk full then) is written now (a flag while not).
    await this.#repairCrlCopy();
    // Certificates an issue could not revoke (unsettled.jsonl) are revoked first, so this CRL lists them: one stat of
    // the file while there is nothing new.
    await this.settleUnsettled();
    for (;;) {
      // A CRL another process of this data directory signed since (one stat, not the snapshot issue() uses): never
      // serve a lower number than it.
      const published = await this.#publication.read({ latest: true });
      // The key of the revocations' state: the store's revision (O(1), the same on every replica; its latest, not a
      // snapshot, so another worker's revoke is on this CRL at once), read BEFORE the list a signing reads, so a
      // cached CRL never claims a later state than it lists; a store without one is listed.
      const revision = this.revocations.revision ? await this.revocations.revision({ latest: true }) : undefined;
      const listed = revision === undefined ? await this.revocations.list() : undefined;
      const key = listed ? stateKey(listed) : `revision:${String(revision)}`;
      // A published CRL not checked yet: its entries go back into the store if it lost them (RFC 5280 §3.3), unless
      // it lists the store's present state. Once per CRL number: a store reset later changes the revision, and the
      // new CRL that calls for restores under the lock, below.
      if (published && published.signed.crlNumber !== this.#restoredFrom) {
        if (published.key === key) this.#restoredFrom = published.signed.crlNumber;
        else if ((await this.restorePublished(published, listed)) > 0) continue; // the state changed: key it again
      }
      this.#adopt(published);
      const current = this.#crl;
      if (current && current.key === key && this.#fresh(current.signed)) return current.signed;
      const signing = this.#signing;
      if (signing) {
        // One signing at a time: callers of the same state get its result (a CRL number is not burnt per caller);
        // a caller that saw a later state (a revocation since that signing read the store) waits, then looks again.
        const done = await signing.promise.catch(() => undefined);
        if (signing.key === key && done) return done;
        continue;
      }
      const entry = { key } as { promise: Promise<SignedCrl>; key: string };
      this.#signing = entry; // before the work starts: a store that throws at once still clears it below
      entry.promise = (async () => {
        // The CRL this call signed, what it lists, and whether it replaced the published one.
        let signedHere: { signed: SignedCrl; listed: readonly RevokedCertificate[]; published: boolean } | undefined;
        try {
          // Under the data directory's CRL lock: the CRL published by then is the floor of the number, and the one
          // signed here replaces it (ca.crl, ca.crl.json) only with a higher number.
          const published = await this.#publication.update(async (latest, untrustedNumber) => {
            this.#adopt(latest);
            const now = this.#crl;
            if (now && now.key === key && this.#fresh(now.signed)) return { crl: now, fresh: false };
            // The published CRL's entries the store lost go back first (RFC 5280 §3.3): the new CRL lists them again.
            let revoked = listed ?? (await this.revocations.list());
            let signedKey = key;
            if ((await this.restorePublished(latest, revoked)) > 0) {
              const after = this.revocations.revision ? await this.revocations.revision({ latest: true }) : undefined;
              revoked = await this.revocations.list();
              signedKey = after === undefined ? stateKey(revoked) : `revision:${String(after)}`;
            }
            // The store's next number, or above the last CRL of this CA when the store was reset (a flushed Redis, a
            // new in-memory store): RFC 5280 §5.2.3 numbers never go back, gaps are allowed.
            // A ca.crl.json that is not used (damaged, edited) counts only with a number the CA's signature vouches for.
            const held = now?.signed.crlNumber ?? 0n;
            const floor = (held > untrustedNumber ? held : untrustedNumber) + 1n;
            // The last CRL of this CA already has RFC 5280 §5.2.3's largest number: no further one can be signed.
            if (floor > MAX_CRL_NUMBER) throw crlNumberExhausted(floor - 1n);
            // The store keeps the floor as its counter (a flushed Redis numbers on above this data directory's last
            // CRL on every replica); a store that ignores `atLeast` still works: the max is taken here too.
            const fromStore = await this.revocations.nextCrlNumber({ atLeast: floor });
            const crlNumber = fromStore > floor ? fromStore : floor;
            const thisUpdate = new Date(Math.floor(this.#clock().getTime() / 1000) * 1000);
            const nextUpdate = new Date(thisUpdate.getTime() + this.#crlValidityMs);
            const der = await signCrl(this.#material, { revoked, crlNumber, thisUpdate, nextUpdate });
            const signed: SignedCrl = { der, pem: toPem("X509 CRL", der), crlNumber, thisUpdate, nextUpdate, revokedCount: revoked.length };
            // CrlPublication.update writes it over a lower number only (this one is above by construction).
            signedHere = { signed, listed: revoked, published: !latest || crlNumber > latest.signed.crlNumber };
            this.#restoredFrom = crlNumber; // it lists the store's own entries
            return { crl: { signed, key: signedKey }, fresh: true };
          });
          this.#adopt(published);
          if (signedHere?.published && published.signed === signedHere.signed) await this.#compactRevocations(signedHere.signed, signedHere.listed);
          return published.signed;
        } finally {
          if (this.#signing === entry) this.#signing = undefined;
        }
      })();
      return entry.promise;
    }
  }

  async revocation(serialNumber: string): Promise<RevokedCertificate | undefined> {
    const serial = this.#serial(serialNumber);
    const stored = await this.revocations.get(serial);
    if (stored) return stored;
    const published = await this.#publication.read();
    const entries = published ? this.#publishedEntries(published) : undefined;
    const entry = entries?.bySerial.get(serial);
    if (!entry || !published) return undefined;
    // The store lost it: put back what the published CRL lists; once per CRL for an entry a restore from it left out
    // (its certificate expired before the CRL was issued), which no later restore from it would put back.
    if (!entries!.leftOff.has(serial)) await this.restorePublished(published);
    return entry;
  }

  /**
   * Puts back into the store each entry of `published` (default: the CRL published now) that it lacks, with its
   * reason and revocationDate, unless the index says its certificate expired before `published` was issued (RFC 5280
   * §3.3: it has then been on a CRL issued after its expiry); `stored` is the store's list when
   * the caller has it. Not on the FileCa interface: {@link openFileCa} and {@link FileCa.crl} call it.
   * @returns how many entries were created
   * @throws StoreUnavailableError when the store or `ca.crl.json` cannot be used
   */
  async restorePublished(published?: PublishedCrl, stored?: readonly RevokedCertificate[]): Promise<number> {
    const run = this.#restoring.then(async () => {
      const crl = published ?? (await this.#publication.read());
      if (!crl) return 0;
      const read = this.#publishedEntries(crl);
      const entries = read.bySerial;
      let restored = 0;
      if (entries.size > 0) {
        const have = new Set((stored ?? (await this.revocations.list())).map((r) => r.serialNumber));
        const issuedAt = crl.signed.thisUpdate.getTime();
        for (const entry of entries.values()) {
          if (have.has(entry.serialNumber)) continue;
          // RFC 5280 §3.3: an entry may leave only once it has been on a CRL issued after the certificate expired:
          // this published CRL, when its thisUpdate is past the certificate's notAfter. One the index cannot tell
          // about stays.
          const record = await this.#lookup.find(entry.serialNumber).catch(() => undefined);
          if (record && Date.parse(record.notAfter) < issuedAt) {
            read.leftOff.add(entry.serialNumber);
            continue;
          }
          if ((await this.revocations.revoke({ serialNumber: entry.serialNumber, reason: entry.reason, revokedAt: entry.revokedAt })).created) restored += 1;
        }
      }
      if (restored > 0 || (read.skipped > 0 && !read.reported)) {
        read.reported = true;
        try {
          this.#onRestored?.({ restored, skipped: read.skipped, crlNumber: crl.signed.crlNumber });
        } catch {
          // The callback (a log line) must not fail the CRL or the revocation check: the entries are back already.
        }
      }
      if (this.#restoredFrom === undefined || crl.signed.crlNumber > this.#restoredFrom) this.#restoredFrom = crl.signed.crlNumber;
      return restored;
    });
    this.#restoring = run.catch(() => undefined);
    return run;
  }

  /**
   * The entries of a published CRL by serial, read once per CRL: those CrlPublication read when it checked the CRL
   * as the CA's (RFC 5280 §6.3.3; one that is not never gets here), or of a CRL this process signed. An entry that
   * does not read is skipped and counted. (Every CRL read from ca.crl.json has its parts; one this process signed is
   * read here, and always reads: a throw would be a bug in signCrl, not something to restore around.)
   */
  #publishedEntries(published: PublishedCrl): PublishedEntries {
    if (this.#entries?.crl !== published) {
      const { entries, skipped } = published.parts ?? readCrlParts(published.signed.der);
      this.#entries = { crl: published, bySerial: new Map(entries.map((e) => [e.serialNumber, e])), skipped, reported: false, leftOff: new Set() };
    }
    return this.#entries;
  }

  /**
   * After `signed` (listing `listed`) was published by this process: removes from a {@link FileRevocationStore} (the
   * default store) the entries that may leave the CRL (RFC 5280 §3.3: it is a CRL issued after their certificate
   * expired): listed on it, their certificate's notAfter (per the index) before its thisUpdate, and not keyCompromise
   * (the store keeps those: {@link FileCa.issue} refuses their key from them). An entry whose serial the index lacks
   * stays (as {@link restorePublished} keeps it). The next CRL (the store's revision moved) no longer lists them; a
   * restore from a CRL that did leaves them out. Nothing for another store. A failure is told to onError
   * (STORAGE_FAILED; the entries stay, the next CRL tries again), not thrown: the CRL is published already.
   */
  async #compactRevocations(signed: SignedCrl, listed: readonly RevokedCertificate[]): Promise<void> {
    if (!(this.revocations instanceof FileRevocationStore)) return;
    const issuedAt = signed.thisUpdate.getTime();
    const expired = new Set<string>();
    try {
      for (const entry of listed) {
        if (entry.reason === "keyCompromise") continue;
        let notAfter = this.#notAfter.get(entry.serialNumber);
        if (notAfter === undefined) {
          const record = await this.#lookup.find(entry.serialNumber);
          if (!record) continue;
          notAfter = Date.parse(record.notAfter);
          this.#notAfter.set(entry.serialNumber, notAfter);
        }
        if (notAfter < issuedAt) expired.add(entry.serialNumber);
      }
      if (expired.size > 0) await this.revocations.compact(expired);
      for (const serial of expired) this.#notAfter.delete(serial);
    } catch (error) {
      this.#report(storageFailed(`cannot compact ${REVOCATIONS_FILE} (the entries of expired certificates stay until a later CRL compacts it)`, error));
    }
  }

  /**
   * Rewrites `ca.crl` when this process's last publication replaced `ca.crl.json` but could not write it
   * (CrlPublication.repairCopy). A failure is told to onError (STORAGE_FAILED, once until a rewrite succeeds) and
   * tried again by the next call: the CRL itself is published and served, so it does not fail {@link FileCa.crl}.
   */
  async #repairCrlCopy(): Promise<void> {
    try {
      await this.#publication.repairCopy();
      this.#toldCopyBehind = false;
    } catch (error) {
      if (this.#toldCopyBehind) return;
      this.#toldCopyBehind = true;
      this.#report(storageFailed(`cannot write ${join(this.dataDir, CRL_FILE)} (it holds an older CRL than ${CRL_STATE_FILE}; tried again at each crl())`, error));
    }
  }

  /** Takes `published` as the current CRL when its number is higher than the one held. */
  #adopt(published: PublishedCrl | undefined): void {
    if (published && (!this.#crl || published.signed.crlNumber > this.#crl.signed.crlNumber)) this.#crl = published;
  }

  /** Whether less than half of the CRL's validity (this CA's, or the CRL's own when shorter) has passed. */
  #fresh(signed: SignedCrl): boolean {
    const validity = Math.min(this.#crlValidityMs, signed.nextUpdate.getTime() - signed.thisUpdate.getTime());
    return this.#clock().getTime() < signed.thisUpdate.getTime() + validity / 2;
  }
}

/**
 * Revocations per `revokeMany` call of a sweep. Each batch is one lock, one append (~120 bytes a line, so ~240 KB) and
 * one fdatasync: another worker's revoke, issue re-check or CRL waits for one batch, not for a sweep of 20 000, and a
 * crash loses at most the batch in flight (the revoke's caller sees the error and a repeat writes what is missing).
 */
const REVOKE_BATCH = 2_000;

/**
 * `revocations` recorded in `store`, results in order: a {@link FileRevocationStore} writes them in batches of
 * `REVOKE_BATCH`, each one locked append and one fdatasync (`revokeMany`); another store gets one `revoke` each.
 */
async function revokeAll(store: RevocationStore, revocations: readonly { serialNumber: string; reason: RevocationReason; revokedAt: Date }[]): Promise<RevokeResult[]> {
  const results: RevokeResult[] = [];
  if (store instanceof FileRevocationStore) {
    for (let i = 0; i < revocations.length; i += REVOKE_BATCH) results.push(...(await store.revokeMany(revocations.slice(i, i + REVOKE_BATCH))));
    return results;
  }
  for (const revocation of revocations) results.push(await store.revoke(revocation));
  return results;
}

/** The cache key of a listed revocation state (for a store without `revision`). */
function stateKey(listed: readonly RevokedCertificate[]): string {
  return `list:${createHash("sha256").update(listed.map((r) => `${r.serialNumber}:${r.reason}:${r.revokedAt.getTime()}`).join(",")).digest("hex")}`;
}

/** A listed index line as {@link FileCa.list} gives it. */
function toRecord(line: IndexPage["records"][number]): IssuedCertificateRecord {
  return {
    serialNumber: line.canonicalSerial,
    subject: line.subject,
    notBefore: new Date(line.notBefore),
    notAfter: new Date(line.notAfter),
    issuedAt: new Date(line.issuedAt),
  };
}

/**
 * A serial in a message: as the caller wrote it (`DEADBEEF`, `de:ad:be:ef`), and the canonical spelling after it
 * only when that differs in more than case and separators (`DEADBEEF (00deadbeef)`), so a person recognises theirs.
 */
function serialAsGiven(given: string, canonical: string): string {
  return given.replace(/[:\s]/g, "").toLowerCase() === canonical ? given : `${given} (${canonical})`;
}

/**
 * Opens the file-backed CA in `dataDir`.
 *
 * - With `caCertPath` + `caKeyPath`: loads that CA (PEM certificate; PKCS#1,
 *   PKCS#8 or SEC1 key in PEM or DER, RSA or EC P-256/384/521) and checks that the key
 *   belongs to the certificate and that the certificate is a CA.
 * - Without: loads `dataDir/ca.pem` + `dataDir/ca.key`, creating them on first
 *   start: RSA-2048, self-signed, 10 years, basicConstraints CA:true
 *   (critical), keyUsage keyCertSign + cRLSign + digitalSignature +
 *   keyEncipherment (critical), subjectKeyIdentifier; `ca.key` is PKCS#8 with
 *   mode 0600. Creation is atomic (temp file + fsync + `link`, key before
 *   certificate) and race-free: processes starting together on an empty
 *   `dataDir` all end up with the same CA, and a crash mid-creation never
 *   leaves a certificate without its key.
 *
 * Every open claims a new serial-number epoch in `dataDir/epochs/` (see
 * {@link FileCa} for the durability guarantees). Needs a local file system
 * with hard links and `O_APPEND` (not NFS).
 *
 * @throws EmbeddedCaError `INVALID_OPTIONS`, `CA_LOAD_FAILED`, `CA_KEY_PASSPHRASE`, `CA_KEY_MISMATCH`, `CA_CREATE_FAILED`, `STORAGE_FAILED`
 *
 * @example
 * ```ts
 * import { openFileCa } from "@scep-examples/embedded-ca";
 *
 * const ca = await openFileCa({ dataDir: "./data" }); // creates ./data/ca.pem on first start
 * const { certificatePem, serialNumber } = await ca.issue({ csrDer });
 * console.log(serialNumber, (await ca.list()).length);
 *
 * // or bring your own CA:
 * const own = await openFileCa({ dataDir: "./data", caCertPath: "ca.crt", caKeyPath: "ca.key" });
 * ```
 */
export async function openFileCa(options: OpenFileCaOptions): Promise<FileCa> {
  if (typeof options !== "object" || options === null) {
    throw invalidOptions("openFileCa() needs an options object with dataDir");
  }
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw invalidOptions("dataDir must be a non-empty path");
  }
  if ((options.caCertPath === undefined) !== (options.caKeyPath === undefined)) {
    throw invalidOptions("caCertPath and caKeyPath must be given together");
  }
  if (options.clock !== undefined && typeof options.clock !== "function") {
    throw invalidOptions("clock must be a function returning a Date");
  }
  if (options.certificateFiles !== undefined && typeof options.certificateFiles !== "boolean") {
    throw invalidOptions("certificateFiles must be true or false");
  }
  if (options.threadPool !== undefined && typeof options.threadPool !== "boolean") {
    throw invalidOptions("threadPool must be true or false");
  }
  if (options.workerPool !== undefined && !(options.workerPool instanceof KeyWorkerPool)) {
    throw invalidOptions("workerPool must be a KeyWorkerPool");
  }
  const crlValiditySeconds = options.crlValiditySeconds ?? DEFAULT_CRL_VALIDITY_SECONDS;
  if (typeof crlValiditySeconds !== "number" || !Number.isInteger(crlValiditySeconds) || crlValiditySeconds < 60) {
    throw invalidOptions(`crlValiditySeconds must be an integer number of seconds >= 60, got ${String(options.crlValiditySeconds)}`);
  }
  if (options.crlDistributionPoint !== undefined && !/^https?:\/\/[^\s]+$/.test(String(options.crlDistributionPoint))) {
    throw invalidOptions(`crlDistributionPoint must be an http:// or https:// URL, got ${String(options.crlDistributionPoint)}`);
  }
  let freshness: Staleness;
  try {
    freshness = checkStaleness(options);
  } catch (error) {
    throw invalidOptions((error as Error).message);
  }
  const backdateSeconds = options.backdateSeconds ?? 0;
  if (typeof backdateSeconds !== "number" || !Number.isFinite(backdateSeconds) || backdateSeconds < 0) {
    throw invalidOptions(`backdateSeconds must be a number of seconds >= 0, got ${String(options.backdateSeconds)}`);
  }
  const dataDir = resolve(options.dataDir);
  const subject = parseDistinguishedName(options.subject ?? DEFAULT_CA_SUBJECT, "subject");
  const clock = (): Date => {
    const now = options.clock ? options.clock() : new Date();
    if (!isValidDate(now)) throw invalidOptions("clock() must return a valid Date");
    return now;
  };

  // Where the CA key signs: a key worker pool's threads, the calling thread, or (the default) libuv's pool.
  const signerOptions = options.workerPool !== undefined ? { workerPool: options.workerPool } : { threadPool: options.threadPool ?? true };
  const material =
    options.caCertPath !== undefined && options.caKeyPath !== undefined
      ? await loadCaFiles(resolve(options.caCertPath), resolve(options.caKeyPath), options.caKeyPassphrase, signerOptions)
      : await openDefaultCa({ dataDir, subject, now: () => new Date(clock().getTime() - backdateSeconds * 1000), signerOptions });

  try {
    await ensureDirectory(dataDir, 0o700);
    if (options.certificateFiles !== false) await ensureDirectory(join(dataDir, CERTS_DIR));
    // Temporary files that processes of this host killed mid-write left: in dataDir itself and in certs/.tmp (two
    // small directories: certs/ itself is not read, but once, for an earlier version's temporary copies).
    await removeLeftovers(dataDir, options.certificateFiles !== false);
    // Create the index durably, so that later appends only need their own O_DSYNC write (or fdatasync).
    await ensureFile(join(dataDir, INDEX_FILE));
  } catch (error) {
    if (isEmbeddedCaError(error)) throw error;
    throw storageFailed(`cannot prepare ${dataDir}`, error);
  }
  if (options.onRevocationsRestored !== undefined && typeof options.onRevocationsRestored !== "function") {
    throw invalidOptions("onRevocationsRestored must be a function");
  }
  if (options.onPublishedCrlIgnored !== undefined && typeof options.onPublishedCrlIgnored !== "function") {
    throw invalidOptions("onPublishedCrlIgnored must be a function");
  }
  if (options.onError !== undefined && typeof options.onError !== "function") throw invalidOptions("onError must be a function");
  // Every read of ca.crl.json checks its CRL against the CA (issuer, signature, stated number and times) first.
  const anchor = { subjectDer: new Uint8Array(material.certificate.subjectName.toArrayBuffer()), publicKey: createPublicKey(material.privateKey) };
  const publication = new CrlPublication(dataDir, material.fingerprintSha256, anchor, {
    staleness: freshness,
    ...(options.onPublishedCrlIgnored ? { onUntrusted: options.onPublishedCrlIgnored } : {}),
  });
  try {
    // A CRL publication a crash cut short (ca.crl.json replaced, ca.crl not) is completed before anything is served.
    await publication.repair();
  } catch (error) {
    throw storageFailed(`cannot repair ${dataDir}/ca.crl`, error);
  }
  if (options.restoreOnOpen !== undefined && typeof options.restoreOnOpen !== "boolean") {
    throw invalidOptions("restoreOnOpen must be true or false");
  }
  const serials = await SerialAllocator.open(dataDir);
  const ca = new FileCaImpl(
    dataDir,
    material,
    serials,
    clock,
    options.certificateFiles !== false,
    backdateSeconds,
    {
      revocations: options.revocations ?? new FileRevocationStore(dataDir, { now: clock, ...freshness }),
      publication,
      validitySeconds: crlValiditySeconds,
      distributionPoint: options.crlDistributionPoint,
      onRestored: options.onRevocationsRestored,
      staleness: freshness,
    },
    errorReporter(options.onError),
  );
  try {
    // The published CRL's revocations the store lost (RFC 5280 §3.3) are back before anything is served.
    if (options.restoreOnOpen !== false) {
      await ca.restorePublished();
      // Certificates an issue recorded but could not revoke (the store down then) are revoked now.
      await ca.settleUnsettled();
    }
  } catch (error) {
    // The store is down (or ca.crl.json unreadable): the next crl() tries again, and answers StoreUnavailableError
    // while it stays down, as every request needing the store does. Anything else (unsettled.jsonl or the index
    // unreadable) is the operator's to hear; the next crl() tries again too.
    if (!isStoreUnavailable(error)) ca.report(error);
  }
  return ca;
}

