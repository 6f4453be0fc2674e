/**
 * @scep/proxy: a SCEP proxy (RFC 8894) between devices and existing CAs
 * (Microsoft NDES, Smallstep, any RFC 8894 server), after Fleet's SCEP proxy.
 * It signs nothing: it hands each device a one-time URL
 * (`{base}/{hostId,profileId,caName,challenge}`), checks the device's
 * identifier, profile status and challenge when it comes back, and forwards
 * its SCEP messages unchanged to the CA (PROXY.md).
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore } from "@scep/core";
 * import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, challengeHash, createScepProxy } from "@scep/proxy";
 *
 * const profiles = new MemoryProfileStore();
 * const challenges = new MemoryChallengeStore();
 * const proxy = createScepProxy({
 *   profiles,
 *   challenges,
 *   cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: "https://ca.corp.example/scep" }]),
 * });
 * // mount proxy with @scep/express or @scep/hono; when the MDM renders a profile:
 * // (holder and challengeHash: a later registration of host-42's wifi supersedes this URL)
 * const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000, holder: JSON.stringify(["host-42", "wifi"]) });
 * await profiles.put({ hostId: "host-42", profileId: "wifi", caName: "corp", status: "pending", updatedAt: Date.now(), challengeHash: await challengeHash(challenge) });
 * const url = buildProxyUrl("https://mdm.example.com/scep", { hostId: "host-42", profileId: "wifi", caName: "corp", challenge });
 * ```
 *
 * @module
 */
export {
  ProxyError,
  ProxyConfigError,
  IdentifierError,
  UpstreamError,
  ChallengeSourceError,
  isProxyError,
} from "./errors.js";
export type { ProxyErrorCode, ProxyErrorOptions, IdentifierErrorReason, UpstreamFailureReason } from "./errors.js";

export { buildIdentifier, parseIdentifier, buildProxyUrl, MAX_IDENTIFIER_LENGTH } from "./identifier.js";
export type { ProxyIdentifier } from "./identifier.js";

export { challengeHash } from "./stores/challenge-hash.js";
export { DELIVERY_STATUSES } from "./stores/profile-store.js";
export type { ProfileKey, ProfileRecord, ProfileStore, DeliveryStatus } from "./stores/profile-store.js";
export { MemoryProfileStore } from "./stores/memory-profile-store.js";
export type { MemoryProfileStoreOptions } from "./stores/memory-profile-store.js";

export { CA_TYPES, DEFAULT_CHALLENGE_TTL_MS, MAX_CA_NAME_LENGTH, MAX_CHALLENGE_RETRIEVED_AHEAD_MS, challengeTtlMs } from "./cas/ca-config.js";
export type { CaType, CaConfig } from "./cas/ca-config.js";
export type { CaRegistry } from "./cas/ca-registry.js";
export { MemoryCaRegistry } from "./cas/memory-ca-registry.js";
export type { MemoryCaRegistryOptions } from "./cas/memory-ca-registry.js";

export type { GetCACapsOptions, Upstream, UpstreamResponse, UpstreamCallOptions } from "./upstream/upstream.js";
export { HttpUpstream } from "./upstream/http-upstream.js";
export type { HttpUpstreamOptions } from "./upstream/http-upstream.js";
export { FetchHandlerUpstream } from "./upstream/fetch-handler-upstream.js";
export type { FetchHandlerUpstreamOptions, UpstreamFetchHandler } from "./upstream/fetch-handler-upstream.js";

export { createScepProxy } from "./handler/scep-proxy.js";
export type { ScepProxy, ScepProxyOptions, ProxyLogger } from "./handler/scep-proxy.js";
export type { ProxyEvent, ProxyEventSink, ProxyOperation, ProxyOutcome, ProxyReason, ProxyCaStats, ProxyStats } from "./handler/events.js";

export type { ChallengeSource, FetchedChallenge } from "./challenge-sources/challenge-source.js";
export { fitsPrintableString } from "./challenge-sources/challenge-source.js";
export { MemoryChallengeSource } from "./challenge-sources/memory-challenge-source.js";
export type { MemoryChallengeSourceOptions } from "./challenge-sources/memory-challenge-source.js";
export { NdesChallengeSource } from "./challenge-sources/ndes-challenge-source.js";
export type { NdesChallengeSourceOptions } from "./challenge-sources/ndes-challenge-source.js";
export { parseNdesAdminPage, decodeNdesAdminPage } from "./challenge-sources/ndes-page.js";
export type { NdesAdminPage, NdesPageEncoding } from "./challenge-sources/ndes-page.js";
export { SmallstepChallengeSource } from "./challenge-sources/smallstep-challenge-source.js";
export type { SmallstepChallengeSourceOptions, SmallstepChallengeRequest } from "./challenge-sources/smallstep-challenge-source.js";
export {
  ChallengeSourceConfigError,
  NtlmMessageError,
  NdesPasswordCacheFullError,
  NdesPermissionError,
  NdesAuthError,
  NdesAuthSchemeError,
  NdesEmptyPageError,
  NdesUnknownPageError,
  NdesHttpStatusError,
  NdesTimeoutError,
  NdesTransportError,
  SmallstepAuthError,
  SmallstepHttpStatusError,
  SmallstepEmptyError,
  SmallstepInvalidChallengeError,
  SmallstepTimeoutError,
  SmallstepTransportError,
} from "./challenge-sources/errors.js";
export type { TransportFailure } from "./challenge-sources/errors.js";

export { ntlmHttpGet } from "./ntlm/node-http-transport.js";
export type { NtlmCredentials, NtlmHttpGetOptions, NtlmHttpResponse } from "./ntlm/node-http-transport.js";
export { encodeNegotiateMessage, decodeChallengeMessage, encodeAuthenticateMessage } from "./ntlm/messages.js";
export type { ChallengeMessage, AuthenticateFields } from "./ntlm/messages.js";
export { ntowfv2, computeNtlmv2Response, fileTime } from "./ntlm/ntlmv2.js";
export type { Ntlmv2Input, Ntlmv2Output } from "./ntlm/ntlmv2.js";
