/**
 * `@scep-examples/embedded-ca`: the embedded default CA of the example SCEP
 * servers. A small, file-backed CA: created in a data directory on first start
 * (or loaded from your PEM files), it issues end-entity certificates from
 * PKCS#10 requests with crash-safe, never-reused serial numbers and an
 * append-only issuance index.
 *
 * Node-only (it owns files); not meant for production PKI.
 *
 * @example
 * ```ts
 * import { openFileCa } from "@scep-examples/embedded-ca";
 *
 * const ca = await openFileCa({ dataDir: "./data" });
 * const { certificatePem, serialNumber } = await ca.issue({ csrDer });
 * ```
 *
 * @module
 */
export { openFileCa } from "./open-file-ca.js";
export { FileRevocationStore, REVOCATIONS_FILE, CRL_NUMBERS_FILE } from "./revocation-file.js";
export type { FileRevocationStoreOptions } from "./revocation-file.js";
export { processRuns, processStartTime } from "./process-identity.js";
export type {
  CertificatePage,
  FileCa,
  IssueOptions,
  IssuedCertificate,
  IssuedCertificateRecord,
  ListPageOptions,
  OpenFileCaOptions,
  RevocationsRestoredEvent,
  SignedCrl,
} from "./open-file-ca.js";
export type { CertificateExtension } from "./issue-certificate.js";
export type { CaKeyAlgorithm } from "./ca-material.js";
export { certificateFingerprintSha256 } from "./ca-material.js";
export { EmbeddedCaError, EMBEDDED_CA_ERROR_CODES, KEY_COMPROMISED_TEXT, isEmbeddedCaError } from "./errors.js";
export type { EmbeddedCaErrorCode } from "./errors.js";
