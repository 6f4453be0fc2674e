/**
 * RFC 8894 §3.3.4 GetCert and §3.3.5 GetCRL against an example server as a child process on loopback, with real
 * messages from the SDK's client: the embedded CA answers GetCert from its index when the asked issuer is the
 * certificate's, through an intermediate (the CA bundle) and after a CA rollover (the previous CA's certificates stay in
 * the index); and, with `cli`, the `scep getcert` / `scep getcrl` commands against the same server.
 */
import { execFile } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, LocalKey, ScepClient, buildGetCert, buildGetCrl, createSelfSignedSigner, generateRsaKeyPair, readCertRep, selectRecipient, type CertRep } from "@scep/core";
import { runCli } from "../../../cli/test/support/run-cli.js";
import { startExample, type ExampleProcess } from "./example-process.js";
import { pkcsReqAndPoll } from "./pkcs-req.js";

const CHALLENGE = "get-cert-challenge-5b1e";

function openssl(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}`)) : resolve(stdout))),
  );
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A root CA and an issuing CA under it in `dir` (root.pem/.key, `name`.pem/.key), and bundle.pem: issuing CA, then root. */
async function makeChain(dir: string): Promise<void> {
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-subj", "/CN=GetCert Root CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem"], dir);
  writeFileSync(join(dir, "ext.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
  for (const name of ["issuing", "next"]) {
    await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-subj", `/CN=GetCert ${name === "issuing" ? "Issuing" : "Next"} CA`, "-out", `${name}.csr`], dir);
    await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-out", `${name}.pem`], dir);
    writeFileSync(join(dir, `${name}-bundle.pem`), readFileSync(join(dir, `${name}.pem`), "utf8") + readFileSync(join(dir, "root.pem"), "utf8"));
  }
}

/**
 * @param name - "express" or "hono"
 * @param exampleDir - the example's directory
 * @param options - `cli`: also run `scep getcert` and `scep getcrl` against the server
 */
export function describeGetCert(name: string, exampleDir: string, options: { cli?: boolean } = {}): void {
  describe(`${name} example server: RFC 8894 §3.3.4 GetCert and §3.3.5 GetCRL from the embedded CA's index`, () => {
    const dir = mkdtempSync(join(tmpdir(), `scep-get-cert-${name}-`));
    const dataDir = join(dir, "data");
    let proc: ExampleProcess | undefined;
    let url: string;
    let device: Certificate;
    let root: Certificate;
    let asker: LocalKey;

    const start = async (bundle: string, key: string): Promise<void> => {
      const s = await startExample(exampleDir, { SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: CHALLENGE, INIT_CWD: dir }, ["--ca-cert", bundle, "--ca-key", key]);
      proc = s.proc;
      url = `${s.base}/scep`;
    };
    /** One GetCert (or GetCRL) signed by `asker`, a throwaway self-signed key (RFC 8894 lets any requester ask). */
    const ask = async (op: "GetCert" | "GetCRL", issuer: Uint8Array, serialNumber: Uint8Array): Promise<CertRep> => {
      const client = new ScepClient({ url });
      const caCertificates = await client.getCaCert();
      const built = await (op === "GetCert" ? buildGetCert : buildGetCrl)({ issuer, serialNumber, signer: asker, recipient: selectRecipient(caCertificates) });
      return readCertRep(await client.pkiOperation(built.der), { decrypter: asker, caCertificates, request: built });
    };
    const enroll = async (subject: string): Promise<Certificate> => {
      const { first } = await pkcsReqAndPoll(url, { subject, challenge: CHALLENGE });
      expect(first.status).toBe("SUCCESS");
      return first.certificates[0]!;
    };

    beforeAll(async () => {
      await makeChain(dir);
      root = Certificate.from(readFileSync(join(dir, "root.pem"), "utf8"));
      asker = await createSelfSignedSigner({ keys: await generateRsaKeyPair(2048), subject: "CN=any requester" });
      await start("issuing-bundle.pem", "issuing.key");
      device = await enroll("CN=getcert-device");
    });
    afterAll(async () => {
      await proc?.terminate();
      rmSync(dir, { recursive: true, force: true });
    });

    it("GetCert for an issued certificate: SUCCESS with exactly that certificate (DER), issued by the intermediate of the CA bundle", async () => {
      expect(device.issuer).toBe("CN=GetCert Issuing CA");
      const rep = await ask("GetCert", device.issuerDer, device.serialNumber);
      expect([rep.status, rep.certificates.length]).toEqual(["SUCCESS", 1]);
      expect(hex(rep.certificates[0]!.der)).toBe(hex(device.der));
    });

    it("GetCert with the serial spelled with two extra leading zero octets (BER's redundant spelling): the same certificate", async () => {
      const rep = await ask("GetCert", device.issuerDer, Uint8Array.from([0, 0, ...device.serialNumber]));
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.der)).toBe(hex(device.der));
    });

    it("GetCert for a serial the CA never issued: FAILURE badCertId", async () => {
      // The device's serial with its last bit flipped: another serial of the same length, whatever the random octets were
      // (setting the first octet to 0x40 gave back the device's own serial once in 64 runs, when it already began 40).
      const other = Uint8Array.from(device.serialNumber, (octet, i) => (i === device.serialNumber.length - 1 ? octet ^ 1 : octet));
      const rep = await ask("GetCert", device.issuerDer, other);
      expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badCertId", "no such certificate"]);
    });

    it("GetCert for the issued serial under another issuer (the bundle's root, a name of no CA here): FAILURE badCertId", async () => {
      for (const issuer of [root.subjectDer, asker.certificate.subjectDer]) {
        const rep = await ask("GetCert", issuer, device.serialNumber);
        expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badCertId"]);
      }
    });

    it("GetCRL for the issued certificate: the intermediate's CRL, which openssl verifies against it", async () => {
      const rep = await ask("GetCRL", device.issuerDer, device.serialNumber);
      expect([rep.status, rep.crls.length]).toEqual(["SUCCESS", 1]);
      writeFileSync(join(dir, "getcrl.der"), rep.crls[0]!);
      await openssl(["crl", "-inform", "DER", "-in", "getcrl.der", "-noout", "-CAfile", "issuing.pem", "-verify"], dir);
    });

    describe("RFC 5280 §4.1.2.2: a negative serial (DER content 80 01, OpenSSL's -set_serial -32767, as old CAs issued) beside 0x8001 (00 80 01)", () => {
      let negative: Certificate;
      let positive: Certificate;
      beforeAll(async () => {
        // Two certificates of this CA imported into its index as lines in the CA's own spelling (-7fff, 008001).
        const lines: string[] = [];
        // And a third, −32766 (content 80 02), on a line that spells it 8002 as @peculiar/x509 prints it: 0x8002's key.
        for (const [name, serial] of [["negative", "-32767"], ["positive", "0x8001"], ["misspelt", "-32766"]] as const) {
          await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-subj", `/CN=serial ${name}`, "-out", `${name}.csr`], dir);
          await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "issuing.pem", "-CAkey", "issuing.key", "-set_serial", serial, "-days", "10", "-out", `${name}.pem`], dir);
          const cert = Certificate.from(readFileSync(join(dir, `${name}.pem`), "utf8"));
          const at = new Date().toISOString();
          lines.push(JSON.stringify({ serial: { negative: "-7fff", positive: "008001", misspelt: "8002" }[name], subject: cert.subject, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), issuedAt: at, certificate: Buffer.from(cert.der).toString("base64") }));
        }
        writeFileSync(join(dataDir, "index.jsonl"), lines.join("\n") + "\n", { flag: "a" });
        negative = Certificate.from(readFileSync(join(dir, "negative.pem"), "utf8"));
        positive = Certificate.from(readFileSync(join(dir, "positive.pem"), "utf8"));
      });

      it("openssl wrote the serials as the INTEGERs 80 01 and 00 80 01 (serial=-7FFF and serial=8001)", async () => {
        expect([hex(negative.serialNumber), hex(positive.serialNumber)]).toEqual(["8001", "008001"]);
        expect((await openssl(["x509", "-in", "negative.pem", "-noout", "-serial"], dir)).trim()).toBe("serial=-7FFF");
        expect((await openssl(["x509", "-in", "positive.pem", "-noout", "-serial"], dir)).trim()).toBe("serial=8001");
      });

      it("GetCert 80 01: the negative serial's certificate; GetCert 00 80 01: 0x8001's; never the other's", async () => {
        for (const cert of [negative, positive]) {
          const rep = await ask("GetCert", cert.issuerDer, cert.serialNumber);
          expect([rep.status, rep.certificates.map((c) => hex(c.der))]).toEqual(["SUCCESS", [hex(cert.der)]]);
        }
      });

      it("GetCert ff 80 01 (BER's redundant ff of −32767): the negative serial's certificate", async () => {
        const rep = await ask("GetCert", negative.issuerDer, Uint8Array.from([0xff, 0x80, 0x01]));
        expect([rep.status, rep.certificates.map((c) => hex(c.der))]).toEqual(["SUCCESS", [hex(negative.der)]]);
      });

      it("the line spelling −32766 as 8002: GetCert 00 80 02 (0x8002) is FAILURE badCertId, not −32766's certificate; so is 80 02 (no line keyed -7ffe)", async () => {
        for (const serial of [[0x00, 0x80, 0x02], [0x80, 0x02]]) {
          const rep = await ask("GetCert", negative.issuerDer, Uint8Array.from(serial));
          expect([rep.status, rep.failInfo, rep.certificates.length]).toEqual(["FAILURE", "badCertId", 0]);
        }
      });

      if (options.cli) {
        it("scep getcert --serial -7FFF (openssl's spelling) and --serial 80:01: each its own certificate", async () => {
          const scep = (args: string[]) => runCli(args, { cwd: dir });
          const neg = await scep(["getcert", "--url", url, "--serial", "-7FFF"]);
          expect([neg.code, neg.stderr, neg.stdout]).toEqual([0, "", negative.toPem().trimEnd() + "\n"]);
          const pos = await scep(["getcert", "--url", url, "--serial", "80:01"]);
          expect([pos.code, pos.stderr, pos.stdout]).toEqual([0, "", positive.toPem().trimEnd() + "\n"]);
        });

        it("scep getcrl --cert negative.pem (IssuerAndSerialNumber with content 80 01): the CA's CRL, exit 0", async () => {
          const r = await runCli(["getcrl", "--url", url, "--cert", "negative.pem", "--out", "negative.crl"], { cwd: dir });
          expect([r.code, r.stderr]).toEqual([0, ""]);
          await openssl(["crl", "-inform", "DER", "-in", "negative.crl", "-noout", "-CAfile", "issuing.pem", "-verify"], dir);
        });
      }
    });

    if (options.cli) describeCli();

    if (options.cli) {
      it("scep enroll --key with an EC (P-256) key: signed and answered through a one-time RSA key (RFC 8894 §2.3, §3.3.2); the certificate holds the EC key", async () => {
        const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
        writeFileSync(join(dir, "ec.key"), privateKey.export({ type: "sec1", format: "pem" }));
        const r = await runCli(["enroll", "--url", url, "--challenge", CHALLENGE, "--cn", "ec-device", "--key", "ec.key", "--out", "ec.pem"], { cwd: dir });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain("note: --key is not an RSA key: the request is signed, and the reply encrypted, with a one-time RSA key");
        const cert = Certificate.from(readFileSync(join(dir, "ec.pem"), "utf8"));
        expect(hex(cert.spki)).toBe(hex(createPublicKey(privateKey).export({ type: "spki", format: "der" })));
        expect(cert.subject).toBe("CN=ec-device");
      });
    }

    describe("after a CA rollover: the next CA's certificate and key in --ca-cert/--ca-key, the same data directory", () => {
      let renewed: Certificate;
      beforeAll(async () => {
        await proc!.terminate();
        proc = undefined;
        await start("next-bundle.pem", "next.key");
        renewed = await enroll("CN=getcert-after-rollover");
      });

      it("GetCert still answers for a certificate of the previous CA (its issuer, its serial), and for one of the new CA", async () => {
        expect([device.issuer, renewed.issuer]).toEqual(["CN=GetCert Issuing CA", "CN=GetCert Next CA"]);
        for (const cert of [device, renewed]) {
          const rep = await ask("GetCert", cert.issuerDer, cert.serialNumber);
          expect(rep.status).toBe("SUCCESS");
          expect(hex(rep.certificates[0]!.der)).toBe(hex(cert.der));
        }
      });

      it("a serial of one CA asked under the other CA's name: FAILURE badCertId", async () => {
        const rep = await ask("GetCert", renewed.issuerDer, device.serialNumber);
        expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badCertId"]);
        const back = await ask("GetCert", device.issuerDer, renewed.serialNumber);
        expect([back.status, back.failInfo]).toEqual(["FAILURE", "badCertId"]);
      });
    });

    function describeCli(): void {
      describe("scep getcert and scep getcrl (the CLI as a child process)", () => {
        const scep = (args: string[]) => runCli(args, { cwd: dir });
        beforeAll(async () => {
          const enrolled = await scep(["enroll", "--url", url, "--challenge", CHALLENGE, "--cn", "cli-device", "--out", "cli-device.pem"]);
          expect(enrolled.code, enrolled.stderr).toBe(0);
        });

        it("getcert --serial in OpenSSL's colon spelling with extra leading zeros, --out: the exact certificate, exit 0", async () => {
          const serial = `00:00:${device.serialNumberHex.toUpperCase().match(/../g)!.join(":")}`;
          const r = await scep(["getcert", "--url", url, "--serial", serial, "--out", "got.pem"]);
          expect([r.code, r.stderr]).toEqual([0, ""]);
          expect(r.stdout).toBe(`subject:     CN=getcert-device\nissuer:      CN=GetCert Issuing CA\nserial:      ${device.serialNumberHex}\nnot after:   ${device.notAfter.toISOString()}\ncertificate: ${join(dir, "got.pem")}\n`);
          expect(hex(Certificate.from(readFileSync(join(dir, "got.pem"), "utf8")).der)).toBe(hex(device.der));
        });

        it("getcert signed by the requester's own certificate and key (--cert/--key), printed as PEM without --out; --issuer-cert names the issuer", async () => {
          const mine = Certificate.from(readFileSync(join(dir, "cli-device.pem"), "utf8"));
          const r = await scep(["getcert", "--url", url, "--serial", mine.serialNumberHex.toLowerCase(), "--issuer-cert", "issuing.pem", "--cert", "cli-device.pem", "--key", "cli-device.key"]);
          expect([r.code, r.stderr]).toEqual([0, ""]);
          expect(r.stdout).toBe(mine.toPem().trimEnd() + "\n");
        });

        it("getcert for an unknown serial, or under the root's name: FAILURE badCertId in words, exit 2", async () => {
          const said = (issuer: string, serial: string, hint: string): string => `FAILURE: badCertId: the CA has no certificate of issuer ${issuer} with serial ${serial} (the CA said "no such certificate"); ${hint}\n`;
          expect(await scep(["getcert", "--url", url, "--serial", "01:02:03"])).toMatchObject({
            code: 2,
            stdout: "",
            stderr: said(device.issuer, "01:02:03", "check --serial, and give --issuer-cert when the CA has more than one issuer"),
          });
          expect(await scep(["getcert", "--url", url, "--serial", device.serialNumberHex, "--issuer-cert", "root.pem"])).toMatchObject({
            code: 2,
            stdout: "",
            stderr: said(root.subject, device.serialNumberHex, "check --serial and --issuer-cert"),
          });
        });

        it("getcrl --cert --out crl.der (DER, openssl verifies it against the CA) and --out crl.pem (the same CRL, PEM); without --out PEM on stdout", async () => {
          const der = await scep(["getcrl", "--url", url, "--cert", "cli-device.pem", "--out", "cli.crl"]);
          expect([der.code, der.stderr]).toEqual([0, ""]);
          const bytes = readFileSync(join(dir, "cli.crl"));
          expect(der.stdout).toBe(`wrote the CRL of CN=GetCert Issuing CA (${bytes.length} bytes DER) to ${join(dir, "cli.crl")}\n`);
          await openssl(["crl", "-inform", "DER", "-in", "cli.crl", "-noout", "-CAfile", "issuing.pem", "-verify"], dir);
          const pem = await scep(["getcrl", "--url", url, "--cert", "cli-device.pem", "--key", "cli-device.key", "--out", "cli.crl.pem"]);
          expect(pem.code, pem.stderr).toBe(0);
          expect(pem.stdout).toBe(`wrote the CRL of CN=GetCert Issuing CA (PEM of ${bytes.length} bytes of DER) to ${join(dir, "cli.crl.pem")}\n`);
          const text = readFileSync(join(dir, "cli.crl.pem"), "utf8");
          expect(text.startsWith("-----BEGIN X509 CRL-----\n")).toBe(true);
          expect(hex(Buffer.from(text.replace(/-----[^-]+-----|\s/g, ""), "base64"))).toBe(hex(bytes));
          const out = await scep(["getcrl", "--url", url, "--cert", "cli-device.pem"]);
          expect([out.code, out.stdout]).toEqual([0, text]);
        });

        it("getcrl for a certificate of another issuer (the root): FAILURE badCertId saying the CA knows no such issuer and serial, exit 2", async () => {
          expect(await scep(["getcrl", "--url", url, "--cert", "root.pem", "--out", "none.crl"])).toMatchObject({
            code: 2,
            stdout: "",
            stderr:
              `FAILURE: badCertId: the CA knows no certificate of issuer CN=GetCert Root CA with serial ${root.serialNumberHex}, so no CRL for it ` +
              '(the CA said "no CRL for this certificate"); is --cert root.pem a certificate this CA issued?\n',
          });
        });
      });
    }
  });
}
