/**
 * Both example servers print their profiles' warnings (`ProfileInfo.warnings`, RFC 8894 §4.2.1 GetCACert sets that
 * work for some clients only) at start, one stderr line each after the banner: a profile whose own CA is an
 * intermediate without keyUsage digitalSignature and keyEncipherment (GetCACert serves it with its root, and Apple's
 * client finds no RA in that set) gets its line once; a server with a clean CA prints none. A SIGHUP that swaps in
 * such a profile prints its line after the `reloaded` line, as at start.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExample } from "./support/example-process.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-ca-warnings-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function openssl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd: tmp, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}${stdout}`)) : resolve(stdout))),
  );
}

beforeAll(async () => {
  // A root, and an issuing CA under it that may only sign certificates and CRLs (bundle: issuing CA first).
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "30", "-subj", "/CN=Warnings Root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "root.key", "-out", "root.pem"]);
  await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Warnings Issuing CA", "-keyout", "issuing.key", "-out", "issuing.csr"]);
  writeFileSync(join(tmp, "issuing.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  await openssl(["x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "20", "-sha256", "-extfile", "issuing.ext", "-out", "issuing.pem"]);
  writeFileSync(join(tmp, "bundle.pem"), readFileSync(join(tmp, "issuing.pem"), "utf8") + readFileSync(join(tmp, "root.pem"), "utf8"));
  writeFileSync(join(tmp, "scep-config.json"), JSON.stringify({ profiles: [{ path: "/scep" }, { name: "lab", path: "/lab", ca: { cert: join(tmp, "bundle.pem"), key: join(tmp, "issuing.key") } }] }));
  writeFileSync(join(tmp, "clean-config.json"), JSON.stringify({ profiles: [{ path: "/scep" }] }));
});

const warningLines = (lines: readonly string[], program: string): string[] => lines.filter((l) => l.startsWith(`${program}: warning: `));

describe.each([
  ["express", fileURLToPath(new URL("../../express-server", import.meta.url))],
  ["hono", fileURLToPath(new URL("../../hono-server", import.meta.url))],
])("%s example server: CA profile warnings at start", (name, exampleDir) => {
  it("prints the profile's warning once on stderr, prefixed with the program", async () => {
    const { proc } = await startExample(exampleDir, { SCEP_CHALLENGE: "warnings-challenge", SCEP_DATA_DIR: join(tmp, `${name}-data`), SCEP_CONFIG: join(tmp, "scep-config.json") });
    await proc.terminate(); // every stderr line read (the warnings follow the banner in the same turn)
    const lines = warningLines(proc.errLines, `${name}-server`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${name}-server: warning: profile lab: caCertificates lists 2 certificates in which Apple's SCEP client \\(iOS, macOS\\) finds no RA `),
    );
  });

  it("prints the warning of a profile a SIGHUP reload put in service, after the reloaded line", async () => {
    const config = join(tmp, `${name}-reload-config.json`);
    writeFileSync(config, readFileSync(join(tmp, "clean-config.json")));
    const { proc } = await startExample(exampleDir, { SCEP_CHALLENGE: "warnings-challenge", SCEP_DATA_DIR: join(tmp, `${name}-reload-data`), SCEP_CONFIG: config });
    try {
      expect(warningLines(proc.errLines, `${name}-server`)).toEqual([]);
      writeFileSync(config, readFileSync(join(tmp, "scep-config.json")));
      process.kill(proc.child.pid!, "SIGHUP");
      await proc.waitForJson("reloaded");
    } finally {
      await proc.terminate(); // every stderr line read (the warnings follow the reloaded line in the same turn)
    }
    const lines = warningLines(proc.errLines, `${name}-server`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${name}-server: warning: profile lab: caCertificates lists 2 certificates in which Apple's SCEP client `));
  });

  it("prints no warning for the default CA", async () => {
    const { proc } = await startExample(exampleDir, { SCEP_CHALLENGE: "warnings-challenge", SCEP_DATA_DIR: join(tmp, `${name}-clean-data`) });
    await proc.terminate();
    expect(proc.errLines.some((l) => l.startsWith("  private keys:"))).toBe(true); // the whole banner was read
    expect(proc.errLines.filter((l) => l.includes(": warning: "))).toEqual([]);
  });
});
