/**
 * SIGINT or SIGTERM after `scep enroll` (no --key) or `scep renew --new-key` sent its PKCSReq, before the CA answered:
 * the CA may already hold a PENDING request for the generated key (RFC 8894 §3.3.3: only a request for that key polls
 * it), so the key is saved then, mode 0600, never over an existing file, and stderr says how to poll with it. A real
 * @scep/core server on loopback whose issue hook waits until the test lets it answer: the signal is sent while the CA
 * holds the request (the hook has it), and the key file must be the key of the CSR the CA received. Once the CA
 * answered PENDING and an operator approved, the printed command collects the certificate for that key.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createPublicKey } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  LocalKey,
  createScepServer,
  exportPrivateKeyPem,
  generateCsr,
  generateRsaKeyPair,
  type ScepServer,
} from "@scep/core";
import { opensslCreateCa } from "../../../test-support/peers";
import { ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { certificateFor, fetchListener, issuingHook, listenLoopback, type Loopback } from "./support/in-process.js";
import { CLI_DIR, runCli } from "./support/run-cli";

// Distinctive, so that "no line holds the challenge" cannot fail or pass on a chance match in a temporary path.
const CHALLENGE = "Interrupt-s3cret-0815";

const root = mkdtempSync(join(tmpdir(), "scep-cli-interrupt-"));
let http: Loopback;
let scep: ScepServer;
let url: string;
let ca: LocalKey;

/** A request the issue hook holds: its CSR, and how to let the hook answer PENDING. */
interface Held {
  csr: CertificationRequest;
  answer(): void;
}
/** Resolves with the next request the issue hook receives (not yet approved), which it then holds. */
let nextHeld: ((held: Held) => void) | undefined;
/** Every scep.fetch still running, so a test can wait until the CA has recorded what it answered. */
const inFlight = new Set<Promise<unknown>>();

beforeAll(async () => {
  const material = await opensslCreateCa({ subject: "/O=scep-sdk tests/CN=Interrupt CA" });
  ca = LocalKey.fromPem(material.certPem, material.keyPem);
  scep = createScepServer({
    profiles: [{
      path: "/scep",
      caCertificate: ca.certificate,
      signer: ca,
      challenge: { type: "static", password: CHALLENGE },
      // A new request: held (the CA is slow to answer) until the test lets it answer PENDING.
      issue: issuingHook(ca, { hold: (csr) => new Promise<void>((answer) => nextHeld?.({ csr, answer })) }),
    }],
  });
  http = await listenLoopback(
    fetchListener((request) => {
      const done = scep.fetch(request);
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done)).catch(() => undefined);
      return done;
    }),
  );
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Starts the CLI, waits until the CA holds its request, then sends `signal`; returns the held request and the exit. */
async function interruptWhileHeld(args: readonly string[], signal: NodeJS.Signals): Promise<{ held: Held; proc: ExampleProcess; exit: { code: number | null; signal: NodeJS.Signals | null } }> {
  const reached = new Promise<Held>((resolve) => (nextHeld = resolve));
  const proc = new ExampleProcess(CLI_DIR, {}, args);
  try {
    const held = await Promise.race([reached, proc.exited.then(() => Promise.reject(new Error(`the CLI ended before the CA got its request: ${proc.stderr}`)))]);
    proc.child.kill(signal);
    return { held, proc, exit: await proc.exited };
  } finally {
    nextHeld = undefined;
    await proc.terminate();
  }
}

/** The DER SubjectPublicKeyInfo of a PEM private key file. */
function spkiOfKeyFile(path: string): Buffer {
  return createPublicKey(readFileSync(path, "utf8")).export({ type: "spki", format: "der" });
}

/** Lets the held request answer PENDING, and waits until the CA has recorded it; returns its transactionID. */
async function answerPending(held: Held): Promise<string> {
  held.answer();
  await Promise.allSettled([...inFlight]);
  const pending = await scep.pending("/scep");
  const tx = pending.find((t) => Buffer.from(CertificationRequest.from(t.csr).spki).equals(Buffer.from(held.csr.spki)));
  expect(tx).toBeDefined();
  return tx!.transactionId;
}

describe("an interrupt after the request was sent, before the CA answered, saves the generated key", () => {
  it("scep enroll, SIGINT: the key file is the CSR's key, stderr prints the command that polls it, which collects the certificate once approved", async () => {
    const cwd = mkdtempSync(join(root, "enroll-"));
    const args = ["enroll", "--url", url, "--challenge", CHALLENGE, "--cn", "held-enroll", "--out", join(cwd, "cert.pem")];
    const { held, proc, exit } = await interruptWhileHeld(args, "SIGINT");
    expect(exit.signal, proc.stderr).toBe("SIGINT");
    const keyPath = join(cwd, "cert.key");
    const poll = ["scep", ...args.map((a) => (a === CHALLENGE ? "<challenge>" : a)), "--key", keyPath].join(" ");
    expect(proc.stderr.trimEnd().split("\n").at(-1)).toBe(
      `scep: interrupted (SIGINT): key saved to ${keyPath}: the request was sent and the CA had not answered: it may hold a pending request, or have issued a certificate, for this key; ` +
        `to poll again, run this instead of the same command (which would make a new key, a new request): ${poll}`,
    );
    expect(proc.stderr).not.toContain(CHALLENGE);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(spkiOfKeyFile(keyPath).equals(Buffer.from(held.csr.spki))).toBe(true);
    expect(existsSync(join(cwd, "cert.pem"))).toBe(false);

    // The CA answers PENDING (to no one), an operator approves: the printed command collects the certificate.
    await scep.approve("/scep", await answerPending(held));
    const done = await runCli(poll.split(" ").slice(1).map((a) => (a === "<challenge>" ? CHALLENGE : a)), { cwd });
    expect(done.code, done.stderr).toBe(0);
    const issued = Certificate.fromPem(readFileSync(join(cwd, "cert.pem"), "utf8"))[0]!;
    expect(spkiOfKeyFile(keyPath).equals(Buffer.from(issued.spki))).toBe(true);
  });

  it("scep enroll, SIGTERM, a file made at the key's path meanwhile: it is left as it was, the key goes next to it and the printed command names that", async () => {
    const cwd = mkdtempSync(join(root, "enroll-exists-"));
    const args = ["enroll", "--url", url, "--challenge", CHALLENGE, "--cn", "held-exists", "--out", join(cwd, "cert.pem"), "--key-out", join(cwd, "k.pem")];
    const reached = new Promise<Held>((resolve) => (nextHeld = resolve));
    const proc = new ExampleProcess(CLI_DIR, {}, args);
    let held: Held;
    try {
      held = await reached;
      writeFileSync(join(cwd, "k.pem"), "not mine\n");
      proc.child.kill("SIGTERM");
    } finally {
      nextHeld = undefined;
    }
    const exit = await proc.exited;
    expect(exit.signal, proc.stderr).toBe("SIGTERM");
    expect(readFileSync(join(cwd, "k.pem"), "utf8")).toBe("not mine\n");
    expect(proc.stderr.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^scep: interrupted \\(SIGTERM\\): key saved to ${join(cwd, "k-1.pem")}: .*: scep enroll .* --key ${join(cwd, "k-1.pem")}$`));
    expect(spkiOfKeyFile(join(cwd, "k-1.pem")).equals(Buffer.from(held.csr.spki))).toBe(true);
    await answerPending(held);
  });

  it("scep renew --new-key, SIGTERM: the new key file is the CSR's key, stderr prints the scep enroll command that polls it", async () => {
    const cwd = mkdtempSync(join(root, "renew-"));
    const keys = await generateRsaKeyPair(2048);
    const csr = CertificationRequest.from(await generateCsr({ keys, subject: "CN=held-renew" }));
    const old = await certificateFor(ca, csr, new Date(Date.now() + 86_400_000));
    writeFileSync(join(cwd, "old.pem"), old.toPem());
    writeFileSync(join(cwd, "old.key"), await exportPrivateKeyPem(keys.privateKey));
    const args = ["renew", "--url", url, "--cert", join(cwd, "old.pem"), "--key", join(cwd, "old.key"), "--new-key", "--challenge", CHALLENGE, "--out", join(cwd, "new.pem")];
    const { held, proc, exit } = await interruptWhileHeld(args, "SIGTERM");
    expect(exit.signal, proc.stderr).toBe("SIGTERM");
    const keyPath = join(cwd, "new.key");
    expect(proc.stderr.trimEnd().split("\n").at(-1)).toBe(
      `scep: interrupted (SIGTERM): new key saved to ${keyPath}: the request was sent and the CA had not answered: it may hold a pending request, or have issued a certificate, for this key; ` +
        `to poll again with: scep enroll --url ${url} --challenge <challenge> --out ${join(cwd, "new.pem")} --cn held-renew --key ${keyPath} (running this renew again would make another key, another request)`,
    );
    expect(proc.stderr).not.toContain(CHALLENGE);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(spkiOfKeyFile(keyPath).equals(Buffer.from(held.csr.spki))).toBe(true);
    expect(spkiOfKeyFile(keyPath).equals(Buffer.from(old.spki))).toBe(false);
    await answerPending(held);
  });
});
