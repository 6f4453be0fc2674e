/**
 * The generated challenge (`<data-dir>/challenge`) is created whole or not at all. A start that cannot write it (here:
 * `ulimit -f 0`, so every byte written to a file fails with EFBIG, as on a full disk) fails with one line naming the
 * file, and leaves no challenge file behind (an empty one would fail every later start: "is empty: delete it"), nor a
 * temporary one; the next start generates the challenge, mode 0600, and shows it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig, type ServerConfig } from "../src/config.js";
import { createKit } from "../src/start-server.js";

const KIT_DIR = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "scep-challenge-file-"));
const dataDir = join(tmp, "data");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const configOf = (env: Record<string, string>): ServerConfig => parseConfig(["--data-dir", dataDir, "--key-workers", "0"], env) as ServerConfig;

/** createKit in this process (its JSON lines kept off the test output); the kit closed again. */
async function makeKit(env: Record<string, string>): Promise<Awaited<ReturnType<typeof createKit>>> {
  const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    const kit = await createKit(configOf(env));
    await kit.close();
    await kit.stores.close();
    return kit;
  } finally {
    write.mockRestore();
  }
}

/** test/support/create-kit-once.ts in a child process whose files may not grow past 0 bytes; its JSON line. */
function createKitWithFullDisk(): Promise<{ created?: true; error?: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_DISABLE_CACHE: "1" };
  for (const k of Object.keys(env)) if (k === "NODE_OPTIONS" || k === "VITEST" || k.startsWith("VITEST_")) delete env[k];
  const child = spawn("sh", ["-c", 'ulimit -f 0 && exec "$@"', "sh", process.execPath, "--import", "tsx", "test/support/create-kit-once.ts", dataDir], { cwd: KIT_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  return new Promise((resolve, reject) =>
    child.once("error", reject).once("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line === undefined) reject(new Error(`the child printed no result (exit ${code}): ${err}`));
      else resolve(JSON.parse(line) as { created?: true; error?: string });
    }),
  );
}

describe.skipIf(process.platform === "win32")("the generated challenge file after a start that could not write it", () => {
  beforeAll(async () => {
    await makeKit({ SCEP_CHALLENGE: "given-so-no-challenge-file" }); // the CA exists: the start below writes the challenge first
    expect(readdirSync(dataDir)).not.toContain("challenge");
  });

  it("a full disk fails the start with one line and leaves neither a challenge nor a temporary file", async () => {
    const result = await createKitWithFullDisk();
    expect(result.error).toMatch(new RegExp(`^cannot create ${join(dataDir, "challenge").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*EFBIG.* \\(check --data-dir, or set SCEP_CHALLENGE\\)$`));
    expect(readdirSync(dataDir).filter((name) => name.includes("challenge"))).toEqual([]);
  });

  it("the next start generates the challenge, whole and mode 0600", async () => {
    const kit = await makeKit({});
    expect(kit.challengeSource).toEqual({ kind: "generated", file: join(dataDir, "challenge") });
    expect(kit.challenge).toMatch(/^[0-9a-f]{32}$/);
    expect(readFileSync(join(dataDir, "challenge"), "utf8")).toBe(`${kit.challenge}\n`);
    expect(statSync(join(dataDir, "challenge")).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir).filter((name) => name.includes("challenge"))).toEqual(["challenge"]);
    // and a start after that keeps it
    const again = await makeKit({});
    expect([again.challengeSource.kind, again.challenge]).toEqual(["stored", kit.challenge]);
  });
});
