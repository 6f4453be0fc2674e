/**
 * Key names. Everything one script touches for a profile shares the hash tag
 * `{<profile>}`, so it lives in one Redis Cluster slot.
 */
import type { TransactionStatus } from "@scep/core";

export const STATUSES: readonly TransactionStatus[] = ["PENDING", "ISSUING", "ISSUED", "REJECTED"];

const SAFE = /^[A-Za-z0-9._~-]$/;

/**
 * The profile inside a hash tag: UTF-8 bytes outside `[A-Za-z0-9._~-]`
 * percent-encoded, so the tag never holds `{`, `}` or `:` and two profiles
 * never share a key.
 */
export function profileTag(profile: string): string {
  let out = "";
  for (const byte of Buffer.from(profile, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += SAFE.test(ch) ? ch : `%${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

/** Keys of one profile's transactions. */
export class TransactionKeys {
  readonly #base: string;
  constructor(prefix: string, profile: string) {
    this.#base = `${prefix}tx:{${profileTag(profile)}}`;
  }
  /** The record: a hash. */
  record(transactionId: string): string {
    return `${this.#base}:id:${transactionId}`;
  }
  /** Index of one status: a sorted set of transactionIDs scored by createdAt (ms). */
  index(status: TransactionStatus): string {
    return `${this.#base}:status:${status}`;
  }
  /** The four status indexes, in {@link STATUSES} order. */
  indexes(): string[] {
    return STATUSES.map((s) => this.index(s));
  }
  /** Expiry index: a sorted set of transactionIDs scored by expiresAt (ms). */
  expiry(): string {
    return `${this.#base}:expiry`;
  }
}
