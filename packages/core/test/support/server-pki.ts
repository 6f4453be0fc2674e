/**
 * Test PKI and HTTP helpers for the SCEP server conformance suites
 * (`rfc8894.server.*.test.ts`): CAs made with @peculiar/x509 that really
 * issue certificates and CRLs, enrolling devices (key pair, self-signed
 * signer, CSR), an issue hook that records what it was asked, and small
 * wrappers that drive `server.fetch` the way clients do on the wire.
 *
 * Everything runs against a fixed clock ({@link NOW}).
 */
import { x509 } from "../../src/lib/x509.js";
import * as der from "../../src/lib/der.js";
import {
  Certificate,
  CertificationRequest,
  LocalKey,
  MemoryTransactionStore,
  type TransactionStore,
  buildCertificate,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  endEntityExtensions,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  toBase64,
  type BuiltRequest,
  type CertRep,
  type IssueContext,
  type IssueHook,
  type IssueResult,
  type ChallengePolicy,
  type SanInput,
  type ScepEvent,
  type ScepProfile,
  type ScepServer,
} from "../../src/index.js";

/** The suites' clock. */
export const NOW = new Date("2026-01-15T12:00:00Z");
/** One day in milliseconds. */
export const DAY = 86_400_000;
/** Origin every request is sent to. */
export const ORIGIN = "http://scep.test";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

/** A CA that signs CertReps, decrypts requests, issues certificates and CRLs. */
export interface TestCa {
  keys: CryptoKeyPair;
  /** The CA certificate and key as a Signer/Decrypter. */
  key: LocalKey;
  cert: Certificate;
  /** Issues a certificate for the CSR's subject and key. */
  issue(csrDer: Uint8Array, options?: { serial?: string; serialOctets?: Uint8Array; notBefore?: Date; notAfter?: Date }): Promise<Certificate>;
  /** Makes a CRL revoking these serials (hex). */
  crl(revokedSerials?: readonly string[]): Promise<Uint8Array>;
  /** Makes an RA certificate (keyEncipherment + digitalSignature) signed by this CA. */
  ra(subject: string): Promise<LocalKey>;
}

let serialCounter = 0x1000;
/** A fresh positive serial number, hex. */
export function nextSerial(): string {
  serialCounter += 1;
  return serialCounter.toString(16).padStart(6, "0");
}

/**
 * The certificate re-signed with these serial content octets as they are: @peculiar/x509 puts a `00` before a
 * first octet of 0x80 or more, so a negative serial (content `80 01`, as old CAs and `openssl -set_serial -32767`
 * wrote it) is made by rewriting the TBSCertificate's serialNumber.
 */
export async function withSerialOctets(certificateDer: Uint8Array, serial: Uint8Array, key: CryptoKey): Promise<Certificate> {
  const [tbs, algorithm] = der.children(der.parse(certificateDer));
  const fields = der.children(tbs);
  const tbsDer = der.encode(der.seq(...fields.map((f, i) => (i === 1 ? der.tlv(der.Tag.INTEGER, serial) : der.raw(f)))));
  const signature = new Uint8Array(await crypto.subtle.sign(SIG, key, tbsDer as Uint8Array<ArrayBuffer>));
  return new Certificate(der.encode(der.seq(tbsDer, der.raw(algorithm), der.tlv(der.Tag.BIT_STRING, new Uint8Array([0]), signature))));
}

/** Creates an RSA-2048 CA named `CN=<name>`. */
export async function createTestCa(name: string): Promise<TestCa> {
  const keys = await generateRsaKeyPair(2048);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${name}, O=scep-sdk server tests`,
    notBefore: new Date(NOW.getTime() - 30 * DAY),
    notAfter: new Date(NOW.getTime() + 3650 * DAY),
    keys,
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const cert = new Certificate(new Uint8Array(caCert.rawData));
  const key = LocalKey.from(cert, keys.privateKey);
  return {
    keys,
    key,
    cert,
    async issue(csrDer, options = {}) {
      const csr = new x509.Pkcs10CertificateRequest(csrDer as Uint8Array<ArrayBuffer>);
      const issued = await x509.X509CertificateGenerator.create({
        serialNumber: options.serial ?? nextSerial(),
        subject: csr.subject,
        issuer: caCert.subject,
        notBefore: options.notBefore ?? NOW,
        notAfter: options.notAfter ?? new Date(NOW.getTime() + 365 * DAY),
        publicKey: csr.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: SIG,
        extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
      });
      if (options.serialOctets) return withSerialOctets(new Uint8Array(issued.rawData), options.serialOctets, keys.privateKey);
      return new Certificate(new Uint8Array(issued.rawData));
    },
    async crl(revokedSerials = []) {
      const crl = await x509.X509CrlGenerator.create({
        issuer: caCert.subject,
        thisUpdate: NOW,
        nextUpdate: new Date(NOW.getTime() + 7 * DAY),
        signingKey: keys.privateKey,
        signingAlgorithm: SIG,
        entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: NOW })),
      });
      return new Uint8Array(crl.rawData);
    },
    async ra(subject) {
      const raKeys = await generateRsaKeyPair(2048);
      const raCert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject,
        issuer: caCert.subject,
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + 365 * DAY),
        publicKey: raKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: SIG,
        extensions: [
          new x509.BasicConstraintsExtension(false),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        ],
      });
      return LocalKey.from(new Certificate(new Uint8Array(raCert.rawData)), raKeys.privateKey);
    },
  };
}

/** An enrolling device: key pair, self-signed signer and a CSR. */
export interface Device {
  keys: CryptoKeyPair;
  /** Self-signed signer certificate with the device key. */
  signer: LocalKey;
  /** The CSR, DER. */
  csr: Uint8Array;
  subject: string;
}

/** Creates a device (RSA key, default 2048 bits) with a CSR carrying `challengePassword` and `san`. */
export async function createDevice(options: { cn: string; challengePassword?: string; san?: SanInput; bits?: number; keys?: CryptoKeyPair }): Promise<Device> {
  const keys = options.keys ?? (await generateRsaKeyPair(options.bits ?? 2048));
  const subject = `CN=${options.cn}, O=scep-sdk server tests`;
  const signer = await createSelfSignedSigner({ keys, subject, now: NOW });
  const csr = await generateCsr({
    keys,
    subject,
    ...(options.challengePassword !== undefined ? { challengePassword: options.challengePassword } : {}),
    ...(options.san ? { san: options.san } : {}),
  });
  return { keys, signer, csr, subject };
}

/** A new CSR for an existing key pair (e.g. for a renewal with the same key). */
export async function csrFor(keys: CryptoKeyPair, cn: string, challengePassword?: string): Promise<Uint8Array> {
  return generateCsr({ keys, subject: `CN=${cn}, O=scep-sdk server tests`, ...(challengePassword !== undefined ? { challengePassword } : {}) });
}

/**
 * The profile fields every server test repeats: name "p" at /scep, the test CA signing and decrypting, and the
 * challenge: a static one with this password, or the policy given.
 */
export function baseProfile(ca: TestCa, challenge: string | ChallengePolicy): Pick<ScepProfile, "name" | "path" | "caCertificate" | "signer" | "challenge"> {
  return { name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: typeof challenge === "string" ? { type: "static", password: challenge } : challenge };
}

/** What {@link manualProfile} takes: any profile field to set, and what its issue hook records and answers. */
export type ManualProfileOverrides = Partial<Omit<ScepProfile, "challenge">> & {
  /** The static challenge's password, or the policy. */
  challenge: string | ChallengePolicy;
  /** Where the default issue hook records each call. */
  calls?: IssueContext[];
  /** The default issue hook's answer (undefined: it issues); default PENDING unless `ctx.approved`. */
  answer?: (ctx: IssueContext) => IssueResult | undefined;
};

/**
 * The "manual" profile of the PENDING tests (RFC 8894 §3.3.3): {@link baseProfile} named "manual", a
 * MemoryTransactionStore on the suites' clock, and an {@link issuingHook} that answers every first request PENDING
 * and issues once an operator approves (`approve` runs it again with `approved: true`). `overrides` sets any field.
 */
export function manualProfile(ca: TestCa, overrides: ManualProfileOverrides): ScepProfile {
  const { challenge, calls = [], answer = (ctx) => (ctx.approved ? undefined : { status: "PENDING" }), ...fields } = overrides;
  return {
    ...baseProfile(ca, challenge),
    name: "manual",
    transactions: new MemoryTransactionStore({ now: () => NOW }),
    issue: issuingHook(ca, calls, answer),
    ...fields,
  };
}

/**
 * PEM file bytes as `readFileSync(path)` gives them: each certificate's block after openssl's explanatory
 * `subject=` line (RFC 7468 §2 lets text stand outside the blocks). Several certificates make a bundle.
 */
export function pemFile(...certs: Certificate[]): Uint8Array {
  return new TextEncoder().encode(certs.map((c) => `subject=${c.subject}\n${c.toPem()}`).join(""));
}

/** An issue hook that issues with `ca` until `ctx.notAfterMax`, and records every call. */
export function issuingHook(ca: TestCa, calls: IssueContext[] = [], answer?: (ctx: IssueContext) => IssueResult | undefined): IssueHook {
  return async (ctx) => {
    calls.push(ctx);
    const forced = answer?.(ctx);
    if (forced) return forced;
    return { status: "SUCCESS", certificate: await ca.issue(ctx.csr.der, { notAfter: ctx.notAfterMax }) };
  };
}

/** POSTs a PKIOperation. `contentType: null` sends no content-type header. */
export async function postPki(server: ScepServer, path: string, body: Uint8Array, contentType: string | null = "application/x-pki-message"): Promise<Response> {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers["content-type"] = contentType;
  return server.fetch(new Request(`${ORIGIN}${path}?operation=PKIOperation`, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers }));
}

/** GETs a PKIOperation with an already encoded `message` value. */
export async function getPki(server: ScepServer, path: string, encodedMessage: string): Promise<Response> {
  return server.fetch(new Request(`${ORIGIN}${path}?operation=PKIOperation&message=${encodedMessage}`));
}

/** GETs `operation` (with an optional raw `message=` value). */
export async function getOp(server: ScepServer, path: string, operation: string, message?: string): Promise<Response> {
  return server.fetch(new Request(`${ORIGIN}${path}?operation=${operation}${message !== undefined ? `&message=${message}` : ""}`));
}

/** The base64 of `der`, standard alphabet with padding. */
export function b64(der: Uint8Array): string {
  return toBase64(der);
}

/** Reads a CertRep response: checks 200 and the content type, verifies it against the CA set and the request. */
export async function readReply(res: Response, built: BuiltRequest, options: { decrypter?: LocalKey; caCertificates?: readonly Certificate[] } = {}): Promise<CertRep> {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`);
  if (res.headers.get("content-type") !== "application/x-pki-message") throw new Error(`unexpected content-type ${res.headers.get("content-type")}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return readCertRep(body, {
    request: built,
    ...(options.decrypter ? { decrypter: options.decrypter } : {}),
    ...(options.caCertificates ? { caCertificates: options.caCertificates } : {}),
  });
}

/** An event sink that keeps every event. */
export function eventLog(): { events: ScepEvent[]; onEvent: (e: ScepEvent) => void } {
  const events: ScepEvent[] = [];
  return { events, onEvent: (e) => void events.push(e) };
}

/** What {@link staticScep} starts: the CA, a device holding the challenge, the issue calls and events recorded, the server and its profile. */
export interface StaticScep {
  ca: TestCa;
  device: Device;
  calls: IssueContext[];
  log: ReturnType<typeof eventLog>;
  server: ScepServer;
  /** The server's one profile (a suite spreads it into servers of its own). */
  profile: ScepProfile;
}

/**
 * A server with one profile at /scep: a new test CA named `caName` issuing to anyone with the static `challenge`,
 * on the suites' clock; `profile` adds to or replaces the profile's members. Suites call it at their top level
 * (`const { ca, device, … } = await staticScep(…)`), once per file.
 */
export async function staticScep(o: { caName: string; deviceCn: string; challenge: string; profile?: Partial<ScepProfile> }): Promise<StaticScep> {
  const ca = await createTestCa(o.caName);
  const device = await createDevice({ cn: o.deviceCn, challengePassword: o.challenge });
  const calls: IssueContext[] = [];
  const log = eventLog();
  const profile: ScepProfile = { path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: o.challenge }, issue: issuingHook(ca, calls), ...o.profile };
  const server = createScepServer({ profiles: [profile], onEvent: log.onEvent, now: () => NOW });
  return { ca, device, calls, log, server, profile };
}

/** Hex of bytes (compares Buffers and Uint8Arrays by content). */
export function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** A device's PKCSReq to `ca` at `path`, and the CertRep it reads (RFC 8894 §3.3.1). */
export async function enrollAt(server: ScepServer, path: string, ca: TestCa, device: Device): Promise<{ built: BuiltRequest; rep: CertRep }> {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  return { built, rep: await readReply(await postPki(server, path, built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] }) };
}

/** A device's CertPoll (CertPoll, RFC 8894 §3.3.3) for `transactionId` at `path`, and the CertRep it reads. */
export async function certPollAt(server: ScepServer, path: string, ca: TestCa, device: Device, transactionId: string): Promise<CertRep> {
  const built = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId, now: NOW });
  return readReply(await postPki(server, path, built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
}

/**
 * The issue hook the README documents: a certificate from `ca` for the CSR until `ctx.notAfterMax`, built at `clock()`;
 * with `pendingFirst`, PENDING until an operator approves. Records every call in `calls`.
 */
export function readmeIssueHook(ca: LocalKey, calls: IssueContext[], options: { clock?: () => Date; pendingFirst?: boolean; serialPrefix?: number } = {}): IssueHook {
  let serial = 0;
  return async (ctx) => {
    calls.push(ctx);
    if (options.pendingFirst && !ctx.approved) return { status: "PENDING" };
    const certificate = await buildCertificate({
      issuer: ca,
      subject: ctx.csr.subjectDer,
      publicKey: ctx.csr.spki,
      serialNumber: new Uint8Array([options.serialPrefix ?? 0x71, serial++ & 0xff]),
      now: (options.clock ?? (() => NOW))(),
      notAfter: ctx.notAfterMax,
      extensions: endEntityExtensions({ csr: ctx.csr, issuer: ca, allowSid: ctx.allowSid }),
    });
    return { status: "SUCCESS", certificate };
  };
}

/**
 * Writes the ISSUING claim a replica leaves behind when it dies mid-issue (`kill -9`), as `enrollment/claim.ts`
 * writes it (profile "p", `direct`, no signer certificate), leased `claimLeaseMs` from `at`: never renewed, never let
 * go. Resolves as `create` does (true: written).
 */
export function writeDeadClaim(transactions: TransactionStore, device: Device, transactionId: string, at: Date, claimLeaseMs: number): Promise<boolean> {
  return transactions.create({
    profile: "p",
    transactionId,
    status: "ISSUING",
    csr: device.csr,
    signerCertificate: new Uint8Array(0),
    renewal: false,
    createdAt: at,
    updatedAt: at,
    expiresAt: new Date(at.getTime() + claimLeaseMs),
    direct: true,
  });
}

/**
 * Makes `transactions` run `then(transactionId)` to its end right after the first write that ends a claim otherwise
 * than by a renewal (ISSUING→PENDING, ISSUED, or let go), before that write's caller goes on: "another request at
 * that very moment", the gap a claim's holder must not leave.
 */
export function afterClaimEnds(transactions: TransactionStore, then: (transactionId: string) => Promise<unknown>): void {
  const transition = transactions.transition.bind(transactions);
  let done = false;
  transactions.transition = async (profile, id, from, update, expect) => {
    const moved = await transition(profile, id, from, update, expect);
    if (!done && from === "ISSUING" && update.status !== "ISSUING") {
      done = true;
      await then(id);
    }
    return moved;
  };
}
