/**
 * What a server sends that is not what the CLI asked for, and text a server chooses: a `--url` that serves a DER CRL
 * (the example server's `/scep/ca.crl`) is exit 4 naming the status and content type, never a parse error; a
 * failInfoText, an HTTP error body or a capability list reaches the terminal as one short line of printable ASCII (no
 * escape sequence, no newline); a timeout says which option gives the server longer. The CLI runs as a child process
 * against loopback servers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { RequestListener } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { opensslCreateCa } from "../../../test-support/peers";
import { parseConfig } from "../../proxy-server/src/config.js";
import { ScepClient } from "@scep/core";
import { DEFAULT_TIMEOUT_MS } from "../src/lib/args.js";
import { describeError, ExitCode } from "../src/lib/exit.js";
import { nameText, printable, withoutControls } from "../src/lib/printable.js";
import { opensslCrl, startFakeScepServer } from "./support/fake-scep-server";
import { listenLoopback } from "./support/in-process";
import { runCli } from "./support/run-cli";
import { it, type Own } from "./support/test-owned";

const root = mkdtempSync(join(tmpdir(), "scep-cli-replies-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The base URL of a loopback server of `listener`, closed when the test that `owned` belongs to ends. */
async function serve(owned: Own, listener: RequestListener): Promise<string> {
  return (await owned(listenLoopback(listener))).base;
}

const CHECK_PATH = "is the path in --url a SCEP endpoint? (the example servers: /scep)";

describe("a --url that serves a CRL (the example server's /scep/ca.crl), any ?operation=", () => {
  let crl: Uint8Array;
  beforeAll(async () => {
    const ca = await opensslCreateCa({ subject: "/O=scep-sdk/CN=SCEP Example CA" });
    crl = await opensslCrl(ca.certPem, ca.keyPem);
  });
  const cert = "CA certificates (application/x-x509-ca-cert or application/x-x509-ca-ra-cert)";
  it.for([
    [["getcacert"], `GetCACert: HTTP 200 with content-type application/pkix-crl, not ${cert}: ${CHECK_PATH}`],
    [["getcacaps"], `GetCACaps: HTTP 200 with content-type application/pkix-crl, not a capability list (text/plain): ${CHECK_PATH}`],
    // enroll starts with GetCACaps
    [["enroll", "--challenge", "pw", "--cn", "d", "--out", "c.pem"], `GetCACaps: HTTP 200 with content-type application/pkix-crl, not a capability list (text/plain): ${CHECK_PATH}`],
  ] as const)("%j: exit 4, one line with the status and content type, and the --url hint", async ([args, line], { owned }) => {
    expect(crl[0]).toBe(0x30); // a DER SEQUENCE, as a certificate is
    const base = await serve(owned, (_req, res) => res.writeHead(200, { "content-type": "application/pkix-crl" }).end(crl));
    const r = await runCli([...args, "--url", `${base}/scep/ca.crl`], { cwd: mkdtempSync(join(root, "crl-")) });
    expect([r.code, r.stdout, r.stderr]).toEqual([4, "", `scep: ${line}\n`]);
  });

  it("getcacert: DER certificates under a content type GetCACert does not name (octet-stream) are still read", async ({ owned }) => {
    const ca = await opensslCreateCa({ subject: "/O=scep-sdk/CN=Octet CA" });
    const der = Buffer.from(ca.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const base = await serve(owned, (_req, res) => res.writeHead(200, { "content-type": "application/octet-stream" }).end(der));
    const r = await runCli(["getcacert", "--url", `${base}/scep`], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("O=scep-sdk, CN=Octet CA");
  });
});

describe("text a server chooses reaches the terminal printable, on one line, bounded", () => {
  const hostile = "\u001b]0;pwned\u0007\u001b[31mred\u001b[0m\nsecond line\r\u00e9\u202e";

  it("getcacaps: a binary reply's bytes are escaped in the message; each capability printed is printable", async ({ owned }) => {
    const base = await serve(owned, (req, res) => {
      if (req.url!.startsWith("/der")) res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x0a, 0x00, 0xff]));
      else res.writeHead(200, { "content-type": "text/plain" }).end(`POSTPKIOperation\nSHA-256\x1b[2J\n${"A".repeat(300)}\n`);
    });
    const der = await runCli(["getcacaps", "--url", `${base}/der`], { cwd: root });
    expect([der.code, der.stdout, der.stderr]).toEqual([4, "", `scep: GetCACaps: the reply "0\\ufffd\\x01 \\x1b[2J \\ufffd" names no SCEP capability: ${CHECK_PATH}\n`]);
    const caps = await runCli(["getcacaps", "--url", `${base}/scep`], { cwd: root });
    expect([caps.code, caps.stderr]).toEqual([0, ""]);
    expect(caps.stdout).toBe(`POSTPKIOperation\nSHA-256\\x1b[2J\n${"A".repeat(199)}…\n`);
  });

  it("a FAILURE's failInfoText", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: `${hostile} ${"x".repeat(300)}` } }));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem"], { cwd: mkdtempSync(join(root, "fail-")) });
    expect(r.code).toBe(2);
    const said = printable(`${hostile} ${"x".repeat(300)}`, 120);
    expect(said).toBe(`\\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m second line \\xe9\\u202e ${"x".repeat(120 - 59)}…`);
    expect(r.stderr).toMatch(new RegExp(`^FAILURE: badRequest: [^\\n]*\\(the CA said "${said.replace(/[\\[\](){}.*+?^$|]/g, "\\$&")}"\\)[^\\n]*\\n$`));
  });

  it("an HTTP error body", async ({ owned }) => {
    const base = await serve(owned, (_req, res) => res.writeHead(500, { "content-type": "text/plain" }).end(hostile));
    const r = await runCli(["getcacaps", "--url", `${base}/scep`], { cwd: root });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      "scep: GetCACaps: HTTP 500 (\\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m second line \\xe9\\u202e): the server at --url is there but cannot answer now: try again later, and check that the path in --url is a SCEP endpoint (the example servers: /scep)\n",
    );
  });

  it("getcacert: a CA certificate's subject with a newline and an escape sequence stays on its line", async ({ owned }) => {
    const ca = await opensslCreateCa({ subject: "/O=scep-sdk/CN=evil\n\u001b[2Jfake line" });
    const der = Buffer.from(ca.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const base = await serve(owned, (_req, res) => res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(der));
    const r = await runCli(["getcacert", "--url", `${base}/scep`], { cwd: root });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout.split("\n")[0]).toBe("O=scep-sdk, CN=evil\\x0a\\x1b[2Jfake line (CA, encrypt requests to)");
  });

  it("building blocks: printable() and withoutControls()", () => {
    expect(printable("a\r\n\tb  c")).toBe("a b c");
    expect(printable("x".repeat(100), 10)).toBe(`${"x".repeat(9)}…`);
    expect(printable("😀")).toBe("\\u1f600");
    expect(withoutControls("CN=\u001b[2Jevil\u202e, O=é…\nnext")).toBe("CN=\\x1b[2Jevil\\u202e, O=é…\nnext");
    expect(nameText("CN=é\n\u001b")).toBe("CN=é\\x0a\\x1b");
  });

  it("printable() cuts between characters, never inside an escape (`\\x1…`, `\\u00…`)", () => {
    expect(printable("ab\u001b[2J", 5)).toBe("ab…");
    expect(printable("abcd\u00e9", 7)).toBe("abcd…");
    expect(printable("abcd\u0101", 10)).toBe("abcd\\u0101"); // fits exactly: not cut
    expect(printable("abcd\u0101z", 10)).toBe("abcd…");
    expect(printable("\u001b", 3)).toBe("…");
    // Any text without a backslash of its own: the result is at most max characters, and without its `…` it is whole
    // characters and escapes, the start of the uncut result.
    const whole = /^(?:[\x20-\x5b\x5d-\x7e]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4,5})*$/;
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }).filter((t) => !t.includes("\\")), fc.integer({ min: 1, max: 60 }), (text, max) => {
        const cut = printable(text, max);
        const kept = cut.endsWith("…") ? cut.slice(0, -1) : cut;
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(kept).toMatch(whole);
        expect(printable(text, 10_000).startsWith(kept)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("timeouts", () => {
  it("the default outlasts the example proxy's upstream timeout (30 s) and its whole-request limit (60 s)", async () => {
    // the example proxy's defaults, from its own configuration parser
    const file = JSON.stringify({ path: "/scep", defaultCa: "corp", cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:8080/scep" }] });
    const config = parseConfig(["--config", "proxy.json"], { PROXY_ADMIN_TOKEN: "t".repeat(32) }, { cwd: root, readFile: () => file });
    if ("help" in config) throw new Error("help");
    expect([config.upstreamTimeoutMs, config.http.requestTimeoutMs]).toEqual([30_000, 60_000]);
    expect(DEFAULT_TIMEOUT_MS).toBeGreaterThan(config.http.requestTimeoutMs);
    const help = await runCli(["getcacaps", "--help"], { cwd: root });
    expect(help.stdout).toContain(`(default ${DEFAULT_TIMEOUT_MS}:`);
  });

  it("a timeout names --timeout as what to raise", async ({ owned }) => {
    const base = await serve(owned, () => undefined); // never answers
    const r = await runCli(["getcacaps", "--url", `${base}/scep`, "--timeout", "3000"], { cwd: root });
    expect([r.code, r.stderr]).toEqual([4, "scep: GetCACaps: timed out after 3000 ms: the server at --url did not answer in time: try again, or give it longer with --timeout MS\n"]);
  });

  it("an abort that is not our --timeout firing (an AbortError, not AbortSignal.timeout's TimeoutError) is not called a timeout", async ({ owned }) => {
    const base = await serve(owned, () => undefined); // never answers
    // A real fetch to a loopback server, aborted by a signal of its own (the reason: an AbortError DOMException).
    const aborted = new AbortController();
    const client = new ScepClient({ url: `${base}/scep`, timeoutMs: 60_000, fetch: (input, init) => fetch(input, { ...init, signal: aborted.signal }) });
    const pending = client.getCaCaps().catch((e: unknown) => e);
    aborted.abort();
    expect(describeError(await pending, new URL(`${base}/scep`))).toEqual({
      message: "GetCACaps: the request was aborted before the server answered (This operation was aborted), not timed out: try again; --timeout does not change this",
      exitCode: ExitCode.TRANSPORT,
    });
    // Our own timer firing is still a timeout: the TimeoutError of AbortSignal.timeout.
    const hurried = new ScepClient({ url: `${base}/scep`, timeoutMs: 200 });
    expect(describeError(await hurried.getCaCaps().catch((e: unknown) => e), new URL(`${base}/scep`))).toEqual({
      message: "GetCACaps: timed out after 200 ms: the server at --url did not answer in time: try again, or give it longer with --timeout MS",
      exitCode: ExitCode.TRANSPORT,
    });
  });
});
