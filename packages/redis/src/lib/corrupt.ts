/**
 * Data in Redis that this package did not write (an operator's manual edit, another version's data, a half-migrated
 * key): one typed error for every store.
 *
 * `@scep/core` has no "corrupt store" error code, and a plain `Error` became an HTTP 500 "internal error" (the core
 * server's answer to a failing hook). A store whose data cannot be read is a store that cannot answer: the
 * StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) every other failure of these stores throws, so the server fails
 * closed with 503 and `Retry-After` (a one-time challenge given back, nothing issued, never a FAILURE CertRep that
 * blames the client), and the operator, told through `onError`, fixes or deletes the key. The message names the kind
 * of key and what is wrong with it, never a value read from it.
 */
import { StoreUnavailableError } from "@scep/core";

/**
 * The prefix of a Lua script's error reply for corrupt data (`redis.error_reply('CORRUPT <what>')`): the script
 * checked before its first write, so it wrote nothing. `Runner` turns it into {@link corruptData}'s message.
 */
export const CORRUPT_REPLY = "CORRUPT ";

/**
 * The error for a key holding data this store did not write.
 *
 * @param what - the kind of key and what is wrong, e.g. `transaction record (field expiresAt is not a time in ms)`.
 * @param operation - the store method that read it (`get`, `list`, …).
 * @param outcome - what the operation did, after its name: `refused and changed nothing` unless told otherwise (only
 *   for an operation that wrote before it found the data and could not put back what it wrote).
 */
export function corruptData(what: string, operation: string, retryAfterSeconds: number, outcome = "refused and changed nothing"): StoreUnavailableError {
  return new StoreUnavailableError(`Redis holds a corrupt ${what}: ${operation} ${outcome} (fix or delete the key)`, { retryAfterSeconds });
}
