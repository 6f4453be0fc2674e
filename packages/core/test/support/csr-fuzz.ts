/**
 * Structure-aware fuzzing of the enrollment path: PKCSReqs whose outer
 * SignedData and EnvelopedData are valid (signed by a self-signed requester,
 * encrypted to the CA) around generated PKCS#10 requests: subjects of every
 * string type with odd, empty, long, non-ASCII and malformed values, requested
 * extensions (subjectAltName of every GeneralName type, keyUsage,
 * basicConstraints cA, unknown and critical ones, garbage values), RSA-1024/2048,
 * P-256/P-384 and Ed25519 keys, SHA-1 and SHA-256, and byte mutations of the
 * CertificationRequestInfo re-signed so they reach the parsers behind the
 * signature check. Mutating a whole message (the HTTP fuzzers) stops at the
 * signature; these reach the CSR reader, the policy, the challenge and the
 * issuing CA.
 *
 * Each answer must be a CertRep (SUCCESS or FAILURE) or a 4xx, never a 5xx or a
 * throw; a SUCCESS must carry a certificate OpenSSL parses, that verifies under
 * the CA and is not a CA certificate.
 */
import * as crypto from "node:crypto";
import { Certificate, InvalidArgumentError, LocalKey, buildCertificate, createSelfSignedSigner, endEntityExtensions, generateRsaKeyPair, readCertRep, type CertificationRequest, type IssueResult } from "../../src/index.js";
import * as der from "../../src/lib/der.js";
import { buildSignedData } from "../../src/cms/signed-data.js";
import { buildEnvelopedData } from "../../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../../src/message/attributes.js";

let challengeValue = "";
const bmp = (s: string): Uint8Array => Uint8Array.from([...s].flatMap((ch) => [0, ch.charCodeAt(0) & 0xff]));
let state = 1;
/** A small seeded generator (mulberry32-like), so a run is repeatable from its seed. */
const rnd = (): number => ((state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0), ((state >>> 0) % 1_000_000) / 1_000_000);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
const bytes = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = int(256); return b; };
const enc = new TextEncoder();

const STRING_TAGS = [0x13, 0x0c, 0x16, 0x14, 0x1e, 0x1c, 0x04, 0x02, 0x12, 0x1a, 0x33, 0x2c];
function strValue(): der.Der {
  const tag = pick(STRING_TAGS);
  const kind = int(8);
  let c: Uint8Array;
  if (kind === 0) c = new Uint8Array(0);
  else if (kind === 1) c = enc.encode("x".repeat(int(3) === 0 ? 5000 : 300));
  else if (kind === 2) c = bytes(int(40));
  else if (kind === 3) c = enc.encode("Zürich ✓ \u0000 name");
  else if (kind === 4) c = enc.encode("a,b+c=\"d\"\\e;<f>#");
  else c = enc.encode(pick(["device-1", "Test", "DE", "host.example.com", "*.example.com", " ", "O=Evil,CN=x"]));
  if (tag === 0x33 || tag === 0x2c) return der.tlv(tag, der.tlv(tag & 0x1f, c));
  return der.tlv(tag, c);
}
const ATTR_TYPES = ["2.5.4.3", "2.5.4.10", "2.5.4.11", "2.5.4.6", "2.5.4.5", "1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25", "0.9.2342.19200300.100.1.1", "2.5.4.7", "2.5.4.8", "1.2.3.4.5.6.7.8.9", "2.5.4.46"];
function name(): der.Der {
  const rdns: der.Der[] = [];
  const n = int(6);
  for (let i = 0; i < n; i++) {
    const atvs: der.Der[] = [];
    const m = 1 + (int(5) === 0 ? int(3) : 0);
    for (let j = 0; j < m; j++) atvs.push(der.seq(der.oid(pick(ATTR_TYPES)), strValue()));
    rdns.push(int(10) === 0 ? der.tlv(0x31, ...atvs) : der.setOf(atvs));
  }
  return der.seq(...rdns);
}
function generalName(): der.Der {
  switch (int(10)) {
    case 0: return der.tlv(0x82, enc.encode(pick(["device.example.com", "", "*.x", "a".repeat(300), "bad name", "\u00ff"])));
    case 1: return der.tlv(0x81, enc.encode(pick(["a@b.c", "", "@", "x".repeat(400)])));
    case 2: return der.tlv(0x87, bytes(pick([0, 4, 16, 5, 8, 32])));
    case 3: return der.tlv(0x86, enc.encode(pick(["https://x/y", "", "urn:uuid:1234", "::"])));
    case 4: return der.tlv(0xa0, der.oid("1.3.6.1.4.1.311.20.2.3"), der.ctx(0, der.utf8("user@corp")));
    case 5: return der.tlv(0xa4, name());
    case 6: return der.tlv(0x88, der.contentOf(der.oid("1.2.3.4")));
    case 7: return der.tlv(0xa0, bytes(int(10)));
    case 8: return der.tlv(0x82, enc.encode("device-" + int(100) + ".example.com"));
    default: return der.tlv(pick([0x80, 0x83, 0x85, 0xa3, 0xa5, 0x89]), bytes(int(8)));
  }
}
const EXT = ["2.5.29.17", "2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.14", "2.5.29.35", "2.5.29.31", "1.3.6.1.5.5.7.1.1", "2.5.29.32", "1.2.3.4", "2.5.29.30", "1.3.6.1.4.1.311.20.2"];
function extValue(id: string): Uint8Array {
  const garbage = int(6) === 0;
  if (garbage) return bytes(int(30));
  switch (id) {
    case "2.5.29.17": { const g: der.Der[] = []; const n = int(4) === 0 ? int(300) : 1 + int(4); for (let i = 0; i < n; i++) g.push(generalName()); return der.encode(der.seq(...g)); }
    case "2.5.29.15": return der.encode(der.tlv(0x03, new Uint8Array([int(8), int(256), ...(int(2) ? [int(256)] : [])])));
    case "2.5.29.37": return der.encode(der.seq(...Array.from({ length: int(4) }, () => der.oid(pick(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "2.5.29.37.0", "1.3.6.1.5.5.7.3.9", "1.2.3"])))));
    case "2.5.29.19": return der.encode(der.seq(...(int(2) ? [der.tlv(0x01, new Uint8Array([pick([0, 0xff, 1])]))] : []), ...(int(2) ? [der.int(int(5))] : [])));
    case "2.5.29.14": return der.encode(der.tlv(0x04, bytes(int(40))));
    default: return der.encode(der.seq(der.oid("1.2.3"), der.tlv(0x04, bytes(int(20)))));
  }
}
function extensions(): der.Der {
  const exts: der.Der[] = [];
  const n = int(5);
  for (let i = 0; i < n; i++) {
    const id = pick(EXT);
    const crit = int(4) === 0 ? [der.tlv(0x01, new Uint8Array([pick([0xff, 0, 1])]))] : [];
    exts.push(der.seq(der.oid(id), ...crit, der.tlv(0x04, extValue(id))));
  }
  return der.seq(...exts);
}
function attributes(): der.Der[] {
  const out: der.Der[] = [];
  const chal = int(10);
  if (chal < 7) out.push(der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([der.tlv(pick([0x13, 0x0c, 0x16, 0x14, 0x1e]), chal === 6 && int(2) ? bmp(challengeValue) : enc.encode(challengeValue))])));
  else if (chal === 7) out.push(der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([der.utf8(challengeValue), der.utf8("other")])));
  else if (chal === 8) out.push(der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([strValue()])));
  if (int(3)) out.push(der.seq(der.oid("1.2.840.113549.1.9.14"), der.setOf(int(8) === 0 ? [extensions(), extensions()] : [extensions()])));
  if (int(8) === 0) out.push(der.seq(der.oid(pick(["1.2.840.113549.1.9.14", "1.2.840.113549.1.9.7", "1.3.6.1.4.1.311.13.2.3", "1.2.3.4"])), der.setOf([strValue()])));
  return out;
}
function mutate(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b);
  const n = 1 + int(3);
  for (let i = 0; i < n; i++) {
    const at = int(out.length);
    const op = int(4);
    if (op === 0) out[at] = out[at]! ^ (1 << int(8));
    else if (op === 1) out[at] = pick([0, 0x80, 0x81, 0x82, 0xff, 0x7f, 0x30, 0x31, 0x05]);
    else if (op === 2) out[at] = (out[at]! + pick([1, -1, 2, -2])) & 0xff;
    else out[at] = int(256);
  }
  return out;
}

interface KeyKind { name: string; priv: crypto.KeyObject; spki: Uint8Array; sigAlg: der.Der; digest: string | null }
function mk(name: string, kp: crypto.KeyPairKeyObjectResult, sigAlg: der.Der, digest: string | null): KeyKind {
  return { name, priv: kp.privateKey, spki: new Uint8Array(kp.publicKey.export({ type: "spki", format: "der" })), sigAlg, digest };
}
/** Subject keys and their signature AlgorithmIdentifiers. */
const keys: KeyKind[] = [
  mk("rsa2048", crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }), der.algId("1.2.840.113549.1.1.11", der.NULL), "sha256"),
  mk("rsa2048-sha1", crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }), der.algId("1.2.840.113549.1.1.5", der.NULL), "sha1"),
  mk("rsa1024", crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }), der.algId("1.2.840.113549.1.1.11", der.NULL), "sha256"),
  mk("p256", crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }), der.algId("1.2.840.10045.4.3.2"), "sha256"),
  mk("p384", crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }), der.algId("1.2.840.10045.4.3.3"), "sha384"),
  mk("ed25519", crypto.generateKeyPairSync("ed25519"), der.algId("1.3.101.112"), null),
];


/**
 * An issue hook for a fuzzed server: a one-day certificate from this package's builder (`endEntityExtensions` +
 * `buildCertificate`, as the example servers' embedded CA issues), signed by `issuer`, with a random positive
 * serial; a CSR the builder refuses (`ERR_INVALID_ARGUMENT`) is FAILURE badRequest.
 */
export function builderIssueHook(issuer: LocalKey, now: () => Date = () => new Date()): (ctx: { csr: CertificationRequest }) => Promise<IssueResult> {
  return async ({ csr }) => {
    try {
      const extensions = endEntityExtensions({ csr, issuer });
      const serialNumber = Uint8Array.from([0x40, ...crypto.randomBytes(8)]);
      const notBefore = now();
      return { status: "SUCCESS", certificate: await buildCertificate({ issuer, subject: csr.subjectDer, publicKey: csr.spki, serialNumber, notBefore, notAfter: new Date(notBefore.getTime() + 86_400_000), extensions }) };
    } catch (e) {
      if (e instanceof InvalidArgumentError) return { status: "FAILURE", failInfo: "badRequest", failInfoText: e.message };
      throw e;
    }
  };
}

/** What {@link runCsrFuzz} found. */
export interface CsrFuzzReport {
  inputs: number;
  /** Answers by kind: `SUCCESS`, `FAILURE:<failInfo>`, `http<status>`. */
  tally: Record<string, number>;
  /** One line per input that broke a rule (with the CSR in base64 to replay it). */
  bad: string[];
}

/** What a fuzz input exercises: the CSR of a PKCSReq, the inner content of CertPoll/GetCert/GetCRL, or the signer certificate. */
export type CsrFuzzMode = "csr" | "inner" | "signer";

/** A serial number's content octets: typical, zero, negative, non-minimal, over 20 octets. */
function serialOctets(): Uint8Array {
  switch (int(6)) {
    case 0: return new Uint8Array(0);
    case 1: return Uint8Array.from([0x80, 0x01]);
    case 2: return Uint8Array.from([0x00, 0x00, 0x01]);
    case 3: return bytes(21 + int(20));
    case 4: return Uint8Array.from([0]);
    default: return Uint8Array.from([1 + int(127), ...bytes(int(16))]);
  }
}

/** The content of a CertPoll (IssuerAndSubject), GetCert or GetCRL (IssuerAndSerialNumber): generated, of the CA or not, mutated or random. */
function innerContent(ca: Certificate, type: number): Uint8Array {
  const issuer = int(3) ? ca.subjectDer : der.encode(name());
  const second = type === 20 ? der.encode(name()) : der.encode(der.tlv(0x02, serialOctets()));
  const pick4 = int(8);
  if (pick4 === 0) return bytes(int(80));
  if (pick4 === 1) return der.encode(der.seq(issuer));
  const v = der.encode(der.seq(issuer, second));
  return pick4 === 2 ? mutate(v) : v;
}

/**
 * A generated certificate (DER) of `publicSpki`: generated or fixed subject, serial (zero, negative, over 20
 * octets), validity (expired, not yet valid, GeneralizedTime), signature algorithm (one unknown) and extensions
 * (malformed subjectAltName, keyUsage, basicConstraints, garbage values), one in five with its TBSCertificate
 * byte-mutated; signed with `signingKey`. Self-issued unless `issuer` (a Name, DER) is given. Draws from the seeded
 * generator ({@link seedCsrFuzz}).
 */
export function fuzzCertificateDer(publicSpki: Uint8Array, signingKey: crypto.KeyObject, issuer?: Uint8Array): Uint8Array {
  const alg = der.algId(pick(["1.2.840.113549.1.1.11", "1.2.840.113549.1.1.5", "1.2.840.113549.1.1.11", "1.2.3.4.5"]), der.NULL);
  const t = (d: number): der.Der => (int(6) === 0 ? der.tlv(0x18, enc.encode("2051" + "0101000000Z")) : der.time(new Date(Date.now() + d)));
  const validity = der.seq(t(-86_400_000 * (int(3) === 0 ? -2 : 1)), t(86_400_000 * (int(4) === 0 ? -1 : 30)));
  const subject = int(3) ? der.encode(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8("requester"))]))) : der.encode(name());
  const exts = int(2) ? [der.ctx(3, extensions())] : [];
  const tbs0 = der.encode(der.seq(der.ctx(0, der.int(2)), der.tlv(0x02, serialOctets()), alg, issuer ?? subject, validity, subject, publicSpki, ...exts));
  const tbs = int(5) === 0 ? mutate(tbs0) : tbs0;
  return der.encode(der.seq(tbs, alg, der.tlv(0x03, Uint8Array.from([0, ...crypto.sign("sha256", tbs, signingKey)]))));
}

/** A self-signed certificate of the requester's key ({@link fuzzCertificateDer}), or undefined when the SDK refuses to hold it. */
function signerCertificate(publicSpki: Uint8Array, priv: crypto.KeyObject, keys: CryptoKeyPair): LocalKey | undefined {
  const cert = fuzzCertificateDer(publicSpki, priv);
  try {
    return LocalKey.from(cert, keys.privateKey);
  } catch {
    return undefined;
  }
}

/** Seeds the generator every fuzz input is drawn from, so a run is repeatable from its seed (0 counts as 1). */
export function seedCsrFuzz(seed: number): void {
  state = seed | 0 || 1;
}

/**
 * A generated PKCS#10 request (DER) with challengePassword `challenge` (sometimes missing, doubled, BMPString or
 * another string), generated subject and requested extensions, an RSA, EC or Ed25519 key (RSA-2048 when `rsaOnly`),
 * its CertificationRequestInfo byte-mutated one time in four when `mutable`, always validly signed. Draws from the
 * seeded generator ({@link seedCsrFuzz}).
 */
export function fuzzCsrDer(challenge: string, options: { mutable?: boolean; rsaOnly?: boolean } = {}): Uint8Array {
  challengeValue = challenge;
  const k = options.rsaOnly || int(5) ? keys[0]! : pick(keys);
  // One in three a subject within RFC 5280 Appendix A's types and bounds, so the CA is reached and issues; the
  // generated ones mostly break some bound (a 300-character CN, a 5-letter C), refused by the CSR policy.
  const subject = int(3) === 0 ? der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8(pick(["device-1", "host.example.com", "Zürich device"])))])) : name();
  const info0 = der.encode(der.seq(der.int(0), subject, k.spki, der.tlv(0xa0, ...attributes())));
  const info = options.mutable && int(4) === 0 ? mutate(info0) : info0;
  const signature = crypto.sign(k.digest, info, k.priv);
  return der.encode(der.seq(info, k.sigAlg, der.tlv(0x03, Uint8Array.from([0, ...signature]))));
}

/**
 * Sends `count` generated requests to `fetch` (a web-standard handler at `url`, or at `url(i)` for input `i`: a
 * one-time URL per input, as a proxy's) and checks every answer; each input
 * is one of `modes` (default all): a PKCSReq around a generated CSR (challenge `challenge`), a CertPoll/GetCert/GetCRL
 * around generated content, or a PKCSReq signed under a generated certificate. Repeatable from `seed`.
 */
export async function runCsrFuzz(o: { fetch: (request: Request) => Promise<Response>; url: string | ((i: number) => Promise<string>); ca: Certificate; challenge: string; count: number; seed: number; modes?: readonly CsrFuzzMode[] }): Promise<CsrFuzzReport> {
  seedCsrFuzz(o.seed);
  const modes = o.modes ?? ["csr", "inner", "signer"];
  const requesterKeys = await generateRsaKeyPair(2048);
  const requesterPriv = crypto.KeyObject.from(requesterKeys.privateKey);
  const requesterSpki = new Uint8Array(crypto.KeyObject.from(requesterKeys.publicKey).export({ type: "spki", format: "der" }));
  const requester = await createSelfSignedSigner({ keys: requesterKeys, subject: "CN=csr-fuzz requester" });
  const caX509 = new crypto.X509Certificate(o.ca.der);
  const tally: Record<string, number> = {};
  const bad: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const mode = pick(modes);
    let messageType = 19;
    let content: Uint8Array;
    let signer: LocalKey | undefined = requester;
    if (mode === "inner") {
      messageType = pick([20, 21, 22]);
      content = innerContent(o.ca, messageType);
    } else {
      content = fuzzCsrDer(o.challenge, { mutable: mode === "csr", rsaOnly: mode === "signer" });
      if (mode === "signer") signer = signerCertificate(requesterSpki, requesterPriv, requesterKeys);
      if (int(10) === 0) messageType = 17;
    }
    if (!signer) {
      tally.skipped = (tally.skipped ?? 0) + 1;
      continue;
    }
    const replay = `mode=${mode} type=${messageType} content=${Buffer.from(content).toString("base64")} signer=${Buffer.from(signer.certificate.der).toString("base64")}`;
    const transactionId = crypto.randomBytes(8).toString("hex");
    const senderNonce = crypto.randomBytes(16);
    let verdict: string;
    try {
      const envelope = buildEnvelopedData({ content, recipient: o.ca, cipher: "aes256" });
      const message = await buildSignedData({
        content: envelope,
        certificates: [signer.certificate.der],
        signer,
        digest: "sha256",
        attributes: encodeScepAttributes({ messageType, transactionId, senderNonce, signingTime: new Date() }),
      });
      const url = typeof o.url === "string" ? o.url : await o.url(i);
      const res = await o.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: message as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status >= 500) {
        verdict = `http${res.status}`;
        bad.push(`#${i} HTTP ${res.status} ${Buffer.from(body).toString().slice(0, 120)} ${replay}`);
      } else if (res.status !== 200) verdict = `http${res.status}`;
      else {
        const rep = await readCertRep(body, { decrypter: signer, caCertificates: [o.ca], request: { transactionId, senderNonce } });
        verdict = `${mode}:${rep.status === "FAILURE" ? `FAILURE:${rep.failInfo ?? "?"}` : rep.status}`;
        if (rep.status === "SUCCESS" && messageType !== 22 && messageType !== 20) {
          const issued = rep.certificate;
          if (!issued) bad.push(`#${i} SUCCESS without a certificate ${replay}`);
          else {
            let x: crypto.X509Certificate | undefined;
            try {
              x = new crypto.X509Certificate(issued.der);
            } catch (e) {
              bad.push(`#${i} SUCCESS with a certificate OpenSSL cannot parse (${(e as Error).message}) ${replay}`);
            }
            if (x && x.ca) bad.push(`#${i} SUCCESS with a CA certificate ${replay}`);
            if (x && !x.verify(caX509.publicKey)) bad.push(`#${i} SUCCESS with a certificate the CA key does not verify ${replay}`);
          }
        }
      }
    } catch (e) {
      verdict = "threw";
      bad.push(`#${i} threw ${(e as Error).stack?.split("\n").slice(0, 3).join(" | ")} ${replay}`);
    }
    tally[verdict] = (tally[verdict] ?? 0) + 1;
  }
  return { inputs: o.count, tally, bad };
}
