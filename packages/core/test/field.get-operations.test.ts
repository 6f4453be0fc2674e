/**
 * Field reports about the GET operations around an enrollment (RFC 8894 §3.5, §4.1, §4.2, §4.7), rebuilt against our
 * server; the GetNextCACert reply is read back with the `openssl` CLI, as a client built on OpenSSL reads it.
 *
 * - micromdm's server answered 400 to `GetCACert&message=CAIdentifier` (micromdm/scep#241,
 *   https://github.com/micromdm/scep/issues/241), the literal sscep sends when no CA is named (certnanny/sscep#190,
 *   https://github.com/certnanny/sscep/pull/190); a Cisco router sends its trustpoint name
 *   (micromdm/scep#211, https://github.com/micromdm/scep/issues/211), and EJBCA users send the CA's name with
 *   GetCACaps too (certnanny/sscep#148, https://github.com/certnanny/sscep/issues/148). A single-CA server answers
 *   every one of them with its CA, whatever `message` says.
 * - iOS 10 refused a CA whose GetCACaps named no SHA-1, SHA-256 or SHA-512, and wanted DES3 or AES rather than
 *   single DES (micromdm/scep#23, https://github.com/micromdm/scep/issues/23).
 * - OpenXPKI answered GetNextCACert without a rollover certificate with a 404 but still advertised GetNextCACert
 *   (openxpki/openxpki#602, https://github.com/openxpki/openxpki/issues/602): the capability is advertised only when
 *   there is a next CA, and the request is a 4xx otherwise, never a 5xx.
 * - jscep's servlet answered GetNextCACert with a bare degenerate PKCS#7 where the reply must be a SignedData signed
 *   by the current CA whose content is the degenerate certificates-only PKCS#7 of the next CA
 *   (seize-the-dave/jscep#72, https://github.com/seize-the-dave/jscep/issues/72). Ours verifies with `openssl cms
 *   -verify` against the current CA, and its content holds the next CA certificate.
 */
import { describe, expect, it } from "vitest";
import { parseCaCaps } from "../src/index.js";
import { runOpenssl, withTempDir } from "../../../test-support/peers";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestCa, getOp, hex, staticScep } from "./support/server-pki.js";

const { ca, server } = await staticScep({ caName: "Field GetOps CA", deviceCn: "field-getops-device", challenge: "getops" });

describe("RFC 8894 §3.5.1, §4.2: any `message` of GetCACaps and GetCACert is served (micromdm#241, sscep#190, micromdm#211, sscep#148)", () => {
  const messages: [string, string | undefined][] = [
    ["none", undefined],
    ["empty", ""],
    ["sscep's literal CAIdentifier (sscep#190, micromdm#241)", "CAIdentifier"],
    ["a Cisco trustpoint name (micromdm#211)", "Test-Router"],
    ["certmonger's 0", "0"],
    ["a CA name with a space (sscep#148)", "Management%20CA"],
  ];
  for (const [name, message] of messages) {
    it(`${name}: GetCACert is the CA certificate (application/x-x509-ca-cert), GetCACaps the caps, both 200`, async () => {
      for (const path of ["/scep", "/scep/pkiclient.exe"]) {
        const cert = await getOp(server, path, "GetCACert", message);
        expect([cert.status, cert.headers.get("content-type")]).toEqual([200, "application/x-x509-ca-cert"]);
        expect(hex(new Uint8Array(await cert.arrayBuffer()))).toBe(hex(ca.cert.der));
        const caps = await getOp(server, path, "GetCACaps", message);
        expect([caps.status, caps.headers.get("content-type")]).toEqual([200, "text/plain"]);
        expect(parseCaCaps(await caps.text()).has("POSTPKIOperation")).toBe(true);
      }
    });
  }
});

describe("RFC 8894 §3.5.2: GetCACaps names SHA-2 and a cipher better than DES (micromdm#23)", () => {
  it("SHA-1, SHA-256 and SHA-512, and both DES3 and AES, are advertised by default; single DES is not a capability", async () => {
    const lines = (await (await getOp(server, "/scep", "GetCACaps")).text()).split("\n");
    expect(lines).toEqual(expect.arrayContaining(["SHA-1", "SHA-256", "SHA-512", "DES3", "AES", "SCEPStandard"]));
    expect(lines).not.toContain("DES");
  });
});

describe("RFC 8894 §4.7: GetNextCACert (openxpki#602, jscep#72)", () => {
  it("without a next CA: not advertised, and the request is 404 with a reason (not a 5xx)", async () => {
    expect(parseCaCaps(await (await getOp(server, "/scep", "GetCACaps")).text()).has("GetNextCACert")).toBe(false);
    const res = await getOp(server, "/scep", "GetNextCACert", "CAIdentifier");
    expect([res.status, await res.text()]).toEqual([404, "no next CA certificate is configured\n"]);
  });

  it("with a next CA: advertised; the reply is a SignedData the current CA signed, over the degenerate PKCS#7 of the next CA (openssl reads it)", async () => {
    const next = await createTestCa("Field GetOps CA G2");
    const rolled = await staticScep({ caName: "Field GetOps Rollover CA", deviceCn: "field-getops-rollover", challenge: "getops", profile: { nextCaCertificates: [next.cert] } });
    const s2 = rolled.server;
    expect(parseCaCaps(await (await getOp(s2, "/scep", "GetCACaps")).text()).has("GetNextCACert")).toBe(true);
    const res = await getOp(s2, "/scep", "GetNextCACert");
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-x509-next-ca-cert"]);
    const body = new Uint8Array(await res.arrayBuffer());
    const printed = await withTempDir(async (dir) => {
      writeFileSync(join(dir, "next.der"), body);
      writeFileSync(join(dir, "current.pem"), rolled.ca.cert.toPem());
      writeFileSync(join(dir, "other.pem"), next.cert.toPem());
      // Signed by the current CA: verifies against it, and not against the next one.
      await runOpenssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", "next.der", "-CAfile", "current.pem", "-purpose", "any", "-out", "inner.der"], { cwd: dir });
      await expect(runOpenssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", "next.der", "-CAfile", "other.pem", "-purpose", "any", "-out", "x.der"], { cwd: dir })).rejects.toThrow();
      const inner = readFileSync(join(dir, "inner.der"));
      expect(inner[0]).toBe(0x30);
      return (await runOpenssl(["pkcs7", "-inform", "DER", "-in", "inner.der", "-print_certs", "-noout"], { cwd: dir })).stdout;
    });
    expect(printed).toContain("subject=CN = Field GetOps CA G2,");
    expect(printed).not.toContain("Rollover");
  });
});
