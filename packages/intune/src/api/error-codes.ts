/**
 * The `code` values of Intune's ScepActions answers (Microsoft's
 * IntuneScepServiceException.ErrorCode), each with the reason label a
 * refusal carries and the SCEP failInfo (RFC 8894 §3.2.1.4.5) it maps to.
 *
 * @module
 */
import type { FailInfo } from "@scep/core";

/**
 * Every documented code Intune's validateRequest can answer.
 *
 * @group Intune API
 */
export type IntuneResultCode =
  | "Success"
  | "Unknown"
  | "CertificateRequestDecodingFailed"
  | "ChallengePasswordMissing"
  | "ChallengeDeserializationError"
  | "ChallengeDecryptionError"
  | "ChallengeDecodingError"
  | "ChallengeInvalidTimestamp"
  | "ChallengeExpired"
  | "SubjectNameMissing"
  | "SubjectNameMismatch"
  | "SubjectAltNameMissing"
  | "SubjectAltNameMismatch"
  | "KeyUsageMismatch"
  | "KeyLengthMismatch"
  | "EnhancedKeyUsageMissing"
  | "EnhancedKeyUsageMismatch"
  | "AadKeyIdentifierListMissing"
  | "RegisteredKeyMismatch"
  | "SigningCertThumbprintMismatch"
  | "ScepProfileNoLongerTargetedToTheClient"
  | "SignatureValidationFailed"
  | "BadCertificateRequestIdInChallenge"
  | "BadDeviceIdInChallenge"
  | "BadUserIdInChallenge";

/**
 * failInfo per refusal code; the reason label of a refusal is the code itself
 * (so events and stats show `ChallengeExpired`, `SubjectNameMismatch`, …).
 * The challenge's cryptography (decryption, decoding, signature, signing
 * certificate) is badMessageCheck; its time is badTime; the rest, about what
 * the CSR asks for, is badRequest.
 *
 * @group Intune API
 */
export const INTUNE_FAIL_INFO: Readonly<Record<Exclude<IntuneResultCode, "Success">, FailInfo>> = {
  Unknown: "badRequest",
  CertificateRequestDecodingFailed: "badRequest",
  ChallengePasswordMissing: "badRequest",
  ChallengeDeserializationError: "badMessageCheck",
  ChallengeDecryptionError: "badMessageCheck",
  ChallengeDecodingError: "badMessageCheck",
  ChallengeInvalidTimestamp: "badTime",
  ChallengeExpired: "badTime",
  SubjectNameMissing: "badRequest",
  SubjectNameMismatch: "badRequest",
  SubjectAltNameMissing: "badRequest",
  SubjectAltNameMismatch: "badRequest",
  KeyUsageMismatch: "badRequest",
  KeyLengthMismatch: "badRequest",
  EnhancedKeyUsageMissing: "badRequest",
  EnhancedKeyUsageMismatch: "badRequest",
  AadKeyIdentifierListMissing: "badRequest",
  RegisteredKeyMismatch: "badRequest",
  SigningCertThumbprintMismatch: "badMessageCheck",
  ScepProfileNoLongerTargetedToTheClient: "badRequest",
  SignatureValidationFailed: "badMessageCheck",
  BadCertificateRequestIdInChallenge: "badRequest",
  BadDeviceIdInChallenge: "badRequest",
  BadUserIdInChallenge: "badRequest",
};

/**
 * Reason label of an answer whose `code` is not one of the documented ones (refused: only Success issues).
 *
 * @group Intune API
 */
export const UNKNOWN_CODE_REASON = "intune_unknown_code";
/**
 * Reason label when Intune could not be asked (down, slow, garbage, auth or discovery failure): never issued.
 *
 * @group Intune API
 */
export const UNAVAILABLE_REASON = "intune_unavailable";
