/**
 * Object identifiers used by SCEP, CMS and PKCS#10, as dotted strings.
 *
 * @module
 */

// CMS content types (RFC 5652 §4–§6): pkcs-7 1.2.840.113549.1.7
/** id-data: 1.2.840.113549.1.7.1 @group Codec */
export const id_data = "1.2.840.113549.1.7.1";
/** id-signedData: 1.2.840.113549.1.7.2 @group Codec */
export const id_signedData = "1.2.840.113549.1.7.2";
/** id-envelopedData: 1.2.840.113549.1.7.3 @group Codec */
export const id_envelopedData = "1.2.840.113549.1.7.3";

// CMS signed attributes (RFC 5652 §11): pkcs-9 1.2.840.113549.1.9
/** id-contentType: 1.2.840.113549.1.9.3 @group Codec */
export const id_contentType = "1.2.840.113549.1.9.3";
/** id-messageDigest: 1.2.840.113549.1.9.4 @group Codec */
export const id_messageDigest = "1.2.840.113549.1.9.4";
/** id-signingTime: 1.2.840.113549.1.9.5 @group Codec */
export const id_signingTime = "1.2.840.113549.1.9.5";
/** pkcs-9 challengePassword: 1.2.840.113549.1.9.7 @group Codec */
export const id_challengePassword = "1.2.840.113549.1.9.7";
/** pkcs-9 extensionRequest: 1.2.840.113549.1.9.14 @group Codec */
export const id_extensionRequest = "1.2.840.113549.1.9.14";

// SCEP attributes (RFC 8894 §3.2.1): id-VeriSign 2.16.840.1.113733 → pki(1) attributes(9)
/** id-messageType: 2.16.840.1.113733.1.9.2 @group Codec */
export const id_messageType = "2.16.840.1.113733.1.9.2";
/** id-pkiStatus: 2.16.840.1.113733.1.9.3 @group Codec */
export const id_pkiStatus = "2.16.840.1.113733.1.9.3";
/** id-failInfo: 2.16.840.1.113733.1.9.4 @group Codec */
export const id_failInfo = "2.16.840.1.113733.1.9.4";
/** id-senderNonce: 2.16.840.1.113733.1.9.5 @group Codec */
export const id_senderNonce = "2.16.840.1.113733.1.9.5";
/** id-recipientNonce: 2.16.840.1.113733.1.9.6 @group Codec */
export const id_recipientNonce = "2.16.840.1.113733.1.9.6";
/** id-transactionID: 2.16.840.1.113733.1.9.7 @group Codec */
export const id_transactionID = "2.16.840.1.113733.1.9.7";
/** id-scep-failInfoText: 1.3.6.1.5.5.7.24.1 (RFC 8894 §3.2.1.4.5) @group Codec */
export const id_scep_failInfoText = "1.3.6.1.5.5.7.24.1";
/**
 * id-scep: 1.3.6.1.5.5.7.24 (id-pkix 24, RFC 8894 Appendix A), the arc of id-scep-failInfoText. Smallstep step-ca
 * (0.19, its `oidSCEPfailInfoText`) sends its failInfoText under this arc itself; read as a failInfoText only when
 * the real one is absent. @group Codec
 */
export const id_scep = "1.3.6.1.5.5.7.24";

// Digests
/** id-md5: 1.2.840.113549.2.5 @group Codec */
export const id_md5 = "1.2.840.113549.2.5";
/** id-sha1: 1.3.14.3.2.26 @group Codec */
export const id_sha1 = "1.3.14.3.2.26";
/** id-sha224: 2.16.840.1.101.3.4.2.4 @group Codec */
export const id_sha224 = "2.16.840.1.101.3.4.2.4";
/** id-sha256: 2.16.840.1.101.3.4.2.1 @group Codec */
export const id_sha256 = "2.16.840.1.101.3.4.2.1";
/** id-sha384: 2.16.840.1.101.3.4.2.2 @group Codec */
export const id_sha384 = "2.16.840.1.101.3.4.2.2";
/** id-sha512: 2.16.840.1.101.3.4.2.3 @group Codec */
export const id_sha512 = "2.16.840.1.101.3.4.2.3";

// RSA (RFC 8017): pkcs-1 1.2.840.113549.1.1
/** rsaEncryption: 1.2.840.113549.1.1.1 @group Codec */
export const id_rsaEncryption = "1.2.840.113549.1.1.1";
/** md5WithRSAEncryption: 1.2.840.113549.1.1.4 @group Codec */
export const id_md5WithRSAEncryption = "1.2.840.113549.1.1.4";
/** sha1WithRSAEncryption: 1.2.840.113549.1.1.5 @group Codec */
export const id_sha1WithRSAEncryption = "1.2.840.113549.1.1.5";
/** id-RSAES-OAEP: 1.2.840.113549.1.1.7 @group Codec */
export const id_RSAES_OAEP = "1.2.840.113549.1.1.7";
/** id-mgf1: 1.2.840.113549.1.1.8 @group Codec */
export const id_mgf1 = "1.2.840.113549.1.1.8";
/** id-RSASSA-PSS: 1.2.840.113549.1.1.10 @group Codec */
export const id_RSASSA_PSS = "1.2.840.113549.1.1.10";
/** sha256WithRSAEncryption: 1.2.840.113549.1.1.11 @group Codec */
export const id_sha256WithRSAEncryption = "1.2.840.113549.1.1.11";
/** sha384WithRSAEncryption: 1.2.840.113549.1.1.12 @group Codec */
export const id_sha384WithRSAEncryption = "1.2.840.113549.1.1.12";
/** sha512WithRSAEncryption: 1.2.840.113549.1.1.13 @group Codec */
export const id_sha512WithRSAEncryption = "1.2.840.113549.1.1.13";
/** sha224WithRSAEncryption: 1.2.840.113549.1.1.14 @group Codec */
export const id_sha224WithRSAEncryption = "1.2.840.113549.1.1.14";

// EC (RFC 5480, RFC 5758): ansi-X9-62 1.2.840.10045
/** id-ecPublicKey: 1.2.840.10045.2.1 @group Codec */
export const id_ecPublicKey = "1.2.840.10045.2.1";
/** ecdsa-with-SHA1: 1.2.840.10045.4.1 @group Codec */
export const id_ecdsaWithSHA1 = "1.2.840.10045.4.1";
/** ecdsa-with-SHA224: 1.2.840.10045.4.3.1 @group Codec */
export const id_ecdsaWithSHA224 = "1.2.840.10045.4.3.1";
/** ecdsa-with-SHA256: 1.2.840.10045.4.3.2 @group Codec */
export const id_ecdsaWithSHA256 = "1.2.840.10045.4.3.2";
/** ecdsa-with-SHA384: 1.2.840.10045.4.3.3 @group Codec */
export const id_ecdsaWithSHA384 = "1.2.840.10045.4.3.3";
/** ecdsa-with-SHA512: 1.2.840.10045.4.3.4 @group Codec */
export const id_ecdsaWithSHA512 = "1.2.840.10045.4.3.4";

// Content encryption
/** desCBC: 1.3.14.3.2.7 (OIW) @group Codec */
export const id_desCBC = "1.3.14.3.2.7";
/** des-ede3-cbc: 1.2.840.113549.3.7 @group Codec */
export const id_des_ede3_cbc = "1.2.840.113549.3.7";
/** id-aes128-CBC: 2.16.840.1.101.3.4.1.2 @group Codec */
export const id_aes128_CBC = "2.16.840.1.101.3.4.1.2";
/** id-aes192-CBC: 2.16.840.1.101.3.4.1.22 @group Codec */
export const id_aes192_CBC = "2.16.840.1.101.3.4.1.22";
/** id-aes256-CBC: 2.16.840.1.101.3.4.1.42 @group Codec */
export const id_aes256_CBC = "2.16.840.1.101.3.4.1.42";

// X.501 attribute types (RFC 5280 Appendix A.1): id-at 2.5.4
/** id-at-commonName (RFC 5280 Appendix A.1): 2.5.4.3 @group Codec */
export const id_at_commonName = "2.5.4.3";

// X.509 extensions (RFC 5280 §4.2): id-ce 2.5.29
/** id-ce-subjectKeyIdentifier: 2.5.29.14 @group Codec */
export const id_ce_subjectKeyIdentifier = "2.5.29.14";
/** id-ce-keyUsage: 2.5.29.15 @group Codec */
export const id_ce_keyUsage = "2.5.29.15";
/** id-ce-subjectAltName: 2.5.29.17 @group Codec */
export const id_ce_subjectAltName = "2.5.29.17";
/** id-ce-basicConstraints: 2.5.29.19 @group Codec */
export const id_ce_basicConstraints = "2.5.29.19";
/** id-ce-authorityKeyIdentifier: 2.5.29.35 @group Codec */
export const id_ce_authorityKeyIdentifier = "2.5.29.35";
/** id-ce-extKeyUsage: 2.5.29.37 @group Codec */
export const id_ce_extKeyUsage = "2.5.29.37";

// Extended key purposes (RFC 5280 §4.2.1.12): id-kp 1.3.6.1.5.5.7.3
/** id-kp-clientAuth: 1.3.6.1.5.5.7.3.2 @group Codec */
export const id_kp_clientAuth = "1.3.6.1.5.5.7.3.2";
/** id-ms-upn (UPN otherName): 1.3.6.1.4.1.311.20.2.3 @group Codec */
export const id_ms_upn = "1.3.6.1.4.1.311.20.2.3";
/** szOID_CERT_EXTENSIONS (Microsoft's older spelling of a PKCS#10 extensionRequest attribute, read as one by OpenSSL too): 1.3.6.1.4.1.311.2.1.14 @group Codec */
export const id_ms_cert_extensions = "1.3.6.1.4.1.311.2.1.14";
/** szOID_ENROLLMENT_NAME_VALUE_PAIR (MS-WCCE §2.2.2.7.10, a PKCS#10 attribute): 1.3.6.1.4.1.311.13.2.1 @group Codec */
export const id_ms_enrollment_name_value_pair = "1.3.6.1.4.1.311.13.2.1";
/** szOID_NTDS_CA_SECURITY_EXT (a certificate's Windows SID, strong mapping KB5014754): 1.3.6.1.4.1.311.25.2 @group Codec */
export const id_ms_ntds_ca_security_ext = "1.3.6.1.4.1.311.25.2";
/** szOID_NTDS_OBJECTSID (the otherName holding that SID): 1.3.6.1.4.1.311.25.2.1 @group Codec */
export const id_ms_ntds_objectsid = "1.3.6.1.4.1.311.25.2.1";
