/**
 * The embedded CA's own errors reach the operator's log: a data directory whose `unsettled.jsonl` names a certificate
 * whose key cannot be known (an index line written before the index held certificates, no `certs/<serial>.pem`) gives
 * one `ca-error` JSON line at start (the CA settles the file at open), and the CRL is still served (GET /scep/ca.crl
 * 200). Before, the CA swallowed the error at open and every CRL failed on that one line.
 * A real server process; the data directory prepared by a first run of it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const CHALLENGE = "ca-error-log-challenge";
const tmp = mkdtempSync(join(tmpdir(), "scep-ca-error-log-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
afterAll(async () => {
  await examples.terminateAll();
  rmSync(tmp, { recursive: true, force: true });
});

const start = (dataDir: string) => examples.start({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: CHALLENGE, SCEP_ADMIN_TOKEN: "admin-token-ca-error-log-5b1f", SCEP_KEY_WORKERS: "0" });

describe("ca-error log line", () => {
  it("an unsettled.jsonl line whose certificate is unknowable: one ca-error line at start (STORAGE_FAILED, the serial), and GET /scep/ca.crl still answers 200", async () => {
    const dataDir = join(tmp, "data");
    const first = await start(dataDir);
    const e = await pkcsReqAndPoll(`${first.base}/scep`, { subject: "CN=legacy-device", challenge: CHALLENGE });
    expect(e.first.status).toBe("SUCCESS");
    const serial = Buffer.from(e.first.certificate!.serialNumber).toString("hex");
    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });

    const index = join(dataDir, "index.jsonl");
    const lines = readFileSync(index, "utf8").split("\n").filter((l) => l !== "");
    writeFileSync(index, lines.map((l) => {
      const record = JSON.parse(l) as Record<string, string>;
      delete record.certificate; // as written before the index held certificates; --cert-files is off: no certs/ copy
      return JSON.stringify(record);
    }).join("\n") + "\n");
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${serial}"}\n`);

    const second = await start(dataDir);
    const res = await fetch(`${second.base}/scep/ca.crl`);
    expect(res.status).toBe(200);
    const errors = second.proc.events("ca-error");
    expect(errors).toEqual([
      { time: expect.any(String), type: "ca-error", code: "STORAGE_FAILED", message: expect.stringMatching(new RegExp(`^the key of certificate ${serial} cannot be known: cannot read .*ENOENT`)), dataDir },
    ]);
    expect(await second.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 240_000);
});
