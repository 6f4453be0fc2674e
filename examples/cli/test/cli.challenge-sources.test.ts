/**
 * The challenge password from `--challenge-file F` (UTF-8, one line, a leading BOM and its trailing newline dropped;
 * `-`: stdin) or the
 * environment variable SCEP_CLI_CHALLENGE, so it need not be on the command line (`ps`, shell history). A real
 * @scep/core server with a static challenge on loopback: the right challenge from either source is accepted, a wrong
 * one is refused with a hint naming where it came from, and no output line holds the value. Two sources, an empty
 * one, a file in UTF-16 or that cannot be read, is one clear line before anything is sent.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createScepServer, type IssueContext } from "@scep/core";
import { createTestCa, issuingHook } from "../../../packages/core/test/support/server-pki.js";
import { fetchListener, listenLoopback, runInProcess, type Loopback } from "./support/in-process.js";
import { runCli } from "./support/run-cli";

const CHALLENGE = "Chal-s3cret-0123";
const WRONG = "Wrong-s3cret-9876";
let dir: string;
let backend: Loopback;
let url: string;
const calls: IssueContext[] = [];
/** Every request the server received, by operation. */
const operations: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-challenge-"));
  const ca = await createTestCa("Challenge Sources CA");
  const server = createScepServer({
    profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, calls) }],
  });
  backend = await listenLoopback(
    fetchListener((request) => {
      operations.push(new URL(request.url).searchParams.get("operation") ?? "");
      return server.fetch(request);
    }),
  );
  url = `${backend.base}/scep`;
});
afterAll(async () => {
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls.length = 0;
  operations.length = 0;
});

const enrollArgs = (cn: string): string[] => ["enroll", "--url", url, "--cn", cn, "--out", "cert.pem"];

/** Expects an issued certificate and no output line holding either challenge. */
function expectIssuedQuietly(r: { code: number | null; stdout: string; stderr: string }, cwd: string): void {
  expect(r.code, r.stderr).toBe(0);
  expect(existsSync(join(cwd, "cert.pem"))).toBe(true);
  expect(calls).toHaveLength(1);
  expect(`${r.stdout}${r.stderr}`).not.toContain(CHALLENGE);
}

/**
 * The challengePassword the CSR carried holds exactly CHALLENGE's bytes: no U+FEFF (EF BB BF). Read from the DER, not
 * csr.challengePassword: that comes through a UTF-8 decoder which drops a leading BOM, as a CA comparing bytes would not.
 */
function expectChallengeBytesExact(): void {
  const der = Buffer.from(calls[0]!.csr.der);
  expect(der.includes(Buffer.from([CHALLENGE.length, ...Buffer.from(CHALLENGE)]))).toBe(true);
  expect(der.includes(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
}

describe("the challenge password from a file, stdin or the environment", () => {
  it("--challenge-file F: its one line, the trailing newline (LF or CRLF) dropped, is the challenge", async () => {
    for (const [name, text] of [["lf", `${CHALLENGE}\n`], ["crlf", `${CHALLENGE}\r\n`], ["bare", CHALLENGE]] as const) {
      calls.length = 0;
      const cwd = mkdtempSync(join(dir, `file-${name}-`));
      writeFileSync(join(cwd, "challenge.txt"), text);
      const r = await runInProcess([...enrollArgs(`file-${name}`), "--challenge-file", "challenge.txt"], cwd);
      expectIssuedQuietly({ code: r.code, stdout: r.out.join("\n"), stderr: r.err.join("\n") }, cwd);
    }
  });

  it("--challenge-file -: read from stdin", async () => {
    const cwd = mkdtempSync(join(dir, "stdin-"));
    const r = await runCli([...enrollArgs("stdin"), "--challenge-file", "-"], { cwd, input: `${CHALLENGE}\n` });
    expectIssuedQuietly(r, cwd);
  });

  it("SCEP_CLI_CHALLENGE: taken when no option gives one; the example servers' SCEP_CHALLENGE is not read", async () => {
    const cwd = mkdtempSync(join(dir, "env-"));
    const r = await runCli(enrollArgs("env"), { cwd, env: { SCEP_CLI_CHALLENGE: CHALLENGE } });
    expectIssuedQuietly(r, cwd);

    calls.length = 0;
    const other = mkdtempSync(join(dir, "server-env-"));
    const s = await runCli(enrollArgs("server-env"), { cwd: other, env: { SCEP_CHALLENGE: CHALLENGE } });
    expect(s.code, s.stderr).toBe(2);
    expect(s.stderr.split("\n")[0]).toBe("note: no --challenge given: the request carries no challenge password");
    expect(calls).toHaveLength(0);
  });

  it("a wrong challenge from a file or the variable: FAILURE, the hint names that source, no line holds the value", async () => {
    const cwd = mkdtempSync(join(dir, "wrong-"));
    writeFileSync(join(cwd, "wrong.txt"), `${WRONG}\n`);
    const fromFile = await runCli([...enrollArgs("wrong-file"), "--challenge-file", "wrong.txt"], { cwd });
    expect(fromFile.code, fromFile.stderr).toBe(2);
    expect(fromFile.stderr).toMatch(/^FAILURE: badRequest: .*; check --challenge-file wrong\.txt against the CA's challenge/);
    const fromEnv = await runCli(enrollArgs("wrong-env"), { cwd, env: { SCEP_CLI_CHALLENGE: WRONG } });
    expect(fromEnv.code, fromEnv.stderr).toBe(2);
    expect(fromEnv.stderr).toMatch(/^FAILURE: badRequest: .*; check SCEP_CLI_CHALLENGE against the CA's challenge/);
    for (const r of [fromFile, fromEnv]) expect(`${r.stdout}${r.stderr}`).not.toContain(WRONG);
    expect(existsSync(join(cwd, "cert.pem"))).toBe(false);
  });

  it("two sources, or a file that cannot be read, empty or of several lines: one line naming them, nothing sent, no value shown", async () => {
    const cwd = mkdtempSync(join(dir, "bad-"));
    writeFileSync(join(cwd, "c.txt"), `${CHALLENGE}\n`);
    writeFileSync(join(cwd, "empty.txt"), "\n");
    writeFileSync(join(cwd, "two.txt"), `${CHALLENGE}\nsecond\n`);
    const both = await runInProcess([...enrollArgs("both"), "--challenge", CHALLENGE, "--challenge-file", "c.txt"], cwd);
    expect([both.code, both.err[0]]).toEqual([64, "scep: enroll: give the challenge password once: --challenge and --challenge-file are both given (--challenge, --challenge-file and SCEP_CLI_CHALLENGE exclude each other)"]);
    const withEnv = await runCli(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--challenge-file", "c.txt"], { cwd, env: { SCEP_CLI_CHALLENGE: CHALLENGE } });
    expect([withEnv.code, withEnv.stderr.split("\n")[0]]).toEqual([64, "scep: renew: give the challenge password once: --challenge-file and SCEP_CLI_CHALLENGE are both given (--challenge, --challenge-file and SCEP_CLI_CHALLENGE exclude each other)"]);
    const missing = await runInProcess([...enrollArgs("missing"), "--challenge-file", "nope.txt"], cwd);
    expect([missing.code, missing.err]).toEqual([66, ["scep: enroll: cannot read --challenge-file nope.txt: no such file (ENOENT)"]]);
    const empty = await runInProcess([...enrollArgs("empty"), "--challenge-file", "empty.txt"], cwd);
    expect([empty.code, empty.err[0]]).toEqual([64, "scep: enroll: --challenge-file empty.txt: empty.txt is empty"]);
    const two = await runInProcess([...enrollArgs("two"), "--challenge-file", "two.txt"], cwd);
    expect([two.code, two.err[0]]).toEqual([64, "scep: enroll: --challenge-file two.txt: two.txt holds more than one line (the challenge password is one line)"]);
    for (const r of [both, missing, empty, two]) expect(r.err.join("\n")).not.toContain(CHALLENGE);
    expect(withEnv.stderr).not.toContain(CHALLENGE);
    expect(operations).toEqual([]);
    expect(existsSync(join(cwd, "cert.key"))).toBe(false);
  });

  it("--challenge-file F with a UTF-8 byte-order mark (PowerShell 5.1's Set-Content -Encoding UTF8): the mark is dropped", async () => {
    for (const [name, text] of [["bom-crlf", `\ufeff${CHALLENGE}\r\n`], ["bom-bare", `\ufeff${CHALLENGE}`]] as const) {
      calls.length = 0;
      const cwd = mkdtempSync(join(dir, `file-${name}-`));
      writeFileSync(join(cwd, "challenge.txt"), text, "utf8");
      const r = await runInProcess([...enrollArgs(`file-${name}`), "--challenge-file", "challenge.txt"], cwd);
      expectIssuedQuietly({ code: r.code, stdout: r.out.join("\n"), stderr: r.err.join("\n") }, cwd);
      expectChallengeBytesExact();
    }
    calls.length = 0;
    const cwd = mkdtempSync(join(dir, "stdin-bom-"));
    expectIssuedQuietly(await runCli([...enrollArgs("stdin-bom"), "--challenge-file", "-"], { cwd, input: `\ufeff${CHALLENGE}\n` }), cwd);
    expectChallengeBytesExact();
  });

  it("a file in UTF-16 (PowerShell 5.1's >) or not UTF-8, a file of only a BOM, an empty --challenge or SCEP_CLI_CHALLENGE: exit 64, nothing sent", async () => {
    const cwd = mkdtempSync(join(dir, "encoding-"));
    const utf16le = Buffer.from(`${CHALLENGE}\r\n`, "utf16le");
    writeFileSync(join(cwd, "ps-redirect.txt"), Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le]));
    writeFileSync(join(cwd, "utf16-nobom.txt"), utf16le);
    writeFileSync(join(cwd, "utf16be.txt"), Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(`${CHALLENGE}\n`, "utf16le").swap16()]));
    writeFileSync(join(cwd, "latin1.txt"), Buffer.from(`${CHALLENGE}\u00e9\n`, "latin1"));
    writeFileSync(join(cwd, "bom-only.txt"), "\ufeff\r\n", "utf8");
    for (const f of ["ps-redirect.txt", "utf16-nobom.txt", "utf16be.txt"]) {
      const r = await runInProcess([...enrollArgs("utf16"), "--challenge-file", f], cwd);
      expect([r.code, r.err[0]]).toEqual([64, `scep: enroll: --challenge-file ${f}: ${f} is not UTF-8 text (UTF-16? save it as UTF-8)`]);
    }
    const latin1 = await runInProcess([...enrollArgs("latin1"), "--challenge-file", "latin1.txt"], cwd);
    expect([latin1.code, latin1.err[0]]).toEqual([64, "scep: enroll: --challenge-file latin1.txt: latin1.txt is not UTF-8 text (save it as UTF-8)"]);
    const bomOnly = await runInProcess([...enrollArgs("bom-only"), "--challenge-file", "bom-only.txt"], cwd);
    expect([bomOnly.code, bomOnly.err[0]]).toEqual([64, "scep: enroll: --challenge-file bom-only.txt: bom-only.txt is empty"]);
    for (const command of [enrollArgs("empty-option"), ["renew", "--url", url, "--cert", "old.pem", "--key", "old.key"]]) {
      const r = await runInProcess([...command, "--challenge", ""], cwd);
      expect([r.code, r.err[0]]).toEqual([64, `scep: ${command[0]}: --challenge is empty (give the challenge password, or leave --challenge out)`]);
    }
    const emptyEnv = await runCli(enrollArgs("empty-env"), { cwd, env: { SCEP_CLI_CHALLENGE: "" } });
    expect([emptyEnv.code, emptyEnv.stderr.split("\n")[0]]).toEqual([64, "scep: enroll: SCEP_CLI_CHALLENGE is empty (set it to the challenge password, or unset it)"]);
    expect(operations).toEqual([]);
    expect(calls).toEqual([]);
    expect(existsSync(join(cwd, "cert.key"))).toBe(false);
  });

  it("--help of enroll and renew names the file and the variable", async () => {
    for (const command of ["enroll", "renew"]) {
      const r = await runInProcess([command, "--help"], dir);
      expect(r.out.join("\n")).toContain("--challenge-file F  read the challenge password from file F");
      expect(r.out.join("\n")).toContain("SCEP_CLI_CHALLENGE  (environment variable) the challenge password;");
    }
  });
});
