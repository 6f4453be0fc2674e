/**
 * The storage contract for enrollment transactions (RFC 8894 §3.3.3): a
 * request the issue hook answered PENDING is stored, polled with CertPoll and
 * completed by `approve`/`reject`, which move it out of PENDING exactly once.
 * A request the hook answered SUCCESS is stored ISSUED (`create`), so its
 * re-send gets the same certificate.
 *
 * Lifecycle: `create` (PENDING) → `transition` PENDING→ISSUING (an approver's
 * claim) → ISSUING→ISSUED, or ISSUING→PENDING when issuing failed; or
 * PENDING→REJECTED. A first enrollment (a PKCSReq that is not a renewal) first
 * `create`s an ISSUING record with `direct` (its claim, with a lease as
 * `expiresAt`), then ISSUING→ISSUED when its issue hook issued,
 * ISSUING→PENDING (gaining the signer certificate and challenge fields,
 * losing `direct`) when the hook answered PENDING, or a transition to an
 * `expiresAt` already past (the claim let go). Each of these is fenced by the
 * claim's `updatedAt`, so no other request can take the transactionID
 * between the claim and its record. Every record
 * carries `expiresAt`; a store treats a record past it as absent, judged by
 * its own injected clock (Redis: the key's TTL).
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { InvalidArgumentError, StoreUnavailableError } from "../errors.js";
import { copyBytes } from "../lib/bytes.js";
import { MAX_STORE_ENTRIES, numberOption, typeOf } from "../number-option.js";

/**
 * Where a transaction stands. `ISSUING`: an approver claimed it and is running
 * the issue hook, or (with {@link Transaction.direct}) a first enrollment's issue
 * hook is running (a CertPoll, or the same request re-sent, answers PENDING meanwhile).
 * @group Storage
 */
export type TransactionStatus = "PENDING" | "ISSUING" | "ISSUED" | "REJECTED";

/** A stored transaction. Bytes are DER. @group Storage */
export interface Transaction {
  /** Profile name. */
  profile: string;
  /** transactionID of the request (RFC 8894 §3.2.1.1). */
  transactionId: string;
  /** See {@link TransactionStatus}. */
  status: TransactionStatus;
  /**
   * The CSR, DER. It holds the challengePassword (RFC 2985 §5.4.1) in the clear: log `new CertificationRequest(csr)`
   * (whose `toJSON` and inspect form redact it), never these bytes; a store keeps them as it keeps any secret.
   */
  csr: Uint8Array;
  /**
   * The requester's signer certificate, DER (the reply is encrypted to it; a CertPoll signed with its key is the
   * requester's, RFC 8894 §3.3.3). In a record with {@link Transaction.direct} (a first enrollment's claim, or the
   * ISSUED record it becomes), empty (no bytes) when its public key is the CSR's: that reply went out at once, a
   * re-sent request brings its own signer certificate, which the re-sent reply is encrypted to, and a CertPoll signed
   * with that key is matched by the CSR. A first enrollment signed with another key (a manufacturer's IDevID, this
   * CA's lapsed or revoked certificate, an RA's) keeps it, so its CertPoll signed with that key is answered.
   */
  signerCertificate: Uint8Array;
  /** Whether the request was a renewal. */
  renewal: boolean;
  /** When the request arrived. */
  createdAt: Date;
  /** When the status last changed (an approver's ISSUING claim's lease runs from here; a first enrollment's claim keeps it while renewed, as its fencing token). */
  updatedAt: Date;
  /** When the store forgets the record (PENDING: the profile's `pendingTtlMs`; finished: `transactionRetentionMs`). */
  expiresAt: Date;
  /** ISSUED: the certificate, DER. */
  certificate?: Uint8Array;
  /** ISSUED: chain certificates, DER. */
  chain?: Uint8Array[];
  /** REJECTED: failInfo. */
  failInfo?: FailInfo;
  /** REJECTED: text. */
  failInfoText?: string;
  /**
   * REJECTED: a stable label of why, when not the operator's `reject` (e.g. the confirm phase's veto reason when
   * `approve` issued a certificate that could not be confirmed). CertPoll reports it as its event reason.
   * (Records written before {@link Transaction.direct} existed say `issued` here for a direct issue; that is still
   * read so.)
   */
  reason?: string;
  /**
   * ISSUED: true when the issue hook issued the certificate at once (SUCCESS, no operator's `approve`); the record
   * exists only so a re-sent request gets the same certificate (RFC 8894 §3.3.3). CertPoll and a re-sent request
   * then report `issued_resent`, else `issued_after_approval`. Absent otherwise. Such a record keeps no
   * {@link Transaction.signerCertificate} (empty) when the request was signed with the CSR's key. ISSUING: true for a first enrollment's claim while its issue hook
   * runs (it becomes that ISSUED record), never an approver's claim; `approve` and `pending` leave it alone.
   */
  direct?: boolean;
  /** True when the profile's challenge validator accepted the request (its confirm and failure phases then run at approve/reject). */
  challengeValidated?: boolean;
  /** What the challenge validator passed on for the issue hook (`challengeData`), as JSON text; absent when it passed nothing or nothing JSON can hold. */
  challengeData?: string;
}

/**
 * What {@link TransactionStore.transition} writes: the new status and time (`updatedAt`, a `Date` kept to the
 * millisecond), plus any of the other fields, each replacing the record's own when present (bytes are DER;
 * `expiresAt` a `Date`; `challengeData` JSON text) and left as they are when absent. `direct: false` and
 * `challengeValidated: false` clear the flag: the record then reads without it, as one created without it does.
 *
 * A finished record gains `certificate`, `chain`, `failInfo`, `failInfoText`, `reason`. A first enrollment's claim
 * (ISSUING with `direct`, RFC 8894 §3.3.3) that its issue hook answered PENDING becomes the PENDING record in one
 * fenced transition: it gains the request's `signerCertificate` (the claim keeps none when it holds the CSR's key), `renewal`,
 * `challengeValidated` and `challengeData`, and loses `direct` (its `csr` and `createdAt` stay).
 * @group Storage
 */
export type TransactionUpdate = Partial<
  Pick<
    Transaction,
    "certificate" | "chain" | "failInfo" | "failInfoText" | "reason" | "expiresAt" | "signerCertificate" | "renewal" | "challengeValidated" | "challengeData" | "direct"
  >
> & {
  status: TransactionStatus;
  updatedAt: Date;
};

/**
 * Storage of transactions, shared by every replica of a server. Every method
 * may reject with {@link StoreUnavailableError} (the server answers 503 and
 * issues nothing). Records are written and read whole; bytes round-trip exactly.
 *
 * @example
 * ```ts
 * const store: TransactionStore = new MemoryTransactionStore();
 * const [first] = await store.list("corp", { status: "PENDING", limit: 1 });
 * const claimed = first && (await store.transition("corp", first.transactionId, "PENDING", { status: "ISSUING", updatedAt: new Date() }));
 * if (!claimed) throw new Error("someone else decided first");
 * ```
 * @group Storage
 */
export interface TransactionStore {
  /** The record, or undefined when absent or past `expiresAt` (judged by the store's injected clock; Redis: key TTL). */
  get(profile: string, transactionId: string): Promise<Transaction | undefined>;
  /**
   * Stores a new record unless one with this key is PENDING or ISSUING (then
   * resolves false, storing nothing). Replaces a finished (ISSUED/REJECTED) or
   * expired one. Atomic. A create that rejects leaves nothing recorded (the
   * server answers 503 and gives the request's one-time challenge back): a store
   * whose write may still land after it rejected (a timeout) undoes that write
   * itself, and never a record another call wrote.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `tx.status` that is not a {@link TransactionStatus}
   *   (`status must be one of PENDING, ISSUING, ISSUED, REJECTED`), storing nothing: every implementation alike.
   */
  create(tx: Transaction): Promise<boolean>;
  /**
   * Compare-and-set on status: applies `update` only if the current status is
   * `from` and, when `expect.updatedAt` is given, the record's `updatedAt` is
   * that instant (to the millisecond: an approver's claim used as a fencing
   * token, so of two approvers taking over one lapsed ISSUING claim only one
   * wins, and one whose claim was taken over cannot finish). Resolves the
   * updated record, or undefined when absent, expired, not in `from` or
   * updated since (the loser of a race). Atomic: of N concurrent calls with the
   * same `from` (and `expect`), at most one wins. A store written before
   * `expect` existed ignores it and compares the status only. A transition that
   * rejects leaves the record as it was (so the operator's retry of an approve or
   * reject finds it PENDING, and no CertPoll delivers a certificate `approve`
   * reported undelivered): a store whose write may still land after it rejected
   * undoes that write itself, only while the record is as that write left it.
   * An `update.expiresAt` already past ends the record as an expiry does (the
   * server lets an enrollment's claim go so, fenced by `expect`): absent to
   * `get` and `list`, replaced by `create`. Every field `update` carries
   * replaces the record's (see {@link TransactionUpdate}: `direct: false` and
   * `challengeValidated: false` clear the flag); `createdAt`, `csr`, `profile`
   * and `transactionId` never change. A store written before
   * `signerCertificate`, `renewal`, `challengeValidated`, `challengeData` and
   * `direct` were part of the update fails the conformance suite: with it, a
   * first enrollment answered PENDING would keep `direct` (so `pending()`
   * would not list it for approval) and an empty signer certificate.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `from` or `update.status` that is not a
   *   {@link TransactionStatus} (`from must be one of …`, `update.status must be one of …`), changing nothing: every
   *   implementation alike, whether or not the record exists.
   */
  transition(profile: string, transactionId: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined>;
  /**
   * Records of a profile, oldest `createdAt` first, at most `limit` (default 1000); never a full keyspace scan.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `limit` {@link checkTransactionListLimit} refuses, or
   *   a `status` that is not a {@link TransactionStatus} (`status must be one of PENDING, ISSUING, ISSUED, REJECTED`).
   */
  list(profile: string, options?: { status?: TransactionStatus; limit?: number }): Promise<Transaction[]>;
  /** Removes a record (no error when absent). */
  delete(profile: string, transactionId: string): Promise<void>;
}

/** Options of {@link MemoryTransactionStore}. @group Storage */
export interface MemoryTransactionStoreOptions {
  /** Clock deciding expiry (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Most records kept, a count (default 10 000); when full, the oldest finished ones go, 1/64 of this at once (see the
   * class). An integer from 1 to 100 000 000: anything else throws InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  maxEntries?: number;
}

/** `tx` with its Dates copied and each of its DER fields (CSR, signer certificate, certificate, chain) put through `bytes`. */
const withBytes = (tx: Transaction, bytes: (b: Uint8Array) => Uint8Array): Transaction => ({
  ...tx,
  csr: bytes(tx.csr),
  signerCertificate: bytes(tx.signerCertificate),
  createdAt: new Date(tx.createdAt),
  updatedAt: new Date(tx.updatedAt),
  expiresAt: new Date(tx.expiresAt),
  ...(tx.certificate ? { certificate: bytes(tx.certificate) } : {}),
  ...(tx.chain ? { chain: tx.chain.map((b) => bytes(b)) } : {}),
});

/** Every {@link TransactionStatus}, in the order the messages name them. */
const TRANSACTION_STATUSES: readonly TransactionStatus[] = ["PENDING", "ISSUING", "ISSUED", "REJECTED"];

/** Throws InvalidArgumentError unless `status` is a TransactionStatus, in the words of `@scep/redis`'s store. */
function checkStatus(status: unknown, what: string): asserts status is TransactionStatus {
  if (!(TRANSACTION_STATUSES as readonly unknown[]).includes(status)) throw new InvalidArgumentError(`${what} must be one of ${TRANSACTION_STATUSES.join(", ")}`);
}

/** A deep copy (bytes and Dates too), so callers never share a stored record's state. */
const copy = (tx: Transaction): Transaction => withBytes(tx, copyBytes);

/**
 * {@link copy} for keeping: the record's DER fields (CSR, signer certificate, certificate, chain) are copied into one
 * buffer and kept as views of it. One allocation instead of three or more per record: with 10 000 records of
 * directly issued certificates, each ~1 KiB of allocator and typed-array overhead less (issue 13, goal 4). What
 * leaves the store is a {@link copy} again, bytes of its own.
 */
function packed(tx: Transaction): Transaction {
  let n = tx.csr.length + tx.signerCertificate.length + (tx.certificate?.length ?? 0);
  for (const b of tx.chain ?? []) n += b.length;
  const buf = new Uint8Array(n);
  let o = 0;
  return withBytes(tx, (b) => {
    buf.set(b, o);
    o += b.length;
    return buf.subarray(o - b.length, o);
  });
}
const open = (s: TransactionStatus): boolean => s === "PENDING" || s === "ISSUING";

/**
 * In-memory {@link TransactionStore} for tests and single-process servers.
 * Bounded: when full, a `create` first drops expired records, else the
 * oldest finished (ISSUED/REJECTED) ones, 1/64 of `maxEntries` at once (at
 * least one); full of PENDING/ISSUING records it rejects with
 * {@link StoreUnavailableError} (code `ERR_STORE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const transactions = new MemoryTransactionStore({ maxEntries: 50_000 });
 * createScepServer({ profiles: [{ ...profile, transactions }] });
 * ```
 * @group Storage
 */
export class MemoryTransactionStore implements TransactionStore {
  /** profile → transactionId → record; a Map keeps insertion order, so the first finished record found is the oldest. */
  readonly #profiles = new Map<string, Map<string, Transaction>>();
  readonly #now: () => Date;
  readonly #max: number;
  #size = 0;

  /** @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `maxEntries` out of range or a `now` that is not a function. */
  constructor(options: MemoryTransactionStoreOptions = {}) {
    if (options.now !== undefined && typeof options.now !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${typeOf(options.now)})`);
    this.#now = options.now ?? (() => new Date());
    this.#max = numberOption("maxEntries", options.maxEntries, 10_000, { min: 1, max: MAX_STORE_ENTRIES });
  }

  #live(profile: string, transactionId: string): Transaction | undefined {
    const m = this.#profiles.get(profile);
    const tx = m?.get(transactionId);
    if (!tx) return undefined;
    if (tx.expiresAt.getTime() <= this.#now().getTime()) {
      this.#remove(profile, transactionId);
      return undefined;
    }
    return tx;
  }

  #remove(profile: string, transactionId: string): void {
    const m = this.#profiles.get(profile);
    if (m?.delete(transactionId)) {
      this.#size--;
      if (m.size === 0) this.#profiles.delete(profile);
    }
  }

  /**
   * Makes room for one record: expired ones first, else the oldest finished ones. With every issued certificate
   * recorded (enrollment/record.ts) a busy server's store is full of finished records, and a scan of every record on
   * each create cost ~0.5 ms at 10 000: when nothing has expired, one scan frees the oldest 1/64 of the room (at
   * least one record), so it runs once per that many creates.
   */
  #evict(): void {
    const t = this.#now().getTime();
    const batch = Math.max(1, Math.ceil(this.#max / 64));
    // The `batch` finished records with the oldest updatedAt, oldest first (ties: the first met). Maps iterate in
    // insertion order, mostly updatedAt order, so a record rarely goes anywhere but the end, and most are passed over.
    const oldest: Transaction[] = [];
    let freed = false;
    // One pass without copies (a Map may lose entries while it is iterated).
    for (const m of this.#profiles.values()) {
      for (const tx of m.values()) {
        if (tx.expiresAt.getTime() <= t) {
          this.#remove(tx.profile, tx.transactionId);
          freed = true;
        } else if (!freed && !open(tx.status)) {
          const at = tx.updatedAt.getTime();
          if (oldest.length === batch && at >= oldest[batch - 1]!.updatedAt.getTime()) continue;
          let i = oldest.length;
          while (i > 0 && oldest[i - 1]!.updatedAt.getTime() > at) i--;
          oldest.splice(i, 0, tx);
          if (oldest.length > batch) oldest.pop();
        }
      }
    }
    if (freed) return;
    if (oldest.length === 0) throw new StoreUnavailableError(`the transaction store is full (${this.#max} pending transactions)`, { capacity: this.#max });
    for (const tx of oldest) this.#remove(tx.profile, tx.transactionId);
  }

  /** {@inheritDoc TransactionStore.get} */
  async get(profile: string, transactionId: string): Promise<Transaction | undefined> {
    const tx = this.#live(profile, transactionId);
    return tx ? copy(tx) : undefined;
  }

  /** {@inheritDoc TransactionStore.create} */
  async create(tx: Transaction): Promise<boolean> {
    checkStatus(tx.status, "status");
    const existing = this.#live(tx.profile, tx.transactionId);
    if (existing && open(existing.status)) return false;
    if (existing) this.#remove(tx.profile, tx.transactionId);
    if (this.#size >= this.#max) this.#evict();
    let m = this.#profiles.get(tx.profile);
    if (!m) this.#profiles.set(tx.profile, (m = new Map()));
    m.set(tx.transactionId, packed(tx));
    this.#size++;
    return true;
  }

  /** {@inheritDoc TransactionStore.transition} */
  async transition(profile: string, transactionId: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> {
    checkStatus(from, "from");
    checkStatus(update.status, "update.status");
    const tx = this.#live(profile, transactionId);
    if (!tx || tx.status !== from) return undefined;
    if (expect && tx.updatedAt.getTime() !== expect.updatedAt.getTime()) return undefined;
    const defined = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
    const next = packed({ ...tx, ...defined });
    // A flag set to false is cleared: the record reads as one created without it.
    if (next.direct === false) delete next.direct;
    if (next.challengeValidated === false) delete next.challengeValidated;
    this.#profiles.get(profile)!.set(transactionId, next);
    return copy(next);
  }

  /** {@inheritDoc TransactionStore.list} */
  async list(profile: string, options: { status?: TransactionStatus; limit?: number } = {}): Promise<Transaction[]> {
    if (options.status !== undefined) checkStatus(options.status, "status");
    const limit = checkTransactionListLimit(options.limit);
    const m = this.#profiles.get(profile);
    if (!m) return [];
    const t = this.#now().getTime();
    const out = [...m.values()].filter((tx) => tx.expiresAt.getTime() > t && (!options.status || tx.status === options.status));
    out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    return out.slice(0, limit).map(copy);
  }

  /** {@inheritDoc TransactionStore.delete} */
  async delete(profile: string, transactionId: string): Promise<void> {
    this.#remove(profile, transactionId);
  }
}

/**
 * Checks the `limit` of {@link TransactionStore.list}; for store implementers (the memory and Redis stores call it).
 *
 * @param limit - Most records to return: an integer from 0 to 100 000 000, or undefined for the default.
 * @returns `limit`, or 1000 when it is undefined.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for anything else, in `numberOption`'s message: `limit must be
 *   an integer from 0 to 100000000 (got NaN)` (a NaN returned nothing, a -1 dropped the newest record).
 * @example
 * ```ts
 * checkTransactionListLimit(undefined); // 1000
 * checkTransactionListLimit(20); // 20
 * ```
 * @group Storage
 */
export function checkTransactionListLimit(limit: unknown): number {
  return numberOption("limit", limit, 1000, { min: 0, max: MAX_STORE_ENTRIES });
}
