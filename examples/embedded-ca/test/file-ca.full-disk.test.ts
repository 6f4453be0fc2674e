// A disk that fills part way through a write (ENOSPC after the first bytes, as write(2) does), for the files the CA
// writes whole: the convenience copy certs/<serial>.pem, ca.key when the CA is created, crl-numbers, ca.crl. None is
// left cut short under its name or as a temporary file. Before: the copy was written in place without fsync, so a full
// disk left a truncated PEM that looked like a certificate file, and the issue failed although the index (the record
// of truth) could hold the certificate; a failed temporary file (`.ca.key.tmp-…`, holding part of a private key;
// `crl-numbers.tmp`, `ca.crl.tmp`) stayed behind; and a `ca.crl` that could not be written after `ca.crl.json` was
// stayed an older CRL until the next CRL was due (half its validity later) or the next open.
//
// The full disk is node:fs/promises with its writeFile (of a path, and of a FileHandle) failing part way for the
// files `disk.fullFor` names.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join, sep } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { FileRevocationStore, openFileCa } from "../src/index.js";
import { opensslCsr, tempDir } from "./helpers.js";

const disk = vi.hoisted(() => ({ fullFor: (_path: string): boolean => false }));
/** Bytes a file on the full disk takes before ENOSPC. */
const ROOM = 100;

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const enospc = (): Error => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
  const room = (data: unknown): Buffer => Buffer.from(data as string | Uint8Array).subarray(0, ROOM);
  const writeFile = (async (path: unknown, data: unknown, options?: unknown) => {
    if (typeof path === "string" && disk.fullFor(path)) {
      await real.writeFile(path, room(data), options as Parameters<typeof real.writeFile>[2]);
      throw enospc();
    }
    return real.writeFile(path as string, data as string, options as Parameters<typeof real.writeFile>[2]);
  }) as typeof real.writeFile;
  const open = (async (path: unknown, flags?: unknown, mode?: unknown) => {
    const handle = await real.open(path as string, flags as string, mode as number);
    if (typeof path === "string" && disk.fullFor(path)) {
      handle.writeFile = async (data: unknown): Promise<void> => {
        await handle.write(room(data));
        throw enospc();
      };
    }
    return handle;
  }) as typeof real.open;
  return { ...real, default: { ...real, writeFile, open }, writeFile, open };
});

const codeAndMessage = (e: unknown): string => `${(e as { code?: string }).code}: ${(e as Error).message}`;
/** The files of `dir` with their sizes, so a cut-short one shows as such. */
const filesOf = (dir: string): string[] => readdirSync(dir).map((name) => `${name} (${statSync(join(dir, name)).size} bytes)`);

describe("a disk that fills part way through a write", () => {
  it("certs/<serial>.pem: no truncated copy is left; the certificate is still issued, recorded and delivered, and onError hears why its copy is missing", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const certs = join(dataDir, "certs");
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, onError: (e) => errors.push(e) });
    const csrDer = opensslCsr(dir, "device", { subject: "/CN=full-disk" });

    disk.fullFor = (path) => path.includes(`${sep}certs${sep}`);
    const issued = await ca.issue({ csrDer }).catch((e: unknown) => e);
    // Before: ["<serial>.pem (100 bytes)"], and the issue rejected STORAGE_FAILED "cannot store certificate …".
    expect(filesOf(certs).filter((f) => !f.startsWith(".tmp "))).toEqual([]);
    expect(filesOf(join(certs, ".tmp"))).toEqual([]);
    expect(issued).not.toBeInstanceOf(Error);
    const { serialNumber, certificatePem } = issued as Awaited<ReturnType<typeof ca.issue>>;
    expect((await ca.getCertificate(serialNumber))?.certificatePem).toBe(certificatePem);
    expect((await ca.list()).map((r) => r.serialNumber)).toEqual([serialNumber]);
    expect(errors.map(codeAndMessage)).toEqual([
      `STORAGE_FAILED: cannot write ${join(certs, `${serialNumber}.pem`)}, the copy of certificate ${serialNumber}: the certificate is issued without it (the index holds it): ENOSPC: no space left on device, write`,
    ]);

    // Room again: the next copy is whole, readable as before (0644 less the umask), and nothing else is in certs/.
    disk.fullFor = () => false;
    const next = await ca.issue({ csrDer });
    const copy = join(certs, `${next.serialNumber}.pem`);
    expect(readFileSync(copy, "utf8")).toBe(next.certificatePem);
    const probe = join(dir, "probe");
    writeFileSync(probe, "", { mode: 0o644 });
    expect(statSync(copy).mode & 0o777).toBe(statSync(probe).mode & 0o777);
    expect(readdirSync(certs).sort()).toEqual([".tmp", `${next.serialNumber}.pem`]);
    expect(readdirSync(join(certs, ".tmp"))).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it("ca.key of a CA created on first start: the open fails CA_CREATE_FAILED and leaves no temporary key file; the next open creates the CA", async () => {
    const dataDir = join(tempDir(), "data");
    disk.fullFor = (path) => basename(path).startsWith(".ca.key.tmp-");
    try {
      const error = await openFileCa({ dataDir }).catch((e: unknown) => e);
      expect(codeAndMessage(error)).toBe(`CA_CREATE_FAILED: cannot create the CA in ${dataDir}: ENOSPC: no space left on device, write`);
      // Before: [".ca.key.tmp-<pid>-<hex> (100 bytes)"]: the start of a private key, left in the data directory.
      expect(filesOf(dataDir)).toEqual([]);
    } finally {
      disk.fullFor = () => false;
    }
    const ca = await openFileCa({ dataDir });
    expect(readFileSync(join(dataDir, "ca.key"), "utf8")).toBe(ca.privateKeyPem);
    expect(readdirSync(dataDir).filter((name) => name.includes(".tmp"))).toEqual([]);
  });

  it("crl-numbers: a number that cannot be written whole is not handed out, the file keeps the last one, and no crl-numbers.tmp is left", async () => {
    const dir = tempDir();
    const store = new FileRevocationStore(dir);
    expect(await store.nextCrlNumber()).toBe(1n);
    disk.fullFor = (path) => path === join(dir, "crl-numbers.tmp");
    try {
      expect(codeAndMessage(await store.nextCrlNumber().catch((e: unknown) => e))).toBe(`ERR_STORE_UNAVAILABLE: cannot use ${join(dir, "crl-numbers")}: ENOSPC`);
    } finally {
      disk.fullFor = () => false;
    }
    expect(readFileSync(join(dir, "crl-numbers"), "utf8")).toBe("=1\n");
    // Before: crl-numbers.tmp (100 bytes) stayed.
    expect(existsSync(join(dir, "crl-numbers.tmp"))).toBe(false);
    expect(await store.nextCrlNumber()).toBe(2n);
  });

  it("ca.crl: when it cannot be written after ca.crl.json was, crl() rejects; the next crl() writes it (told to onError once while it cannot)", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const crlFile = join(dataDir, "ca.crl");
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, onError: (e) => errors.push(e) });
    const first = await ca.crl();
    expect(readFileSync(crlFile).equals(first.der)).toBe(true);
    const { serialNumber } = await ca.issue({ csrDer: opensslCsr(dir, "device", { subject: "/CN=revoked" }) });
    await ca.revoke(serialNumber, "superseded");

    disk.fullFor = (path) => path === `${crlFile}.tmp`;
    try {
      expect(codeAndMessage(await ca.crl().catch((e: unknown) => e))).toBe(`ERR_STORE_UNAVAILABLE: cannot publish ca.crl in ${dataDir}: ENOSPC`);
      // Before: ca.crl.tmp (100 bytes) stayed.
      expect(existsSync(`${crlFile}.tmp`)).toBe(false);
      const state = JSON.parse(readFileSync(join(dataDir, "ca.crl.json"), "utf8")) as { crlNumber: string; der: string };
      expect(state.crlNumber).toBe("2");
      expect(readFileSync(crlFile).equals(first.der)).toBe(true);
      // Still full: the published CRL is served; ca.crl is tried again at each call, the failure told once.
      for (let i = 0; i < 2; i += 1) expect((await ca.crl()).crlNumber).toBe(2n);
      expect(readFileSync(crlFile).equals(first.der)).toBe(true);
      expect(errors.map(codeAndMessage)).toEqual([
        `STORAGE_FAILED: cannot write ${crlFile} (it holds an older CRL than ca.crl.json; tried again at each crl()): cannot repair ca.crl in ${dataDir}: ENOSPC`,
      ]);
    } finally {
      disk.fullFor = () => false;
    }
    const second = await ca.crl();
    expect(second.crlNumber).toBe(2n);
    expect(second.revokedCount).toBe(1);
    // Before: ca.crl kept CRL 1, without the revocation, until CRL 2 was half through its validity or the next open.
    expect(readFileSync(crlFile).equals(second.der)).toBe(true);
    expect(errors).toHaveLength(1);
  });
});
