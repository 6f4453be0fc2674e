/**
 * RFC 8894 §3.5.2: capabilities are keywords, one per line; CAs serve them under odd content types (text/html from
 * old CAs, none at all). The CLI judged a GetCACaps reply by its content type alone: keywords sent as text/html were
 * "not a capability list" (exit 4, so `enroll` could not start against such a CA), while an HTML page sent as
 * text/plain was split into words. It now judges text/html, text/plain or no type by the body: one that opens with
 * `<` is a page (exit 4, one line, what to check), keywords are caps whatever the type. JSON, XML and certificate/CRL
 * types are still refused by type (cli.server-replies.test.ts). The CLI runs in this process against loopback servers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { CHECK_PATH } from "../src/lib/exit.js";
import { listenLoopback, runInProcess } from "./support/in-process.js";
import { it } from "./support/test-owned.js";

const root = mkdtempSync(join(tmpdir(), "scep-cli-caps-body-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PAGE = "\n  <!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>\nAES\nPOSTPKIOperation\n</body></html>\n";

describe("RFC 8894 §3.5.2: scep getcacaps judges a text/html, text/plain or untyped reply by its body", () => {
  it.for([
    ["text/html", "text/html; charset=utf-8"],
    ["no content type", null],
  ] as const)("keywords sent with %s are the capabilities: printed, exit 0", async ([, type], { owned }) => {
    const http = await owned(listenLoopback((_req, res) => res.writeHead(200, type === null ? {} : { "content-type": type }).end("POSTPKIOperation\r\nSHA-256\r\nAES\r\n")));
    const r = await runInProcess(["getcacaps", "--url", `${http.base}/scep`], root);
    expect([r.code, r.err, r.out]).toEqual([0, [], ["POSTPKIOperation", "SHA-256", "AES"]]);
  });

  it.for([
    ["text/plain", "text/plain", "content-type text/plain and a markup page"],
    ["no content type", null, "no content-type and a markup page"],
    ["text/html", "text/html", "content-type text/html"],
  ] as const)("a page sent with %s (its words AES, POSTPKIOperation included) is no capability list: exit 4, one line", async ([, type, received], { owned }) => {
    const http = await owned(listenLoopback((_req, res) => res.writeHead(200, type === null ? {} : { "content-type": type }).end(PAGE)));
    for (const args of [["getcacaps"], ["enroll", "--challenge", "pw", "--cn", "d", "--out", "c.pem"]]) {
      const r = await runInProcess([...args, "--url", `${http.base}/scep`], mkdtempSync(join(root, "page-")));
      expect([r.code, r.out, r.err]).toEqual([4, [], [`scep: GetCACaps: HTTP 200 with ${received}, not a capability list (text/plain): ${CHECK_PATH}`]]);
    }
  });
});
