/**
 * `basePath` is compared with the request's path as the URL parser leaves it (`new URL(request.url).pathname`:
 * percent-encoded, dot segments removed), while an adapter may ask `owns` with the decoded path (Hono's
 * `c.req.path`). A base holding a space, a non-ASCII character, `%`, `?`, `#`, a backslash or another character a
 * path carries percent-encoded (or never carries), or a `.` / `..` segment, matched no request: every device got 404
 * and nothing said why. `createScepProxy` now refuses it with `ProxyConfigError` (`ERR_PROXY_CONFIG`), naming the
 * character; the characters a path carries unencoded (RFC 3986 §3.3 pchar) keep working.
 */
import { describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ScepProxyOptions } from "../src/index.js";

const options = (basePath: unknown): ScepProxyOptions =>
  ({ basePath, profiles: new MemoryProfileStore(), cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: "https://ndes.test/certsrv/mscep/mscep.dll" }]) }) as ScepProxyOptions;

const characterMessage = (shown: string, at: number): string =>
  `basePath must hold only letters, digits, / and - . _ ~ ! $ & ' ( ) * + , ; = : @ (got ${shown} at character ${at}): a request path carries any other character percent-encoded, or not at all (RFC 3986 section 3.3), so no request would match`;

describe("createScepProxy: a basePath no request path can equal is refused", () => {
  it.each([
    ["a space", "/my scep", "U+0020", 4],
    ["a non-ASCII character", "/scép", "U+00E9", 4],
    ["a character outside the BMP", "/scep/😀", "U+1F600", 7],
    ["a percent-escape", "/my%20scep", "%", 4],
    ["a lone %", "/scep%", "%", 6],
    ["a ?", "/scep?x=1", "?", 6],
    ["a #", "/scep#frag", "#", 6],
    ["a backslash", "/mdm\\scep", "\\", 5],
    ["a double quote", '/"scep"', '"', 2],
    ["a { }", "/{tenant}/scep", "{", 2],
    ["a `", "/sc`ep", "`", 4],
    ["< >", "/<scep>", "<", 2],
    ["a tab", "/sc\tep", "U+0009", 4],
    ["a line feed", "/scep\n", "U+000A", 6],
    ["NUL", "/sc\u0000ep", "U+0000", 4],
  ])("%s (%j) → ProxyConfigError (ERR_PROXY_CONFIG) naming the character", (_what, basePath, shown, at) => {
    expect(() => createScepProxy(options(basePath))).toThrow(expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: characterMessage(shown, at) }));
  });

  it.each(["/mdm/./scep", "/mdm/../scep", "/.", "/..", "/scep/.."])("a . or .. segment (%j) → ProxyConfigError: URL parsing removes it from every request path", (basePath) => {
    expect(() => createScepProxy(options(basePath))).toThrow(
      expect.objectContaining({ code: "ERR_PROXY_CONFIG", message: "basePath must not hold a . or .. segment: URL parsing removes them from every request path, so no request would match" }),
    );
  });

  it.each([
    ["a number", 42, "number"],
    ["null", null, "null"],
    ["an array", ["/scep"], "object"],
  ])("%s → ProxyConfigError, not a TypeError", (_what, basePath, type) => {
    expect(() => createScepProxy(options(basePath))).toThrow(expect.objectContaining({ code: "ERR_PROXY_CONFIG", message: `basePath must be a string (got ${type})` }));
  });

  it("still refuses a base not starting with /", () => {
    expect(() => createScepProxy(options("scep"))).toThrow(expect.objectContaining({ code: "ERR_PROXY_CONFIG", message: "basePath must start with /" }));
  });
});

describe("createScepProxy: every basePath it accepts routes requests", () => {
  it.each([
    ["/scep", "/scep"],
    ["/mdm/scep/", "/mdm/scep"],
    ["/", ""],
    ["", ""],
    ["/a-b_c.d~e/!$&'()*+,;=:@/X9", "/a-b_c.d~e/!$&'()*+,;=:@/X9"],
    ["/.well-known/scep..v2", "/.well-known/scep..v2"],
  ])("%j is served as %j: owns it, and a device's request under it reaches the identifier check, not 404", async (basePath, normalised) => {
    const proxy = createScepProxy(options(basePath));
    expect(proxy.basePath).toBe(normalised);
    const url = `http://proxy.test${normalised}/h1,p1,ndes?operation=GetCACaps`;
    expect(proxy.owns(new URL(url).pathname)).toBe(true);
    // The decoded path an adapter may pass (Hono's c.req.path) is the same string for these characters.
    expect(proxy.owns(decodeURI(new URL(url).pathname))).toBe(true);
    const res = await proxy.fetch(new Request(url));
    expect([res.status, await res.text()]).toEqual([400, "unknown identifier"]);
  });
});
