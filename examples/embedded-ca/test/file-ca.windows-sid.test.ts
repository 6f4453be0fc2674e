// issue() never certifies a Windows SID the request asks for (KB5014754 strong
// mapping: a certificate with a SID logs in as that account) unless allowSid:
// a SID in the subjectAltName is CSR_INVALID, the SID extension is dropped.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { openFileCa, type FileCa } from "../src/index.js";
import { decodeSerial } from "../src/serial-allocator.js";
import { openssl, tempDir, writePem } from "./helpers.js";

const SID = "S-1-5-21-1004336348-1177238915-682003330-1105";
// szOID_NTDS_CA_SECURITY_EXT: SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING "S-1-…" } } }
const sidHex = Buffer.from(SID).toString("hex");
const inner = `060a2b060104018237190201a0${(SID.length + 2).toString(16).padStart(2, "0")}04${SID.length.toString(16).padStart(2, "0")}${sidHex}`;
const other = `a0${(inner.length / 2).toString(16).padStart(2, "0")}${inner}`;
const SID_EXT = `30${(other.length / 2).toString(16).padStart(2, "0")}${other}`;

let dir: string;
let ca: FileCa;
let sanSid: Uint8Array;
let extSid: Uint8Array;

function csr(name: string, addext: string[]): Uint8Array {
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`], dir);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-outform", "DER", "-out", `${name}.der`, ...addext.flatMap((e) => ["-addext", e])], dir);
  return new Uint8Array(readFileSync(join(dir, `${name}.der`)));
}

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
  sanSid = csr("san-sid", [`subjectAltName=DNS:pc-7.corp.example,otherName:1.3.6.1.4.1.311.25.2.1;UTF8:${SID}`]);
  extSid = csr("ext-sid", ["subjectAltName=DNS:pc-8.corp.example", `1.3.6.1.4.1.311.25.2=DER:${SID_EXT}`]);
});

describe("Windows SIDs in requests", () => {
  it("a SID in the subjectAltName: CSR_INVALID naming it", async () => {
    await expect(ca.issue({ csrDer: sanSid })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "cannot issue for the PKCS#10 request: the request's subjectAltName carries a Windows SID (otherName 1.3.6.1.4.1.311.25.2.1); pass allowSid: true only where the SID was verified",
    });
  });

  it("a refused SID request spends no serial number: the next issue gets the next sequence", async () => {
    const own = await openFileCa({ dataDir: join(dir, "serials") });
    const first = await own.issue({ csrDer: extSid });
    await expect(own.issue({ csrDer: sanSid })).rejects.toMatchObject({ code: "CSR_INVALID" });
    const second = await own.issue({ csrDer: extSid });
    expect([decodeSerial(first.serialNumber), decodeSerial(second.serialNumber)]).toEqual([
      { epoch: 1, sequence: 1 },
      { epoch: 1, sequence: 2 },
    ]);
  });

  it("the SID extension is not copied by default; with allowSid it is, and the SAN SID is issued", async () => {
    const plain = await ca.issue({ csrDer: extSid });
    writePem(dir, "plain.pem", plain.certificatePem);
    const text = openssl(["x509", "-in", "plain.pem", "-noout", "-text"], dir);
    expect(text).not.toContain("1.3.6.1.4.1.311.25.2");
    expect(text).toContain("DNS:pc-8.corp.example");

    const allowed = await ca.issue({ csrDer: extSid, allowSid: true });
    writePem(dir, "allowed.pem", allowed.certificatePem);
    expect(openssl(["x509", "-in", "allowed.pem", "-noout", "-text"], dir)).toContain("1.3.6.1.4.1.311.25.2");
    expect(new Certificate(allowed.certificateDer).extensions.find((e) => e.oid === "1.3.6.1.4.1.311.25.2")?.value).toEqual(new Uint8Array(Buffer.from(SID_EXT, "hex")));

    const withSan = await ca.issue({ csrDer: sanSid, allowSid: true });
    expect(new Certificate(withSan.certificateDer).subjectAltNames.other).toHaveLength(1);
  });
});
