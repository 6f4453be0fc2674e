/**
 * scepMiddleware's options and handler are checked when it is mounted: a `maxBodyBytes` of NaN (an unset environment
 * variable through `Number`), a negative, a fraction, a numeric string, Infinity or past 1 GiB throws
 * InvalidArgumentError `ERR_INVALID_ARGUMENT` naming the option, its unit and range, and the value given. Before, a NaN
 * limit was accepted: the adapter answered 413 on the wire while the server's event said 400.
 */
import { createServer } from "node:http";
import express from "express";
import { describe, expect, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, listen } from "../../core/test/support/adapter-fixture.js";

const handler: FetchHandler = { fetch: async () => new Response("ok") };
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

describe("@scep/express: scepMiddleware's options are checked when it is mounted", () => {
  it.each([Number.NaN, -1, 0, 1.5, "65536", Number.POSITIVE_INFINITY, 1024 ** 3 + 1, null])("maxBodyBytes %s: ERR_INVALID_ARGUMENT", (bad) => {
    expect(() => scepMiddleware(handler, { maxBodyBytes: bad as number })).toThrow(
      expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `maxBodyBytes must be an integer number of bytes from 1 to 1073741824 (got ${shown(bad)})` }),
    );
  });

  it.each([1, 1024 ** 3, undefined])("maxBodyBytes %s is accepted", (good) => {
    expect(typeof scepMiddleware(handler, good === undefined ? {} : { maxBodyBytes: good })).toBe("function");
  });

  // The kind, never the value (a BigInt or a circular object made JSON.stringify throw a TypeError instead).
  it.each([
    ["false", "a string"],
    [0, "a number"],
    [null, "null"],
    [1n, "a bigint"],
  ])("fallthrough %s: ERR_INVALID_ARGUMENT", (bad, kind) => {
    expect(() => scepMiddleware(handler, { fallthrough: bad as unknown as boolean })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `fallthrough must be true or false (got ${kind})` }),
    );
  });

  it.each([
    ["undefined", undefined],
    ["an object without fetch", { owns: () => true }],
    ["a fetch that is not a function", { fetch: "http://ca.test" }],
    ["an owns that is not a function", { fetch: async () => new Response(), owns: true }],
  ])("a handler that is %s: ERR_INVALID_ARGUMENT", (_what, bad) => {
    expect(() => scepMiddleware(bad as unknown as FetchHandler)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^handler must be a FetchHandler/) }));
  });
});

describe("end to end: a NaN maxBodyBytes fails at mounting, not at the first large request", () => {
  it("scepMiddleware(server, { maxBodyBytes: NaN }) throws; with the server's limit a 30 MB body is 413 on the wire and body_too_large in the event", async () => {
    const fx = await createFixture();
    expect(() => scepMiddleware(fx.server, { maxBodyBytes: Number(process.env.SCEP_OPTIONS_TEST_UNSET_VARIABLE) })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "maxBodyBytes must be an integer number of bytes from 1 to 1073741824 (got NaN)" }),
    );
    const app = express();
    app.use(scepMiddleware(fx.server));
    const http = createServer(app);
    const base = await listen(http);
    try {
      const res = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", headers: { "content-type": "application/x-pki-message" }, body: new Uint8Array(30 * 1024 * 1024) });
      expect(res.status).toBe(413);
      expect(fx.events.map((e) => e.reason)).toEqual(["body_too_large"]);
    } finally {
      await close(http);
    }
  });
});
