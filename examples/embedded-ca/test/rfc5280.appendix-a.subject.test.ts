// RFC 5280 §4.1.2.4 and Appendix A, through the real SCEP server handler with this CA as its issue hook (as
// server-kit wires it): a subject whose PrintableString holds '@', '_' or '*' (X.680 §41.4's set has none of them;
// OpenSSL reads them, Go's crypto/x509 refuses the certificate, so micromdm and step-ca clients could not load it)
// is issued with that value re-encoded as a UTF8String; a CN above ub-common-name (64) or an O above
// ub-organization-name (64), as strongSwan's pki writes them, is refused with FAILURE badRequest naming the
// attribute and the bound.
//
// The requests are OpenSSL's: `openssl req` writes the CSR and `openssl dgst -sign` signs it. OpenSSL will not
// write '@' into a PrintableString itself (string_mask MASK:0x2 fails with "illegal characters"; the default
// mask picks T61String), so the PrintableString case writes a same-length placeholder, swaps those octets and has
// OpenSSL sign the changed CertificationRequestInfo again; `openssl req -verify` accepts the result.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  exportPrivateKeyPem,
  generateCsr,
  generateRsaKeyPair,
  importKeyPairPem,
  readCertRep,
  type CertRep,
  type ScepServer,
} from "@scep/core";
import { isEmbeddedCaError, openFileCa, type FileCa } from "../src/index.js";
import { runStrongswanReq } from "../../../test-support/peers";
import { openssl, tempDir, writePem } from "./helpers.js";

const NOW = new Date();
let dir: string;
let ca: FileCa;
let server: ScepServer;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
  server = createScepServer({
    profiles: [
      {
        name: "devices",
        path: "/scep",
        caCertificate: ca.signer.certificate,
        signer: ca.signer,
        challenge: { type: "static", password: "secret" },
        issue: async (ctx) => {
          try {
            const issued = await ca.issue({ csr: ctx.csr, validityDays: 30 });
            return { status: "SUCCESS", certificate: issued.certificateDer };
          } catch (e) {
            if (isEmbeddedCaError(e, "CSR_INVALID")) return { status: "FAILURE", failInfo: "badRequest", failInfoText: e.message };
            throw e;
          }
        },
      },
    ],
  });
});

/**
 * A DER CSR written by `openssl req` from the `dn` lines (and, when given, the requested extensions of section `ext`
 * and any section it names, as config lines), with `swap` octets replaced and re-signed by `openssl dgst`.
 */
function opensslCsr(name: string, dn: string[], swap?: [string, string], ext?: string[]): { der: Uint8Array; keyPem: string } {
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`], dir);
  // string_mask default: PrintableString whenever OpenSSL's PrintableString set admits the text, as older configs do.
  const req = ["[req]", "string_mask = default", "distinguished_name = dn", "attributes = attrs", "prompt = no", ...(ext ? ["req_extensions = ext"] : [])];
  const config = [...req, "[dn]", ...dn, "[attrs]", "challengePassword = secret", ...(ext ?? []), ""];
  writeFileSync(join(dir, `${name}.cnf`), config.join("\n"));
  openssl(["req", "-new", "-config", `${name}.cnf`, "-key", `${name}.key`, "-outform", "DER", "-out", `${name}.csr`], dir);
  let der: Uint8Array = new Uint8Array(readFileSync(join(dir, `${name}.csr`)));
  if (swap) {
    const [from, to] = swap;
    expect(to.length).toBe(from.length);
    // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
    const outer = headerLength(der, 0);
    const infoLen = headerLength(der, outer) + contentLength(der, outer);
    const info = Buffer.from(der.subarray(outer, outer + infoLen));
    const at = info.indexOf(from);
    expect(at).toBeGreaterThan(0);
    info.write(to, at, "latin1");
    writeFileSync(join(dir, `${name}.info`), info);
    openssl(["dgst", "-sha256", "-sign", `${name}.key`, "-out", `${name}.sig`, `${name}.info`], dir);
    const sig = readFileSync(join(dir, `${name}.sig`));
    const algStart = outer + infoLen;
    const alg = der.subarray(algStart, algStart + headerLength(der, algStart) + contentLength(der, algStart));
    const bits = tlv(0x03, Buffer.concat([Buffer.of(0), sig]));
    der = tlv(0x30, Buffer.concat([info, alg, bits]));
    writeFileSync(join(dir, `${name}.csr`), der);
    expect(openssl(["req", "-inform", "DER", "-in", `${name}.csr`, "-verify", "-noout"], dir) + "").toBeDefined();
  }
  return { der, keyPem: readFileSync(join(dir, `${name}.key`), "utf8") };
}

function headerLength(b: Uint8Array, at: number): number {
  return b[at + 1]! < 0x80 ? 2 : 2 + (b[at + 1]! & 0x7f);
}
function contentLength(b: Uint8Array, at: number): number {
  const first = b[at + 1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + b[at + 2 + i]!;
  return n;
}
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Uint8Array.from([tag, ...len, ...content]);
}

/** A DER CSR written by strongSwan's `pki --req --dn dn` (OpenSSL's req refuses to write a CN above 64 characters). */
async function strongswanCsr(name: string, dn: string): Promise<{ der: Uint8Array; keyPem: string }> {
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`], dir);
  const keyPem = readFileSync(join(dir, `${name}.key`), "utf8");
  return { der: await runStrongswanReq({ key: keyPem, dn, password: "secret" }), keyPem };
}

/** Enrolls `csr` with the server, signed by a self-signed certificate of the CSR's key; the decoded CertRep. */
async function enroll(csr: { der: Uint8Array; keyPem: string }): Promise<CertRep> {
  const keys = await importKeyPairPem(csr.keyPem);
  const signer = await createSelfSignedSigner({ keys, subject: "CN=enrolling device" });
  const built = await buildPkcsReq({ csr: csr.der, signer, recipient: ca.signer.certificate });
  const res = await server.fetch(
    new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: built.der as Uint8Array<ArrayBuffer> }),
  );
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: signer, caCertificates: [ca.signer.certificate] });
}

/** [tag, text] of each subject attribute value, in order. */
function subjectValues(certDer: Uint8Array): [number, string][] {
  const text = openssl(["asn1parse", "-inform", "DER", "-in", writeDer("issued.der", certDer)], dir);
  const subject = text.split("\n").filter((l) => /d=5 .*(PRINTABLESTRING|UTF8STRING|IA5STRING|T61STRING)/.test(l));
  return subject.map((l) => {
    const m = /prim: (\w+)\s*:(.*)$/.exec(l)!;
    return [{ PRINTABLESTRING: 0x13, UTF8STRING: 0x0c, IA5STRING: 0x16, T61STRING: 0x14 }[m[1] as "UTF8STRING"], m[2]!];
  });
}
function writeDer(name: string, der: Uint8Array): string {
  writeFileSync(join(dir, name), der);
  return name;
}

describe("RFC 5280 §4.1.2.4 / X.680 §41.4: a PrintableString holding '@', '_', '*' is issued as a UTF8String", () => {
  it("CN=ops@example_1* (PrintableString in the CSR) → SUCCESS, the certificate's CN a UTF8String with the same text", async () => {
    const csr = opensslCsr("at-sign", ["O = Acme Devices", "CN = opsXexampleY1Z"], ["opsXexampleY1Z", "ops@example_1*"]);
    // The request really carries the characters in a PrintableString (tag 0x13).
    const cn = Buffer.from(new CertificationRequest(csr.der).subjectDer);
    expect(cn.includes(Buffer.from([0x13, 14, ...Buffer.from("ops@example_1*")]))).toBe(true);
    const rep = await enroll(csr);
    expect(rep.status).toBe("SUCCESS");
    const issued = rep.certificate!;
    // O stays a PrintableString (its text is in the set); CN becomes a UTF8String.
    expect(subjectValues(issued.der).slice(-2)).toEqual([
      [0x13, "Acme Devices"],
      [0x0c, "ops@example_1*"],
    ]);
    expect(issued.subject).toBe("O=Acme Devices, CN=ops@example_1*");
    writePem(dir, "at-sign.pem", issued.toPem());
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "at-sign.pem"], dir).trim()).toBe("at-sign.pem: OK");
  });
});

/**
 * Why Go's crypto/x509 would refuse to parse the certificate for one of its strings, or undefined: every
 * PrintableString anywhere in it (names, and the DER inside each extension's OCTET STRING, so a subjectAltName's
 * directoryName too) must hold only X.680 §41.4's characters and the '*' and '&' Go also admits; every UTF8String
 * must be UTF-8. (encoding/asn1's parsePrintableString and parseUTF8String, which x509.ParseCertificate runs.)
 */
function goStringProblem(bytes: Uint8Array): string | undefined {
  /** The problem in the elements of bytes[from, to), which must be whole DER elements (else throws). */
  const walk = (from: number, to: number): string | undefined => {
    for (let at = from; at < to; ) {
      const tag = bytes[at]!;
      const start = at + headerLength(bytes, at);
      const end = start + contentLength(bytes, at);
      if (end > to || start > end) throw new Error("not DER");
      const text = Buffer.from(bytes.subarray(start, end));
      if (tag === 0x13 && !/^[A-Za-z0-9 '()+,\-./:=?*&]*$/.test(text.toString("latin1"))) return `PrintableString ${JSON.stringify(text.toString("latin1"))}`;
      if (tag === 0x0c && !text.equals(Buffer.from(text.toString("utf8"), "utf8"))) return "a UTF8String that is not UTF-8";
      if (tag & 0x20) {
        const problem = walk(start, end);
        if (problem) return problem;
      } else if (tag === 0x04) {
        let problem: string | undefined;
        try {
          problem = walk(start, end); // an extension's value: DER inside
        } catch {
          problem = undefined; // opaque octets
        }
        if (problem) return problem;
      }
      at = end;
    }
    return undefined;
  };
  return walk(0, bytes.length);
}

describe("RFC 5280 §4.2.1.6: a subjectAltName directoryName is written as the subject is", () => {
  it("dirName with CN=dev@example_2* (PrintableString in the CSR) → SUCCESS, written as a UTF8String; Go's rules and OpenSSL read the certificate", async () => {
    const csr = opensslCsr("dirname", ["O = Acme Devices", "CN = device-7"], ["devXexampleY2Z", "dev@example_2*"], [
      "[ext]",
      "subjectAltName = DNS:device-7.example, dirName:dir_sect",
      "[dir_sect]",
      "O = Acme Devices",
      "CN = devXexampleY2Z",
    ]);
    // The request really carries the characters in a PrintableString (tag 0x13), inside its subjectAltName.
    const requested = new CertificationRequest(csr.der).extensions.find((e) => e.oid === "2.5.29.17")!;
    expect(Buffer.from(requested.value).includes(Buffer.from([0x13, 14, ...Buffer.from("dev@example_2*")]))).toBe(true);
    expect(goStringProblem(csr.der)).toBe('PrintableString "dev@example_2*"');
    const rep = await enroll(csr);
    expect(rep.failInfoText).toBeUndefined();
    expect(rep.status).toBe("SUCCESS");
    const issued = rep.certificate!;
    expect(goStringProblem(issued.der)).toBeUndefined();
    const san = issued.extensions.find((e) => e.oid === "2.5.29.17")!;
    expect(Buffer.from(san.value).includes(Buffer.from([0x0c, 14, ...Buffer.from("dev@example_2*")]))).toBe(true);
    // The other names, and the directoryName's O, keep the bytes they came with.
    expect(Buffer.from(san.value).includes(Buffer.from([0x82, 16, ...Buffer.from("device-7.example")]))).toBe(true);
    expect(Buffer.from(san.value).includes(Buffer.from([0x13, 12, ...Buffer.from("Acme Devices")]))).toBe(true);
    expect(issued.subjectAltNames.dns).toEqual(["device-7.example"]);
    writePem(dir, "dirname.pem", issued.toPem());
    expect(openssl(["x509", "-in", "dirname.pem", "-noout", "-ext", "subjectAltName"], dir)).toBe(
      "X509v3 Subject Alternative Name: \n    DNS:device-7.example, DirName:/O=Acme Devices/CN=dev@example_2*\n",
    );
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "dirname.pem"], dir).trim()).toBe("dirname.pem: OK");
  });
});

describe("RFC 5280 Appendix A: an empty value, countryName's included, is issued as requested", () => {
  it("C= and OU= empty (an MDM profile's empty subject variables) → SUCCESS, C an empty PrintableString; OpenSSL reads and verifies it", async () => {
    const keys = await generateRsaKeyPair();
    const utf8 = (oid: number, text: string): Uint8Array => tlv(0x31, tlv(0x30, Uint8Array.from([0x06, 0x03, 0x55, 0x04, oid, ...tlv(0x0c, Buffer.from(text))])));
    // countryName in a UTF8String, as some clients write every attribute: issued as the PrintableString Appendix A types it with.
    const subject = tlv(0x30, Buffer.concat([utf8(6, ""), utf8(10, "Acme Devices"), utf8(11, ""), utf8(3, "device-8")]));
    const csrDer = await generateCsr({ keys, subject, challengePassword: "secret" });
    const rep = await enroll({ der: csrDer, keyPem: await exportPrivateKeyPem(keys.privateKey) });
    expect(rep.failInfoText).toBeUndefined();
    expect(rep.status).toBe("SUCCESS");
    const issued = rep.certificate!;
    expect(subjectValues(issued.der).slice(-4)).toEqual([
      [0x13, ""],
      [0x0c, "Acme Devices"],
      [0x0c, ""],
      [0x0c, "device-8"],
    ]);
    expect(goStringProblem(issued.der)).toBeUndefined();
    writePem(dir, "empty-c.pem", issued.toPem());
    expect(openssl(["x509", "-in", "empty-c.pem", "-noout", "-subject"], dir)).toBe("subject=C = , O = Acme Devices, OU = , CN = device-8\n");
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "empty-c.pem"], dir).trim()).toBe("empty-c.pem: OK");
  });

});

describe("RFC 5280 Appendix A upper bounds: FAILURE badRequest naming the attribute and the bound", () => {
  it("CN of 64 characters → SUCCESS", async () => {
    const rep = await enroll(opensslCsr("cn64", [`CN = ${"a".repeat(64)}`]));
    expect(rep.failInfoText).toBeUndefined();
    expect(rep.status).toBe("SUCCESS");
    expect(new Certificate(rep.certificate!.der).subject).toBe(`CN=${"a".repeat(64)}`);
  });

  it("CN of 65 characters (ub-common-name 64) → FAILURE badRequest", async () => {
    const rep = await enroll(await strongswanCsr("cn65", `CN=${"a".repeat(65)}`));
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toBe(
      "the subject cannot be certified: CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)",
    );
  });

  it("O of 65 characters (ub-organization-name 64) → FAILURE badRequest", async () => {
    const rep = await enroll(await strongswanCsr("o65", `O=${"o".repeat(65)}, CN=device`));
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfoText).toContain("O: 65 characters, above RFC 5280 Appendix A's ub-organization-name (64)");
  });

  it("the CA's own issue() refuses the same request as CSR_INVALID before spending a serial number", async () => {
    const csr = await strongswanCsr("cn65-direct", `CN=${"b".repeat(65)}`);
    await expect(ca.issue({ csrDer: csr.der })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "the PKCS#10 request's subject is not one a certificate can carry: CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)",
    });
  });
});
