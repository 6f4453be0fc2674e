/**
 * `scep renew --new-key` answered PENDING (RFC 8894 §3.3.3): the command it prints polls that very request. Running
 * the renew command again would make yet another key, so a new transaction; the printed `scep enroll --key` command
 * re-sends the saved key's request (same key, subject and SANs), which the CA answers with the transaction's state.
 * A real @scep/core server on loopback holds the request PENDING until `server.approve`, as the example servers'
 * `--pending` does, and the certificate the printed command collects is verified with OpenSSL. The new key is saved
 * at the CA's first PENDING, before polling: a store outage while polling (its transaction store then refuses, and
 * the server answers 503) leaves it, with the command that polls again.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
  MemoryTransactionStore,
  StoreUnavailableError,
  type ScepServer,
  type Transaction,
} from "@scep/core";
import { opensslCreateCa, opensslVerifyChain } from "../../../test-support/peers";
import { ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { certificateFor, issuingHook } from "./support/in-process.js";
import { CLI_DIR, runCli } from "./support/run-cli";

// Distinctive, so that "no line holds the challenge" cannot fail or pass on a chance match in a temporary path.
const CHALLENGE = "Renew-Pending-s3cret-4711";

/** A memory transaction store that is down (every read refused, as a Redis that hangs) while `down` is set. */
class OutageStore extends MemoryTransactionStore {
  down = false;
  override get(profile: string, transactionId: string): Promise<Transaction | undefined> {
    if (this.down) return Promise.reject(new StoreUnavailableError("transaction store down (test)"));
    return super.get(profile, transactionId);
  }
}
const transactions = new OutageStore();

const root = mkdtempSync(join(tmpdir(), "scep-cli-renew-pending-"));
let http: Server;
let scep: ScepServer;
let url: string;
let ca: LocalKey;
let caPem: string;

beforeAll(async () => {
  const material = await opensslCreateCa({ subject: "/O=scep-sdk tests/CN=Pending CA" });
  caPem = material.certPem;
  ca = LocalKey.fromPem(material.certPem, material.keyPem);
  scep = createScepServer({
    profiles: [{
      path: "/scep",
      caCertificate: ca.certificate,
      signer: ca,
      challenge: { type: "static", password: CHALLENGE },
      transactions,
      // every request waits for an operator, renewals too
      issue: issuingHook(ca),
    }],
  });
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = req.method === "POST" ? new Uint8Array(Buffer.concat(chunks)) : undefined;
        const reply = await scep.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, ...(body ? { body } : {}) }));
        reply.headers.forEach((value, name) => res.setHeader(name, value));
        res.writeHead(reply.status).end(Buffer.from(await reply.arrayBuffer()));
      })();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/scep`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

/** An old certificate of this CA, issued from a CSR for `subject` as an enrollment would be, written as old.pem/old.key. */
async function oldCertificate(dir: string, subject: string): Promise<void> {
  const keys = await generateRsaKeyPair(2048);
  const csr = CertificationRequest.from(await generateCsr({ keys, subject }));
  const cert = await certificateFor(ca, csr, new Date(Date.now() + 86_400_000));
  writeFileSync(join(dir, "old.pem"), cert.toPem());
  writeFileSync(join(dir, "old.key"), await exportPrivateKeyPem(keys.privateKey));
}

describe("renew --new-key answered PENDING", () => {
  it("prints the scep enroll command that polls the same transaction, and that command collects the approved certificate", async () => {
    const cwd = mkdtempSync(join(root, "cn-"));
    await oldCertificate(cwd, "CN=dev-renew");
    const r = await runCli(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--new-key", "--challenge", CHALLENGE, "--out", "new.pem", "--max-poll", "0"], { cwd });
    expect(r.code, r.stderr).toBe(3);
    const [tx, ...others] = await scep.pending("/scep");
    expect(others).toEqual([]);
    expect(r.stderr).toBe(
      `PENDING: transaction ${tx!.transactionId} is still pending\n` +
        `new key saved to ${join(cwd, "new.key")} (the pending request is for it); poll again with: ` +
        `scep enroll --url ${url} --challenge <challenge> --out new.pem --max-poll 0 --cn dev-renew --key new.key\n`,
    );
    expect(r.stderr).not.toContain(CHALLENGE);

    // The printed command, challenge filled in: still PENDING, the same transaction, no second one.
    const printed = r.stderr.split("poll again with: scep ")[1]!.trim().split(" ").map((a) => (a === "<challenge>" ? CHALLENGE : a));
    const again = await runCli(printed, { cwd });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toBe(`PENDING: transaction ${tx!.transactionId} is still pending; run the command again with the same key to poll\n`);
    expect((await scep.pending("/scep")).map((t) => t.transactionId)).toEqual([tx!.transactionId]);

    // Approved: the printed command collects the certificate, for the saved key.
    await scep.approve("/scep", tx!.transactionId);
    const done = await runCli(printed, { cwd });
    expect(done.code, done.stderr).toBe(0);
    const pem = readFileSync(join(cwd, "new.pem"), "utf8");
    const issued = Certificate.fromPem(pem)[0]!;
    expect(issued.subject).toBe("CN=dev-renew");
    const newSpki = createPublicKey(readFileSync(join(cwd, "new.key"), "utf8")).export({ type: "spki", format: "der" });
    expect(newSpki.equals(Buffer.from(issued.spki))).toBe(true);
    expect(newSpki.equals(Buffer.from(Certificate.fromPem(readFileSync(join(cwd, "old.pem"), "utf8"))[0]!.spki))).toBe(false);
    await opensslVerifyChain(pem, caPem);

    // The same renew command again: the saved key stands in the way, and the advice is not renew's --key.
    const rerun = await runCli(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--new-key", "--challenge", CHALLENGE, "--out", "new2.pem", "--key-out", "new.key", "--max-poll", "0"], { cwd });
    expect(rerun.code).toBe(64);
    expect(rerun.stderr.split("\n")[0]).toBe(
      "scep: renew: new.key already exists; choose another --key-out (a key an earlier --new-key run saved for a PENDING request: poll with the scep enroll command that run printed, --key new.key)",
    );
  });

  it("a subject scep enroll --cn cannot make: says which subject to poll with, and prints no command that would enroll anew", async () => {
    const cwd = mkdtempSync(join(root, "rdn-"));
    await oldCertificate(cwd, "CN=dev-org, O=Example Org");
    const r = await runCli(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--new-key", "--challenge", CHALLENGE, "--out", "new.pem", "--max-poll", "0"], { cwd });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/\nnew key saved to .*new\.key \(the pending request is for it\); poll with a client that re-sends a PKCSReq for that key and subject CN=dev-org, O=Example Org \(scep enroll sends a CN-only subject\)\n$/);
    expect(r.stderr).not.toContain("run the command again");
    expect(existsSync(join(cwd, "new.key"))).toBe(true);
  });

  it("a 503 while polling leaves the new key, saved at the first PENDING, and says how to poll again; that command collects the certificate once approved", async () => {
    const cwd = mkdtempSync(join(root, "outage-"));
    await oldCertificate(cwd, "CN=dev-renew-outage");
    const args = ["renew", "--url", url, "--cert", join(cwd, "old.pem"), "--key", join(cwd, "old.key"), "--new-key", "--challenge", CHALLENGE, "--out", join(cwd, "new.pem"), "--poll-interval", "1", "--max-poll", "3600"];
    const proc = new ExampleProcess(CLI_DIR, {}, args);
    try {
      await proc.waitForLine((l) => /^PENDING: transaction \S+; polling again in 1 s$/.test(l), { stderr: true });
      const line = proc.errLines.find((l) => l.includes(": new key saved to ")) ?? "";
      const m = /^PENDING: transaction (\S+): new key saved to (\S+); if polling stops before the certificate comes, poll again with: (scep enroll .*)$/.exec(line);
      expect(m, proc.stderr).not.toBeNull();
      const [, transactionId, keyPath, command] = m!;
      expect(keyPath).toBe(join(cwd, "new.key"));
      expect(statSync(keyPath!).mode & 0o777).toBe(0o600);

      transactions.down = true;
      let exit;
      try {
        exit = await proc.exited;
      } finally {
        transactions.down = false;
      }
      expect(exit.code, proc.stderr).toBe(4);
      const last = proc.stderr.trimEnd().split("\n").slice(-2);
      expect(last[0]).toMatch(/^scep: PKIOperation: HTTP 503 \(/);
      // The first line does not tell to run the same command again (a new key, a new request): the poll command below.
      expect(last[0]).toMatch(/: poll again (later|in \d+ s) with the command below$/);
      expect(last[1]).toBe(`new key saved to ${keyPath}: transaction ${transactionId} is pending for it; to poll again with: ${command} (running this renew again would make another key, another request)`);
      expect(existsSync(keyPath!)).toBe(true);
      expect(proc.stderr).not.toContain(CHALLENGE);

      await scep.approve("/scep", transactionId!);
      const printed = command!.split(" ").slice(1).map((a) => (a === "<challenge>" ? CHALLENGE : a));
      const done = await runCli(printed, { cwd });
      expect(done.code, done.stderr).toBe(0);
      const issued = Certificate.fromPem(readFileSync(join(cwd, "new.pem"), "utf8"))[0]!;
      expect(issued.subject).toBe("CN=dev-renew-outage");
      expect(createPublicKey(readFileSync(keyPath!, "utf8")).export({ type: "spki", format: "der" }).equals(Buffer.from(issued.spki))).toBe(true);
    } finally {
      await proc.terminate();
    }
  }, 120_000);
});
