// <data-dir>/server.lock is replaced whole (temporary file, then rename). A start whose temporary file cannot be
// written (a full disk: here the write of it fails with ENOSPC once the file exists) fails with one line, exit 2, and
// leaves the data directory as it was: no `server.lock.<hex>.tmp` behind, one more after each such start as before.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../src/errors.js";
import { lockDataDir } from "../src/data-dir-lock.js";

// writeFileSync of server.lock's temporary file: created, then the write fails (the disk is full).
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const writeFileSync = ((path: unknown, data: unknown, options?: unknown): void => {
    if (typeof path === "string" && /server\.lock\.[0-9a-f]{12}\.tmp$/.test(path)) {
      real.writeFileSync(path, "", { mode: 0o644 });
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: "ENOSPC", errno: -28, syscall: "write" });
    }
    real.writeFileSync(path as string, data as string, options as import("node:fs").WriteFileOptions);
  }) as typeof real.writeFileSync;
  return { ...real, default: { ...real, writeFileSync }, writeFileSync };
});

const tmp = mkdtempSync(join(tmpdir(), "scep-lock-full-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("taking <data-dir>/server.lock on a full disk", () => {
  it("fails with one line and leaves no temporary file", () => {
    const dataDir = join(tmp, "data");
    mkdirSync(dataDir);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expect(() => lockDataDir(dataDir)).toThrow(new ConfigError(`cannot lock the data directory ${dataDir}: no space left on the device (ENOSPC) (check --data-dir)`, { showUsage: false }));
    }
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
