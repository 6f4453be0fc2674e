/**
 * publishFileExclusive (the CA's key and certificate on first start, the certificate copies, and the example servers'
 * generated challenge): creates a file whole, with its mode, never over an existing one; of several callers at once
 * exactly one creates it; on a file system without hard links it is created in place.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { publishFileExclusive } from "../src/lib/durable-fs.js";

// link(2) as the file system answers it; `refuse` set: as one without hard links answers.
const linkMode = vi.hoisted(() => ({ refuse: undefined as string | undefined, unlinkFails: false }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...real,
    link: async (from: string, to: string): Promise<void> => {
      if (linkMode.refuse) throw Object.assign(new Error(`${linkMode.refuse}: operation not permitted, link`), { code: linkMode.refuse });
      return real.link(from, to);
    },
    // `unlinkFails`: the temporary name is gone already (another process's sweep), as unlink(2) then answers.
    unlink: async (path: string): Promise<void> => {
      if (linkMode.unlinkFails && path.endsWith(".tmp") === false && /\.tmp-/.test(path)) {
        await real.unlink(path);
        throw Object.assign(new Error(`ENOENT: no such file or directory, unlink '${path}'`), { code: "ENOENT" });
      }
      return real.unlink(path);
    },
  };
});

const tmp = mkdtempSync(join(tmpdir(), "scep-publish-exclusive-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  linkMode.refuse = undefined;
  linkMode.unlinkFails = false;
});
let n = 0;
/** A new empty directory under tmp. */
const freshDir = (): string => {
  const dir = join(tmp, String(++n));
  mkdirSync(dir);
  return dir;
};

describe("publishFileExclusive", () => {
  it("creates the file whole with its mode, and leaves no temporary file", async () => {
    const dir = freshDir();
    expect(await publishFileExclusive(join(dir, "challenge"), "secret\n", 0o600)).toBe(true);
    expect(readFileSync(join(dir, "challenge"), "utf8")).toBe("secret\n");
    expect(statSync(join(dir, "challenge")).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["challenge"]);
  });

  it("keeps an existing file as it is (false)", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "challenge"), "earlier\n", { mode: 0o600 });
    expect(await publishFileExclusive(join(dir, "challenge"), "later\n", 0o600)).toBe(false);
    expect(readFileSync(join(dir, "challenge"), "utf8")).toBe("earlier\n");
    expect(readdirSync(dir)).toEqual(["challenge"]);
  });

  it("of 8 callers at once, exactly one creates it, and the file is that one's", async () => {
    const dir = freshDir();
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => publishFileExclusive(join(dir, "challenge"), `secret-${i}\n`, 0o600)));
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(readFileSync(join(dir, "challenge"), "utf8")).toBe(`secret-${created.indexOf(true)}\n`);
    expect(readdirSync(dir)).toEqual(["challenge"]);
  });

  it.each(["EPERM", "ENOTSUP"])("without hard links (link: %s) creates it in place, and still keeps an existing one", async (code) => {
    linkMode.refuse = code;
    const dir = freshDir();
    expect(await publishFileExclusive(join(dir, "challenge"), "secret\n", 0o600)).toBe(true);
    expect([readFileSync(join(dir, "challenge"), "utf8"), statSync(join(dir, "challenge")).mode & 0o777]).toEqual(["secret\n", 0o600]);
    expect(await publishFileExclusive(join(dir, "challenge"), "later\n", 0o600)).toBe(false);
    expect(readFileSync(join(dir, "challenge"), "utf8")).toBe("secret\n");
    expect(readdirSync(dir)).toEqual(["challenge"]);
  });

  it("a created file is reported created even when its temporary name could not be removed (swept by another process)", async () => {
    linkMode.unlinkFails = true;
    const dir = freshDir();
    expect(await publishFileExclusive(join(dir, "challenge"), "secret\n", 0o600)).toBe(true);
    expect(readFileSync(join(dir, "challenge"), "utf8")).toBe("secret\n");
  });
});
