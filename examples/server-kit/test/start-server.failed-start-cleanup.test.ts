/**
 * The cleanup of a failed start is best effort: removing the challenge that
 * start generated must never reject, so the configuration error that failed
 * the start is the one reported (and the stores are still closed).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { forgetGenerated } from "../src/start-server.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-forget-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("forgetGenerated: removing a challenge a failed start generated", () => {
  it("removes the file it generated", async () => {
    const file = join(tmp, "challenge");
    writeFileSync(file, "0123456789abcdef\n");
    await expect(forgetGenerated({ kind: "generated", file })).resolves.toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it("a removal that fails (here EISDIR: a directory in its place) resolves: it never replaces the start's own error", async () => {
    const file = join(tmp, "in-the-way");
    mkdirSync(join(file, "child"), { recursive: true });
    await expect(forgetGenerated({ kind: "generated", file })).resolves.toBeUndefined();
    expect(existsSync(join(file, "child"))).toBe(true);
  });

  it("a stored challenge (an earlier start's, devices use it) is left alone", async () => {
    const file = join(tmp, "stored");
    writeFileSync(file, "fedcba9876543210\n");
    await forgetGenerated({ kind: "stored", file });
    expect(existsSync(file)).toBe(true);
  });
});
