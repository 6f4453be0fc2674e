/**
 * What binds a device's re-send to the request that spent its one-time challenge (RFC 8894 §3.3.1, §3.3.3: a client
 * whose reply was lost sends the same request again, same transactionID), so that the re-send passes the challenge
 * check instead of being refused as a second use: the one-time validator gives it to `ChallengeStore.consume` as its
 * `binding`, and asks `ChallengeStore.isSpentBy` with it when the challenge is found spent.
 *
 * Why it is needed: the consume and the record of the issued certificate are separate writes. A replica that dies
 * between them (kill -9, a lost host), or a store that fails after the consume so that its release cannot be sent,
 * leaves the challenge spent and no record to answer the re-send from; the re-send then runs the enrollment again
 * (the claim of the dead replica has lapsed, `enrollment/claim.ts`) and must not be refused for the challenge its own
 * first send spent. Only such a re-send is let through (one that waited on its first send's claim and took it over
 * once it lapsed): a re-send after an answer (a FAILURE, or a certificate whose record has expired since) is refused
 * as before.
 *
 * The binding is the SHA-256 (base64url) of the transactionID, the CSR's SubjectPublicKeyInfo and its subject: what
 * the server takes for "the same request" (`enrollment/policy.ts`: same key and subject). The CSR's signature was
 * verified when the request was decoded, so a match means the holder of the first request's private key asked again
 * for the same subject under the same transactionID; anyone else (another key, another subject, another
 * transactionID) gets another binding and is refused as before.
 *
 * @module
 */
import { toBase64Url } from "../encoding.js";
import { digest } from "../lib/node-crypto.js";
import type { ChallengeContext } from "./challenge.js";

/**
 * The re-send binding of a request (see the module comment): `enrollment:` then 43 base64url characters. Synchronous
 * (the one-shot hash of `lib/node-crypto.ts`: no WebCrypto promise per one-time consume). Never throws.
 */
export function resendBinding(ctx: Pick<ChallengeContext, "csr" | "request">): string {
  const text = JSON.stringify([ctx.request.transactionId, toBase64Url(ctx.csr.spki), toBase64Url(ctx.csr.subjectDer)]);
  return `enrollment:${toBase64Url(digest("sha256", new TextEncoder().encode(text)))}`;
}
