/**
 * The root README's quick start is this package's src/server.ts, word for
 * word, and it works as the README says: the README's openssl command makes
 * ca.pem/ca.key, the server starts from the directory holding them, the CLI
 * enrolls against it (RFC 8894 §3.3 PKCSReq → CertRep SUCCESS), and OpenSSL
 * verifies the issued certificate against the CA. Every other TypeScript block of the root README and of each
 * package README is a file of src/readme/, word for word (which `pnpm run typecheck` compiles), and no README's block
 * goes unlisted.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SERVER = fileURLToPath(new URL("../src/server.ts", import.meta.url));
const CLI = join(REPO_ROOT, "examples/cli/src/main.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const CHALLENGE = "quick-start-secret";
const run = promisify(execFile);

/** The README's "Quick start" section, up to the next level-2 heading. */
function quickStartSection(): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Quick start");
  expect(start, "README has a '## Quick start' section").toBeGreaterThan(-1);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The fenced blocks of one language in a Markdown text (also indented ones, in list items), without their indentation. */
function blocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp("^( *)```" + lang + "\\n([\\s\\S]*?)^\\1```$", "gm"))].map((m) =>
    m[2]!.replace(new RegExp("^" + m[1]!, "gm"), ""),
  );
}

/** Environment for the children: without what pnpm or vitest set for themselves (INIT_CWD would move the CLI's relative paths). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k === "INIT_CWD" || k === "NODE_OPTIONS" || k.startsWith("npm_") || k.startsWith("VITEST")) delete env[k];
  return { ...env, ...extra };
}

describe("README quick start", () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let url: string;
  let serverOutput = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scep-quick-start-"));
    // The CA, made by the README's own openssl command.
    const openssl = blocks(quickStartSection(), "sh").flatMap((b) => b.replace(/\\\n\s*/g, " ").split("\n")).filter((l) => l.startsWith("openssl req "));
    expect(openssl).toHaveLength(1);
    execFileSync("sh", ["-c", openssl[0]!], { cwd: dir, stdio: "pipe" });

    server = spawn(process.execPath, ["--import", TSX, SERVER], {
      cwd: dir,
      env: childEnv({ SCEP_CHALLENGE: CHALLENGE, PORT: "0", TSX_TSCONFIG_PATH: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (chunk: Buffer) => (serverOutput += chunk.toString("utf8")));
    server.stderr!.on("data", (chunk: Buffer) => (serverOutput += chunk.toString("utf8")));
    url = (await output(/SCEP server on (http:\/\/localhost:\d+\/scep)\n/))[1]!.replace("localhost", "127.0.0.1");
  });

  /** Resolves when the server's output (stdout and stderr) matches `re`, already or later; rejects if the server exits first. */
  function output(re: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(serverOutput);
        if (m) {
          server!.stdout!.off("data", check);
          server!.stderr!.off("data", check);
          resolve(m);
        }
      };
      server!.stdout!.on("data", check);
      server!.stderr!.on("data", check);
      server!.once("exit", (code) => reject(new Error(`the quick start exited (${code}) before printing ${re}:\n${serverOutput}`)));
      check();
    });
  }

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows src/server.ts word for word as its TypeScript block", () => {
    const ts = blocks(quickStartSection(), "ts");
    expect(ts[0]).toBe(readFileSync(SERVER, "utf8"));
  });

  it("enrolls with the CLI (RFC 8894 §3.3) and the certificate verifies against ca.pem with OpenSSL", async () => {
    const { stdout: enroll } = await run(
      process.execPath,
      ["--import", TSX, CLI, "enroll", "--url", url, "--challenge", CHALLENGE, "--cn", "device-1", "--out", "device-1.pem"],
      { cwd: dir, env: childEnv({ TSX_TSCONFIG_PATH: join(REPO_ROOT, "examples/cli/tsconfig.json") }), encoding: "utf8" },
    );
    expect(enroll).toContain("device-1.pem");

    const { stdout: verify } = await run("openssl", ["verify", "-CAfile", "ca.pem", "device-1.pem"], { cwd: dir, encoding: "utf8" });
    expect(verify).toBe("device-1.pem: OK\n");

    const { stdout: fields } = await run("openssl", ["x509", "-in", "device-1.pem", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer", "-serial"], { cwd: dir, encoding: "utf8" });
    const [subject, issuer, serial] = fields.trim().split("\n");
    expect(subject).toBe("subject=CN=device-1");
    expect(issuer).toBe("issuer=CN=My SCEP CA");
    // 128 random bits read as an unsigned number: a positive INTEGER of 1–17 octets, printed without a sign.
    expect(serial).toMatch(/^serial=[0-9A-F]{2,34}$/);

    // The server logged the issuance as one JSON event line, with the same serial.
    await output(/"operation":"PKCSReq"[^\n]*\n/);
    const events = serverOutput.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const issued = events.filter((e) => e.operation === "PKCSReq");
    expect(issued, JSON.stringify(events)).toHaveLength(1);
    expect(issued[0]).toMatchObject({ outcome: "success", reason: "issued", status: 200, subject: "CN=device-1" });
    expect(issued[0]!.serial).toBe(serial!.slice("serial=".length).toLowerCase().replace(/^(00)+/, ""));
  });

  // 127.0.0.2 is this machine too (127.0.0.0/8 is loopback), but not the address 127.0.0.1: a server bound to every
  // interface answers there, one bound to HOST=127.0.0.1 refuses it.
  const reachable = (host: string, port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect(port, host, () => void (socket.end(), resolve(true)));
      socket.once("error", () => resolve(false));
    });

  it("listens on every interface when HOST is unset, as the README says", async () => {
    expect(await reachable("127.0.0.2", Number(new URL(url).port))).toBe(true);
  });

  it("listens on HOST only when it is set (HOST=127.0.0.1: this machine only), and prints that address", async () => {
    const loopback = spawn(process.execPath, ["--import", TSX, SERVER], {
      cwd: dir,
      env: childEnv({ SCEP_CHALLENGE: CHALLENGE, PORT: "0", HOST: "127.0.0.1", TSX_TSCONFIG_PATH: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) }),
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        loopback.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8");
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        loopback.once("exit", (code) => reject(new Error(`the quick start exited (${code}): ${out}`)));
      });
      const m = /^SCEP server on http:\/\/127\.0\.0\.1:(\d+)\/scep$/.exec(line);
      expect(m, line).not.toBeNull();
      const port = Number(m![1]);
      const caps = await fetch(`http://127.0.0.1:${port}/scep?operation=GetCACaps`);
      expect(caps.status).toBe(200);
      expect(await reachable("127.0.0.2", port)).toBe(false);
    } finally {
      const exited = new Promise((r) => loopback.once("exit", r));
      loopback.kill("SIGTERM");
      await exited;
    }
  });

  it("a port already in use: one line on stderr naming it and what to do, exit 1, no stack trace", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const taken = spawn(process.execPath, ["--import", TSX, SERVER], {
        cwd: dir,
        env: childEnv({ SCEP_CHALLENGE: CHALLENGE, PORT: String(port), HOST: "127.0.0.1", TSX_TSCONFIG_PATH: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      taken.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
      taken.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const code = await new Promise<number | null>((resolve) => taken.once("exit", (c) => resolve(c)));
      expect([code, stdout, stderr]).toEqual([1, "", `SCEP server: listen EADDRINUSE: address already in use 127.0.0.1:${port}; choose another port with PORT\n`]);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("SCEP_CHALLENGE unset or empty: one line on stderr saying to set it, exit 1, no stack trace", async () => {
    for (const challenge of [undefined, ""]) {
      const env = childEnv({ PORT: "0", HOST: "127.0.0.1", TSX_TSCONFIG_PATH: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
      delete env.SCEP_CHALLENGE;
      if (challenge !== undefined) env.SCEP_CHALLENGE = challenge;
      const unset = spawn(process.execPath, ["--import", TSX, SERVER], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      unset.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
      unset.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const code = await new Promise<number | null>((resolve) => unset.once("exit", (c) => resolve(c)));
      expect([code, stdout, stderr]).toEqual([1, "", "SCEP server: set SCEP_CHALLENGE to the challenge password devices must send, e.g. SCEP_CHALLENGE=secret\n"]);
    }
  });

  // A client that never finishes its request (a stalled POST body) kept `listener.close` waiting, and the process
  // alive after Ctrl-C or SIGTERM, until Node's 300 s request timeout: past what a process manager waits.
  it("stops on Ctrl-C (SIGINT) with exit 0, within its 10 s limit even with a request that never finishes", async () => {
    const { port } = new URL(url);
    const stalled = connect(Number(port), "127.0.0.1");
    stalled.on("error", () => undefined);
    await new Promise<void>((r) => stalled.once("connect", () => r()));
    stalled.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-pki-message\r\nContent-Length: 1000\r\n\r\n0123");
    await new Promise((r) => setTimeout(r, 200)); // the request is in the server's hands
    const exited = new Promise<[number | null, string | null]>((r) => server!.once("exit", (code, signal) => r([code, signal])));
    server!.kill("SIGINT");
    expect(await exited).toEqual([0, null]);
    stalled.destroy();
  }, 30_000);
});

describe("package READMEs", () => {
  // Each TypeScript block of a package README is one of this package's files, which `pnpm run typecheck` compiles.
  const EXAMPLES: Record<string, string[]> = {
    "packages/core/README.md": ["src/readme/core.ts", "src/readme/core-server.ts", "src/readme/core-on-error.ts", "src/readme/core-resend.ts", "src/readme/core-approval.ts", "src/readme/core-polling.ts", "src/readme/core-stores.ts", "src/readme/core-revocations.ts", "src/readme/core-webhook.ts", "src/readme/core-operator.ts", "src/readme/core-events.ts"],
    "packages/express/README.md": ["src/readme/express.ts"],
    "packages/hono/README.md": ["src/readme/hono.ts"],
    "packages/intune/README.md": ["src/readme/intune-tokens.ts", "src/readme/intune-api.ts", "src/readme/intune-revocation.ts", "src/readme/intune-stores.ts"],
    "packages/proxy/README.md": ["src/readme/proxy.ts", "src/readme/proxy-challenge-sources.ts", "src/readme/proxy-conformance.ts"],
    "packages/redis/README.md": ["src/readme/redis.ts", "src/readme/redis-conformance.ts"],
    // The root README: its quick start (also run above) and the rest.
    "README.md": ["src/server.ts", "src/readme/root-resend.ts"],
  };
  // The root README holds the quick start; the proxy's examples stand on their own (no SCEP server profile in them).
  const NO_QUICK_START_LINK = new Set(["README.md", "packages/proxy/README.md"]);
  for (const [readme, files] of Object.entries(EXAMPLES)) {
    it(`${readme} shows ${files.join(", ")} word for word${NO_QUICK_START_LINK.has(readme) ? "" : " and links the root quick start"}`, () => {
      const text = readFileSync(join(REPO_ROOT, readme), "utf8");
      expect(blocks(text, "ts")).toEqual(files.map((f) => readFileSync(fileURLToPath(new URL(`../${f}`, import.meta.url)), "utf8")));
      if (!NO_QUICK_START_LINK.has(readme)) expect(text).toContain("(https://github.com/scep-sdk/scep-sdk#quick-start-a-scep-server-in-your-app)");
    });
  }

  it("lists every README with a TypeScript block (the root's and each package's): none goes unchecked", () => {
    const readmes = ["README.md", ...readdirSync(join(REPO_ROOT, "packages")).map((p) => `packages/${p}/README.md`)].filter((f) => existsSync(join(REPO_ROOT, f)));
    const withCode = readmes.filter((f) => blocks(readFileSync(join(REPO_ROOT, f), "utf8"), "(?:ts|typescript|tsx)").length > 0);
    expect(withCode.filter((f) => !(f in EXAMPLES))).toEqual([]);
    // And no block hides under another tag: ```typescript or ```tsx would not be compared above.
    for (const f of withCode) expect([f, blocks(readFileSync(join(REPO_ROOT, f), "utf8"), "(?:typescript|tsx)").length]).toEqual([f, 0]);
  });
});
