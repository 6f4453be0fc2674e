// RFC 8894 §3.3.3 through the CLI: a PKCSReq that was sent but whose answer never arrived (a relay in front of a real
// @scep/core server drops the connection after the server answered, or answers 502 after forwarding) may have been
// issued. `scep enroll` without --key keeps the generated key (0600) and says to run the same command with --key; that
// re-send gets the same certificate (event issued_resent), not a second one. A failure before the PKIOperation was
// sent (GetCACert refused) or a 4xx to it (431 to a GET whose request line is over 16 KiB, from the example servers'
// HTTP layer) leaves nothing and says what to change. `scep renew --new-key` keeps its new key too, with the scep enroll
// command that re-sends a request for it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createPublicKey } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Certificate, createScepServer, exportPrivateKeyPem, generateCsr, generateRsaKeyPair, type IssueContext } from "@scep/core";
import { DAY, createTestCa, eventLog, issuingHook, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { createLimitedHttpServer } from "../../server-kit/src/http-limits.js";
import { fetchListener, listenLoopback, readBody, runInProcess as scep, type Loopback } from "./support/in-process.js";

let dir: string;
let ca: TestCa;
let backend: Loopback;
let relay: Loopback;
let url: string;
const calls: IssueContext[] = [];
const log = eventLog();
/** What the relay does to the next PKIOperation (after forwarding it) and to GetCACert. */
const relayMode: { pki: "forward" | "drop" | "502" | "502-quoting" | "502-retry-after" | "504-retry-after" | "503-retry-after"; caCert: "forward" | "503" } = { pki: "forward", caCert: "forward" };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-lost-reply-"));
  ca = await createTestCa("Lost Reply CLI CA");
  const server = createScepServer({
    profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca, calls) }],
    onEvent: log.onEvent,
  });
  // The example servers' HTTP layer (Node's 16 KiB header limit answered with its reason).
  const limits = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxInFlight: 64, maxConnections: 64, bodyTimeoutMs: 10_000, retryAfterSeconds: 1 };
  backend = await listenLoopback(createLimitedHttpServer(limits, fetchListener((request) => server.fetch(request))));
  // The relay forwards every request to the backend and waits for its whole answer, then treats it as relayMode says.
  relay = await listenLoopback((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const operation = new URL(req.url ?? "/", "http://x").searchParams.get("operation");
      if (operation === "GetCACert" && relayMode.caCert === "503") return void res.writeHead(503, { "content-type": "text/plain" }).end("busy\n");
      const reply = await fetch(`${backend.base}${req.url ?? "/"}`, { method: req.method ?? "GET", ...(req.method === "POST" ? { body: new Uint8Array(body) as Uint8Array<ArrayBuffer>, headers: { "content-type": req.headers["content-type"] ?? "" } } : {}) });
      const bytes = Buffer.from(await reply.arrayBuffer());
      if (operation === "PKIOperation" && relayMode.pki === "drop") {
        relayMode.pki = "forward";
        return void req.socket.destroy(); // the CA answered; the device never hears it
      }
      if (operation === "PKIOperation" && relayMode.pki === "502") {
        relayMode.pki = "forward";
        return void res.writeHead(502, { "content-type": "text/plain" }).end("upstream failed");
      }
      // @scep/proxy's answers with Retry-After (packages/proxy/src/handler/replies.ts): the same request passes again then.
      if (operation === "PKIOperation" && (relayMode.pki === "502-retry-after" || relayMode.pki === "504-retry-after")) {
        const gateway = relayMode.pki === "502-retry-after" ? ([502, "upstream failed"] as const) : ([504, "upstream timed out"] as const);
        relayMode.pki = "forward";
        return void res.writeHead(gateway[0], { "content-type": "text/plain; charset=utf-8", "retry-after": "30" }).end(gateway[1]);
      }
      if (operation === "PKIOperation" && relayMode.pki === "503-retry-after") {
        relayMode.pki = "forward";
        return void res.writeHead(503, { "content-type": "text/plain", "retry-after": "12" }).end("busy");
      }
      if (operation === "PKIOperation" && relayMode.pki === "502-quoting") {
        relayMode.pki = "forward";
        return void res.writeHead(502, { "content-type": "text/plain" }).end("the origin may have processed it");
      }
      res.writeHead(reply.status, { "content-type": reply.headers.get("content-type") ?? "text/plain" }).end(bytes);
    })().catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  url = `${relay.base}/scep`;
});
afterAll(async () => {
  await relay?.close();
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls.length = 0;
  log.events.length = 0;
  Object.assign(relayMode, { pki: "forward", caCert: "forward" });
});

const serialOf = (path: string): string => Certificate.fromPem(readFileSync(path, "utf8"))[0]!.serialNumberHex;
const outcomes = (): [string, string | undefined][] => log.events.filter((e) => e.operation === "PKCSReq").map((e) => [e.outcome, e.reason]);

describe("RFC 8894 §3.3.3: scep enroll after a lost PKIOperation answer re-sends with the same key", () => {
  it("connection closed after the CA answered: exit 4, the key kept (0600) with the --key hint; the re-send gets the same certificate", async () => {
    const cwd = mkdtempSync(join(dir, "drop-"));
    relayMode.pki = "drop";
    const argv = ["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-1", "--out", "device.pem"];
    const first = await scep(argv, cwd);
    expect([first.code, first.out]).toEqual([4, []]);
    expect(first.err).toEqual([
      `scep: PKIOperation: the connection closed before the answer (UND_ERR_SOCKET), after GetCACert had answered at this URL: the CA may have processed the request; key saved to ${join(cwd, "device.key")}: run the same command with --key to collect the certificate it may have issued (not a second one): scep enroll --url ${url} --challenge <challenge> --cn lost-1 --out device.pem --key device.key`,
    ]);
    expect(readdirSync(cwd)).toEqual(["device.key"]);
    expect(statSync(join(cwd, "device.key")).mode & 0o777).toBe(0o600);
    expect(calls).toHaveLength(1);

    const again = await scep([...argv, "--key", "device.key"], cwd);
    expect([again.code, again.err]).toEqual([0, []]);
    expect(readdirSync(cwd).sort()).toEqual(["device.key", "device.pem"]);
    expect(calls).toHaveLength(1); // no second certificate
    expect(outcomes()).toEqual([
      ["success", "issued"],
      ["success", "issued_resent"],
    ]);
    expect(serialOf(join(cwd, "device.pem"))).toBe(log.events.find((e) => e.reason === "issued")!.serial);
  });

  it("scep renew --new-key, connection closed after the CA answered: exit 4, the new key the CA certified kept (0600), and the scep enroll command printed gets a certificate for it", async () => {
    const cwd = mkdtempSync(join(dir, "renew-drop-"));
    // CN only: the subject scep enroll --cn makes, so the printed command can poll
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=lost-renew" });
    writeFileSync(join(cwd, "old.pem"), (await ca.issue(csr, { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) })).toPem());
    writeFileSync(join(cwd, "old.key"), await exportPrivateKeyPem(keys.privateKey));
    relayMode.pki = "drop";
    const first = await scep(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--new-key", "--challenge", "pw", "--out", "new.pem"], cwd);
    expect([first.code, first.out]).toEqual([4, []]);
    const poll = `scep enroll --url ${url} --challenge <challenge> --out new.pem --cn lost-renew --key new.key`;
    expect(first.err).toEqual([
      `scep: PKIOperation: the connection closed before the answer (UND_ERR_SOCKET), after GetCACert had answered at this URL: the CA may have processed the request; new key saved to ${join(cwd, "new.key")}: the CA may have issued a certificate for it, or hold the request; to get the certificate for this key, poll again with: ${poll}`,
    ]);
    expect(readdirSync(cwd).sort()).toEqual(["new.key", "old.key", "old.pem"]);
    expect(statSync(join(cwd, "new.key")).mode & 0o777).toBe(0o600);
    const saved = createPublicKey(readFileSync(join(cwd, "new.key"), "utf8")).export({ type: "spki", format: "der" });
    expect(calls).toHaveLength(1);
    expect(saved.equals(Buffer.from(calls[0]!.csr.spki))).toBe(true);

    // The @scep/core server keeps a re-sendable answer only for a self-signed PKCSReq, not for a renewal signed by the
    // old certificate: the printed command gets a certificate for the saved key (a second one, from this CA).
    const again = await scep(poll.split(" ").slice(1).map((a) => (a === "<challenge>" ? "pw" : a)), cwd);
    expect([again.code, again.err]).toEqual([0, []]);
    expect(saved.equals(Buffer.from(Certificate.fromPem(readFileSync(join(cwd, "new.pem"), "utf8"))[0]!.spki))).toBe(true);
  });

  it("a 502 after the relay forwarded the request: exit 4, key kept; with --key given, the hint says to run it again", async () => {
    const cwd = mkdtempSync(join(dir, "502-"));
    relayMode.pki = "502";
    const argv = ["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-2", "--out", "device.pem", "--key-out", "my.key"];
    const first = await scep(argv, cwd);
    expect(first.code).toBe(4);
    expect(first.err).toHaveLength(1);
    expect(first.err[0]).toMatch(/^scep: PKIOperation: HTTP 502 \(upstream failed\): .*; the CA may have processed the request; key saved to .*my\.key: run the same command with --key .* --key my\.key$/);
    expect(readdirSync(cwd)).toEqual(["my.key"]);

    relayMode.pki = "502";
    const withKey = ["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-2", "--out", "device.pem", "--key", "my.key"];
    const second = await scep(withKey, cwd);
    expect(second.code).toBe(4);
    expect(second.err[0]).toMatch(/; the CA may have processed the request; run the same command again with the same --key to collect the certificate it may have issued \(not a second one\)$/);
    const third = await scep(withKey, cwd);
    expect([third.code, third.err]).toEqual([0, []]);
    expect(calls).toHaveLength(1);
    expect(outcomes()).toEqual([
      ["success", "issued"],
      ["success", "issued_resent"],
      ["success", "issued_resent"],
    ]);
  });

  it("a 502 whose body happens to say 'may have processed': the CLI's own hint is still given (decided on the error's fields, not its text)", async () => {
    const cwd = mkdtempSync(join(dir, "502-quoting-"));
    relayMode.pki = "502-quoting";
    const first = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-5", "--out", "device.pem"], cwd);
    expect(first.code).toBe(4);
    expect(first.err).toHaveLength(1);
    expect(first.err[0]).toMatch(/^scep: PKIOperation: HTTP 502 \(the origin may have processed it\); the CA may have processed the request; key saved to .*device\.key: run the same command with --key/);
    expect(readdirSync(cwd)).toEqual(["device.key"]);
  });

  it("a SCEP proxy's 502 or 504 WITH Retry-After (the same request passes again then): exit 4, the wait named, the key kept; the re-send with it collects the certificate the CA issued", async () => {
    for (const mode of ["502-retry-after", "504-retry-after"] as const) {
      calls.length = 0;
      log.events.length = 0;
      const cwd = mkdtempSync(join(dir, `${mode}-`));
      relayMode.pki = mode; // the relay forwarded it: the CA issued, the device is told to come back in 30 s
      const argv = ["enroll", "--url", url, "--challenge", "pw", "--cn", `lost-${mode}`, "--out", "device.pem"];
      const first = await scep(argv, cwd);
      const [status, body] = mode === "502-retry-after" ? [502, "upstream failed"] : [504, "upstream timed out"];
      expect([first.code, first.out]).toEqual([4, []]);
      expect(first.err).toEqual([
        `scep: PKIOperation: HTTP ${status} (${body}): the SCEP proxy at --url did not get an answer from its CA to pass on (--url itself is fine), and says the same request passes again in 30 s: run the same command then, with the same key; ` +
          `key saved to ${join(cwd, "device.key")}: run the same command with --key to collect the certificate it may have issued (not a second one): scep enroll --url ${url} --challenge <challenge> --cn lost-${mode} --out device.pem --key device.key`,
      ]);
      expect(readdirSync(cwd)).toEqual(["device.key"]);
      const again = await scep([...argv, "--key", "device.key"], cwd);
      expect([again.code, again.err]).toEqual([0, []]);
      expect(calls).toHaveLength(1);
      expect(outcomes()).toEqual([
        ["success", "issued"],
        ["success", "issued_resent"],
      ]);
    }
  });

  it("a 503 with Retry-After to the PKIOperation: not processed, the wait named, nothing kept", async () => {
    const cwd = mkdtempSync(join(dir, "503-retry-after-"));
    relayMode.pki = "503-retry-after";
    const first = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-6", "--out", "device.pem"], cwd);
    expect([first.code, first.err]).toEqual([4, ["scep: PKIOperation: HTTP 503 (busy): the server did not process the request: run the same command again in 12 s"]]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("GetCACert refused (nothing sent): exit 4, nothing written", async () => {
    const cwd = mkdtempSync(join(dir, "cacert-"));
    relayMode.caCert = "503";
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "lost-3", "--out", "device.pem"], cwd);
    expect(r.code).toBe(4);
    expect(r.err[0]).toMatch(/^scep: GetCACert: HTTP 503/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(calls).toHaveLength(0);
  });

  it("431 to --get (request line over 16 KiB, the example servers' reason): exit 4, says to drop --get, nothing written", async () => {
    const cwd = mkdtempSync(join(dir, "431-"));
    const sans = Array.from({ length: 200 }, (_, i) => ["--san", `dns:host-${i}.${"a".repeat(60)}.example.com`]).flat();
    const r = await scep(["enroll", "--url", `${backend.base}/scep`, "--challenge", "pw", "--cn", "lost-4", "--out", "device.pem", "--get", ...sans], cwd);
    expect([r.code, r.out]).toEqual([4, []]);
    expect(r.err).toEqual([
      "scep: PKIOperation: HTTP 431 (request line and headers larger than 16 KiB: send a large PKIMessage by POST (RFC 8894 section 4.1), not GET): the request was too large to send by GET: drop --get, so it goes by POST",
    ]);
    expect(readdirSync(cwd)).toEqual([]);
    expect(calls).toHaveLength(0);
  });
});
