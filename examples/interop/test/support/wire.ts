/**
 * What a real client and the example server exchanged, read by the OpenSSL
 * referee (never by our own codec): a recording proxy sits between them, and
 * each PKIOperation is opened with `openssl cms`.
 *
 * @module
 */
import {
  opensslCmsDecrypt,
  opensslCmsPrint,
  opensslCmsVerify,
  PeerError,
  pkiMessageOf,
  runOpenssl,
  withTempDir,
  type RecordedExchange,
} from "../../../../test-support/peers";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** A pkiMessage as `openssl cms -print` shows it. */
export interface WireMessage {
  /** SCEP messageType (19 PKCSReq, 17 RenewalReq, 20 CertPoll, 3 CertRep). */
  messageType: number | undefined;
  transactionId: string | undefined;
  /** pkiStatus of a CertRep (0 SUCCESS, 2 FAILURE, 3 PENDING). */
  pkiStatus: number | undefined;
  /** failInfo of a FAILURE CertRep. */
  failInfo: number | undefined;
  /** SignerInfo digestAlgorithm, OpenSSL's short name (`sha1`, `sha256`, …). */
  digest: string | undefined;
  /** SignerInfo signatureAlgorithm (`rsaEncryption`, `sha256WithRSAEncryption`, `rsassaPss`, …). */
  signatureAlgorithm: string | undefined;
  /** issuer of the SignerInfo's issuerAndSerialNumber, as OpenSSL prints it. */
  signerIssuer: string | undefined;
  /** Content-encryption algorithm of the inner envelope (`des-cbc`, `des-ede3-cbc`, `aes-128-cbc`, …). */
  cipher: string | undefined;
  /** The encapsulated EnvelopedData (empty for PENDING/FAILURE CertReps). */
  envelope: Uint8Array;
}

const SCEP_ATTR = (arc: number): RegExp =>
  new RegExp(`\\(2\\.16\\.840\\.1\\.113733\\.1\\.9\\.${arc}\\)\\s*\\n\\s*set:\\s*\\n\\s*PRINTABLESTRING:(\\S+)`);

/**
 * The encapsulated content of a SignedData after OpenSSL checked its signature
 * (not the chain). A PENDING or FAILURE CertRep carries no eContent at all
 * (RFC 8894 §3.3.2 omits the pkcsPKIEnvelope), which `cms -verify` refuses
 * with "no content"; its signature is then checked over empty content.
 */
async function signedContent(der: Uint8Array): Promise<Uint8Array> {
  try {
    return await opensslCmsVerify(der, undefined, { noverify: true });
  } catch (error) {
    if (!(error instanceof PeerError) || !/no content/.test(error.result?.stderr ?? "")) throw error;
  }
  await withTempDir(async (dir) => {
    writeFileSync(join(dir, "msg.der"), der);
    writeFileSync(join(dir, "empty"), new Uint8Array());
    await runOpenssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", join(dir, "msg.der"), "-content", join(dir, "empty"), "-noverify", "-purpose", "any", "-out", join(dir, "out")]);
  });
  return new Uint8Array();
}

/** Reads a DER pkiMessage with `openssl cms` (signature checked, chain not). */
export async function readWireMessage(der: Uint8Array): Promise<WireMessage> {
  const signed = await opensslCmsPrint(der);
  const envelope = await signedContent(der);
  const signerInfo = signed.slice(signed.indexOf("signerInfos:"));
  const num = (m: RegExpExecArray | null): number | undefined => (m?.[1] === undefined ? undefined : Number(m[1]));
  let cipher: string | undefined;
  if (envelope.length > 0) {
    const printed = await opensslCmsPrint(envelope);
    cipher = /contentEncryptionAlgorithm:\s*\n\s*algorithm: (\S+)/.exec(printed)?.[1];
  }
  return {
    messageType: num(SCEP_ATTR(2).exec(signed)),
    transactionId: SCEP_ATTR(7).exec(signed)?.[1],
    pkiStatus: num(SCEP_ATTR(3).exec(signed)),
    failInfo: num(SCEP_ATTR(4).exec(signed)),
    digest: /digestAlgorithm:\s*\n\s*algorithm: (\S+)/.exec(signerInfo)?.[1],
    signatureAlgorithm: /signatureAlgorithm:\s*\n\s*algorithm: (\S+)/.exec(signerInfo)?.[1],
    signerIssuer: /d\.issuerAndSerialNumber:\s*\n\s*issuer: (.+)/.exec(signerInfo)?.[1]?.trim(),
    cipher,
    envelope,
  };
}

/** One PKIOperation round trip: the request and the CertRep, both read by OpenSSL. */
export interface WireExchange {
  method: string;
  request: WireMessage;
  reply: WireMessage;
  /** HTTP content type of the reply. */
  replyContentType: string | undefined;
}

/** Reads a recorded PKIOperation exchange. */
export async function readExchange(exchange: RecordedExchange): Promise<WireExchange> {
  return {
    method: exchange.method,
    request: await readWireMessage(pkiMessageOf(exchange)),
    reply: await readWireMessage(exchange.responseBody),
    replyContentType: exchange.responseHeaders["content-type"],
  };
}

/** The PKCS#10 request inside a PKCSReq/RenewalReq, decrypted with the CA key (OpenSSL). */
export async function csrOf(request: WireMessage, caKeyPem: string): Promise<Uint8Array> {
  return opensslCmsDecrypt(request.envelope, caKeyPem);
}

/** What OpenSSL reads from a PKCS#10 request. */
export interface CsrFacts {
  /** Subject in RFC 2253 form, e.g. `CN=device,O=org,C=US`. */
  subject: string;
  /** subjectAltName as `openssl req -text` prints it (`DNS:a, IP Address:…`), if requested. */
  subjectAltName: string | undefined;
  /** Whether a challengePassword attribute is present. */
  hasChallengePassword: boolean;
}

/** `openssl req` on a DER CSR. */
export async function csrFacts(csrDer: Uint8Array): Promise<CsrFacts> {
  return withTempDir(async (dir) => {
    const path = join(dir, "req.der");
    writeFileSync(path, csrDer);
    const base = ["req", "-inform", "DER", "-in", path, "-noout"];
    const subject = (await runOpenssl([...base, "-subject", "-nameopt", "RFC2253"])).stdout.trim().replace(/^subject=/, "");
    const text = (await runOpenssl([...base, "-text", "-nameopt", "RFC2253"])).stdout;
    return {
      subject,
      subjectAltName: /X509v3 Subject Alternative Name:.*\n\s*(.+)/.exec(text)?.[1]?.trim(),
      hasChallengePassword: /challengePassword/.test(text),
    };
  });
}
