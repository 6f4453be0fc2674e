/**
 * @scep/intune: challenge validation for Intune-managed (and other MDM) fleets
 * enrolling against a `@scep/core` SCEP server (RFC 8894 §2.3 challenge
 * passwords).
 *
 * - Mode B, {@link SignedTokenValidator}: the challengePassword is a compact
 *   JWS (certctl-compatible) verified locally against a {@link TrustAnchorPool},
 *   bound to the CSR, with a {@link ReplayCache} and a {@link RateLimiter}.
 *
 * - Mode A, {@link IntuneValidator}: asks Microsoft's Intune SCEP validation
 *   API (validateRequest), then successNotification / failureNotification,
 *   through {@link IntuneScepClient} (Entra ID tokens, Graph discovery).
 *   Optionally, {@link syncIntuneRevocations} with an
 *   {@link IntuneRevocationClient} revokes what Intune asks to be revoked.
 *
 * Both return the verdict shape of @scep/core's challenge validators: `ok`,
 * or a stable `reason` label with the SCEP `failInfo` and a text.
 *
 * @example
 * ```ts
 * import type { CertificationRequest } from "@scep/core";
 * import { SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
 *
 * declare const csr: CertificationRequest; // the enrollment's CSR
 * declare const transactionId: string; // its SCEP transactionID
 *
 * const tokens = new SignedTokenValidator({
 *   trustAnchors: await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem"),
 *   audience: "https://scep.example.com/scep",
 * });
 * const verdict = await tokens.validate({ challenge: csr.challengePassword, csr, request: { transactionId } });
 * ```
 *
 * @module
 */
export {
  IntuneError,
  IntuneConfigError,
  TrustAnchorError,
  IntuneAuthError,
  IntuneDiscoveryError,
  IntuneTransportError,
  IntuneTimeoutError,
  IntuneResponseError,
  IntuneRejectedError,
  isIntuneError,
} from "./errors.js";
export type { IntuneErrorCode, IntuneErrorOptions } from "./errors.js";
export type { ValidatorVerdict, ChallengeValidator, ValidationInput } from "./verdict.js";

export { MemoryReplayCache } from "./stores/replay-cache.js";
export type { ReplayCache, MemoryReplayCacheOptions } from "./stores/replay-cache.js";
export { MemoryRateLimiter } from "./stores/rate-limiter.js";
export type { RateLimiter, RateLimit, RateLimitResult, MemoryRateLimiterOptions } from "./stores/rate-limiter.js";

export { TrustAnchorPool } from "./token/trust-anchors.js";
export type { TrustAnchor, TrustAnchorPoolOptions } from "./token/trust-anchors.js";
export type { SignedTokenClaims } from "./token/claims.js";
export { SignedTokenValidator, SIGNED_TOKEN_FAIL_INFO, MAX_CHALLENGE_BYTES, looksLikeSignedToken } from "./token/signed-token-validator.js";
export type { SignedTokenValidatorOptions, SignedTokenReason } from "./token/signed-token-validator.js";

export { IntuneScepClient, SCEP_VALIDATION_SERVICE, SCEP_API_VERSION } from "./api/intune-client.js";
export type { IntuneScepClientOptions, ScepActionResult, SuccessNotification } from "./api/intune-client.js";
export { EntraTokenProvider } from "./api/entra-token.js";
export type { EntraTokenProviderOptions, EntraCredential } from "./api/entra-token.js";
export type { Fetch } from "./api/http.js";
export { nodeHttpFetch } from "./api/http.js";
export { NodeHttpReadError, nodeHttpExchange } from "./api/node-http.js";
export type { NodeHttpAgents, NodeHttpRequest, NodeHttpResponse } from "./api/node-http.js";
export { INTUNE_FAIL_INFO, UNKNOWN_CODE_REASON, UNAVAILABLE_REASON } from "./api/error-codes.js";
export type { IntuneResultCode } from "./api/error-codes.js";
export { IntuneValidator } from "./api/intune-validator.js";
export type { IntuneApiOptions, IntuneCallOptions } from "./api/intune-session.js";
export { IntuneRevocationClient, PKI_CONNECTOR_SERVICE, REVOCATION_API_VERSION, MAX_REVOCATION_REQUESTS } from "./api/revocation-client.js";
export type { IntuneRevocationClientOptions, IntuneRevocationRequest, IntuneRevocationResult } from "./api/revocation-client.js";
export { INTUNE_REVOCATION_CODES, isIntuneRevocationCode, isRetryableRevocationCode } from "./api/revocation-codes.js";
export type { IntuneRevocationCode, IntuneRevocationCodeName } from "./api/revocation-codes.js";
export { syncIntuneRevocations, revocationStoreRevoker } from "./api/revocation-sync.js";
export type { IntuneRevokeOutcome, IntuneRevoke, SyncIntuneRevocationsOptions, IntuneRevocationSyncItem, IntuneRevocationSyncSummary, RevocationStoreRevokerOptions } from "./api/revocation-sync.js";
export type { IntuneValidatorOptions, NotifySuccessInput, IntuneConfirmContext, IntuneConfirmResult, IntuneConfirmOptions, IssueHookLike } from "./api/intune-validator.js";
