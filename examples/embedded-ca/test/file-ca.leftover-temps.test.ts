// Temporary files a crashed process left, removed when a CA opens its data directory, without reading certs/ (one file
// per issued certificate: millions on a busy CA). Before: every open read the whole of certs/ for them (its temporary
// copies were written there), so a start slowed down with the number of certificates; and the ones a crash left in the
// data directory itself (`.ca.key.tmp-…` with part of a private key, the example servers' `.challenge.tmp-…`, a
// `revocations.jsonl.tmp` or `ca.crl.json.tmp` of a compaction or publication cut short) were never removed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openFileCa } from "../src/index.js";
import { withFileLock } from "../src/file-lock.js";
import { opensslCsr, tempDir } from "./helpers.js";

const host = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
const otherHost = host === "00000000" ? "11111111" : "00000000";
/** A pid that ran on this host and no longer runs. */
const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
/** publishFileExclusive's temporary name for `name`, of `tag`'s host and process `pid`. */
const tempName = (name: string, pid: number, tag = host): string => `.${name}.tmp-${tag}-${pid}-0123456789ab`;
const LONG_AGO = new Date("2000-01-01T00:00:00Z");

/**
 * Makes `lock` held by `holder` as file-lock.ts records a holder: a directory with one `holder-<nonce>.json` (pid, host,
 * nonce); `holder` a string is written as the file's text. Returns the holder file's path.
 */
function holdLock(lock: string, holder: { pid: number; host: string } | string): string {
  const nonce = "0123456789abcdef";
  mkdirSync(lock);
  const file = join(lock, `holder-${nonce}.json`);
  writeFileSync(file, typeof holder === "string" ? holder : `${JSON.stringify({ ...holder, nonce })}\n`);
  return file;
}

/**
 * Marks `dir` so that a read of its entries shows: its atime put before its mtime, which (relatime, the default mount
 * option; strictatime too) the next getdents(2) of it moves to now, while a lookup, a link or a create in it does not.
 */
function markUnread(dir: string): void {
  utimesSync(dir, LONG_AGO, new Date());
}
const wasRead = (dir: string): boolean => statSync(dir).atime.getTime() !== LONG_AGO.getTime();

describe("temporary files a crash left, at the next open", () => {
  it("an open does not read certs/ (it only looks at certs/.tmp), with certificates in it", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const ca = await openFileCa({ dataDir });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "device", { subject: "/CN=leftover" }) });
    const certs = join(dataDir, "certs");
    // The observation works here: a directory read moves a marked atime, a create in it does not.
    const probe = join(dir, "probe");
    mkdirSync(probe);
    markUnread(probe);
    writeFileSync(join(probe, "file"), "");
    expect(wasRead(probe)).toBe(false);
    readdirSync(probe);
    expect(wasRead(probe)).toBe(true);

    markUnread(certs);
    const again = await openFileCa({ dataDir });
    // Before: true, every open read certs/ whole (removeLeftoverTemps over certs/).
    expect(wasRead(certs)).toBe(false);
    // And the CA still writes its copies (through certs/.tmp), still without reading certs/.
    const next = await again.issue({ csrDer: opensslCsr(dir, "device2", { subject: "/CN=leftover2" }) });
    expect(existsSync(join(certs, `${next.serialNumber}.pem`))).toBe(true);
    expect(wasRead(certs)).toBe(false);
    expect(readdirSync(certs).sort()).toEqual([".tmp", `${issued.serialNumber}.pem`, `${next.serialNumber}.pem`].sort());
    expect(readdirSync(join(certs, ".tmp"))).toEqual([]);
  });

  it("a temporary copy in certs/.tmp that a process of this host died with is removed; a live process's and another host's stay", async () => {
    const dataDir = join(tempDir(), "data");
    await openFileCa({ dataDir });
    const temps = join(dataDir, "certs", ".tmp");
    const dead = tempName("40aa.pem", gone);
    const live = tempName("40bb.pem", process.pid);
    const elsewhere = tempName("40cc.pem", gone, otherHost);
    for (const name of [dead, live, elsewhere]) writeFileSync(join(temps, name), "-----BEGIN CERT");
    await openFileCa({ dataDir });
    // Before: all three stayed (the copies' temporary files were in certs/, and only certs/ was swept).
    expect(readdirSync(temps).sort()).toEqual([live, elsewhere].sort());
  });

  it("a data directory of an earlier version (no certs/.tmp): its temporary copies in certs/ are removed once, and certs/.tmp is made", async () => {
    const dataDir = join(tempDir(), "data");
    await openFileCa({ dataDir, certificateFiles: false }); // the CA, no certs/
    const certs = join(dataDir, "certs");
    mkdirSync(certs);
    const dead = tempName("40aa.pem", gone);
    const elsewhere = tempName("40cc.pem", gone, otherHost);
    for (const name of [dead, elsewhere, "40dd.pem"]) writeFileSync(join(certs, name), "-----BEGIN CERT");
    await openFileCa({ dataDir });
    expect(readdirSync(certs).sort()).toEqual([".tmp", elsewhere, "40dd.pem"].sort());
    // From then on certs/ is not read: a leftover there now stays (one that a process of the earlier version still
    // running on the directory left; README).
    writeFileSync(join(certs, dead), "-----BEGIN CERT");
    markUnread(certs);
    await openFileCa({ dataDir });
    expect(wasRead(certs)).toBe(false);
    expect(readdirSync(certs)).toContain(dead);
  });

  it("in the data directory itself: publishFileExclusive's of dead processes of this host, and the fixed-name ones whose lock is free; a held lock's stays", async () => {
    const dataDir = join(tempDir(), "data");
    await openFileCa({ dataDir });
    const deadKey = tempName("ca.key", gone);
    const deadChallenge = tempName("challenge", gone);
    const liveKey = tempName("ca.pem", process.pid);
    const elsewhere = tempName("ca.key", gone, otherHost);
    const fixed = ["revocations.jsonl.tmp", "crl-numbers.tmp", "unsettled.jsonl.tmp"];
    const underCrlLock = ["ca.crl.tmp", "ca.crl.json.tmp"];
    for (const name of [deadKey, deadChallenge, liveKey, elsewhere, ...fixed, ...underCrlLock]) writeFileSync(join(dataDir, name), "part of a file");
    // ca.crl.lock held by a live process (this one) for the whole open: its ca.crl.tmp and ca.crl.json.tmp may be a
    // publication in progress.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const lock = withFileLock(join(dataDir, "ca.crl.lock"), async () => {
      held();
      await released;
    });
    await holding;
    try {
      await openFileCa({ dataDir });
    } finally {
      release();
      await lock;
    }
    const left = readdirSync(dataDir).filter((name) => name.includes(".tmp"));
    // Before: all nine stayed.
    expect(left.sort()).toEqual([liveKey, elsewhere, ...underCrlLock].sort());
    // The lock released, the next open removes those too.
    await openFileCa({ dataDir });
    expect(readdirSync(dataDir).filter((name) => name.includes(".tmp")).sort()).toEqual([liveKey, elsewhere].sort());
  });

  it("a fixed-name one whose lock is held on another host (a shared volume) or by an unreadable holder stays, lock and all; one whose holder is a gone process of this host goes", async () => {
    const dataDir = join(tempDir(), "data");
    const ca = await openFileCa({ dataDir });
    const otherHostName = `${hostname()}-not`;
    // ca.crl.lock held by a process of another host: it may be publishing now (this host cannot check its pid); one
    // of them by a pid that does not run here, the other by one that does.
    const crlHolder = holdLock(join(dataDir, "ca.crl.lock"), { pid: gone, host: otherHostName });
    const revocationsHolder = holdLock(join(dataDir, "revocations.jsonl.lock"), { pid: process.pid, host: otherHostName });
    // unsettled.jsonl.lock's holder file does not read (a holder that is not proved gone).
    const unsettledHolder = holdLock(join(dataDir, "unsettled.jsonl.lock"), "");
    // crl-numbers.lock held by a process of this host that is gone (a kill -9): its crl-numbers.tmp is a leftover.
    const numbersHolder = holdLock(join(dataDir, "crl-numbers.lock"), { pid: gone, host: hostname() });
    const kept = ["ca.crl.tmp", "ca.crl.json.tmp", "revocations.jsonl.tmp", "unsettled.jsonl.tmp"];
    for (const name of [...kept, "crl-numbers.tmp"]) writeFileSync(join(dataDir, name), "being written");
    const holders = [crlHolder, revocationsHolder, unsettledHolder].map((file) => [file, readFileSync(file, "utf8")]);
    await openFileCa({ dataDir });
    // Before: all five went, and the three locks with them (taken over as a waiter does: another host's holder and an
    // unreadable one count as gone), so the other host's rename of its ca.crl.tmp failed.
    expect(readdirSync(dataDir).filter((name) => name.endsWith(".tmp")).sort()).toEqual(kept.sort());
    for (const [file, text] of holders) expect(readFileSync(file!, "utf8")).toBe(text);
    expect(existsSync(numbersHolder)).toBe(false);
    expect(existsSync(join(dataDir, "crl-numbers.lock"))).toBe(false);
    // Other takers of these locks still take over another host's holder, as before (a lock left by a host that is gone
    // would otherwise stop them for good).
    expect((await ca.crl()).crlNumber).toBe(1n);
    expect(existsSync(crlHolder)).toBe(false);
  });
});
