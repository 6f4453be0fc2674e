/**
 * PENDING requests: stored when the issue hook answers PENDING, polled with
 * CertPoll, completed by approve/reject.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";

/** A stored transaction. */
export interface Transaction {
  /** Profile name. */
  profile: string;
  /** transactionID of the request. */
  transactionId: string;
  /** PENDING until approved (then ISSUED) or REJECTED. */
  status: "PENDING" | "ISSUED" | "REJECTED";
  /** The CSR, DER. */
  csr: Uint8Array;
  /** The requester's signer certificate, DER (the reply is encrypted to it). */
  signerCertificate: Uint8Array;
  /** Whether the request was a renewal. */
  renewal: boolean;
  /** When the request arrived. */
  createdAt: Date;
  /** ISSUED: the certificate, DER. */
  certificate?: Uint8Array;
  /** ISSUED: chain certificates, DER. */
  chain?: Uint8Array[];
  /** REJECTED: failInfo. */
  failInfo?: FailInfo;
  /** REJECTED: text. */
  failInfoText?: string;
}

/** Storage of PENDING transactions. Implementations must write each record whole. */
export interface TransactionStore {
  /** Reads a transaction. */
  get(profile: string, transactionId: string): Promise<Transaction | undefined>;
  /** Creates or replaces a transaction. */
  put(tx: Transaction): Promise<void>;
  /** Lists transactions of a profile with a status. */
  list(profile: string, status?: Transaction["status"]): Promise<Transaction[]>;
}

/** In-memory {@link TransactionStore}. */
export class MemoryTransactionStore implements TransactionStore {
  readonly #map = new Map<string, Transaction>();

  /** {@inheritDoc TransactionStore.get} */
  async get(profile: string, transactionId: string): Promise<Transaction | undefined> {
    const tx = this.#map.get(`${profile}\u0000${transactionId}`);
    return tx ? { ...tx } : undefined;
  }

  /** {@inheritDoc TransactionStore.put} */
  async put(tx: Transaction): Promise<void> {
    this.#map.set(`${tx.profile}\u0000${tx.transactionId}`, { ...tx });
  }

  /** {@inheritDoc TransactionStore.list} */
  async list(profile: string, status?: Transaction["status"]): Promise<Transaction[]> {
    return [...this.#map.values()].filter((t) => t.profile === profile && (!status || t.status === status)).map((t) => ({ ...t }));
  }
}
