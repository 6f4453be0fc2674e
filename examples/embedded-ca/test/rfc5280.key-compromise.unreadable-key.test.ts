// A certificate revoked keyCompromise (RFC 5280 §5.3.1) whose key the compromised-key check reads from a file that
// cannot be read now: an index line written before the index held certificates, its certs/<serial>.pem unreadable
// (EACCES, a directory in its place: EISDIR). Before, that check rejected STORAGE_FAILED on every issue, so one file
// stopped the CA. Now its key is not known, so not refused: onError hears it once (with what to do), the other keys
// are issued, and the key is refused again from the first check once the file reads (tried at most once per
// maxStalenessMs). A real EACCES needs a process that file modes apply to: as root (CI), a child running as nobody.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { issuedSerials, makeLegacy, opensslCsr, packageDir, sameKeyCsr, spawnCaChild, tempDir, ticker } from "./helpers.js";

const root = process.getuid?.() === 0;
/** As root: whether nobody (65534) can run node with tsx from this checkout (not when it lies under a 0700 home). */
const nobodyCanRun = !root || spawnSync(process.execPath, ["--import", "tsx", "-e", ""], { cwd: packageDir, uid: 65534, gid: 65534, stdio: "ignore" }).status === 0;

const codeAndMessage = (e: unknown): string => `${(e as { code?: string }).code}: ${(e as Error).message}`;

const told = (serial: string, why: string): string =>
  `STORAGE_FAILED: the key of certificate ${serial} (revoked keyCompromise) cannot be read now, so issue() does not refuse it until the file reads; then revoke ${serial} keyCompromise again to revoke what was issued for it meanwhile: ${why}`;

describe("RFC 5280 §5.3.1: a keyCompromise certificate whose key file cannot be read does not stop the CA issuing", () => {
  it("its certs/<serial>.pem a directory (EISDIR): other keys are issued, onError hears it once; once the file reads, the key is refused after maxStalenessMs and revoking again sweeps what was issued meanwhile", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const store = new MemoryRevocationStore();
    const ca0 = await openFileCa({ dataDir, revocations: store });
    const legacy = (await ca0.issue({ csrDer: opensslCsr(dir, "legacy", { subject: "/CN=legacy" }) })).serialNumber;
    makeLegacy(dataDir, legacy);
    await store.revoke({ serialNumber: legacy, reason: "keyCompromise" }); // another worker's revoke
    const certFile = join(dataDir, "certs", `${legacy}.pem`);
    const pem = readFileSync(certFile, "utf8");
    rmSync(certFile);
    mkdirSync(certFile);

    const errors: unknown[] = [];
    const clock = ticker();
    const ca = await openFileCa({ dataDir, revocations: store, monotonicNow: clock.monotonicNow, onError: (e) => errors.push(e) });
    // Before: each of these rejected STORAGE_FAILED (cannot read …/certs/<legacy>.pem: EISDIR).
    await ca.issue({ csrDer: opensslCsr(dir, "b", { subject: "/CN=b" }) });
    await ca.issue({ csrDer: opensslCsr(dir, "c", { subject: "/CN=c" }) });
    expect(errors.map(codeAndMessage)).toEqual([told(legacy, `cannot read ${certFile}: EISDIR: illegal operation on a directory, read`)]);

    // The documented consequence: its key is not known, so a request for it is certified while the file does not read.
    const meanwhile = [(await ca.issue({ csrDer: sameKeyCsr(dir, "legacy", "/CN=legacy-2") })).serialNumber];
    rmSync(certFile, { recursive: true });
    writeFileSync(certFile, pem);
    // Not read again within maxStalenessMs (no file read per issue)…
    meanwhile.push((await ca.issue({ csrDer: sameKeyCsr(dir, "legacy", "/CN=legacy-3") })).serialNumber);
    // …then read, and refused.
    clock.pass(1000);
    await expect(ca.issue({ csrDer: sameKeyCsr(dir, "legacy", "/CN=legacy-4") })).rejects.toMatchObject({ code: "KEY_COMPROMISED" });
    // The remedy onError names: revoking it again sweeps the certificates of its key.
    expect(await ca.revoke(legacy, "keyCompromise")).toMatchObject({ created: false, alsoRevoked: meanwhile.sort() });
    expect(errors).toHaveLength(1);
  }, 120_000);

  // Skipped only as root in a checkout nobody cannot read; the EISDIR case above holds the same code path.
  it.skipIf(!nobodyCanRun)("its certs/<serial>.pem chmod 000 (a real EACCES; as root the CA runs in a child as nobody, whom file modes bind): the child's issues succeed and onError hears EACCES once", async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755); // mkdtemp's 0700 would keep nobody out
    const dataDir = join(dir, "data");
    const ca0 = await openFileCa({ dataDir });
    const legacy = (await ca0.issue({ csrDer: opensslCsr(dir, "legacy", { subject: "/CN=legacy" }) })).serialNumber;
    expect(await ca0.revoke(legacy, "keyCompromise")).toMatchObject({ created: true });
    makeLegacy(dataDir, legacy);
    opensslCsr(dir, "b", { subject: "/CN=b" });
    const certFile = join(dataDir, "certs", `${legacy}.pem`);
    if (root) execFileSync("chown", ["-R", "65534:65534", dataDir]);
    chmodSync(certFile, 0o000);

    const child = spawnCaChild([dataDir, "issue-reporting", join(dir, "b.csr.der"), "2"], root ? { uid: 65534, gid: 65534 } : {});
    await child.waitFor((lines) => lines.includes("DONE"), "DONE");
    // Before: REFUSED STORAGE_FAILED, twice.
    expect(issuedSerials(child.lines)).toHaveLength(2);
    expect(child.lines.filter((l) => l.startsWith("ERROR "))).toEqual([
      `ERROR ${told(legacy, `cannot read ${certFile}: EACCES: permission denied, open '${certFile}'`).replace(": ", " ")}`,
    ]);
    expect((await child.exited).code).toBe(0);
  }, 120_000);
});
