/**
 * Field reports about the serial number of a request's signer certificate (RFC 5280 §4.1.2.2), rebuilt against our
 * server over loopback HTTP. The signer certificates are made by the `openssl` CLI (`req -x509 -set_serial`), which
 * writes the INTEGER as the reports show it; each request is a real PKCSReq, CertPoll or GetCert from our builders.
 *
 * RFC 8894 §3.3.2 encrypts the reply to the requester's certificate, and RFC 5652 §6.2.1 names that recipient by
 * IssuerAndSerialNumber: the CertRep's recipient must carry the signer's serial content octets exactly as the client
 * wrote them, or the client (which looks its certificate up by issuer and serial) finds no recipient.
 *
 * - sscep's self-signed signer takes its serial from the 32 ASCII characters of the transaction ID (certnanny/sscep
 *   `new_selfsigned`, src/sceputils.c): up to 0.6 through `c2i_ASN1_INTEGER(…, 32)`, a 32-octet INTEGER of ASCII hex
 *   digits; since 0.7 through `read_serial`, whose `snprintf` into a 34-byte buffer keeps 31 of them and a NUL. RFC
 *   5280 §4.1.2.2 bounds conforming CAs at 20 octets; a relying party still meets longer ones.
 * - A 20-octet random serial with its top bit set is 21 content octets (`00 80 …`), which linters and clients
 *   disagree on (zmap/zlint#502, https://github.com/zmap/zlint/issues/502); nghttpx aborted formatting a long serial
 *   (nghttp2/nghttp2#1287, https://github.com/nghttp2/nghttp2/pull/1287).
 * - A Cisco ASA's self-signed certificate has a 4-octet serial with its top bit set, a negative INTEGER (Chrome shows
 *   2257982035; Go refused it: "x509: negative serial number", FiloSottile/Heartbleed#67,
 *   https://github.com/FiloSottile/Heartbleed/issues/67). Go 1.23 refuses every negative serial by default
 *   (golang/go#71606, https://github.com/golang/go/issues/71606), and with it the Go SCEP servers. A negative 20-octet
 *   serial made a formatter crash ("can't convert negative int to unsigned", kellyjonbrazil/jc#444,
 *   https://github.com/kellyjonbrazil/jc/issues/444). RFC 5280 §4.1.2.2: "Certificate users SHOULD be prepared to
 *   gracefully handle" negative or zero serials.
 *
 * For each: the PKCSReq is answered SUCCESS over HTTP 200 (never a 5xx), the CertRep's KeyTransRecipientInfo names
 * the signer by its issuer and its serial octets as sent, our client and `openssl cms -decrypt -recip` open it, and the
 * event and activity-log entry print the serial as `openssl x509 -serial` does (the issue hook gives the issued
 * certificate the same serial octets, as old CAs issued such serials). A request that waits (RFC 8894 §3.3.3) keeps
 * the signer certificate in its transaction record, and the CertPoll (IssuerAndSubject) and GetCert
 * (IssuerAndSerialNumber, §3.3.4) signed by it are answered the same way. A GetCert for these serial octets under
 * another issuer, or for an over-long serial to a hook keyed by `normalizeSerialNumber` (which refuses more than 20
 * octets, as the profile's `getCert` docs say), is FAILURE badCertId, never a 5xx.
 */
import { createHash } from "node:crypto";
import type { Server } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derToPem, runOpenssl, withTempDir } from "../../../test-support/peers";
import {
  ActivityLog,
  Certificate,
  CertificationRequest,
  LocalKey,
  MemoryRevocationStore,
  MemoryTransactionStore,
  ScepClient,
  buildCertPoll,
  buildGetCert,
  buildPkcsReq,
  createScepServer,
  generateCsr,
  generateRsaKeyPair,
  normalizeSerialNumber,
  readCertRep,
  type BuiltRequest,
  type IssueContext,
  type ScepEvent,
  type ScepServer,
} from "../src/index.js";
import * as der from "../src/lib/der.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import { close, listen, serveOverHttp } from "./support/adapter-fixture.js";
import { DAY, createTestCa, hex, issuingHook, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "signer-serial";
let ca: TestCa;
let scep: ScepServer;
let http: Server;
let base: string;
const events: ScepEvent[] = [];
const activity = new ActivityLog();
/** Every certificate the issue hook made, for the GetCert hook to find by issuer and serial octets. */
const issued: Certificate[] = [];
/** The renewing profile's revocations, read as the README's recipe reads them. */
const revocations = new MemoryRevocationStore();

/** Issues the CSR's certificate with the signer's serial octets (an old CA's serial), and keeps it for GetCert. */
async function issueLikeSigner(ctx: IssueContext) {
  const certificate = await ca.issue(ctx.csr.der, { serialOctets: ctx.signerCertificate.serialNumber, notAfter: ctx.notAfterMax });
  issued.push(certificate);
  return { status: "SUCCESS" as const, certificate };
}

beforeAll(async () => {
  ca = await createTestCa("Field Signer Serial CA");
  const common = { caCertificate: ca.cert, signer: ca.key, challenge: { type: "static" as const, password: CHALLENGE } };
  scep = createScepServer({
    profiles: [
      {
        ...common,
        name: "direct",
        path: "/scep",
        issue: issueLikeSigner,
        // Found by the bytes of the issuer Name and of the serial's DER content octets (profile.ts `getCert`).
        getCert: async ({ issuer, serialNumber }) => issued.find((c) => der.equalBytes(c.issuerDer, issuer) && der.equalBytes(c.serialNumber, serialNumber)),
      },
      {
        ...common,
        name: "indexed",
        path: "/indexed",
        issue: issueLikeSigner,
        // profile.ts's recipe: an index keyed by normalizeSerialNumber, which refuses a serial over 20 octets (RFC 5280
        // §4.1.2.2; 21 with a sign octet): such a serial is in no such index, and a query for one is answered undefined
        // (badCertId), never a throw.
        getCert: async ({ issuer, serialNumber }) => {
          let key: string;
          try {
            key = normalizeSerialNumber(serialNumber);
          } catch {
            return undefined;
          }
          return issued.find((c) => der.equalBytes(c.issuerDer, issuer) && c.serialNumber.length <= 21 && normalizeSerialNumber(c.serialNumber) === key);
        },
      },
      {
        ...common,
        name: "renewing",
        path: "/renew",
        issue: issuingHook(ca),
        // The @scep/core README's recipe ("Revocations").
        isRevoked: (certificate) => revocations.get(certificate.serialNumberHex),
      },
      {
        ...common,
        name: "manual",
        path: "/manual",
        transactions: new MemoryTransactionStore(),
        issue: async (ctx) => (ctx.approved ? issueLikeSigner(ctx) : { status: "PENDING" }),
      },
    ],
    onEvent: (e) => {
      events.push(e);
      activity.sink(e);
    },
  });
  http = serveOverHttp(scep);
  base = await listen(http);
});

afterAll(async () => {
  await close(http);
});

/** A requester as the field clients make it: an RSA key, a self-signed signer certificate the `openssl` CLI wrote. */
interface Requester {
  keys: CryptoKeyPair;
  signer: LocalKey;
  csr: Uint8Array;
  /** `openssl x509 -noout -serial` of the signer certificate, without `serial=`. */
  opensslSerial: string;
  /** The signer certificate and key as PEM, for `openssl cms -decrypt`. */
  certPem: string;
  keyPem: string;
}

/** `openssl req -x509 -set_serial <serial>` over a fresh key: the signer certificate's serial as OpenSSL encodes it. */
async function requester(cn: string, serial: (keys: CryptoKeyPair) => Promise<string>): Promise<Requester> {
  const keys = await generateRsaKeyPair(2048);
  const keyPem = derToPem(new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)), "PRIVATE KEY");
  const subject = `CN=${cn}, O=scep-sdk field tests`;
  const setSerial = await serial(keys);
  const { certDer, opensslSerial } = await withTempDir(async (dir) => {
    writeFileSync(join(dir, "k.pem"), keyPem);
    await runOpenssl(["req", "-x509", "-new", "-key", "k.pem", "-subj", `/CN=${cn}/O=scep-sdk field tests`, "-days", "30", "-sha256", "-set_serial", setSerial, "-outform", "DER", "-out", "c.der"], { cwd: dir });
    const printed = (await runOpenssl(["x509", "-inform", "DER", "-in", "c.der", "-noout", "-serial"], { cwd: dir })).stdout.trim();
    return { certDer: new Uint8Array(readFileSync(join(dir, "c.der"))), opensslSerial: printed.replace(/^serial=/, "") };
  });
  const cert = new Certificate(certDer);
  return {
    keys,
    signer: LocalKey.from(cert, keys.privateKey),
    csr: await generateCsr({ keys, subject, challengePassword: CHALLENGE }),
    opensslSerial,
    certPem: cert.toPem(),
    keyPem,
  };
}

/** sscep's transaction ID: the MD5 of the public key's DER (i2d_PUBKEY), upper-case hex (`key_fingerprint`). */
async function sscepTransactionId(keys: CryptoKeyPair): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  return createHash("md5").update(spki).digest("hex").toUpperCase();
}

const ascii = (s: string): string => Buffer.from(s, "latin1").toString("hex");

interface Case {
  name: string;
  cn: string;
  /** The `-set_serial` argument for this key. */
  setSerial: (keys: CryptoKeyPair) => Promise<string>;
  /** The INTEGER's content octets the certificate must hold, hex. */
  octets: (keys: CryptoKeyPair) => Promise<string>;
  /** What `openssl x509 -serial` prints (for the cases where it does not follow from the octets alone). */
  printed?: string;
  /** Longer than RFC 5280 §4.1.2.2's 20 octets (21 with a sign octet): normalizeSerialNumber refuses it. */
  overlong?: true;
}

const CASES: Case[] = [
  {
    name: "sscep ≤ 0.6: the 32 ASCII characters of the transaction ID (c2i_ASN1_INTEGER, 32 octets)",
    cn: "sscep-c2i",
    setSerial: async (k) => "0x" + ascii(await sscepTransactionId(k)),
    octets: async (k) => ascii(await sscepTransactionId(k)),
    overlong: true,
  },
  {
    name: "sscep ≥ 0.7: 31 characters of the transaction ID and snprintf's NUL (read_serial, 32 octets)",
    cn: "sscep-read-serial",
    setSerial: async (k) => "0x" + ascii((await sscepTransactionId(k)).slice(0, 31)) + "00",
    octets: async (k) => ascii((await sscepTransactionId(k)).slice(0, 31)) + "00",
    overlong: true,
  },
  {
    name: "20 octets with the top bit set: 21 content octets, 00 80 … (zlint#502)",
    cn: "twenty-one-octets",
    setSerial: async () => "0x80" + "a5".repeat(18) + "01",
    octets: async () => "0080" + "a5".repeat(18) + "01",
    printed: "80" + "A5".repeat(18) + "01",
  },
  {
    name: "a Cisco ASA's self-signed certificate: 86 96 12 53, negative (Chrome's 2257982035; Heartbleed#67)",
    cn: "cisco-asa",
    setSerial: async () => "-2036985261",
    octets: async () => "86961253",
    printed: "-7969EDAD",
  },
  {
    name: "a negative serial with ff first: ff 01 (−255)",
    cn: "negative-ff",
    setSerial: async () => "-255",
    octets: async () => "ff01",
    printed: "-FF",
  },
  {
    name: "a negative 20-octet serial (jc#444's (Negative)43:21:98:76:dc:ba:00:00:…)",
    cn: "negative-twenty",
    setSerial: async () => "-0x43219876dcba000043219876dcba000011110000",
    octets: async () => "bcde67892345ffffbcde67892345ffffeeef0000",
    printed: "-43219876DCBA000043219876DCBA000011110000",
  },
  {
    name: "zero (RFC 5280 §4.1.2.2's non-conforming zero)",
    cn: "zero",
    setSerial: async () => "0",
    octets: async () => "00",
    printed: "00",
  },
];

const client = (path: string): ScepClient => new ScepClient({ url: `${base}${path}` });

/** The reply read by our client, and for a SUCCESS its envelope and that envelope's RecipientInfos (RFC 5652 §6.2.1). */
async function send(path: string, signer: LocalKey, built: BuiltRequest) {
  const body = await client(path).pkiOperation(built.der); // a TransportError (with the HTTP status) on any 4xx/5xx
  const rep = await readCertRep(body, { request: built, decrypter: signer, caCertificates: [ca.cert] });
  // PENDING and FAILURE carry no pkcsPKIEnvelope (RFC 8894 §3.3.2): nothing is encrypted to anyone.
  const envelope = rep.status === "SUCCESS" ? parseSignedData(body).content! : new Uint8Array(0);
  const recipients = rep.status === "SUCCESS" ? parseEnvelopedData(envelope).recipients : [];
  return { envelope, recipients, rep };
}

/** The rid must name the signer: its issuer (its own subject) and its serial's content octets, byte for byte. */
function expectRecipientIsSigner(recipients: ReturnType<typeof parseEnvelopedData>["recipients"], signer: LocalKey): void {
  expect(recipients).toHaveLength(1);
  const rid = recipients[0]!.rid as { issuer: Uint8Array; serialNumber: Uint8Array };
  expect(hex(rid.serialNumber)).toBe(hex(signer.certificate.serialNumber));
  expect(hex(rid.issuer)).toBe(hex(signer.certificate.issuerDer));
}

/** The last event of this profile, operation and transaction (a PKCSReq's transactionID is its key's, the same on both profiles). */
const eventOf = (profile: string, operation: string, transactionId: string): ScepEvent | undefined =>
  events.filter((e) => e.profile === profile && e.operation === operation && e.transactionId === transactionId).at(-1);

for (const c of CASES) {
  describe(`RFC 8894 §3.3.2, RFC 5652 §6.2.1: ${c.name}`, () => {
    let r: Requester;
    let octets: string;

    beforeAll(async () => {
      r = await requester(c.cn, c.setSerial);
      octets = await c.octets(r.keys);
    });

    it("the premise: OpenSSL wrote exactly this INTEGER, and prints it so", () => {
      expect(hex(r.signer.certificate.serialNumber)).toBe(octets);
      expect(r.opensslSerial).toBe(c.printed ?? octets.toUpperCase());
    });

    it("PKCSReq → SUCCESS over HTTP 200; recipient = the signer's issuer and serial octets; our client and openssl cms open it", async () => {
      const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: ca.cert });
      const { envelope, recipients, rep } = await send("/scep", r.signer, built);
      expect(rep.status).toBe("SUCCESS");
      expectRecipientIsSigner(recipients, r.signer);
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(r.signer.certificate.spki));
      expect(hex(rep.certificates[0]!.serialNumber)).toBe(octets);
      // OpenSSL finds its RecipientInfo by issuer and serial (ASN1_INTEGER_cmp) when given -recip.
      const opened = await withTempDir(async (dir) => {
        writeFileSync(join(dir, "env.der"), envelope);
        writeFileSync(join(dir, "signer.pem"), r.certPem);
        writeFileSync(join(dir, "signer.key"), r.keyPem);
        await runOpenssl(["cms", "-decrypt", "-inform", "DER", "-in", "env.der", "-recip", "signer.pem", "-inkey", "signer.key", "-binary", "-out", "inner.der"], { cwd: dir });
        return new Uint8Array(readFileSync(join(dir, "inner.der")));
      });
      expect(opened[0]).toBe(0x30); // the degenerate certificates-only SignedData
      // The event and the activity log print the issued serial as `openssl x509 -serial` does (lower-case).
      const e = eventOf("direct", "PKCSReq", built.transactionId);
      expect(e).toMatchObject({ outcome: "success", reason: "issued", status: 200, serial: r.opensslSerial.toLowerCase() });
      expect(activity.list({ profile: "direct", transactionId: built.transactionId }).map((a) => [a.operation, a.serial])).toEqual([["PKCSReq", r.opensslSerial.toLowerCase()]]);
    });

    it("GetCert (IssuerAndSerialNumber, §3.3.4) for the certificate issued with these serial octets → SUCCESS, encrypted to the signer", async () => {
      const mine = issued.find((x) => hex(x.spki) === hex(r.signer.certificate.spki));
      expect(mine, "the PKCSReq above issued it").toBeDefined();
      const built = await buildGetCert({ signer: r.signer, recipient: ca.cert, issuer: mine!.issuerDer, serialNumber: mine!.serialNumber });
      const { recipients, rep } = await send("/scep", r.signer, built);
      expect(rep.status).toBe("SUCCESS");
      expectRecipientIsSigner(recipients, r.signer);
      expect(hex(rep.certificates[0]!.der)).toBe(hex(mine!.der));
      expect(eventOf("direct", "GetCert", built.transactionId)).toMatchObject({ outcome: "success", reason: "certificate_returned", status: 200 });

      // The same serial under another issuer (the signer's own name) is another certificate: badCertId, never a 5xx.
      const other = await buildGetCert({ signer: r.signer, recipient: ca.cert, issuer: r.signer.certificate.issuerDer, serialNumber: mine!.serialNumber });
      expect((await send("/scep", r.signer, other)).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });

      // A hook keyed by normalizeSerialNumber (profile.ts): found up to 20 octets (21 with the sign octet), badCertId beyond.
      const indexed = await buildGetCert({ signer: r.signer, recipient: ca.cert, issuer: mine!.issuerDer, serialNumber: mine!.serialNumber });
      const viaIndex = await send("/indexed", r.signer, indexed);
      expect(mine!.serialNumber.length > 21).toBe(c.overlong === true);
      if (!c.overlong) {
        expect(viaIndex.rep.status).toBe("SUCCESS");
        expectRecipientIsSigner(viaIndex.recipients, r.signer);
        expect(hex(viaIndex.rep.certificates[0]!.der)).toBe(hex(mine!.der));
      } else {
        expect(viaIndex.rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
        expect(eventOf("indexed", "GetCert", indexed.transactionId)).toMatchObject({ outcome: "failure", reason: "unknown_certificate", status: 200 });
      }
    });

    it("PKCSReq → PENDING; the transaction keeps the signer; approved, the CertPoll (§3.3.3) → SUCCESS", async () => {
      const req = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: ca.cert });
      const first = await send("/manual", r.signer, req);
      expect(first.rep.status).toBe("PENDING");
      expect(eventOf("manual", "PKCSReq", req.transactionId)).toMatchObject({ outcome: "pending", status: 200 });

      const waiting = (await scep.pending("manual")).find((t) => t.transactionId === req.transactionId);
      expect(waiting).toBeDefined();
      expect(hex(waiting!.signerCertificate)).toBe(hex(r.signer.certificate.der));
      expect(new Certificate(waiting!.signerCertificate).serialNumberHex).toBe(r.opensslSerial.toLowerCase());
      await expect(scep.snapshot()).resolves.toBeDefined();

      await scep.approve("manual", req.transactionId);
      const poll = await buildCertPoll({ signer: r.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(r.csr).subjectDer, transactionId: req.transactionId });
      const second = await send("/manual", r.signer, poll);
      expect(second.rep.status).toBe("SUCCESS");
      expectRecipientIsSigner(second.recipients, r.signer);
      expect(hex(second.rep.certificates[0]!.serialNumber)).toBe(octets);
      expect(eventOf("manual", "CertPoll", req.transactionId)).toMatchObject({
        outcome: "success",
        status: 200,
        serial: r.opensslSerial.toLowerCase(),
      });
    });
  });
}

/**
 * A renewal (RFC 8894 §3.3.1.2) is signed by the certificate being renewed, one this CA issued: a Cisco router renews
 * with its current certificate, and certificates of old Windows CAs carry negative serials. The reply is encrypted to
 * that certificate (its issuer is the CA), and the README's `isRevoked` recipe (`revocations.get(serialNumberHex)`)
 * reads its serial with the sign kept: revoked, only that INTEGER's certificate stops renewing.
 */
describe("RFC 8894 §3.3.1.2: a RenewalReq signed by a certificate of this CA with such a serial", () => {
  const serials: [string, string, string][] = [
    // name, content octets (hex), serialNumberHex (what `openssl x509 -serial` prints, lower case)
    ["negative 80 01 (openssl -set_serial -32767)", "8001", "-7fff"],
    // After −32767 was revoked (the case above): 0x8001, the INTEGER a magnitude-only spelling confuses it with, renews.
    ["positive 00 80 01 (0x8001)", "008001", "8001"],
    ["negative, a Cisco ASA's 86 96 12 53", "86961253", "-7969edad"],
    ["negative ff 01", "ff01", "-ff"],
    ["zero", "00", "00"],
    ["21 content octets, 00 80 …", "0080" + "a5".repeat(18) + "01", "80" + "a5".repeat(18) + "01"],
  ];
  for (const [name, octets, printed] of serials) {
    it(`${name}: SUCCESS encrypted to it (issuer = the CA, serial octets as issued); revoked, FAILURE badCertId`, async () => {
      const subject = `CN=renew-${octets.slice(0, 8)}, O=scep-sdk field tests`;
      /** A CSR for a fresh key (a renewal may bring a new key). */
      const newCsr = async (): Promise<Uint8Array> => generateCsr({ keys: await generateRsaKeyPair(2048), subject });
      const keys = await generateRsaKeyPair(2048);
      const csr = await generateCsr({ keys, subject });
      // The server runs on the wall clock (OpenSSL stamps the self-signed certificates above with it).
      const now = Date.now();
      const current = await ca.issue(csr, { serialOctets: Buffer.from(octets, "hex"), notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) });
      expect([hex(current.serialNumber), current.serialNumberHex]).toEqual([octets, printed]);
      const signer = LocalKey.from(current, keys.privateKey);

      const renewal = await buildPkcsReq({ csr: await newCsr(), signer, recipient: ca.cert, renewal: true });
      const ok = await send("/renew", signer, renewal);
      expect(ok.rep.status).toBe("SUCCESS");
      expectRecipientIsSigner(ok.recipients, signer);
      expect(hex((ok.recipients[0]!.rid as { issuer: Uint8Array }).issuer)).toBe(hex(ca.cert.subjectDer));
      expect(eventOf("renewing", "RenewalReq", renewal.transactionId)).toMatchObject({ outcome: "success", reason: "issued", renewal: true, status: 200 });

      await revocations.revoke({ serialNumber: current.serialNumberHex, reason: "superseded" });
      const again = await buildPkcsReq({ csr: await newCsr(), signer, recipient: ca.cert, renewal: true });
      expect((await send("/renew", signer, again)).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked (superseded)" });
      expect(eventOf("renewing", "RenewalReq", again.transactionId)).toMatchObject({ outcome: "failure", reason: "renewal_revoked", status: 200 });
    });
  }
});
