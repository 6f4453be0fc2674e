// Field reports about what a CA makes of the extensions a CSR requests, rebuilt against the embedded CA with
// `openssl req` CSRs, the issued certificates read back with `openssl x509` (RFC 5280 §4.2.1.6, §4.2.1.9; RFC 2985
// §5.4.2 extensionRequest).
//
// - micromdm's server copied no subjectAltName from the CSR (micromdm/scep#106,
//   https://github.com/micromdm/scep/issues/106); sscep users ask for an otherName next to the DNS names
//   (certnanny/sscep#168, https://github.com/certnanny/sscep/issues/168), and Intune's Android device profiles fail
//   "No SAN specified in certificate request" without one (MicrosoftDocs/IntuneDocs#1741,
//   https://github.com/MicrosoftDocs/IntuneDocs/issues/1741). A UPN otherName and an email SAN reach the certificate.
// - Dell iDRACs put basicConstraints (cA false) in their CSRs and a CA refused them; a CA must neither refuse such a
//   request nor grant cA true when asked (heimdal/heimdal#1191, https://github.com/heimdal/heimdal/pull/1191).
// - A leaf issued with pathLenConstraint 0 was refused by Pulse Secure ("has no path length constraint")
//   (scepman/deploy#11, https://github.com/scepman/deploy/issues/11): an end entity's basicConstraints is CA:FALSE
//   with no pathLenConstraint.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa, type FileCa } from "../src/index.js";
import { openssl, tempDir, writePem } from "./helpers.js";

let dir: string;
let ca: FileCa;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
});

/** A DER CSR from `openssl req` with CN=`name` and the `[ext]` section's lines as its extensionRequest. */
function csrWith(name: string, ext: string[]): Uint8Array {
  writeFileSync(join(dir, `${name}.cnf`), `[req]\nprompt = no\ndistinguished_name = dn\nreq_extensions = ext\n[dn]\nCN = ${name}\n[ext]\n${ext.join("\n")}\n`);
  openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-config", `${name}.cnf`, "-outform", "DER", "-out", `${name}.csr.der`], dir);
  const asn1 = openssl(["req", "-inform", "DER", "-in", `${name}.csr.der`, "-noout", "-text"], dir);
  expect(asn1).toContain("Requested Extensions:");
  return new Uint8Array(readFileSync(join(dir, `${name}.csr.der`)));
}

/** Issues for `csr` and returns the certificate's extensions as `openssl x509 -text` prints them. */
async function issuedText(name: string, csr: Uint8Array): Promise<string> {
  const issued = await ca.issue({ csrDer: csr });
  writePem(dir, `${name}.pem`, issued.certificatePem);
  expect(openssl(["verify", "-CAfile", "data/ca.pem", `${name}.pem`], dir).trim()).toBe(`${name}.pem: OK`);
  return openssl(["x509", "-in", `${name}.pem`, "-noout", "-text"], dir);
}

describe("RFC 5280 §4.2.1.6: the CSR's subjectAltName is copied, otherName included (micromdm#106, sscep#168, IntuneDocs#1741)", () => {
  it("a UPN otherName (1.3.6.1.4.1.311.20.2.3, UTF8String) and an email address", async () => {
    const text = await issuedText("upn", csrWith("upn", ["subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:jane.doe@corp.example, email:jane.doe@corp.example"]));
    expect(text).toMatch(/X509v3 Subject Alternative Name:\s*\n\s+othername: UPN::jane\.doe@corp\.example, email:jane\.doe@corp\.example\n/);
  });
});

describe("RFC 5280 §4.2.1.9: requested basicConstraints and keyUsage neither refuse the request nor make a CA (heimdal#1191, scepman/deploy#11)", () => {
  it("an iDRAC-style request with basicConstraints cA false (non-critical) is issued", async () => {
    const text = await issuedText("idrac", csrWith("idrac", ["basicConstraints = CA:FALSE", "subjectAltName = DNS:idrac-7.example"]));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s+CA:FALSE\n/);
    expect(text).toContain("DNS:idrac-7.example");
  });

  it("a request for cA true, pathlen 0, keyCertSign and cRLSign gets a leaf: CA:FALSE, no pathlen, digitalSignature + keyEncipherment", async () => {
    const text = await issuedText("wants-ca", csrWith("wants-ca", ["basicConstraints = critical, CA:TRUE, pathlen:0", "keyUsage = critical, keyCertSign, cRLSign"]));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s+CA:FALSE\n/);
    expect(text).not.toMatch(/pathlen/i);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s+Digital Signature, Key Encipherment\n/);
    expect(openssl(["x509", "-in", "wants-ca.pem", "-noout", "-purpose"], dir)).toMatch(/SSL client CA : No\n/);
  });

  it("an unknown extension marked critical in the request is not copied (the CA does not vouch for what it cannot read)", async () => {
    const text = await issuedText("unknown-crit", csrWith("unknown-crit", ["1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:please", "subjectAltName = DNS:unknown.example"]));
    expect(text).not.toContain("1.3.6.1.4.1.55555.1");
    expect(text).toContain("DNS:unknown.example");
  });
});
