/**
 * `@scep/core/internal`: the HTTP and abort helpers the sibling `@scep/*` packages share with @scep/core (@scep/proxy's
 * upstream calls, @scep/intune's calls to Microsoft) and the GetCACert check @scep/proxy makes with @scep/core's own
 * parser, so that each is written once. **Not public API:** no semver
 * promise, it may change in any release; use it only from the `@scep/*` packages of the same release. Not in the API
 * docs.
 *
 * @module
 */
export { abortable, abortableFetch, callerAbort } from "../lib/abort.js";
export { readCapped } from "../lib/read-capped.js";
export { postFollowingRedirects, POST_REDIRECT_STATUSES, MAX_POST_REDIRECTS } from "../lib/post-redirect.js";
export { parseRetryAfter, retryAfterDelaySeconds, MAX_RETRY_AFTER_SECONDS } from "../lib/retry-after.js";
export { signedDataHoldsNoCertificate } from "../message/ca-cert.js";
export { isFailInfo } from "../message/types.js";
export { capsTextIsMarkup } from "../message/ca-caps.js";
