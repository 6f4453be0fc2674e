/**
 * @scep/core: the RFC 8894 (SCEP) message codec, client and server building
 * blocks.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, decodePkiMessage, buildCertificate, endEntityExtensions, buildCertRep } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const req = await decodePkiMessage(readFileSync("request.p7"), { decrypters: [ca] }); // a PKCSReq
 * const csr = req.csr!;
 * const issued = await buildCertificate({ issuer: ca, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: crypto.getRandomValues(new Uint8Array(16)), notAfter: new Date(Date.now() + 365 * 86_400_000), extensions: endEntityExtensions({ csr, issuer: ca }) });
 * const reply = await buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued] });
 * ```
 *
 * @module
 */
export {
  ScepError,
  Asn1Error,
  MessageMalformedError,
  UnsupportedAlgorithmError,
  AlgorithmNotAllowedError,
  SignatureInvalidError,
  DigestMismatchError,
  DecryptError,
  NoRecipientError,
  CsrInvalidError,
  MessageTypeError,
  KeyError,
  KeyPassphraseError,
  KeyUnavailableError,
  CertRepError,
  TransportError,
  CaPinMismatchError,
  InvalidArgumentError,
  TransactionStateError,
  IssueHookError,
  StoreUnavailableError,
  WebhookTimeoutError,
  WebhookTransportError,
  WebhookResponseError,
  BodyAlreadyReadError,
  CaNotValidError,
  CrlNumberExhaustedError,
  isScepError,
  isStoreUnavailable,
} from "./errors.js";
export type { FailInfo, ScepErrorCode, PartialRequest, ScepErrorOptions, TransportOperation } from "./errors.js";

export { CIPHERS, DIGEST_OID, DIGEST_LENGTH } from "./algorithms.js";
export { LIMITS } from "./limits.js";
export { redactUrl, redactUrlsInText } from "./redact-url.js";
export type { ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme, SignatureAlgorithm, CipherInfo } from "./algorithms.js";
export { resolvePolicy } from "./policy.js";
export type { AlgorithmPolicy, ResolvedPolicy } from "./policy.js";

export { LocalKey, privateKeyToPkcs8 } from "./keys/key.js";
export { KeyWorkerPool } from "./keys/key-worker-pool.js";
export type { KeyWorkerPoolOptions } from "./keys/key-worker-pool.js";
export type { Signer, Decrypter, DecryptParams, PrivateKeyInput, LocalKeyOptions } from "./keys/key.js";

export { Certificate } from "./x509/certificate.js";
export { CertificationRequest } from "./x509/certification-request.js";
export { addValidity } from "./x509/enrollment-name-value-pairs.js";
export type { EnrollmentNameValuePair, RequestedValidity, ValidityUnit } from "./x509/enrollment-name-value-pairs.js";
export type { CertificationRequestSummary } from "./x509/certification-request.js";
export { publicKeyThumbprint } from "./x509/key-thumbprint.js";
export { buildCertificate, endEntityExtensions } from "./x509/certificate-builder.js";
export type { BuildCertificateOptions, EndEntityExtensionsOptions } from "./x509/certificate-builder.js";
export { parseSignatureAlgorithm } from "./x509/algorithm-identifier.js";
export { certificateName, formatName, nameProblem } from "./x509/name.js";
export { sameName } from "./x509/name-match.js";
export { sortCertificateBundle } from "./x509/certificate-bundle.js";
export type { SortedCertificateBundle } from "./x509/certificate-bundle.js";
export type { Extension, SubjectAltNames, KeyUsage } from "./x509/extensions.js";

export { MessageType, PkiStatus, messageTypeName } from "./message/types.js";
export type { MessageTypeName } from "./message/types.js";
export { decodePkiMessage, peekCertRepStatus, peekMessageType } from "./message/pki-message.js";
export { verifyRequestSigner } from "./message/request-signer.js";
export type { VerifiedRequestSigner } from "./message/request-signer.js";
export type { PkiRequest, DecodePkiMessageOptions, IssuerAndSubject, IssuerAndSerialNumber } from "./message/pki-message.js";
export { buildCertRep } from "./message/cert-rep.js";
export type { CertRepOptions, CertRepRequest } from "./message/cert-rep.js";
export { buildCaCaps, parseCaCaps, CA_CAPS_CONTENT_TYPE } from "./message/ca-caps.js";
export type { CaCaps, CaCapability } from "./message/ca-caps.js";
export {
  buildGetCaCertResponse,
  parseGetCaCertResponse,
  buildGetNextCaCertResponse,
  parseGetNextCaCertResponse,
  CA_CERT_CONTENT_TYPE,
  CA_RA_CERT_CONTENT_TYPE,
  NEXT_CA_CERT_CONTENT_TYPE,
  PKI_MESSAGE_CONTENT_TYPE,
} from "./message/ca-cert.js";
export type { EncodedReply } from "./message/ca-cert.js";
export { selectRecipient, selectSigner, selectIssuerName, lowestCa, isCaInSet } from "./message/certificate-roles.js";

export { buildPkcsReq, buildCertPoll, buildGetCert, buildGetCrl } from "./client/requests.js";
export type { RequestOptions, BuiltRequest, PkcsReqOptions, CertPollOptions, IssuerAndSerialOptions } from "./client/requests.js";
export { readCertRep } from "./client/read-cert-rep.js";
export type { ReadCertRepOptions, CertRep } from "./client/read-cert-rep.js";
export { generateCsr, generateRsaKeyPair, createSelfSignedSigner, exportPrivateKeyPem, importKeyPairPem } from "./client/generate.js";
export type { GenerateCsrOptions, SanInput } from "./client/generate.js";
export { ScepClient } from "./client/scep-client.js";
export { encodeQueryValue } from "./client/query-value.js";
export { scepRequestUrl } from "./client/request-url.js";
export type { ScepQuery } from "./client/request-url.js";
export { caFingerprint, normalizeFingerprint, compileCaPin, checkCaPin } from "./client/ca-pin.js";
export type { CaPinOptions, CaPin } from "./client/ca-pin.js";
export type { ScepClientOptions, EnrollOptions } from "./client/scep-client.js";

export { createScepServer } from "./server/scep-server.js";
export type { ScepServer, ScepServerOptions, EventSink, ScepProfile, IssueHook, IssueContext, IssueResult, ApproveOptions, RejectOptions, ConfirmHook, ConfirmContext, ConfirmResult, UndeliveredCertificate } from "./server/scep-server.js";
export { checkFetchHandler, clientAddressOf } from "./server/handler.js";
export type { ConnectionInfo, FetchHandler, HttpRequestParts, HttpResponseParts, HeaderFields } from "./server/handler.js";
export { rawQueryParam } from "./server/query.js";
export { isScepPathSuffix } from "./server/routing.js";
export { MemoryChallengeStore, newChallenge } from "./server/challenge.js";
export type { ChallengePolicy, CustomChallengePolicy, IssueFailureContext, IssueFailureHook, ChallengeStore, ChallengeContext, ChallengeVerdict, MemoryChallengeStoreOptions, ChallengeStatus, ChallengeStatusReporter } from "./server/challenge.js";
export { webhookChallenge, webhookSignature, verifyWebhookSignature } from "./server/webhook-challenge.js";
export type { WebhookChallengeOptions, WebhookChallengeRequest, WebhookNotification, WebhookCertificateRequest, WebhookCertificate, WebhookOperation, WebhookError } from "./server/webhook-challenge.js";
export { MemoryTransactionStore, checkTransactionListLimit } from "./server/transaction-store.js";
export { MemoryCounterStore } from "./server/counter-store.js";
export type { CounterStore, ProfileCounters } from "./server/counter-store.js";
export type { Transaction, TransactionStatus, TransactionUpdate, TransactionStore, MemoryTransactionStoreOptions } from "./server/transaction-store.js";
export {
  MemoryRevocationStore,
  REVOCATION_REASONS,
  KEY_COMPROMISE_UPGRADABLE_REASONS,
  checkRevocationReason,
  upgradesRevocationReason,
  sortRevocations,
  revisionBase,
  checkCrlNumberFloor,
  crlNumberExhausted,
  MAX_CRL_NUMBER,
} from "./server/revocation-store.js";
export { normalizeSerialNumber, serialNumberOctets } from "./x509/serial-number.js";
export type { RevocationStore, RevocationReason, RevocationVerdict, RevokedCertificate, RevokeResult, MemoryRevocationStoreOptions } from "./server/revocation-store.js";
export { checkCsrPolicy } from "./server/csr-policy.js";
export type { CsrPolicy, SanType } from "./server/csr-policy.js";
export type { ScepEvent, ScepOperation, ScepOutcome, ProfileStats } from "./server/events.js";
export type { ProfileInfo, ProfileSnapshot, CertificateSummary, ChallengeSummary, TrustAnchorSummary } from "./server/snapshot.js";
export { ActivityLog } from "./server/activity-log.js";
export { createScepMetrics, SCEP_METRICS, SCEP_METER_NAME } from "./server/otel-metrics.js";
export type { ScepMetrics, ScepMetricsOptions, ProfileInfoSource } from "./server/otel-metrics.js";
export type { ActivityEntry, ActivityFilter, ActivityInput, ActivityKind, ActivityLogOptions } from "./server/activity-log.js";

export { toPem, fromPem, toBase64, toBase64Url, fromBase64Lenient, isPrintableString } from "./encoding.js";
export { ignoreRejection } from "./ignore-rejection.js";
export { MAX_RECORD_MS, MAX_SIZE_BYTES, MAX_TIMER_MS, RECORD_MS, SIZE_BYTES, TIMER_MS, booleanOption, numberOption } from "./number-option.js";
export type { NumberOptionRange } from "./number-option.js";
export { BODY_ALREADY_READ_TEXT, POST_BODY_NOT_DER_TEXT, pkiMessageFromGetParam, pkiMessageFromPostBody, readBody } from "./server/read-request.js";
export type { BodyRead, GetMessageRefusal } from "./server/read-request.js";
