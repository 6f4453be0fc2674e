/**
 * scepHandler's and scepApp's handler and options are checked when they are built: a handler without a `fetch`
 * function, or a `fallthrough` that is not a boolean (the string "false" was truthy), throws InvalidArgumentError
 * `ERR_INVALID_ARGUMENT` instead of failing every request.
 */
import { describe, expect, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepApp, scepHandler } from "../src/index.js";

const handler: FetchHandler = { fetch: async () => new Response("ok") };

describe("@scep/hono: the handler and options are checked when built", () => {
  // The kind, never the value (a BigInt or a circular object made JSON.stringify throw a TypeError instead).
  it.each([
    ["false", "a string"],
    [0, "a number"],
    [null, "null"],
    [1n, "a bigint"],
  ])("fallthrough %s: ERR_INVALID_ARGUMENT", (bad, kind) => {
    expect(() => scepHandler(handler, { fallthrough: bad as unknown as boolean })).toThrow(
      expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `fallthrough must be true or false (got ${kind})` }),
    );
  });

  it.each([
    ["undefined", undefined],
    ["an object without fetch", { owns: () => true }],
    ["a fetch that is not a function", { fetch: "http://ca.test" }],
    ["a handle that is not a function", { fetch: async () => new Response(), handle: {} }],
  ])("a handler that is %s: ERR_INVALID_ARGUMENT from scepHandler and scepApp", (_what, bad) => {
    const thrown = expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^handler must be a FetchHandler/) });
    expect(() => scepHandler(bad as unknown as FetchHandler)).toThrow(thrown);
    expect(() => scepApp(bad as unknown as FetchHandler)).toThrow(thrown);
  });

  it.each([
    ["c.env.incoming.socket.remoteAddress", "a string"],
    [null, "null"],
    [{}, "an object"],
  ])("remoteAddress %j (not a function): ERR_INVALID_ARGUMENT from scepHandler and scepApp", (bad, kind) => {
    const thrown = expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `remoteAddress must be a function (got ${kind})` });
    expect(() => scepHandler(handler, { remoteAddress: bad as never })).toThrow(thrown);
    expect(() => scepApp(handler, { remoteAddress: bad as never })).toThrow(thrown);
  });

  it("a FetchHandler and a boolean fallthrough are accepted", () => {
    expect(typeof scepHandler(handler, { fallthrough: false })).toBe("function");
    expect(typeof scepApp(handler).fetch).toBe("function");
  });
});
