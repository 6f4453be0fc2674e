/**
 * A large CRL through GetCRL (RFC 8894 §3.3.4: the CRL comes back in a degenerate certificates-only SignedData inside
 * the envelope), from the server's hook to `ScepClient` over loopback HTTP.
 *
 * Reports that motivate it: OpenSSL's CRL download stopped at a fixed 100 kB cap, so a real 370 kB CRL could not be
 * fetched (openssl/openssl#8581, https://github.com/openssl/openssl/issues/8581), and CRLs of megabytes are common in
 * private PKIs (curl/curl#16724, https://github.com/curl/curl/pull/16724). An element-count limit on ASN.1 parsing
 * (LIMITS.asn1Elements is 4,096) must not apply inside a CRL: 100,000 revoked entries are one SEQUENCE of 100,000.
 *
 * OpenSSL is the peer that makes the CRL (`openssl ca -gencrl` over an index of 100,000 revoked serials, about
 * 2.2 MB) and reads back what the client received.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOpenssl, withTempDir } from "../../../test-support/peers";
import { LIMITS, ScepClient, buildGetCrl, createScepServer, readCertRep, type ScepServer } from "../src/index.js";
import { Tag, children, parse, readTlv } from "../src/lib/der.js";
import { close, listen, serveOverHttp } from "./support/adapter-fixture.js";
import { createDevice, createTestCa, hex, issuingHook, type TestCa } from "./support/server-pki.js";

const ENTRIES = 100_000;
let ca: TestCa;
let crl: Uint8Array;
let scep: ScepServer;
let http: Server;
let url: string;

beforeAll(async () => {
  ca = await createTestCa("Large CRL CA");
  crl = await withTempDir(async (dir) => {
    const index = Array.from({ length: ENTRIES }, (_, i) => `R\t351231000000Z\t260101000000Z\t${(0x100000 + i).toString(16).toUpperCase().padStart(8, "0")}\tunknown\t/CN=device-${i}\n`).join("");
    writeFileSync(join(dir, "index.txt"), index);
    writeFileSync(join(dir, "crlnumber"), "01\n");
    writeFileSync(join(dir, "ca.cnf"), "[ca]\ndefault_ca = x\n[x]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n");
    await runOpenssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Large CRL Issuer", "-days", "30"], { cwd: dir });
    await runOpenssl(["ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.pem", "-out", "crl.pem"], { cwd: dir });
    await runOpenssl(["crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der"], { cwd: dir });
    return new Uint8Array(readFileSync(join(dir, "crl.der")));
  });
  scep = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "large-crl" }, issue: issuingHook(ca), getCrl: async () => crl }],
  });
  http = serveOverHttp(scep);
  url = `${await listen(http)}/scep`;
}, 120_000);

afterAll(async () => {
  await close(http);
});

describe("openssl#8581: a 100,000-entry CRL (about 2.2 MB) comes back whole through GetCRL (RFC 8894 §3.3.4)", () => {
  it("the premise: the CRL OpenSSL made holds 100,000 revoked entries, far more than LIMITS.asn1Elements (the DER walker refuses that SEQUENCE), and more than 2 MB", () => {
    // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signature } (RFC 5280 §5.1)
    // TBSCertList ::= SEQUENCE { version, signature, issuer, thisUpdate, nextUpdate, revokedCertificates SEQUENCE OF
    //   SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL } OPTIONAL, crlExtensions [0] OPTIONAL }
    const tbs = children(parse(crl))[0];
    const revoked = children(tbs).filter((t) => t.tag === Tag.SEQUENCE).at(-1)!; // after the algorithm and the issuer
    let entries = 0;
    for (let p = revoked.contentStart; p < revoked.contentEnd; p = readTlv(crl, p, revoked.contentEnd).end) entries++;
    expect(entries).toBe(ENTRIES);
    expect(entries).toBeGreaterThan(LIMITS.asn1Elements);
    expect(() => children(revoked)).toThrow(`more than ${LIMITS.asn1Elements} elements`);
    expect(crl.length).toBeGreaterThan(2_000_000);
  });

  it("ScepClient's GetCRL over HTTP gets the same bytes, and OpenSSL reads all 100,000 entries from them", async () => {
    const device = await createDevice({ cn: "large-crl-reader" });
    const client = new ScepClient({ url });
    const built = await buildGetCrl({ signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: new Uint8Array([0x01]) });
    const reply = await client.pkiOperation(built.der);
    const rep = await readCertRep(reply, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.crls).toHaveLength(1);
    expect(rep.crls[0]!.length).toBe(crl.length);
    expect(hex(rep.crls[0]!) === hex(crl)).toBe(true);
    const printed = await withTempDir(async (dir) => {
      writeFileSync(join(dir, "got.der"), rep.crls[0]!);
      return (await runOpenssl(["crl", "-inform", "DER", "-in", join(dir, "got.der"), "-noout", "-text"])).stdout;
    });
    expect(printed.match(/Serial Number: /g)).toHaveLength(ENTRIES);
  }, 60_000);
});
