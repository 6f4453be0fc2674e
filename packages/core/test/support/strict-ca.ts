/**
 * A two-level PKI (root → issuing CA → NDES-style RAs) and a small SCEP
 * responder built only from @scep/core's public codec pieces, stricter than
 * our own server: it answers PENDING to a PKCSReq and, to a CertPoll, FAILURE
 * badCertId unless `IssuerAndSubject.issuer` is exactly the issuing CA's name
 * (RFC 8894 §3.3.3), as CAs that look transactions up by issuer do. It serves
 * GetCACert in the order it is given and signs CertReps with the key it is
 * given, with or without its certificate (NDES leaves it out).
 */
import { x509 } from "../../src/lib/x509.js";
import {
  Certificate,
  LocalKey,
  buildCaCaps,
  buildCertRep,
  buildGetCaCertResponse,
  decodePkiMessage,
  generateRsaKeyPair,
  type PkiRequest,
} from "../../src/index.js";
import { NOW } from "./pki.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const DAY = 86_400_000;
const { KeyUsageFlags: KU } = x509;

/** Root, issuing CA, a signing RA (digitalSignature only) and an encryption RA (keyEncipherment only). */
export interface TwoLevelPki {
  root: LocalKey;
  issuing: LocalKey;
  raSign: LocalKey;
  raEncrypt: LocalKey;
  /** Issues an end-entity certificate for a CSR from the issuing CA. */
  issue(csr: Uint8Array): Promise<Certificate>;
}

let serial = 0x1000;

async function certificate(options: { subject: string; issuer?: { name: string; key: CryptoKey }; keys: CryptoKeyPair; ca: boolean; usages: number }): Promise<Certificate> {
  const common = {
    serialNumber: (serial++).toString(16),
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 365 * DAY),
    signingAlgorithm: SIG,
    extensions: [new x509.BasicConstraintsExtension(options.ca, undefined, true), new x509.KeyUsagesExtension(options.usages, true)],
  };
  const cert = options.issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject: options.subject, issuer: options.issuer.name, publicKey: options.keys.publicKey, signingKey: options.issuer.key })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: options.subject, keys: options.keys });
  return new Certificate(new Uint8Array(cert.rawData));
}

/** Builds the PKI (five RSA-2048 keys). */
export async function createTwoLevelPki(): Promise<TwoLevelPki> {
  const make = async (subject: string, ca: boolean, usages: number, issuer?: { name: string; keys: CryptoKeyPair }): Promise<{ key: LocalKey; keys: CryptoKeyPair; name: string }> => {
    const keys = await generateRsaKeyPair(2048);
    const cert = await certificate({ subject, keys, ca, usages, ...(issuer ? { issuer: { name: issuer.name, key: issuer.keys.privateKey } } : {}) });
    return { key: LocalKey.from(cert, keys.privateKey), keys, name: subject };
  };
  // Both CAs carry keyEncipherment, so key usage alone cannot tell them apart.
  const caUsages = KU.keyCertSign | KU.cRLSign | KU.digitalSignature | KU.keyEncipherment;
  const root = await make("CN=Strict Root CA, O=scep-sdk tests", true, caUsages);
  const issuing = await make("CN=Strict Issuing CA, O=scep-sdk tests", true, caUsages, root);
  const raSign = await make("CN=Strict RA signing, O=scep-sdk tests", false, KU.digitalSignature, issuing);
  const raEncrypt = await make("CN=Strict RA encryption, O=scep-sdk tests", false, KU.keyEncipherment, issuing);
  let eeSerial = 0x5000;
  const issue = async (csrDer: Uint8Array): Promise<Certificate> => {
    const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(csrDer));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (eeSerial++).toString(16),
      subject: csr.subject,
      issuer: issuing.name,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 30 * DAY),
      publicKey: csr.publicKey,
      signingKey: issuing.keys.privateKey,
      signingAlgorithm: SIG,
      extensions: [new x509.KeyUsagesExtension(KU.digitalSignature | KU.keyEncipherment, true)],
    });
    return new Certificate(new Uint8Array(cert.rawData));
  };
  return { root: root.key, issuing: issuing.key, raSign: raSign.key, raEncrypt: raEncrypt.key, issue };
}

/** Options of {@link strictScepFetch}. */
export interface StrictScepOptions {
  pki: TwoLevelPki;
  /** The GetCACert set, in the order served. */
  caCertificates: readonly Certificate[];
  /** The keys requests may be encrypted to (a request to any other certificate cannot be opened: HTTP 400). */
  decrypters: readonly LocalKey[];
  /** Signs CertReps. */
  signer: LocalKey;
  /** Put the signer's certificate in CertReps (NDES does not). */
  includeSignerCertificate: boolean;
}

/** What the responder saw. */
export interface StrictScepLog {
  requests: PkiRequest[];
  /** One line per PKIOperation: `PKCSReq → PENDING`, `CertPoll → FAILURE badCertId`, … */
  outcomes: string[];
}

/** A fetch that answers like the strict CA described above. */
export function strictScepFetch(options: StrictScepOptions): { fetch: typeof fetch; log: StrictScepLog } {
  const log: StrictScepLog = { requests: [], outcomes: [] };
  const csrs = new Map<string, Uint8Array>();
  const issuerName = options.pki.issuing.certificate.subjectDer;
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const op = url.searchParams.get("operation");
    if (op === "GetCACaps") return new Response(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"]), { headers: { "content-type": "text/plain" } });
    if (op === "GetCACert") {
      const reply = await buildGetCaCertResponse(options.caCertificates);
      return new Response(reply.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": reply.contentType } });
    }
    let req: PkiRequest;
    try {
      req = await decodePkiMessage(new Uint8Array(await request.arrayBuffer()), { decrypters: [...options.decrypters] });
    } catch (e) {
      log.outcomes.push(`undecodable: ${(e as Error).message}`);
      return new Response("cannot decode", { status: 400 });
    }
    log.requests.push(req);
    let status: "SUCCESS" | "PENDING" | "FAILURE" = "PENDING";
    let certificates: Certificate[] = [];
    if (req.csr) csrs.set(req.transactionId, req.csr.der);
    if (req.messageTypeName === "CertPoll") {
      const csr = csrs.get(req.transactionId);
      const matches = req.issuerAndSubject !== undefined && Buffer.from(req.issuerAndSubject.issuer).equals(Buffer.from(issuerName));
      if (!csr || !matches) status = "FAILURE";
      else {
        status = "SUCCESS";
        // Chain first, the issued certificate last: the issued one is found by key, not by position.
        certificates = [options.pki.issuing.certificate, await options.pki.issue(csr)];
      }
    }
    log.outcomes.push(`${req.messageTypeName} → ${status}${status === "FAILURE" ? " badCertId" : ""}`);
    const body = await buildCertRep({
      request: req,
      signer: options.signer,
      status,
      ...(status === "FAILURE" ? { failInfo: "badCertId" as const, failInfoText: "unknown issuer or transaction" } : {}),
      certificates,
      includeSignerCertificate: options.includeSignerCertificate,
    });
    return new Response(body as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/x-pki-message" } });
  };
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => handler(new Request(input, init))) as typeof fetch;
  return { fetch: f, log };
}
