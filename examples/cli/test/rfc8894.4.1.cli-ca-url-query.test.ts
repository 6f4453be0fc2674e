/**
 * RFC 8894 §4.1 for the CLI: `--url` is the CA URL, and its own query reaches the CA as written, before `operation`
 * (and `message`), on every request of every command, GET and POST. The CLI sends through ScepClient, whose old
 * `URL.searchParams.set("operation", …)` re-serialized the whole query as a form (`profile=a%20b` → `profile=a+b`,
 * `~` → `%7E`, `flag` → `flag=`), which a CA matching its query as text (a signed URL, a provisioner name, a reverse
 * proxy's route) refuses or misroutes.
 *
 * The CLI runs in this process (`main`) against a @scep/core server on loopback; a node:http listener in front of it
 * records each request target (`req.url`) as it arrived.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE, createFixture, type Fixture } from "../../../packages/core/test/support/adapter-fixture.js";
import { fetchListener, listenLoopback, runInProcess as scep, type Loopback } from "./support/in-process.js";

/** A CA URL query with every spelling a form re-serialization changes: %20, ~ and *, a + as a plus, a bare name, %2F. */
const QUERY = "profile=a%20b&x=~y*z&token=a+b&flag&a=%2F";

let dir: string;
let fx: Fixture;
let http: Loopback;
/** Method and request target of each request, in order. */
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-ca-url-query-"));
  fx = await createFixture();
  const forward = fetchListener((request) => fx.server.fetch(request));
  http = await listenLoopback((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    forward(req, res);
  });
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs one command against `--url …/scep?QUERY#frag` and returns its exit code, stderr and the requests it sent. */
async function run(args: readonly string[]): Promise<{ code: number; err: string[]; sent: string[] }> {
  seen.length = 0;
  const r = await scep([...args, "--url", `${http.base}/scep?${QUERY}#frag`], mkdtempSync(join(dir, "run-")));
  return { code: r.code, err: r.err, sent: [...seen] };
}

describe("--url with a query: sent byte for byte before operation and message (RFC 8894 §4.1)", () => {
  it("getcacaps and getcacert (with --ca-identifier)", async () => {
    expect(await run(["getcacaps"])).toMatchObject({ code: 0, sent: [`GET /scep?${QUERY}&operation=GetCACaps`] });
    const cert = await run(["getcacert", "--ca-identifier", "My CA"]);
    expect(cert.code).toBe(0);
    expect(cert.sent).toContain(`GET /scep?${QUERY}&operation=GetCACert&message=My%20CA`);
    for (const t of cert.sent) expect(t.startsWith(`GET /scep?${QUERY}&operation=`)).toBe(true);
  });

  it("enroll --post: the PKIOperation POST carries the query as written", async () => {
    const r = await run(["enroll", "--challenge", CHALLENGE, "--cn", "ca-url-query-post", "--out", "d.pem", "--post"]);
    expect([r.code, r.err]).toEqual([0, []]);
    expect(r.sent).toContain(`POST /scep?${QUERY}&operation=PKIOperation`);
    for (const t of r.sent) expect(t).toMatch(/^(GET|POST) \/scep\?profile=a%20b&x=~y\*z&token=a\+b&flag&a=%2F&operation=\w+(&message=[\w%]+)?$/);
  });

  it("enroll --get: the message follows the query, percent-encoded", async () => {
    const r = await run(["enroll", "--challenge", CHALLENGE, "--cn", "ca-url-query-get", "--out", "d.pem", "--get"]);
    expect([r.code, r.err]).toEqual([0, []]);
    expect(r.sent.some((t) => /^GET \/scep\?profile=a%20b&x=~y\*z&token=a\+b&flag&a=%2F&operation=PKIOperation&message=(?:[A-Za-z0-9]|%2B|%2F|%3D)+$/.test(t))).toBe(true);
    for (const t of r.sent) expect(t).toMatch(/^GET \/scep\?profile=a%20b&x=~y\*z&token=a\+b&flag&a=%2F&operation=\w+(&message=[\w%]+)?$/);
  });
});
