// The public keys this CA must not certify again: those of its certificates revoked with reason keyCompromise (RFC
// 5280 §5.3.1; CA/B Forum BR 4.9.1.1 and 6.1.1.3 require refusing a key known to be compromised). Kept as a set of
// key hashes (spkiHash: the RFC 7638 thumbprint, the one a decoded request already has), built from the revocation store (shared by every replica) and the
// published CRL (ca.crl.json: entries a store lost still count), each serial's key read once from the issuance index.
//
// Refreshed only when the store's revision() or the published CRL's number changed: both as the CA's one freshness
// read has them (the file store and the published CRL are looked at at most once per maxStalenessMs, so a check costs
// no file system call; Redis is one GET). A store without revision() is listed instead: a check without `latest`
// answers from a listing that started less than maxStalenessMs ago, a `latest` one from a listing that started after
// it was asked (concurrent checks share one). A refresh resolves only the keyCompromise serials it has not
// resolved yet, so its cost is one listing plus an index look-up per new entry. `has(key, { latest: true })` reads the
// store's latest revision instead (an issue's re-check after its index line: see FileCa.issue). The set only grows: a key once known
// compromised stays refused by this process even if the store forgets the entry (a flushed Redis).
//
// A serial whose key cannot be read now (keyOf answers "unreadable": its certificate file EACCES, EIO, a directory) is
// not in the set: its key is not known, so it cannot be refused, and the other keys go on being issued (refusing every
// request because one file does not read would stop the CA). It is tried again by every refresh and, between them, at
// most once per maxStalenessMs, so its key is refused from the first check after the file reads again.
import { createHash, createPublicKey } from "node:crypto";
import { Certificate, publicKeyThumbprint, type RevocationStore, type RevokedCertificate } from "@scep/core";
import { StalenessGate, type Staleness } from "./lib/staleness.js";

/**
 * The hash by which this CA knows a public key (SubjectPublicKeyInfo DER, RFC 5280 §4.1.2.7): its RFC 7638 JWK
 * SHA-256 thumbprint (base64url; @scep/core's publicKeyThumbprint), so one key spelled two ways (RSA parameters NULL
 * or absent, an EC point compressed or not) has one hash; `der:` and the SHA-256 hex of the DER itself for a key
 * without a JWK form.
 */
export function spkiHash(spkiDer: Uint8Array): string {
  return publicKeyThumbprint(spkiDer) ?? `der:${createHash("sha256").update(spkiDer).digest("hex")}`;
}

/**
 * A key as a decoded request holds it: its SPKI, and (@scep/core's CertificationRequest) the RFC 7638 thumbprint of
 * the key object its signature check already read, which saves parsing the SPKI again.
 */
export interface KeyHolder {
  readonly spki: Uint8Array;
  readonly publicKeyThumbprint?: string | undefined;
}

/** {@link spkiHash} of a key: the holder's thumbprint when it has one (read only now), else the SPKI's. */
function keyHash(key: Uint8Array | KeyHolder): string {
  if (key instanceof Uint8Array) return spkiHash(key);
  const thumbprint = key.publicKeyThumbprint;
  return typeof thumbprint === "string" ? thumbprint : spkiHash(key.spki);
}

/**
 * A test of "is `certificateDer` a certificate for the key `spkiDer`", with {@link spkiHash}'s notion of one key (the
 * same key in another DER spelling matches), cheap for the certificates of other keys: a certificate is parsed and its
 * key hashed only when its DER contains the key's distinctive bytes (the RSA modulus, the EC or OKP x coordinate:
 * present in every spelling; the whole SPKI for a key Node cannot express as a JWK, whose hash is of its bytes).
 * A certificate that does not parse is not a match.
 */
export function certificateKeyMatcher(spkiDer: Uint8Array): (certificateDer: Uint8Array) => boolean {
  const target = spkiHash(spkiDer);
  let needle: Buffer = Buffer.from(spkiDer);
  try {
    const jwk = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" }).export({ format: "jwk" });
    const core = jwk.n ?? jwk.x;
    if (core) needle = Buffer.from(core, "base64url");
  } catch {
    // Not expressible as a JWK: spkiHash hashes the bytes, so only the same bytes match.
  }
  return (certificateDer) => {
    if (Buffer.from(certificateDer.buffer, certificateDer.byteOffset, certificateDer.byteLength).indexOf(needle) === -1) return false;
    try {
      return spkiHash(new Certificate(certificateDer).spki) === target;
    } catch {
      return false;
    }
  };
}

/** What {@link CompromisedKeys} reads besides the store. */
export interface CompromisedKeysSources {
  /** The revocation store (its `revision()` keys the cache). */
  revocations: RevocationStore;
  /**
   * The SPKI DER of the certificate with this serial (canonical spelling) from the issuance index; undefined when the
   * index lacks it (or its key can never be known); `"unreadable"` when its certificate cannot be read now (tried again
   * later, see the module comment). Rejects when the index itself cannot be read (the check then rejects).
   */
  keyOf(serialNumber: string): Promise<Uint8Array | undefined | "unreadable">;
  /** The published CRL's number and entries, or undefined when none is published (or it is not trusted); called per check, so it must be cheap (a snapshot). */
  published(): Promise<{ crlNumber: bigint; entries: Iterable<RevokedCertificate> } | undefined>;
  /**
   * For a store without `revision()`: how long a check without `latest` answers from the last listing; and how often
   * the keys `keyOf` answered `"unreadable"` for are tried again between refreshes (default: never from memory, every
   * check lists and tries them).
   */
  staleness?: Staleness;
}

/** A refresh of the set: the state it builds from, its number (see CompromisedKeys.#started), its work. */
interface Refresh {
  state: string | undefined;
  number: number;
  /** When it started (the staleness gate's monotonic time). */
  startedAt: number;
  promise: Promise<void>;
}

/** The SPKI hashes of keys revoked as compromised; see the module comment. */
export class CompromisedKeys {
  readonly #sources: CompromisedKeysSources;
  /** Serials whose key is resolved (in `#hashes`). */
  readonly #resolved = new Set<string>();
  readonly #hashes = new Set<string>();
  /** The state the set was last built from (`revision|crlNumber`); undefined: never, or a store without revision. */
  #state: string | undefined;
  /** The refresh in flight, shared by concurrent checks of the same state; `number`: how many refreshes had started by its start. */
  #refresh: Refresh | undefined;
  /** How many refreshes have started: a check of a store without revision() may share one numbered above its ask. */
  #started = 0;
  /** When the last listing that succeeded started (for a store without revision()). */
  readonly #listed: StalenessGate;
  /** keyCompromise serials whose key keyOf could not read (not in `#resolved`): tried again, see the module comment. */
  readonly #unreadable = new Set<string>();
  /** When the last try of `#unreadable` started. */
  readonly #triedUnreadable: StalenessGate;
  /** The try of `#unreadable` in flight, shared by concurrent checks. */
  #retrying: Promise<void> | undefined;

  constructor(sources: CompromisedKeysSources) {
    this.#sources = sources;
    const staleness = sources.staleness ?? { maxStalenessMs: 0, monotonicNow: () => performance.now() };
    this.#listed = new StalenessGate(staleness);
    this.#triedUnreadable = new StalenessGate(staleness);
  }

  /** Records at once a key this process revoked as compromised (its own revoke needs no refresh to count). */
  add(serialNumber: string, spkiDer: Uint8Array): void {
    this.#resolved.add(serialNumber);
    this.#unreadable.delete(serialNumber);
    this.#hashes.add(spkiHash(spkiDer));
  }

  /**
   * Whether `key` (SPKI DER, or a decoded request: its thumbprint is used, not its SPKI parsed again) is the key of a
   * certificate revoked with reason keyCompromise, by this or any process sharing the store (or listed so on the
   * published CRL). `latest`: the store's latest revision (`revision({ latest: true })`: the default file store stats
   * its file, Redis is one GET), not its snapshot of up to `maxStalenessMs` ago: for the check an issue makes after its
   * index line is durable, which must see every revoke written to the store before that check (see FileCa.issue).
   * A key already in the set is answered without a look at the store (the set only grows): a keyCompromise revoke of
   * this process adds its key before its sweep reads the index, and before the store shows it in a revision.
   * A key `keyOf` cannot read now is not known, so not refused (see the module comment).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the store is down; the `keyOf`/`published` errors
   */
  async has(key: Uint8Array | KeyHolder, options: { latest?: boolean } = {}): Promise<boolean> {
    // No compromised key known (the usual case): the key need not be hashed at all.
    let hash = this.#hashes.size > 0 ? keyHash(key) : undefined;
    if (hash !== undefined && this.#hashes.has(hash)) return true;
    await this.#current(options.latest === true);
    if (this.#unreadable.size > 0) await this.#retryUnreadable();
    if (this.#hashes.size === 0) return false;
    hash ??= keyHash(key);
    return this.#hashes.has(hash);
  }

  async #current(latest: boolean): Promise<void> {
    // A store without revision(): a `latest` check may share a listing that started after this point, not before.
    const asked = this.#started;
    for (;;) {
      const revision = this.#sources.revocations.revision ? await this.#sources.revocations.revision(latest ? { latest: true } : undefined) : undefined;
      const published = await this.#sources.published();
      const state = revision === undefined ? undefined : `${revision}|${published?.crlNumber ?? "-"}`;
      if (state !== undefined && state === this.#state) return;
      if (state === undefined && !latest && this.#listed.fresh()) return;
      const running = this.#refresh;
      if (running) {
        // A listing started after this ask, or (without `latest`) less than maxStalenessMs before it, answers it.
        if (state === undefined && (running.number > asked || (!latest && this.#listed.recent(running.startedAt)))) return running.promise;
        await running.promise;
        if (running.state !== undefined && running.state === state) return;
        continue;
      }
      const startedAt = this.#listed.now();
      const entry = { state, number: ++this.#started, startedAt } as Refresh;
      this.#refresh = entry;
      entry.promise = (async () => {
        try {
          const listed = await this.#sources.revocations.list();
          for (const entries of [listed, published?.entries ?? []]) {
            for (const r of entries) {
              if (r.reason !== "keyCompromise" || this.#resolved.has(r.serialNumber)) continue;
              const key = await this.#sources.keyOf(r.serialNumber);
              // Its certificate does not read now: not known, tried again (see the module comment).
              if (key === "unreadable") this.#unreadable.add(r.serialNumber);
              // Not in this CA's index (another CA's serial, or a replica with its own data directory): tried again next refresh.
              else if (key) this.add(r.serialNumber, key);
            }
          }
          this.#triedUnreadable.looked(startedAt);
          this.#state = state;
          if (state === undefined) this.#listed.looked(startedAt);
        } finally {
          if (this.#refresh === entry) this.#refresh = undefined;
        }
      })();
      await entry.promise;
      return;
    }
  }

  /** Tries the unreadable keys again, at most once per maxStalenessMs (concurrent checks share one try). */
  #retryUnreadable(): Promise<void> {
    if (this.#retrying) return this.#retrying;
    if (this.#triedUnreadable.fresh()) return Promise.resolve();
    const startedAt = this.#triedUnreadable.now();
    const run = this.#tryUnreadable(startedAt).finally(() => {
      if (this.#retrying === run) this.#retrying = undefined;
    });
    this.#retrying = run;
    return run;
  }

  async #tryUnreadable(startedAt: number): Promise<void> {
    for (const serial of [...this.#unreadable]) {
      const key = await this.#sources.keyOf(serial);
      if (key === "unreadable") continue;
      this.#unreadable.delete(serial);
      if (key) this.add(serial, key);
    }
    this.#triedUnreadable.looked(startedAt);
  }
}
