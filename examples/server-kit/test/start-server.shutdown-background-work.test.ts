/**
 * SIGTERM ends the example server within `--shutdown-timeout-ms` plus SHUTDOWN_GRACE_MS (2 s), whatever background work
 * still runs. Here an Intune revocation sync round waits on an Intune that accepted the connection and never answers
 * (timeoutMs 30 s): the server used to wait for the round to time out (`intune-error` "no answer within 30000 ms", then
 * `stopped`), up to timeoutMs at each attempt of each call, far past the shutdown timeout a process manager allows.
 * Now the round is given an AbortSignal that shutdown aborts (@scep/intune cuts its calls), so it ends at once.
 * Background work that takes no signal is still abandoned after the grace: here a CRL round waiting for `ca.crl.lock`,
 * which another process of the host holds (a worker or replica on the data directory, a script publishing a CRL),
 * for up to the lock's 10 s wait; the `stopped` line then says `abandoned`.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { withFileLock } from "@scep-examples/embedded-ca/file-lock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrackedExamples } from "./support/example-process.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-shutdown-bound-"));
const examples = new TrackedExamples(fileURLToPath(new URL("../../express-server", import.meta.url)));
// An "Intune" that takes connections and never answers; `connected` resolves at the first one (a round is waiting).
const sockets: Socket[] = [];
let connected!: () => void;
const roundWaiting = new Promise<void>((resolve) => (connected = resolve));
const silentIntune: Server = createServer((socket) => {
  sockets.push(socket.on("error", () => undefined));
  connected();
});
beforeAll(() => new Promise<void>((resolve) => silentIntune.listen(0, "127.0.0.1", resolve)));
afterAll(async () => {
  await examples.terminateAll();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silentIntune.close(resolve));
  rmSync(tmp, { recursive: true, force: true });
});

describe("SIGTERM while an Intune revocation sync round waits on Intune", () => {
  it("exits 0 within the shutdown timeout plus the grace, the round cut by its signal", async () => {
    const base = `http://127.0.0.1:${(silentIntune.address() as AddressInfo).port}`;
    const intune = { mode: "api", tenantId: "11111111-2222-3333-4444-555555555555", clientId: "66666666-7777-8888-9999-000000000000", clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: base, graphBaseUrl: base, timeoutMs: 30_000, retries: 0, revocationSyncSeconds: 60 };
    writeFileSync(join(tmp, "scep-config.json"), JSON.stringify({ profiles: [{ path: "/intune", intune }] }));
    const { proc } = await examples.start({ SCEP_DATA_DIR: join(tmp, "data"), SCEP_CONFIG: join(tmp, "scep-config.json"), INTUNE_CLIENT_SECRET: "client-secret", SCEP_SHUTDOWN_TIMEOUT_MS: "100" });
    await roundWaiting; // the round's first call (the Entra ID token) is waiting for an answer
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    // Not waited for: no intune-error line (the round never timed out, and its abort is no error), nothing abandoned.
    expect(proc.events("intune-error")).toEqual([]);
    expect(proc.events("stopped")).toHaveLength(1);
    expect(proc.events("stopped")[0]).not.toHaveProperty("abandoned");
  });
});

describe("SIGTERM while a CRL round waits for ca.crl.lock, held by another live process", () => {
  it("exits 0 once the grace has passed, without waiting for the round, and the stopped line says abandoned", async () => {
    const dataDir = join(tmp, "data-crl-lock");
    mkdirSync(dataDir, { recursive: true });
    // This test process holds the data directory's CRL lock (the real one: a holder that runs is waited for, up to
    // 10 s) until the server has exited: the server's first CRL round, started before it listens, waits for it.
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
      const { proc } = await examples.start({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: "secret", SCEP_SHUTDOWN_TIMEOUT_MS: "100" });
      proc.child.kill("SIGTERM");
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      // Exited while the round still waited: it neither got the lock (no ca.crl) nor gave up on it (a crl-failed
      // line "held by pid … for over 10 s", then a stopped line without abandoned, had the process waited).
      expect(proc.events("crl-failed")).toEqual([]);
      expect(readdirSync(dataDir)).not.toContain("ca.crl");
      expect(proc.events("stopped").map(({ time: _time, ...line }) => line)).toEqual([
        { type: "stopped", abandoned: "background work still running 2000 ms after the shutdown timeout (an Intune revocation sync round, a CRL being signed, a reload)" },
      ]);
    } finally {
      release();
      await lock;
    }
  });
});
