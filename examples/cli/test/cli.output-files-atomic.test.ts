/**
 * Output files are written whole or not at all: a write that fails part way (a full disk, here a file size limit,
 * `ulimit -f`, which makes the write fail with EFBIG after the first KiB) leaves the file the command was to replace
 * as it was, and never a half-written certificate or key. A generated key is never half saved either: a truncated
 * key file would make the next run say "pass --key … to reuse that key" for a key that does not read. Exit 73
 * (EX_CANTCREAT), one line, and no temporary file left behind. The CLI runs as a child process.
 * (Found by a review: `writeFileSync` truncated the old file, then wrote; the key was created, then written.)
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { startFakeScepServer } from "./support/fake-scep-server";
import { runCli } from "./support/run-cli";
import { it } from "./support/test-owned";

const root = mkdtempSync(join(tmpdir(), "scep-cli-atomic-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const workDir = (name: string): string => mkdtempSync(join(root, `${name}-`));
const EFBIG = "the file is larger than this process may write (ulimit -f) or the file system holds (EFBIG)";

describe("output files are replaced whole or left as they were", () => {
  it("getcacert --out over an existing file: a write that fails part way leaves the old file, exit 73; without the limit it is replaced, keeping its mode", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    expect(server.ca.certPem.length, "the CA certificate is larger than the 1 KiB limit").toBeGreaterThan(1024);
    const cwd = workDir("getcacert");
    writeFileSync(join(cwd, "ca.pem"), "the previous CA certificate\n");
    chmodSync(join(cwd, "ca.pem"), 0o664); // group-writable: bits a umask of 022 would take off a new file

    const r = await runCli(["getcacert", "--url", server.url, "--out", "ca.pem"], { cwd, fileSizeLimitKiB: 1 });
    expect([r.code, r.stderr]).toEqual([73, `scep: cannot write ca.pem: ${EFBIG}\n`]);
    expect(readFileSync(join(cwd, "ca.pem"), "utf8")).toBe("the previous CA certificate\n");
    expect(readdirSync(cwd)).toEqual(["ca.pem"]);

    const again = await runCli(["getcacert", "--url", server.url, "--out", "ca.pem"], { cwd });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(cwd, "ca.pem"), "utf8")).toBe(server.ca.certPem.trimEnd() + "\n");
    expect(statSync(join(cwd, "ca.pem")).mode & 0o777).toBe(0o664);
    expect(readdirSync(cwd)).toEqual(["ca.pem"]);
  });

  it("enroll: a generated key that cannot be saved whole is not saved at all (no truncated key for the next run to reuse), exit 73", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("enroll-key");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev", "--out", "cert.pem", "--key-out", "dev.key", "--max-poll", "0"], { cwd, fileSizeLimitKiB: 1 });
    expect(r.code, r.stderr).toBe(73);
    expect(r.stderr).toContain(`cannot write dev.key: ${EFBIG}`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("enroll: a saved key is whole and 0600", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("enroll-key-ok");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev", "--out", "cert.pem", "--key-out", "dev.key", "--max-poll", "0"], { cwd });
    expect(r.code, r.stderr).toBe(3);
    expect(readFileSync(join(cwd, "dev.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n[^]+\n-----END PRIVATE KEY-----\n$/);
    expect(statSync(join(cwd, "dev.key")).mode & 0o777).toBe(0o600);
    expect(readdirSync(cwd)).toEqual(["dev.key"]);
  });
});
