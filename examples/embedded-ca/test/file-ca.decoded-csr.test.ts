// issue({ csr }): a request @scep/core already decoded and verified is issued
// without being parsed or verified again.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CertificationRequest } from "@scep/core";
import { openFileCa, type FileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let dir: string;
let ca: FileCa;
let csrDer: Uint8Array;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
  csrDer = opensslCsr(dir, "device", { subject: "/O=Acme Devices/CN=decoded-0001", san: "DNS:decoded-0001.example" });
});

describe("issue({ csr })", () => {
  it("issues from a decoded CertificationRequest exactly as from its DER", async () => {
    const csr = new CertificationRequest(csrDer);
    const fromCsr = await ca.issue({ csr, validityDays: 30, notBefore: new Date("2030-01-01T00:00:00Z") });
    const fromDer = await ca.issue({ csrDer, validityDays: 30, notBefore: new Date("2030-01-01T00:00:00Z") });
    writePem(dir, "from-csr.pem", fromCsr.certificatePem);
    writePem(dir, "from-der.pem", fromDer.certificatePem);
    const at = String(Date.parse("2030-01-02T00:00:00Z") / 1000);
    expect(openssl(["verify", "-attime", at, "-CAfile", "data/ca.pem", "from-csr.pem"], dir).trim()).toBe("from-csr.pem: OK");
    // The same certificate but for the serial number (and so the signature).
    const body = (file: string): string =>
      openssl(["x509", "-in", file, "-noout", "-text", "-certopt", "no_serial,no_sigdump"], dir);
    expect(body("from-csr.pem")).toBe(body("from-der.pem"));
    expect(body("from-csr.pem")).toContain("Subject: O = Acme Devices, CN = decoded-0001");
  });

  it("does not verify a decoded request's signature again (the caller did), but checks its shape", async () => {
    const tampered = csrDer.slice();
    tampered[Buffer.from(tampered).indexOf("decoded-0001")] = "D".charCodeAt(0);
    await expect(ca.issue({ csrDer: tampered })).rejects.toMatchObject({ code: "CSR_INVALID", message: "the PKCS#10 request's signature does not verify" });
    const issued = await ca.issue({ csr: new CertificationRequest(tampered) });
    writePem(dir, "tampered.pem", issued.certificatePem);
    expect(openssl(["x509", "-in", "tampered.pem", "-noout", "-subject"], dir).trim()).toBe("subject=O = Acme Devices, CN = Decoded-0001");

    await expect(ca.issue({ csr: { subjectDer: new Uint8Array(2) } as unknown as CertificationRequest })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "csr must be a CertificationRequest from @scep/core",
    });
    await expect(ca.issue({ csr: new CertificationRequest(csrDer), csrDer })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "give csrDer or csr, not both",
    });
    await expect(ca.issue({})).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "csrDer must be a non-empty Uint8Array with a DER PKCS#10 request",
    });
  });
});
