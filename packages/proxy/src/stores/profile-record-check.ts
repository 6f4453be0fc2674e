/**
 * The check every `ProfileStore` applies to a record before `put` stores it, in one place for this package's
 * stores. `@scep/redis`'s RedisProfileStore checks the same in the same words (it cannot import this: `@scep/proxy`
 * is its optional peer, imported for types only); `profileStoreConformance` holds both, and yours, to it.
 *
 * @module
 */
import { InvalidArgumentError } from "@scep/core";
import { DELIVERY_STATUSES, type ProfileRecord } from "./profile-store.js";

/**
 * Throws unless `record` can be stored: `hostId`, `profileId` and `caName` non-empty strings, `status` one of
 * {@link DELIVERY_STATUSES}, `updatedAt` (and `challengeRetrievedAt` when present) a safe integer number of ms since
 * 1970, `requeueCount` (when present) a non-negative safe integer.
 *
 * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) naming the first bad field, one line:
 *   `hostId must be a non-empty string`, `status must be one of pending, verifying, verified, failed, none`,
 *   `updatedAt must be an integer number of milliseconds since 1970`, `requeueCount must be a non-negative integer`.
 */
export function checkProfileRecord(record: ProfileRecord): void {
  for (const f of ["hostId", "profileId", "caName"] as const) {
    if (typeof record[f] !== "string" || record[f] === "") throw new InvalidArgumentError(`${f} must be a non-empty string`);
  }
  if (!DELIVERY_STATUSES.includes(record.status)) throw new InvalidArgumentError(`status must be one of ${DELIVERY_STATUSES.join(", ")}`);
  checkTime(record.updatedAt, "updatedAt");
  if (record.challengeRetrievedAt !== undefined) checkTime(record.challengeRetrievedAt, "challengeRetrievedAt");
  if (record.requeueCount !== undefined && (!Number.isSafeInteger(record.requeueCount) || record.requeueCount < 0)) throw new InvalidArgumentError("requeueCount must be a non-negative integer");
}

function checkTime(ms: number, what: string): void {
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`${what} must be an integer number of milliseconds since 1970`);
}
