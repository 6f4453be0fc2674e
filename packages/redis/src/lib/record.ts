/**
 * A transaction as a Redis hash. Bytes are stored raw (Redis strings are
 * binary-safe); times as decimal milliseconds since the epoch; the chain as
 * a list of (4-byte big-endian length, DER) pairs.
 *
 * | field | value |
 * | --- | --- |
 * | `profile`, `transactionId`, `status` | UTF-8 text |
 * | `createdAt`, `updatedAt`, `expiresAt` | ms since 1970, decimal |
 * | `renewal` | `1` or `0` |
 * | `csr`, `signerCertificate`, `certificate` | DER bytes |
 * | `chain` | length-prefixed DER certificates |
 * | `failInfo`, `failInfoText`, `reason` | UTF-8 text |
 * | `challengeValidated` | `1` when present (`0`, written by a transition that clears it, reads as absent) |
 * | `direct` | `1` when present (a first enrollment's claim, or the ISSUED record of a certificate the issue hook issued at once; `0` reads as absent) |
 * | `challengeData` | UTF-8 JSON text |
 * | `writer` | 16 hex digits: the random tag of the create or transition that wrote the record last (for its undo) |
 * | `prior` | MessagePack, written by a transition: the record's PTTL and the old value (`false`: absent) of each field it wrote |
 *
 * `recordFrom` ignores `writer` and `prior` (and any field it does not know); a record it cannot read whole (a
 * required field missing, a time that is not decimal milliseconds, an unknown status or failInfo, a truncated chain)
 * is refused with StoreUnavailableError ({@link corruptData}), never read half.
 */
import type { StoreUnavailableError, Transaction, TransactionStatus, TransactionUpdate } from "@scep/core";
import { isFailInfo } from "@scep/core/internal";
import { corruptData } from "./corrupt.js";
import { STATUSES } from "./keys.js";

type Field = string | Buffer;

function chainToBytes(chain: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of chain) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(c.length);
    parts.push(len, Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  }
  return Buffer.concat(parts);
}

/** The chain's certificates; undefined when the bytes are not whole (length, DER) pairs. */
function chainFromBytes(b: Buffer): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at + 4 <= b.length) {
    const len = b.readUInt32BE(at);
    at += 4;
    if (at + len > b.length) return undefined;
    out.push(new Uint8Array(b.subarray(at, at + len)));
    at += len;
  }
  return at === b.length ? out : undefined;
}

/** The most digits of a time in ms ({@link isMs}). */
export const MS_DIGITS = 16;
/** The largest magnitude of a time in ms ({@link isMs}): a Date's range, ±8.64e15 (ECMA-262 §21.4.1.1). */
export const MAX_MS = 8_640_000_000_000_000;
const MS = new RegExp(`^-?\\d{1,${MS_DIGITS}}$`);

/**
 * The one rule for a time in ms, as `recordFields` writes them (`String(date.getTime())`) and as every store reads them
 * back: an optional `-`, 1 to {@link MS_DIGITS} decimal digits, at most {@link MAX_MS} in magnitude (a valid Date).
 * The Lua `ms()` of scripts.ts is built from the same constants and checks the same, so a script never writes or
 * compares a time that a read would then refuse, nor refuses one it accepts.
 */
export function isMs(text: string): boolean {
  return MS.test(text) && Math.abs(Number(text)) <= MAX_MS;
}

const bytes = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Field/value pairs for HSET of a whole record. */
export function recordFields(tx: Transaction): Field[] {
  const f: Field[] = [
    "profile", tx.profile,
    "transactionId", tx.transactionId,
    "status", tx.status,
    "createdAt", String(tx.createdAt.getTime()),
    "updatedAt", String(tx.updatedAt.getTime()),
    "expiresAt", String(tx.expiresAt.getTime()),
    "renewal", tx.renewal ? "1" : "0",
    "csr", bytes(tx.csr),
    "signerCertificate", bytes(tx.signerCertificate),
  ];
  if (tx.certificate !== undefined) f.push("certificate", bytes(tx.certificate));
  if (tx.chain !== undefined) f.push("chain", chainToBytes(tx.chain));
  if (tx.failInfo !== undefined) f.push("failInfo", tx.failInfo);
  if (tx.failInfoText !== undefined) f.push("failInfoText", tx.failInfoText);
  if (tx.reason !== undefined) f.push("reason", tx.reason);
  if (tx.challengeValidated) f.push("challengeValidated", "1");
  if (tx.direct) f.push("direct", "1");
  if (tx.challengeData !== undefined) f.push("challengeData", tx.challengeData);
  return f;
}

/** Field/value pairs for HSET of an update. */
export function updateFields(u: TransactionUpdate): Field[] {
  const f: Field[] = ["status", u.status, "updatedAt", String(u.updatedAt.getTime())];
  if (u.expiresAt !== undefined) f.push("expiresAt", String(u.expiresAt.getTime()));
  if (u.certificate !== undefined) f.push("certificate", bytes(u.certificate));
  if (u.chain !== undefined) f.push("chain", chainToBytes(u.chain));
  if (u.failInfo !== undefined) f.push("failInfo", u.failInfo);
  if (u.failInfoText !== undefined) f.push("failInfoText", u.failInfoText);
  if (u.reason !== undefined) f.push("reason", u.reason);
  if (u.signerCertificate !== undefined) f.push("signerCertificate", bytes(u.signerCertificate));
  if (u.renewal !== undefined) f.push("renewal", u.renewal ? "1" : "0");
  // `0` reads as absent (recordFrom): false clears the flag, and the transition's undo can put `1` back.
  if (u.challengeValidated !== undefined) f.push("challengeValidated", u.challengeValidated ? "1" : "0");
  if (u.direct !== undefined) f.push("direct", u.direct ? "1" : "0");
  if (u.challengeData !== undefined) f.push("challengeData", u.challengeData);
  return f;
}

/** HGETALL reply (a flat [field, value, ...] array, or an object) as a field map. */
export function fieldMap(reply: unknown): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1] as Buffer);
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) m.set(String(k), v as Buffer);
  } else if (reply !== null && typeof reply === "object") {
    for (const [k, v] of Object.entries(reply)) m.set(k, v as Buffer);
  }
  return m;
}

/** Where a record is read, for the error of one that cannot be: the store method, and its Retry-After. */
export interface RecordSource {
  operation: string;
  retryAfterSeconds: number;
  /** The record's key names this profile and transactionID: a record holding others is not the one asked for. */
  profile?: string;
  transactionId?: string;
  /** What the operation did, for the error ({@link corruptData}'s `outcome`; default: refused and changed nothing). */
  outcome?: string;
}

/**
 * A transaction from its hash fields; undefined for an empty (absent) hash.
 *
 * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) for a hash that is not a whole record this package wrote
 *   (the message names the field, never its value).
 */
export function recordFrom(m: Map<string, Buffer>, source: RecordSource): Transaction | undefined {
  if (m.size === 0) return undefined;
  const corrupt = (problem: string): StoreUnavailableError => corruptData(`transaction record (${problem})`, source.operation, source.retryAfterSeconds, source.outcome);
  const raw = (k: string): Buffer => {
    const v = m.get(k);
    if (v === undefined) throw corrupt(`field ${k} is missing`);
    return v;
  };
  const text = (k: string): string => raw(k).toString("utf8");
  const time = (k: string): Date => {
    const ms = text(k);
    if (!isMs(ms)) throw corrupt(`field ${k} is not a time in ms`);
    return new Date(Number(ms));
  };
  const profile = text("profile");
  const transactionId = text("transactionId");
  if ((source.profile !== undefined && profile !== source.profile) || (source.transactionId !== undefined && transactionId !== source.transactionId)) {
    throw corrupt("its profile or transactionId is not the one its key names");
  }
  const status = text("status");
  if (!(STATUSES as readonly string[]).includes(status)) throw corrupt("field status is not a transaction status");
  const renewal = text("renewal");
  if (renewal !== "0" && renewal !== "1") throw corrupt("field renewal is not 0 or 1");
  const tx: Transaction = {
    profile,
    transactionId,
    status: status as TransactionStatus,
    csr: new Uint8Array(raw("csr")),
    signerCertificate: new Uint8Array(raw("signerCertificate")),
    renewal: renewal === "1",
    createdAt: time("createdAt"),
    updatedAt: time("updatedAt"),
    expiresAt: time("expiresAt"),
  };
  const certificate = m.get("certificate");
  if (certificate !== undefined) tx.certificate = new Uint8Array(certificate);
  const chain = m.get("chain");
  if (chain !== undefined) {
    const certificates = chainFromBytes(chain);
    if (certificates === undefined) throw corrupt("field chain is truncated");
    tx.chain = certificates;
  }
  const failInfo = m.get("failInfo")?.toString("utf8");
  if (failInfo !== undefined) {
    if (!isFailInfo(failInfo)) throw corrupt("field failInfo is not a SCEP failInfo");
    tx.failInfo = failInfo;
  }
  const failInfoText = m.get("failInfoText");
  if (failInfoText !== undefined) tx.failInfoText = failInfoText.toString("utf8");
  const reason = m.get("reason");
  if (reason !== undefined) tx.reason = reason.toString("utf8");
  if (m.get("challengeValidated")?.toString("utf8") === "1") tx.challengeValidated = true;
  if (m.get("direct")?.toString("utf8") === "1") tx.direct = true;
  const challengeData = m.get("challengeData");
  if (challengeData !== undefined) tx.challengeData = challengeData.toString("utf8");
  return tx;
}
