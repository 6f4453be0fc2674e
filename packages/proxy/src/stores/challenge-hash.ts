/**
 * The hash a profile record keeps of its current one-time challenge
 * (`ProfileRecord.challengeHash`), so the proxy can refuse an earlier URL's
 * challenge after a re-registration without storing the challenge itself.
 *
 * @module
 */

/**
 * The SHA-256 of `challenge` (its UTF-8 bytes) as 64 lower-case hex digits: what `ProfileRecord.challengeHash` holds
 * for a `custom` CA's profile registered with that challenge. WebCrypto, no `node:` import.
 *
 * @param challenge - the one-time challenge put in the device's URL (what `ChallengeStore.issue` returned).
 * @returns 64 lower-case hex digits. Never rejects on a string.
 *
 * @example
 * ```ts
 * import { challengeHash } from "@scep/proxy";
 *
 * const challenge = "0123456789abcdef0123456789abcdef";
 * const record = { hostId: "host-42", profileId: "wifi", caName: "corp", status: "pending" as const, updatedAt: Date.now(), challengeHash: await challengeHash(challenge) };
 * ```
 *
 * @group Storage
 */
export async function challengeHash(challenge: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(challenge)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
