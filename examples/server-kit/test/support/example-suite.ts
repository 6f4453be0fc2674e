/**
 * The behaviour every example server must show, run against each example as
 * a child process on loopback: caps and CA certificate, an enrollment with the
 * core client whose certificate `openssl verify` accepts, restarts that keep
 * CA and challenge, existing CAs (PKCS#1 and PKCS#8 keys made by openssl),
 * flags, PENDING with operator approval, timeouts against slow clients,
 * graceful shutdown and configuration errors.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { request } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  ScepClient,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  selectRecipient,
} from "@scep/core";
import { REPO_ROOT, TrackedExamples } from "./example-process.js";
import { pkcsReqAndPoll } from "./pkcs-req.js";

// `--import tsx` resolves from the child's cwd (a temp dir): pass tsx's loader by URL.
const TSX_LOADER = pathToFileURL(createRequire(join(REPO_ROOT, "package.json")).resolve("tsx")).href;

// What the clients of INTEROP.md rely on (core's default list may grow).
const NEEDED_CAPS = ["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-512", "SCEPStandard"];
const DAY = 86_400_000;
const TOKEN = "test-admin-token-0123456789";

function openssl(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}`)) : resolve(stdout))),
  );
}

const colonHex = (der: Uint8Array): string => createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":");

async function enroll(url: string, challenge: string, subject: string, keys?: CryptoKeyPair) {
  const k = keys ?? (await generateRsaKeyPair(2048));
  const csr = await generateCsr({ keys: k, subject, challengePassword: challenge });
  const signer = await createSelfSignedSigner({ keys: k, subject });
  return { rep: await new ScepClient({ url }).enroll({ csr, signer }), csr, signer };
}

/**
 * @param name - "express" or "hono" (the program name is `${name}-server`)
 * @param exampleDir - the example's directory (its bundle runs there)
 * @param pnpmScript - the root script that starts it (`start`, `start:hono`)
 */
export function describeExampleServer(name: string, exampleDir: string, pnpmScript: string): void {
  describe(`${name} example server`, () => {
    const tmp = mkdtempSync(join(tmpdir(), `scep-example-${name}-`));
    const examples = new TrackedExamples(exampleDir);
    const start: TrackedExamples["start"] = (env, args, options) => examples.start(env, args, options);
    let keys: CryptoKeyPair;

    beforeAll(async () => {
      keys = await generateRsaKeyPair(2048);
    });
    afterAll(async () => {
      await examples.terminateAll();
      rmSync(tmp, { recursive: true, force: true });
    });

    describe("with the embedded CA in a fresh data directory", () => {
      const dataDir = join(tmp, "data");
      let s: Awaited<ReturnType<typeof start>>;
      let challenge: string;
      let started: [number, number];
      beforeAll(async () => {
        const before = Date.now();
        s = await start({ SCEP_DATA_DIR: dataDir, SCEP_VALIDITY_DAYS: "30" });
        started = [before, Date.now()];
        challenge = readFileSync(join(dataDir, "challenge"), "utf8").trim();
      });

      it("prints the SCEP URL, the generated challenge (once) and the CA fingerprint on stderr; stdout holds JSON lines only", () => {
        expect(s.listening.urls).toEqual([`${s.base}/scep`]);
        expect(s.proc.banner("SCEP URL")).toBe(`${s.base}/scep`);
        expect(challenge).toMatch(/^[0-9a-f]{32}$/);
        expect(s.proc.banner("challenge")).toBe(`${challenge}  (generated now and stored in ${join(dataDir, "challenge")}; shown this once)`);
        expect(s.proc.banner("data directory")).toBe(dataDir);
        // --key-workers auto with one process: 2 threads (none on one core), what signs and decrypts said once.
        const keyWorkers: number = availableParallelism() > 1 ? 2 : 0;
        expect(s.listening.keyWorkers).toBe(keyWorkers);
        expect(s.proc.banner("private keys")).toBe(keyWorkers > 0 ? `${keyWorkers} key worker thread${keyWorkers === 1 ? "" : "s"} (decryptions and signatures; --key-workers)` : "on the event loop (--key-workers 0)");
        expect(s.proc.lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(["listening"]);
        expect(s.proc.lines.join("\n")).not.toContain(challenge);
        expect(statSync(join(dataDir, "challenge")).mode & 0o777).toBe(0o600);
        const ca = new Certificate(Certificate.from(readFileSync(join(dataDir, "ca.pem"), "utf8")).der);
        expect(s.listening.fingerprintSha256).toBe(colonHex(ca.der));
        expect(s.proc.banner("CA fingerprint")).toBe(`SHA-256 ${colonHex(ca.der)}`);
        expect(s.listening.caCertificate).toBe(join(dataDir, "ca.pem"));
      });

      it("answers GetCACaps and GetCACert", async () => {
        const caps = await fetch(`${s.base}/scep?operation=GetCACaps`);
        expect([caps.status, caps.headers.get("content-type")]).toEqual([200, "text/plain"]);
        expect((await caps.text()).split("\n")).toEqual(expect.arrayContaining(NEEDED_CAPS));
        const certs = await new ScepClient({ url: `${s.base}/scep` }).getCaCert();
        expect(certs.map((c) => [c.subject, colonHex(c.der)])).toEqual([["CN=SCEP Example CA, O=scep-sdk", s.listening.fingerprintSha256]]);
      });

      it("enrolls with the core client; openssl verifies the certificate against <dataDir>/ca.pem, also on a device clock 120 s slow (notBefore back-dated 300 s)", async () => {
        const before = Date.now();
        const { rep } = await enroll(`${s.base}/scep`, challenge, "CN=device-1,O=example tests", keys);
        const after = Date.now();
        expect(rep.status).toBe("SUCCESS");
        const cert = rep.certificates[0]!;
        expect(cert.subject).toBe("CN=device-1, O=example tests");
        expect(cert.issuer).toBe("CN=SCEP Example CA, O=scep-sdk");
        // RFC 5280 §4.1.2.5 validity: starts 300 s before issuance (SCEP_BACKDATE_SECONDS default), lasts 30 days from issuance.
        expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(30 * DAY + 300_000);
        expect(cert.notBefore.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 300_000);
        expect(cert.notBefore.getTime()).toBeLessThanOrEqual(after - 300_000);
        // The generated CA is back-dated the same way, so it is valid whenever its certificates are.
        const ca = new Certificate(Certificate.from(readFileSync(join(dataDir, "ca.pem"), "utf8")).der);
        expect(ca.notBefore.getTime()).toBeGreaterThanOrEqual(Math.floor(started[0] / 1000) * 1000 - 300_000);
        expect(ca.notBefore.getTime()).toBeLessThanOrEqual(started[1] - 300_000);
        writeFileSync(join(tmp, "device-1.pem"), cert.toPem());
        expect((await openssl(["verify", "-CAfile", join(dataDir, "ca.pem"), join(tmp, "device-1.pem")], tmp)).trim()).toBe(`${join(tmp, "device-1.pem")}: OK`);
        const slowClock = String(Math.floor(before / 1000) - 120);
        expect((await openssl(["verify", "-attime", slowClock, "-CAfile", join(dataDir, "ca.pem"), join(tmp, "device-1.pem")], tmp)).trim()).toBe(`${join(tmp, "device-1.pem")}: OK`);
        const tooEarly = String(cert.notBefore.getTime() / 1000 - 1);
        await expect(openssl(["verify", "-attime", tooEarly, "-CAfile", join(dataDir, "ca.pem"), join(tmp, "device-1.pem")], tmp)).rejects.toThrow(/certificate is not yet valid/);
        const event = await s.proc.waitForJson("scep", (e) => e.operation === "PKCSReq");
        expect(event).toMatchObject({ profile: "/scep", outcome: "success", reason: "issued", status: 200, subject: "CN=device-1, O=example tests", serial: cert.serialNumberHex, clientAddress: "127.0.0.1" });
        // The line's time is the request's arrival (ISO 8601 UTC, milliseconds), within the enrollment's window.
        expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(Date.parse(event.time as string)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(event.time as string)).toBeLessThanOrEqual(after);
        // The index is the record of issued certificates (certs/<serial>.pem only with --cert-files).
        const index = readFileSync(join(dataDir, "index.jsonl"), "utf8");
        expect(index).toContain(cert.serialNumberHex.toLowerCase());
        expect(existsSync(join(dataDir, "certs", `${cert.serialNumberHex.toLowerCase()}.pem`))).toBe(false);
      });

      it("answers a wrong challenge with FAILURE badRequest", async () => {
        const { rep } = await enroll(`${s.base}/scep`, "not-the-challenge", "CN=intruder", keys);
        expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", "challenge password mismatch"]);
      });

      it("answers 413 to an oversized PKIOperation and 404 to foreign paths; no admin routes without a token", async () => {
        const big = await fetch(`${s.base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array(70_000).fill(0x30) });
        expect(big.status).toBe(413);
        expect((await fetch(`${s.base}/elsewhere`)).status).toBe(404);
        expect((await fetch(`${s.base}/admin/approve/abc`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      });

      it("exits 0 on SIGTERM; a restart reuses the CA and the challenge", async () => {
        expect(await s.proc.terminate()).toEqual({ code: 0, signal: null });
        expect(s.proc.lines.some((l) => l.includes('"type":"stopped"'))).toBe(true);
        const again = await start({ SCEP_DATA_DIR: dataDir });
        expect(again.listening.fingerprintSha256).toBe(s.listening.fingerprintSha256);
        expect(again.proc.banner("challenge")).toBe(`stored in ${join(dataDir, "challenge")} (not shown again)`);
        expect(again.proc.stderr + again.proc.lines.join("\n")).not.toContain(challenge);
        const { rep } = await enroll(`${again.base}/scep`, challenge, "CN=device-2", keys);
        expect(rep.status).toBe("SUCCESS");
        expect(rep.certificates[0]!.notAfter.getTime() - rep.certificates[0]!.notBefore.getTime()).toBe(365 * DAY + 300_000);
        expect(await again.proc.terminate()).toEqual({ code: 0, signal: null });
      });
    });

    describe.each([
      ["PKCS#1", ["genrsa", "-traditional", "-out", "ca.key", "2048"], "-----BEGIN RSA PRIVATE KEY-----"],
      ["PKCS#8", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "ca.key"], "-----BEGIN PRIVATE KEY-----"],
    ])("with an existing CA made by openssl (%s key) via SCEP_CA_CERT/SCEP_CA_KEY", (kind, genArgs, keyHeader) => {
      const dir = join(tmp, `ext-${kind.replace("#", "")}`);
      let s: Awaited<ReturnType<typeof start>>;
      let fingerprint: string;
      beforeAll(async () => {
        mkdirSync(dir, { recursive: true });
        const ca = mkdtempSync(join(tmp, "ca-"));
        await openssl(genArgs, ca);
        expect(readFileSync(join(ca, "ca.key"), "utf8").startsWith(keyHeader)).toBe(true);
        await openssl(["req", "-x509", "-new", "-key", "ca.key", "-subj", `/CN=Existing ${kind} CA/O=example tests`, "-days", "30", "-sha256",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment", "-out", "ca.pem"], ca);
        fingerprint = (await openssl(["x509", "-in", "ca.pem", "-noout", "-fingerprint", "-sha256"], ca)).trim().replace(/^.*=/, "");
        s = await start({ SCEP_DATA_DIR: join(dir, "data"), SCEP_CA_CERT: join(ca, "ca.pem"), SCEP_CA_KEY: join(ca, "ca.key"), SCEP_CHALLENGE: "given-challenge" });
      });
      afterAll(() => s.proc.terminate());

      it("uses that CA: fingerprint as openssl prints it, certificates verify against it", async () => {
        expect(s.listening.fingerprintSha256).toBe(fingerprint);
        expect(s.proc.banner("challenge")).toBe("(given; not shown)");
        expect(existsSync(join(dir, "data", "ca.pem"))).toBe(false);
        expect(existsSync(join(dir, "data", "challenge"))).toBe(false);
        const { rep } = await enroll(`${s.base}/scep`, "given-challenge", `CN=device-${kind}`, keys);
        expect(rep.status).toBe("SUCCESS");
        expect(rep.certificates[0]!.issuer).toBe(`CN=Existing ${kind} CA, O=example tests`);
        expect(s.proc.stderr + s.proc.lines.join("\n")).not.toContain("given-challenge");
        // the CA lives 30 days: issued certificates never outlive it; and it began moments ago: they never start before it
        const ca = new Certificate(Certificate.from(readFileSync(s.listening.caCertificate, "utf8")).der);
        expect(rep.certificates[0]!.notAfter.getTime()).toBe(ca.notAfter.getTime());
        expect(rep.certificates[0]!.notBefore.getTime()).toBe(ca.notBefore.getTime());
        writeFileSync(join(dir, "device.pem"), rep.certificates[0]!.toPem());
        expect((await openssl(["verify", "-CAfile", s.listening.caCertificate, "device.pem"], dir)).trim()).toBe("device.pem: OK");
      });
    });

    describe("with an encrypted CA key (RFC 5958 §3 PKCS#8, RFC 1421 legacy PEM; the passphrase from the environment only)", () => {
      let dir: string;
      beforeAll(async () => {
        dir = mkdtempSync(join(tmp, "enc-"));
        await openssl(["req", "-x509", "-newkey", "rsa:2048", "-keyout", "pkcs8.key", "-passout", "pass:pkcs8-pass", "-subj", "/CN=Encrypted Key CA", "-days", "30",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment", "-out", "ca.pem"], dir);
        await openssl(["rsa", "-in", "pkcs8.key", "-passin", "pass:pkcs8-pass", "-traditional", "-aes256", "-passout", "pass:legacy pass", "-out", "legacy.key"], dir);
        writeFileSync(join(dir, "legacy.pass"), "legacy pass\n", { mode: 0o600 });
        // The same key in DER: plain PKCS#8, and encrypted PKCS#8 (RFC 5958 §3).
        await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "pkcs8.key", "-passin", "pass:pkcs8-pass", "-outform", "DER", "-out", "plain.der"], dir);
        await openssl(["pkcs8", "-topk8", "-in", "pkcs8.key", "-passin", "pass:pkcs8-pass", "-v2", "aes-256-cbc", "-passout", "pass:der-pass", "-outform", "DER", "-out", "enc.der"], dir);
        await openssl(["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"], dir);
        await new Promise<void>((resolve, reject) => execFile("scepserver", ["ca", "-init", "-depot", "depot", "-keySize", "2048"], { cwd: dir }, (e) => (e ? reject(e) : resolve())));
      });

      it.each([
        ["micromdm's depot ca.key (empty passphrase), no passphrase set", "depot/ca.pem", "depot/ca.key", {}],
        ["OpenSSL PKCS#8 with SCEP_CA_KEY_PASSPHRASE", "ca.pem", "pkcs8.key", { SCEP_CA_KEY_PASSPHRASE: "pkcs8-pass" }],
        ["OpenSSL legacy PEM with SCEP_CA_KEY_PASSPHRASE_FILE", "ca.pem", "legacy.key", { SCEP_CA_KEY_PASSPHRASE_FILE: "legacy.pass" }],
        ["a DER PKCS#8 key", "ca.pem", "plain.der", {}],
        ["an encrypted DER PKCS#8 key with SCEP_CA_KEY_PASSPHRASE", "ca.pem", "enc.der", { SCEP_CA_KEY_PASSPHRASE: "der-pass" }],
      ])("starts with %s and issues", async (_, cert, key, env: Record<string, string>) => {
        const s = await start({ SCEP_DATA_DIR: join(dir, `data-${key.replace("/", "-")}`), SCEP_CHALLENGE: "c", INIT_CWD: dir, ...env }, ["--ca-cert", cert, "--ca-key", key]);
        const { rep } = await enroll(`${s.base}/scep`, "c", "CN=behind-encrypted-key", keys);
        expect(rep.status).toBe("SUCCESS");
        writeFileSync(join(dir, "issued.pem"), rep.certificates[0]!.toPem());
        expect((await openssl(["verify", "-CAfile", cert, "issued.pem"], dir)).trim()).toBe("issued.pem: OK");
        expect(s.proc.stderr + s.proc.lines.join("\n")).not.toMatch(/pkcs8-pass|legacy pass|der-pass/);
        expect(await s.proc.terminate()).toEqual({ code: 0, signal: null });
      });

      it.each([
        ["no passphrase", "pkcs8.key", {}, "the private key is encrypted and no passphrase was given (the empty passphrase does not open it): set SCEP_CA_KEY_PASSPHRASE or SCEP_CA_KEY_PASSPHRASE_FILE"],
        ["a wrong SCEP_CA_KEY_PASSPHRASE", "pkcs8.key", { SCEP_CA_KEY_PASSPHRASE: "not-the-pass" }, "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key): check SCEP_CA_KEY_PASSPHRASE"],
        ["a wrong SCEP_CA_KEY_PASSPHRASE_FILE", "legacy.key", { SCEP_CA_KEY_PASSPHRASE_FILE: "ca.pem" }, "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key): check SCEP_CA_KEY_PASSPHRASE_FILE"],
        ["an encrypted DER key and no passphrase", "enc.der", {}, "the private key is encrypted and no passphrase was given (the empty passphrase does not open it): set SCEP_CA_KEY_PASSPHRASE or SCEP_CA_KEY_PASSPHRASE_FILE"],
        ["an encrypted DER key and a wrong SCEP_CA_KEY_PASSPHRASE", "enc.der", { SCEP_CA_KEY_PASSPHRASE: "not-the-pass" }, "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key): check SCEP_CA_KEY_PASSPHRASE"],
        ["a DER certificate", "plain.der", {}, "expected PEM, this is a DER certificate (convert it: openssl x509 -inform der -in CERT -out ca.pem)", "ca.der"],
      ])("exits 2 with one line naming the option for %s", async (_, key, env: Record<string, string>, message, cert = "ca.pem") => {
        const proc = examples.launch({ SCEP_DATA_DIR: join(dir, "refused"), SCEP_CHALLENGE: "c", INIT_CWD: dir, ...env }, ["--ca-cert", cert, "--ca-key", key]);
        expect(await proc.exited).toEqual({ code: 2, signal: null });
        expect(proc.stderr).toBe(`${name}-server: ${join(dir, cert === "ca.pem" ? key : cert)}: ${message.replace("CERT", join(dir, cert))}\n`);
        expect(proc.stderr).not.toContain("not-the-pass");
      });

      // A file that cannot be read says why in words (no bare ENOENT).
      it.each([
        ["a missing SCEP_CA_KEY_PASSPHRASE_FILE", { SCEP_CA_KEY_PASSPHRASE_FILE: "nope.pass" }, ["--ca-cert", "ca.pem", "--ca-key", "pkcs8.key"], (d: string) => `SCEP_CA_KEY_PASSPHRASE_FILE: cannot read ${join(d, "nope.pass")}: no such file (ENOENT)`],
        ["a missing --ca-cert", {}, ["--ca-cert", "nope.pem", "--ca-key", "plain.der"], (d: string) => `cannot read ${join(d, "nope.pem")}: no such file (ENOENT)`],
        ["a directory as SCEP_NEXT_CA_CERT", { SCEP_NEXT_CA_CERT: "." }, ["--ca-cert", "ca.pem", "--ca-key", "plain.der"], (d: string) => `SCEP_NEXT_CA_CERT: cannot read ${d}: it is a directory, not a file (EISDIR)`],
        // Named as the user gave it: the flag, not the variable it stands for.
        ["a directory as --next-ca-cert", {}, ["--ca-cert", "ca.pem", "--ca-key", "plain.der", "--next-ca-cert", "."], (d: string) => `--next-ca-cert: cannot read ${d}: it is a directory, not a file (EISDIR)`],
      ])("%s is one line saying why in words, exit 2", async (_, env: Record<string, string>, argv, line) => {
        const proc = examples.launch({ SCEP_DATA_DIR: join(dir, "unreadable"), SCEP_CHALLENGE: "c", INIT_CWD: dir, ...env }, argv);
        expect(await proc.exited).toEqual({ code: 2, signal: null });
        expect(proc.stderr).toBe(`${name}-server: ${line(dir)}\n`);
      });

      it("refuses an EC CA (it cannot decrypt requests) with one line, exit 2 (RFC 8894 §3.2.2)", async () => {
        await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-subj", "/CN=EC CA", "-days", "2",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature", "-out", "ec.pem"], dir);
        // SEC1 DER (RFC 5915 §3) too: a DER key is read, and an EC one refused the same way.
        await openssl(["ec", "-in", "ec.key", "-outform", "DER", "-out", "ec.der"], dir);
        for (const key of ["ec.key", "ec.der"]) {
          const proc = examples.launch({ SCEP_DATA_DIR: join(dir, "ec-data"), SCEP_CHALLENGE: "c", INIT_CWD: dir }, ["--ca-cert", "ec.pem", "--ca-key", key]);
          expect(await proc.exited).toEqual({ code: 2, signal: null });
          expect(proc.stderr).toBe(`${name}-server: ${join(dir, key)}: the CA key is EC, and SCEP clients encrypt their requests to an RSA key: an EC CA needs an RSA decrypter (an RA certificate and key), which this example server does not take; use an RSA CA\n`);
        }
      });
    });

    describe("with an intermediate CA: --ca-cert holds the issuing CA, then the root (RFC 8894 §4.2.1.2)", () => {
      let dir: string;
      let s: Awaited<ReturnType<typeof start>>;
      const cli = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
          execFile(process.execPath, ["--import", TSX_LOADER, join(REPO_ROOT, "examples/cli/src/main.ts"), ...args], { cwd: dir, env: { ...process.env, TSX_TSCONFIG_PATH: join(REPO_ROOT, "examples/cli/tsconfig.json"), NODE_OPTIONS: "" } },
            (e, stdout, stderr) => resolve({ code: e ? Number(e.code) : 0, stdout, stderr })),
        );
      beforeAll(async () => {
        dir = mkdtempSync(join(tmp, "chain-"));
        await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-subj", "/CN=Chain Root CA", "-days", "30",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem"], dir);
        await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "issuing.key", "-subj", "/CN=Chain Issuing CA", "-out", "issuing.csr"], dir);
        writeFileSync(join(dir, "ext.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
        await openssl(["x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-out", "issuing.pem"], dir);
        writeFileSync(join(dir, "bundle.pem"), readFileSync(join(dir, "issuing.pem"), "utf8") + readFileSync(join(dir, "root.pem"), "utf8"));
        s = await start({ SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: "chain-challenge", INIT_CWD: dir }, ["--ca-cert", "bundle.pem", "--ca-key", "issuing.key"]);
      });
      afterAll(() => s.proc.terminate());

      it("serves the chain in GetCACert as a degenerate PKCS#7 (application/x-x509-ca-ra-cert), issuing CA first", async () => {
        const res = await fetch(`${s.base}/scep?operation=GetCACert`);
        expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-x509-ca-ra-cert"]);
        writeFileSync(join(dir, "getcacert.p7b"), new Uint8Array(await res.arrayBuffer()));
        const printed = await openssl(["pkcs7", "-inform", "DER", "-in", "getcacert.p7b", "-print_certs", "-noout"], dir);
        expect(printed.split("\n").filter((l) => l.startsWith("subject="))).toEqual(["subject=CN = Chain Issuing CA", "subject=CN = Chain Root CA"]);
        expect(s.proc.banner("CA")).toBe("CN=Chain Issuing CA");
      });

      it("enrolls and renews with the CLI (child process); openssl verifies both certificates through the intermediate", async () => {
        const url = `${s.base}/scep`;
        const enrolled = await cli(["enroll", "--url", url, "--challenge", "chain-challenge", "--cn", "chain-device", "--out", "device.pem"]);
        expect(enrolled.code, enrolled.stderr).toBe(0);
        const verify = async (file: string) => (await openssl(["verify", "-untrusted", "issuing.pem", "-CAfile", "root.pem", file], dir)).trim();
        expect(await verify("device.pem")).toBe("device.pem: OK");
        const renewed = await cli(["renew", "--url", url, "--cert", "device.pem", "--key", "device.key", "--out", "renewed.pem"]);
        expect(renewed.code, renewed.stderr).toBe(0);
        expect(await verify("renewed.pem")).toBe("renewed.pem: OK");
        const issuer = (await openssl(["x509", "-in", "renewed.pem", "-noout", "-issuer"], dir)).trim();
        expect(issuer).toBe("issuer=CN = Chain Issuing CA");
        expect(await openssl(["verify", "-CAfile", "root.pem", "renewed.pem"], dir).catch((e: Error) => e.message)).toMatch(/unable to get local issuer certificate/);
      });
    });

    describe("PENDING mode with operator approval (flags instead of environment)", () => {
      let s: Awaited<ReturnType<typeof start>>;
      beforeAll(async () => {
        s = await start({ SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: "from-env" }, ["--pending", "--data-dir", join(tmp, "pending"), "--challenge", "from-flag", "--validity-days", "7"]);
      });
      afterAll(() => s.proc.terminate());

      const admin = (action: string, tid: string, token?: string) =>
        fetch(`${s.base}/admin/scep/${action}/${encodeURIComponent(tid)}`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} });

      /** A PKCSReq answered PENDING (with `transactionId`, else the client's), and a CertPoll for it. */
      async function pendingRequest(subject: string, transactionId?: string) {
        const { first, transactionId: tid, poll } = await pkcsReqAndPoll(`${s.base}/scep`, { subject, challenge: "from-flag", ...(transactionId ? { transactionId } : {}) });
        expect(first.status).toBe("PENDING");
        return { tid, poll };
      }

      it("answers PENDING; approval by the admin endpoint issues on the next CertPoll", async () => {
        expect(s.proc.banner("challenge")).toBe("(given; not shown)");
        const { tid, poll } = await pendingRequest("CN=pending-device");
        expect((await poll()).status).toBe("PENDING");
        const ok = await admin("approve", tid, TOKEN);
        expect([ok.status, await ok.json()]).toEqual([200, { profile: "/scep", transactionId: tid, status: "ISSUED", subject: expect.any(String), serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
        const rep = await poll();
        expect(rep.status).toBe("SUCCESS");
        expect(rep.certificates[0]!.subject).toBe("CN=pending-device");
        expect(rep.certificates[0]!.notAfter.getTime() - rep.certificates[0]!.notBefore.getTime()).toBe(7 * DAY + 300_000);
        const again = await admin("approve", tid, TOKEN);
        // Decided already: 409 with its status (a double click), not 404 (a typo).
        expect([again.status, await again.json()]).toEqual([409, { error: `transaction ${tid} in profile /scep is already ISSUED`, profile: "/scep", transactionId: tid, status: "ISSUED" }]);
      });

      it("401 without a token, 403 with a wrong one, each an audit event that never holds the presented token", async () => {
        const { tid } = await pendingRequest("CN=auth-device");
        const none = await admin("approve", tid);
        expect([none.status, none.headers.get("www-authenticate"), await none.json()]).toEqual([401, 'Bearer realm="scep-admin"', { error: "an Authorization: Bearer <SCEP_ADMIN_TOKEN> header is required" }]);
        const wrong = await admin("approve", tid, "wrong-token-wrong-token");
        expect([wrong.status, await wrong.json()]).toEqual([403, { error: "wrong token: it does not match SCEP_ADMIN_TOKEN, the admin token the server was started with" }]);
        const listWrong = await fetch(`${s.base}/admin/scep/pending`, { headers: { authorization: "Bearer guess-guess-guess" } });
        expect(listWrong.status).toBe(403);
        const path = `/admin/scep/approve/${encodeURIComponent(tid)}`;
        expect(await s.proc.waitForJson("admin-auth-failed", (e) => e.reason === "missing_token")).toMatchObject({ method: "POST", path, clientAddress: "127.0.0.1" });
        expect(await s.proc.waitForJson("admin-auth-failed", (e) => e.reason === "wrong_token" && e.path === path)).toMatchObject({ method: "POST", clientAddress: "127.0.0.1" });
        await s.proc.waitForJson("admin-auth-failed", (e) => e.path === "/admin/scep/pending");
        const all = s.proc.lines.join("\n") + s.proc.stderr;
        expect(all).not.toContain("wrong-token-wrong-token");
        expect(all).not.toContain("guess-guess-guess");
        // still pending: nothing was decided
        const list = (await (await fetch(`${s.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { pending: { transactionId: string }[] };
        expect(list.pending.map((p) => p.transactionId)).toContain(tid);
      });

      it("lists pending transactions (GET /admin/scep/pending) and decides micromdm-style base64 IDs by percent-encoded path, bare path or JSON body", async () => {
        const ids = ["cNJTus+u/QH3uR5EDxDj6+bzBi4=", "k/+9Zq==", "a+b/c/d="];
        const reqs = await Promise.all(ids.map((id, i) => pendingRequest(`CN=b64-${i}`, id)));
        const res = await fetch(`${s.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } });
        expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/json; charset=utf-8"]);
        const { pending } = (await res.json()) as { pending: { profile: string; transactionId: string; subject: string; status: string; ageSeconds: number }[] };
        for (const [i, id] of ids.entries()) {
          const entry = pending.find((p) => p.transactionId === id);
          expect(entry).toEqual({ profile: "/scep", transactionId: id, subject: `CN=b64-${i}`, status: "PENDING", ageSeconds: expect.any(Number) });
          expect(entry!.ageSeconds).toBeGreaterThanOrEqual(0);
        }
        // percent-encoded path segment
        const encoded = await fetch(`${s.base}/admin/scep/approve/${encodeURIComponent(ids[0]!)}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
        expect([encoded.status, await encoded.json()]).toEqual([200, { profile: "/scep", transactionId: ids[0], status: "ISSUED", subject: expect.any(String), serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
        // the ID as it is, slashes and all
        const bare = await fetch(`${s.base}/admin/scep/reject/${ids[1]}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
        expect([bare.status, await bare.json()]).toEqual([200, { profile: "/scep", transactionId: ids[1], status: "REJECTED", subject: expect.any(String) }]);
        // JSON body
        const body = await fetch(`${s.base}/admin/scep/approve`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ profile: "/scep", transactionId: ids[2] }) });
        expect([body.status, await body.json()]).toEqual([200, { profile: "/scep", transactionId: ids[2], status: "ISSUED", subject: expect.any(String), serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
        const bad = await fetch(`${s.base}/admin/scep/approve`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "tid=1" });
        expect([bad.status, await bad.json()]).toEqual([400, { error: "the body is not JSON" }]);
        expect((await reqs[0]!.poll()).status).toBe("SUCCESS");
        expect((await reqs[1]!.poll()).status).toBe("FAILURE");
        expect((await reqs[2]!.poll()).status).toBe("SUCCESS");
        const after = (await (await fetch(`${s.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { pending: { transactionId: string }[] };
        expect(after.pending.map((p) => p.transactionId).filter((id) => ids.includes(id))).toEqual([]);
        await s.proc.waitForJson("admin", (e) => e.action === "reject" && e.transactionId === ids[1]);
      });

      it("rejection by the admin endpoint answers FAILURE on the next CertPoll", async () => {
        const { tid, poll } = await pendingRequest("CN=rejected-device");
        const no = await admin("reject", tid, TOKEN);
        expect([no.status, await no.json()]).toEqual([200, { profile: "/scep", transactionId: tid, status: "REJECTED", subject: expect.any(String) }]);
        const rep = await poll();
        expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
        await s.proc.waitForJson("admin", (e) => e.action === "reject" && e.transactionId === tid);
      });
    });

    describe("timeouts", () => {
      let s: Awaited<ReturnType<typeof start>>;
      beforeAll(async () => {
        s = await start({ SCEP_DATA_DIR: join(tmp, "timeouts"), SCEP_CHALLENGE: "c", SCEP_HEADERS_TIMEOUT_MS: "300", SCEP_REQUEST_TIMEOUT_MS: "600" });
      });
      afterAll(() => s.proc.terminate());

      it("cuts off a slow-loris client that never finishes its headers (408, connection closed)", async () => {
        const socket = connect(s.listening.port, "127.0.0.1");
        let received = "";
        socket.setEncoding("utf8").on("data", (d: string) => (received += d));
        socket.write("GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        await new Promise((resolve) => socket.once("close", resolve));
        expect(received.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
      });

      it("cuts off a client whose body never completes (request timeout)", async () => {
        const socket = connect(s.listening.port, "127.0.0.1");
        let received = "";
        socket.setEncoding("utf8").on("data", (d: string) => (received += d));
        socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789");
        await new Promise((resolve) => socket.once("close", resolve));
        expect(received.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
      });
    });

    describe("shutdown", () => {
      // The server's default request and body timeouts: the in-flight request below stays open across a fetch, a
      // signal, a log line and a connection attempt, which a loaded machine can stretch past a short body timeout (408).
      let s: Awaited<ReturnType<typeof start>>;
      beforeAll(async () => {
        s = await start({ SCEP_DATA_DIR: join(tmp, "shutdown"), SCEP_CHALLENGE: "c", SCEP_SHUTDOWN_TIMEOUT_MS: "30000" });
      });
      afterAll(() => s.proc.terminate());

      it("on SIGTERM finishes the in-flight request, refuses new connections and exits 0", async () => {
        const k = keys;
        const signer = await createSelfSignedSigner({ keys: k, subject: "CN=in-flight" });
        const caCerts = await new ScepClient({ url: `${s.base}/scep` }).getCaCert();
        const built = await buildPkcsReq({ csr: await generateCsr({ keys: k, subject: "CN=in-flight", challengePassword: "c" }), signer, recipient: selectRecipient(caCerts) });
        const req = request({ host: "127.0.0.1", port: s.listening.port, method: "POST", path: "/scep?operation=PKIOperation", headers: { "content-length": String(built.der.length) } });
        const response = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          req.on("error", reject).on("response", (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
          });
        });
        response.catch(() => undefined); // (asserted below; no unhandled rejection if an earlier step fails)
        req.write(built.der.subarray(0, 100));
        await new Promise((resolve) => req.once("socket", (sock) => (sock.connecting ? sock.once("connect", resolve) : resolve(undefined))));
        // Barrier: once a later request on another connection is answered, the server has read this one's head.
        expect((await fetch(`${s.base}/scep?operation=GetCACaps`)).status).toBe(200);
        s.proc.child.kill("SIGTERM");
        await s.proc.waitForJson("shutdown");
        const refused = await new Promise((resolve) => connect(s.listening.port, "127.0.0.1").once("connect", () => resolve("accepted")).once("error", (e: NodeJS.ErrnoException) => resolve(e.code)));
        expect(refused).toBe("ECONNREFUSED");
        req.end(built.der.subarray(100));
        const { status, body } = await response;
        expect(status).toBe(200);
        const rep = await readCertRep(body, { decrypter: signer, caCertificates: caCerts, request: built });
        expect(rep.status).toBe("SUCCESS");
        expect(await s.proc.exited).toEqual({ code: 0, signal: null });
      });
    });

    describe("SCEP_WORKERS=2 (SCEP_KEY_WORKERS=0: every private-key operation on the event loop): a node:cluster primary and two workers on one port", () => {
      const dataDir = join(tmp, "workers");
      let s: Awaited<ReturnType<typeof start>>;
      let workers: { worker: number; pid: number }[];
      beforeAll(async () => {
        s = await start({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: "workers-challenge", SCEP_WORKERS: "2", SCEP_KEY_WORKERS: "0" });
        workers = (s.listening as unknown as { workers: { worker: number; pid: number }[] }).workers;
      });
      afterAll(() => s.proc.terminate());

      /** `count` PKCSReqs sent at once (each fetch on its own connection), answers read; returns the certificates' serials. */
      async function enrollMany(count: number, prefix: string): Promise<string[]> {
        const caCerts = await new ScepClient({ url: `${s.base}/scep` }).getCaCert();
        const built = await Promise.all(
          Array.from({ length: count }, async (_, i) => {
            const subject = `CN=${prefix}-${i}`;
            const signer = await createSelfSignedSigner({ keys, subject });
            const csr = await generateCsr({ keys, subject, challengePassword: "workers-challenge" });
            return { signer, req: await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts), transactionId: `${prefix}-${i}` }) };
          }),
        );
        const reps = await Promise.all(
          built.map(async ({ signer, req }) => {
            const res = await fetch(`${s.base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array(req.der) });
            return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: caCerts, request: req });
          }),
        );
        expect(reps.map((r) => r.status)).toEqual(Array.from({ length: count }, () => "SUCCESS"));
        return reps.map((r) => r.certificates[0]!.serialNumberHex.toLowerCase());
      }

      it("the primary creates CA and challenge, then prints the banner once, after both workers listen", () => {
        expect(workers.map((w) => w.worker)).toEqual([1, 2]);
        expect(new Set([s.proc.child.pid, ...workers.map((w) => w.pid)]).size).toBe(3);
        expect(s.proc.errLines.filter((l) => l.includes("SCEP URL:"))).toEqual([`  SCEP URL:        ${s.base}/scep`]);
        expect(s.proc.banner("workers")).toBe(`2 (pids ${workers.map((w) => w.pid).join(", ")}; primary ${s.proc.child.pid})`);
        expect(s.proc.banner("private keys")).toBe("on the event loop (--key-workers 0)");
        expect(s.listening.keyWorkers).toBe(0);
        expect(s.listening.fingerprintSha256).toBe(colonHex(new Certificate(Certificate.from(readFileSync(join(dataDir, "ca.pem"), "utf8")).der).der));
        const types = s.proc.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { type: string; worker?: number });
        expect(types.map((e) => e.type).slice(-1)).toEqual(["listening"]);
        expect(types.filter((e) => e.type === "worker-listening").map((e) => e.worker).sort()).toEqual([1, 2]);
      });

      it("enrolls on both workers: serials unique, one serial epoch per worker, every event line names its worker", async () => {
        const serials = await enrollMany(8, "cluster");
        expect(new Set(serials).size).toBe(8);
        const events = await Promise.all(serials.map((serial) => s.proc.waitForJson("scep", (e) => typeof e.serial === "string" && e.serial.toLowerCase() === serial)));
        expect(events.every((e) => e.worker === 1 || e.worker === 2)).toBe(true);
        // serial = 70 random bits ‖ epoch (32) ‖ sequence (32): each worker opened the CA once, so it has its own epoch.
        const epochs = new Map<unknown, Set<string>>();
        for (const e of events) epochs.set(e.worker, (epochs.get(e.worker) ?? new Set()).add((e.serial as string).toLowerCase().slice(-16, -8)));
        expect([...epochs.keys()].sort()).toEqual([1, 2]);
        expect([...epochs.values()].map((set) => set.size)).toEqual([1, 1]);
        expect(new Set([...epochs.values()].flatMap((set) => [...set])).size).toBe(2);
        const indexed = readFileSync(join(dataDir, "index.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { serial: string }).serial);
        expect(indexed.sort()).toEqual([...serials].sort());
      });

      it("restarts a worker that dies (kill -9); enrollments go on", async () => {
        const victim = workers[0]!;
        process.kill(victim.pid, "SIGKILL");
        const exit = await s.proc.waitForJson("worker-exit", (e) => e.pid === victim.pid);
        expect(exit).toMatchObject({ worker: 1, code: null, signal: "SIGKILL", restartInMs: 100 });
        const again = await s.proc.waitForJson("worker-listening", (e) => e.worker === 1 && e.pid !== victim.pid);
        workers = [{ worker: 1, pid: again.pid as number }, workers[1]!];
        const serials = await enrollMany(4, "after-restart");
        expect(new Set(serials).size).toBe(4);
      });

      it("exits 0 on SIGTERM after stopping its workers; no worker process is left", async () => {
        expect(await s.proc.terminate()).toEqual({ code: 0, signal: null });
        const exits = s.proc.lines.filter((l) => l.includes('"type":"worker-exit"')).map((l) => JSON.parse(l) as Record<string, unknown>).slice(-2);
        expect(exits.map((e) => [e.pid, e.code, e.signal]).sort()).toEqual(workers.map((w) => [w.pid, 0, null]).sort());
        expect(s.proc.lines.at(-1)).toMatch(/"type":"stopped"\}$/);
        for (const w of workers) expect(() => process.kill(w.pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
      });
    });

    describe(`as users run it: pnpm ${pnpmScript} from a directory of their own`, () => {
      // Inside the repository (pnpm finds the root package.json upward), in the git-ignored .tmp/.
      let scratch: string;
      beforeAll(() => {
        mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
        scratch = mkdtempSync(join(REPO_ROOT, ".tmp", `${name}-`));
      });
      afterAll(() => rmSync(scratch, { recursive: true, force: true }));

      it.each([[["--help"]], [["--", "--help"]]])(`pnpm ${pnpmScript} %j prints the usage and exits 0`, async (args) => {
        const proc = examples.launch({}, args, { pnpm: { script: pnpmScript, cwd: scratch } });
        expect(await proc.exited).toEqual({ code: 0, signal: null });
        expect(proc.lines).toContain(`usage: ${name}-server [options]   (flags override environment variables)`);
        // The default data directory is found from the sources' place (config.ts's import.meta.url), in the bundle too.
        expect(proc.lines).toContain(`  <repo>/.scep-data: ${join(REPO_ROOT, ".scep-data")}`);
        expect(proc.stderr).toBe("");
      });

      it(`runs compiled JavaScript (node examples/${name}-server/dist/main.mjs, bundled from the sources at each start), which finds the files beside its sources and loads its CommonJS dependencies`, async () => {
        const s = await start({ SCEP_CHALLENGE: "c", SCEP_ADMIN_TOKEN: TOKEN }, ["--data-dir", "data-bundle"], { pnpm: { script: pnpmScript, cwd: scratch } });
        const serverPid = (s.listening as unknown as { pid: number }).pid;
        const argv = readFileSync(`/proc/${serverPid}/cmdline`, "utf8").split("\0").filter(Boolean);
        expect(argv.slice(1)).toEqual([`examples/${name}-server/dist/main.mjs`, "--data-dir", "data-bundle"]);
        // No loader through the environment either. ExampleProcess clears the test runner's NODE_OPTIONS, but pnpm sets
        // its own from an npmrc's `node-options`, and a start script could set one (NODE_OPTIONS=--import=tsx node …).
        const environ = readFileSync(`/proc/${serverPid}/environ`, "utf8").split("\0");
        expect(environ.filter((v) => v.startsWith("NODE_OPTIONS=") && v.includes("tsx"))).toEqual([]);
        // The admin page's script and style, read beside admin-page.ts at start (its import.meta.url).
        const script = await fetch(`${s.base}/admin/scep/app.js`);
        expect(script.status).toBe(200);
        expect(await script.text()).toBe(readFileSync(join(REPO_ROOT, "examples/server-kit/src/admin-page/app.js"), "utf8"));
        const { rep } = await enroll(s.listening.urls[0]!, "c", `CN=${name}-bundled`, keys);
        expect(rep.status).toBe("SUCCESS");
        // OpenTelemetry's Prometheus exporter (CommonJS, through the bundle's require) counts it.
        const metrics = await (await fetch(`${s.base}/metrics`)).text();
        expect(metrics).toMatch(/^scep_server_enrollments_total\{[^}]*\} 1$/m);
        expect(await s.proc.terminate()).toEqual({ code: 0, signal: null });
      });

      it("resolves relative paths against the invoking directory and prints the absolute data directory; Ctrl-C exits 0 without a pnpm error", async () => {
        await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "own-ca.key", "-out", "own-ca.pem", "-subj", "/CN=Relative Path CA", "-days", "2",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment"], scratch);
        const s = await start({ SCEP_CHALLENGE: "c" }, ["--data-dir", "data", "--ca-cert", "own-ca.pem", "--ca-key", "./own-ca.key"], { pnpm: { script: pnpmScript, cwd: scratch } });
        expect(s.listening.dataDir).toBe(join(scratch, "data"));
        expect(s.listening.caCertificate).toBe(join(scratch, "own-ca.pem"));
        expect(s.proc.banner("data directory")).toBe(join(scratch, "data"));
        expect(s.proc.banner("CA")).toBe("CN=Relative Path CA");
        expect(existsSync(join(scratch, "data", "index.jsonl"))).toBe(true);
        // pnpm's shell execs the server itself (node dist/main.mjs), not a wrapper such as the tsx CLI: that one relays a
        // Ctrl-C, and when the server has not acknowledged it twice within 30 ms (a busy event loop), SIGKILLs it and
        // exits 130.
        const serverPid = (s.listening as unknown as { pid: number }).pid;
        expect(Number(readFileSync(`/proc/${serverPid}/stat`, "utf8").split(") ")[1]!.split(" ")[1])).toBe(s.proc.child.pid);
        expect(await s.proc.interrupt()).toEqual({ code: 0, signal: null });
        expect(s.proc.stderr).not.toMatch(/ERR_PNPM|ELIFECYCLE|SIGINT/);
        expect(s.proc.lines.slice(-2).map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(["shutdown", "stopped"]);
        expect(s.proc.lines.filter((l) => l.includes('"type":"stopped"'))).toHaveLength(1);
      });
      it("a repeated SIGINT during the graceful shutdown (Ctrl-C pressed twice) changes nothing: the in-flight request is answered, exit 0, no pnpm error", async () => {
        const s = await start({ SCEP_CHALLENGE: "c", SCEP_SHUTDOWN_TIMEOUT_MS: "60000" }, ["--data-dir", "data-twice"], { pnpm: { script: pnpmScript, cwd: scratch } });
        const socket = connect(s.listening.port, "127.0.0.1");
        let received = "";
        socket.setEncoding("utf8").on("data", (d: string) => (received += d));
        const closed = new Promise((resolve) => socket.once("close", resolve));
        socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20\r\n\r\n0123456789");
        // Barrier: once a later request is answered, the server has read the first one's head (it is in flight).
        expect((await fetch(`${s.base}/scep?operation=GetCACaps`)).status).toBe(200);
        process.kill(-s.proc.child.pid!, "SIGINT");
        await s.proc.waitForJson("shutdown", (e) => e.repeated === undefined);
        // A second Ctrl-C, or a supervisor that signals the server alone: SIGINT to the server's pid.
        process.kill((s.listening as unknown as { pid: number }).pid, "SIGINT");
        await s.proc.waitForJson("shutdown", (e) => e.repeated === true);
        socket.end("0123456789");
        await closed;
        expect(received.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
        expect(await s.proc.exited).toEqual({ code: 0, signal: null });
        expect(s.proc.stderr).not.toMatch(/ERR_PNPM|ELIFECYCLE|SIGINT/);
        expect(s.proc.lines.at(-1)).toMatch(/"type":"stopped"\}$/);
      });
    });

    it("--pending without SCEP_ADMIN_TOKEN starts, and its banner warns that nothing here can approve (the admin API is the only way)", async () => {
      const s = await start({ SCEP_DATA_DIR: join(tmp, "pending-no-admin"), SCEP_CHALLENGE: "c" }, ["--pending"]);
      expect(s.proc.banner("issuing")).toBe("PENDING, but NOTHING CAN APPROVE: this server has no admin API (set SCEP_ADMIN_TOKEN), 365 days");
      expect((await fetch(`${s.base}/admin/scep/pending`)).status).toBe(404);
      await s.proc.terminate();
    });

    it("refuses --pending with more than one worker without --redis-url (exit 2, one line)", async () => {
      const proc = examples.launch({ SCEP_DATA_DIR: join(tmp, "pending-workers") }, ["--pending", "--workers", "2"]);
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(
        `${name}-server: --pending cannot run with 2 workers without --redis-url: pending requests would live in one process's memory (use --workers 1, or give SCEP_REDIS_URL)\n`,
      );
      expect(existsSync(join(tmp, "pending-workers"))).toBe(false);
    });

    it.each([
      ["one process", {}],
      ["two workers", { SCEP_WORKERS: "2" }],
    ])("a port in use is one line and exit 2 (%s)", async (_, extra) => {
      const taken = await examples.start({ SCEP_DATA_DIR: join(tmp, "taken"), SCEP_CHALLENGE: "c" });
      const port = taken.listening.port;
      const proc = examples.launch({ SCEP_DATA_DIR: join(tmp, "taken"), SCEP_CHALLENGE: "c", PORT: String(port), ...extra });
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(`${name}-server: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE); choose another with --port or PORT\n`);
      expect(await taken.proc.terminate()).toEqual({ code: 0, signal: null });
    });

    // A start that cannot listen creates nothing: no CA, no challenge, no data directory. The next start generates the
    // challenge and announces it (it was never shown before).
    it.each([
      ["one process", {}, (port: number) => ({ PORT: String(port) }), (port: number) => `cannot listen on 127.0.0.1:${port}`],
      ["two workers", { SCEP_WORKERS: "2" }, (port: number) => ({ PORT: String(port) }), (port: number) => `cannot listen on 127.0.0.1:${port}`],
      ["--admin-listen", { SCEP_ADMIN_TOKEN: "t".repeat(32) }, (port: number) => ({ SCEP_ADMIN_LISTEN: `127.0.0.1:${port}` }), (port: number) => `--admin-listen: cannot listen on 127.0.0.1:${port}`],
    ])("a port in use creates no file, and the next start announces the generated challenge (%s)", async (label, extra, busy, where) => {
      const option = label === "--admin-listen" ? "--admin-listen or SCEP_ADMIN_LISTEN" : "--port or PORT";
      const occupier = createNetServer();
      await new Promise<void>((ok) => occupier.listen(0, "127.0.0.1", ok));
      const port = (occupier.address() as AddressInfo).port;
      const dataDir = join(tmp, `fresh-${label.replace(/\W+/g, "")}`);
      try {
        const proc = examples.launch({ SCEP_DATA_DIR: dataDir, ...extra, ...busy(port) });
        expect(await proc.exited).toEqual({ code: 2, signal: null });
        expect(proc.stderr).toBe(`${name}-server: ${where(port)}: the port is already in use (EADDRINUSE); choose another with ${option}\n`);
        expect(existsSync(dataDir)).toBe(false);
      } finally {
        await new Promise((done) => occupier.close(done));
      }
      const s = await examples.start({ SCEP_DATA_DIR: dataDir, ...extra, ...(label === "--admin-listen" ? { SCEP_ADMIN_LISTEN: "127.0.0.1:0" } : {}) });
      const challenge = readFileSync(join(dataDir, "challenge"), "utf8").trim();
      expect(challenge).toMatch(/^[0-9a-f]{32}$/);
      expect(s.proc.banner("challenge")).toBe(`${challenge}  (generated now and stored in ${join(dataDir, "challenge")}; shown this once)`);
      expect(await s.proc.terminate()).toEqual({ code: 0, signal: null });
    });

    it.each([
      ["one process", {}, "--host", "cannot listen on nosuch.invalid:0: no such host name (ENOTFOUND); check --host or HOST: a local IP address or a name that resolves to one, without a port"],
      ["two workers", { SCEP_WORKERS: "2" }, "--host", "cannot listen on nosuch.invalid:0: no such host name (ENOTFOUND); check --host or HOST: a local IP address or a name that resolves to one, without a port"],
      [
        "--admin-listen",
        { SCEP_ADMIN_TOKEN: "t".repeat(32) },
        "--admin-listen",
        "--admin-listen: cannot listen on nosuch.invalid:0: no such host name (ENOTFOUND); check --admin-listen or SCEP_ADMIN_LISTEN: a local IP address or a name that resolves to one, without a port",
      ],
    ])("a host name that does not resolve is one line and exit 2, not a stack, and creates no file (%s)", async (label, extra, flag, line) => {
      const dataDir = join(tmp, `nohost-${label.replace(/\W+/g, "")}`);
      const proc = examples.launch({ SCEP_DATA_DIR: dataDir, ...extra }, ["--port", "0", flag, flag === "--host" ? "nosuch.invalid" : "nosuch.invalid:0"]);
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(`${name}-server: ${line}\n`);
      expect(existsSync(dataDir)).toBe(false);
    });

    it.each([
      [["--port", "http"], `--port must be an integer from 0 to 65535, got "http" (run with --help)`],
      [["--bogus"], `unknown option '--bogus' (run with --help)`],
      [["--port", "0", "--host", "localhost:8080"], '--host takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "localhost:8080" (run with --help)'],
      [["--port"], `option '--port <value>' argument missing (run with --help)`],
    ])("a configuration mistake %j is one line on stderr and exit 2", async (argv, line) => {
      const proc = examples.launch({ SCEP_DATA_DIR: join(tmp, "bad") }, argv);
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(`${name}-server: ${line}\n`);
      expect(proc.lines).toEqual([]);
      expect(existsSync(join(tmp, "bad"))).toBe(false);
    });
  });
}
