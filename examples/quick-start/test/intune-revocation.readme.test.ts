/**
 * The @scep/intune README's revocation sync example (src/readme/intune-revocation.ts, the same word for word) stops
 * as it says: its shutdown (`stopSync()`) cuts a round in progress, not only the wait between rounds. Before, the
 * example did not hand its signal to syncIntuneRevocations: a round waiting on an Intune that did not answer went on
 * until the client's timeout (10 s), then its retry (another connection, another 10 s), and a shutdown waited for it.
 *
 * The example runs as it is, in a child process, with its real IntuneRevocationClient; only the host of the URLs it
 * fetches (login.microsoftonline.com, graph.microsoft.com) is pointed at a local server that takes connections and
 * never answers (the child's global fetch given a loopback base URL, the path kept).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const EXAMPLE = new URL("../src/readme/intune-revocation.ts", import.meta.url).href;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const dir = mkdtempSync(join(tmpdir(), "scep-intune-revocation-example-"));

// The silent "Intune": counts connections; `connected` resolves at the first (the round's first call is waiting).
const sockets: Socket[] = [];
let connected!: () => void;
const roundWaiting = new Promise<void>((resolve) => (connected = resolve));
const silent = createServer((socket) => {
  // Read and dropped, so the client's close shows here as `close` (an unread socket never sees its end).
  sockets.push(socket.on("error", () => undefined).resume());
  connected();
});

beforeAll(async () => {
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  // The example reads ca.pem from its working directory (its issuerName).
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Example Issuing CA", "-days", "1"], { cwd: dir, stdio: "pipe" });
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("the Intune revocation sync example", () => {
  it("stopSync() cuts a round waiting on Intune: the loop ends, its connection is closed, and no retry is made", async () => {
    const base = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    // The example imported as it is (its loop starts at import), with the two functions it declares as the reader's
    // own; SIGTERM runs its shutdown, stopSync().
    const main = [
      `globalThis.issuedByThisCa = async () => true;`,
      `globalThis.resignCrl = async () => undefined;`,
      `const real = globalThis.fetch;`,
      `let calls = 0;`,
      `process.on("exit", () => console.log(\`fetch calls: \${calls}\`));`,
      `globalThis.fetch = (input, init) => { calls++; const u = new URL(String(input)); return real(${JSON.stringify(base)} + u.pathname + u.search, init); };`,
      `const example = await import(${JSON.stringify(EXAMPLE)});`,
      `process.once("SIGTERM", () => void example.stopSync().then(() => console.log("sync stopped")));`,
    ].join("\n");
    writeFileSync(join(dir, "main.mjs"), main);
    const child = spawn(process.execPath, ["--import", TSX, "main.mjs"], {
      cwd: dir,
      env: { ...process.env, INTUNE_TENANT_ID: "11111111-2222-3333-4444-555555555555", INTUNE_CLIENT_ID: "66666666-7777-8888-9999-000000000000", INTUNE_CLIENT_SECRET: "client-secret", TSX_TSCONFIG_PATH: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const exited = new Promise<[number | null, string | null]>((resolve) => child.once("exit", (code, signal) => resolve([code, signal])));
    await Promise.race([roundWaiting, exited.then(() => Promise.reject(new Error(`the example exited first: ${stderr}`)))]);
    child.kill("SIGTERM");
    // Ended by the signal (no unanswered round keeps the process alive), with nothing logged as a failure.
    expect(await exited).toEqual([0, null]);
    // One call to "Intune": cut, not timed out and retried (the client's 10 s timeout, then its retry, is what a round
    // without the signal did before the process could end).
    expect([stdout, stderr]).toEqual(["sync stopped\nfetch calls: 1\n", ""]);
    // Every connection the round opened is closed (Node 22's fetch opens a second one for that one call as the abort
    // lands, closed at once: connections are not calls).
    await Promise.all(sockets.map((s) => (s.closed ? undefined : new Promise<void>((resolve) => s.once("close", () => resolve())))));
    expect(sockets.every((s) => s.closed)).toBe(true);
  });
});
