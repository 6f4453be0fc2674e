/**
 * The conformance suite every {@link CaRegistry} runs.
 *
 * @module
 */
import { describe, expect, it } from "vitest";
import type { CaConfig } from "../cas/ca-config.js";
import type { CaRegistry } from "../cas/ca-registry.js";
import { ProxyConfigError } from "../errors.js";

/** Options of {@link caRegistryConformance}. */
export interface CaRegistryConformanceOptions<R extends CaRegistry = CaRegistry> {
  /** Name shown in the test report, e.g. `"memory"`. */
  name: string;
  /**
   * Builds a registry holding exactly `cas` (in that order), with `defaultName`
   * as its default CA when given. Must throw (or reject with)
   * `ProxyConfigError` (`ERR_PROXY_CONFIG`) for a configuration it refuses.
   * Called anew by each test.
   */
  create: (cas: readonly CaConfig[], options: { defaultName?: string }) => R | Promise<R>;
  /** Releases what `create` made; called after each test that built a registry. */
  cleanup?: (registry: R) => void | Promise<void>;
}

/**
 * Registers the CaRegistry conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a registry to (PROXY.md "Interfaces it stands on"):
 * - `get(name)` returns the CA configured under exactly that name, every
 *   field as given (`exemptPlatforms`, `challengeTtlMs`, `ndes`, `smallstep`
 *   settings included); names are compared exactly (case, surrounding spaces,
 *   `,` `:` `%` and non-ASCII characters are kept);
 * - `get` of an unknown name (also `""`, a prefix, another case) is `undefined`;
 * - `list()` returns every CA once, in configuration order;
 * - `defaultName`: the option when given; the only CA when exactly one is
 *   configured; `undefined` for two or more CAs without the option; always a
 *   name `get` resolves;
 * - a configuration it cannot serve is refused when the registry is built,
 *   with `ProxyConfigError` (`ERR_PROXY_CONFIG`): a duplicate, empty or
 *   control-character name, a name longer than `MAX_CA_NAME_LENGTH` (255)
 *   characters, an unknown type, a URL that is not absolute http(s), a URL
 *   whose user info (sent upstream as Basic authorization) does not
 *   percent-decode to UTF-8, or decodes to a user name holding a colon or to
 *   a control character in either (RFC 7617 §2: Basic cannot carry them), a
 *   `challengeTtlMs` that is not a positive integer, `ndes` / `smallstep`
 *   settings whose `adminUrl` / `webhookUrl` does not parse, is not http(s)
 *   or holds user info (the challenge sources refuse it on every fetch),
 *   whose `username` holds a colon or a control character or whose
 *   Smallstep `password` holds a control character, a `defaultName` that
 *   names no configured CA; an error that refuses credentials never holds
 *   them;
 * - changing the arrays given to `create` (or the objects `list` returned)
 *   later does not change what the registry answers.
 *
 * @example
 * ```ts
 * import { MemoryCaRegistry } from "@scep/proxy";
 * import { caRegistryConformance } from "@scep/proxy/testing";
 *
 * // your registry (one reading a database or a configuration service) in place of MemoryCaRegistry
 * caRegistryConformance({ name: "memory", create: (cas, options) => new MemoryCaRegistry(cas, options) });
 * ```
 */
export function caRegistryConformance<R extends CaRegistry>(options: CaRegistryConformanceOptions<R>): void {
  describe(`CaRegistry conformance: ${options.name}`, () => {
    const ndes: CaConfig = {
      name: "corp-ndes",
      type: "ndes",
      url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
      exemptPlatforms: ["windows"],
      ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "svc-mdm", password: "pw", domain: "CORP" },
    };
    const step: CaConfig = {
      name: "step",
      type: "smallstep",
      url: "https://agents.example.scep.smallstep.com/p/agents/mdm",
      challengeTtlMs: 120_000,
      smallstep: { webhookUrl: "https://example.scep.smallstep.com/webhooks/challenge", username: "mdm", password: "pw" },
    };
    const custom: CaConfig = { name: "custom", type: "custom", url: "http://127.0.0.1:8080/scep" };

    const withRegistry = async (cas: readonly CaConfig[], createOptions: { defaultName?: string }, body: (r: R) => void | Promise<void>): Promise<void> => {
      const registry = await options.create(cas, createOptions);
      try {
        await body(registry);
      } finally {
        await options.cleanup?.(registry);
      }
    };

    const refuses = async (cas: readonly CaConfig[], createOptions: { defaultName?: string } = {}, secret?: string): Promise<void> => {
      let error: unknown;
      let built: R | undefined;
      try {
        built = await options.create(cas, createOptions);
      } catch (e) {
        error = e;
      }
      if (built) await options.cleanup?.(built);
      expect(error).toBeInstanceOf(ProxyConfigError);
      expect(error).toMatchObject({ code: "ERR_PROXY_CONFIG" });
      if (secret !== undefined) expect((error as Error).message).not.toContain(secret);
    };

    it("get returns each CA by its exact name, every field as configured", async () => {
      await withRegistry([ndes, step, custom], {}, (r) => {
        expect(r.get("corp-ndes")).toStrictEqual(ndes);
        expect(r.get("step")).toStrictEqual(step);
        expect(r.get("custom")).toStrictEqual(custom);
      });
    });

    it("get of an unknown name is undefined: another name, the empty string, a prefix, another case, added spaces", async () => {
      await withRegistry([ndes, step], {}, (r) => {
        for (const name of ["other", "", "corp", "CORP-NDES", " step", "step ", "corp-ndes,step"]) expect(r.get(name)).toBeUndefined();
      });
    });

    it("names with , : % / spaces and non-ASCII characters are kept apart and found exactly", async () => {
      const names = ["a,b", "a:b", "a%2Cb", "a/b", "a b", "café", "Café", "日本"];
      const cas = names.map((name, i): CaConfig => ({ name, type: "custom", url: `https://ca${i}.example/scep` }));
      await withRegistry(cas, {}, (r) => {
        names.forEach((name, i) => expect(r.get(name)?.url).toBe(`https://ca${i}.example/scep`));
        expect(r.get("a")).toBeUndefined();
        expect(r.get("cafe")).toBeUndefined();
      });
    });

    it("a name of exactly 255 characters, and a URL with percent-encoded UTF-8 user info, are accepted as configured", async () => {
      const long: CaConfig = { ...custom, name: "n".repeat(255), url: "https://mdm%20svc:p%40ss%C3%A9%25@ca.example/scep" };
      await withRegistry([long], {}, (r) => {
        expect(r.get(long.name)).toStrictEqual(long);
      });
    });

    it("a password holding a colon (Basic carries it), an NDES DOMAIN\\user name and http helper URLs are accepted as configured", async () => {
      const withColon: CaConfig = { ...custom, url: "https://mdm:p%3As%3As@ca.example/scep" };
      const ndesHttp: CaConfig = { ...ndes, ndes: { adminUrl: "http://ndes.corp.example:8080/certsrv/mscep_admin/", username: "CORP\\svc-mdm", password: "p:w\u00e9" } };
      const stepHttp: CaConfig = { ...step, smallstep: { webhookUrl: "http://127.0.0.1:9000/webhooks/challenge?x=1", username: "mdm", password: "p:w" } };
      await withRegistry([withColon, ndesHttp, stepHttp], {}, (r) => {
        expect(r.list()).toStrictEqual([withColon, ndesHttp, stepHttp]);
      });
    });

    it("list returns every CA once, in configuration order", async () => {
      await withRegistry([step, custom, ndes], {}, (r) => {
        expect(r.list()).toStrictEqual([step, custom, ndes]);
      });
      await withRegistry([], {}, (r) => {
        expect(r.list()).toStrictEqual([]);
      });
    });

    it("defaultName: the only CA when exactly one is configured", async () => {
      await withRegistry([step], {}, (r) => {
        expect(r.defaultName).toBe("step");
        expect(r.get(r.defaultName!)).toStrictEqual(step);
      });
    });

    it("defaultName: undefined for two or more CAs without the option, and for none", async () => {
      await withRegistry([ndes, step], {}, (r) => expect(r.defaultName).toBeUndefined());
      await withRegistry([], {}, (r) => expect(r.defaultName).toBeUndefined());
    });

    it("defaultName: the option when given, among several CAs", async () => {
      await withRegistry([ndes, step, custom], { defaultName: "step" }, (r) => {
        expect(r.defaultName).toBe("step");
        expect(r.get(r.defaultName!)).toStrictEqual(step);
      });
    });

    it("what the caller changes afterwards (the configuration it passed, the objects list returned) changes nothing", async () => {
      const cas: CaConfig[] = [structuredClone(ndes), structuredClone(custom)];
      await withRegistry(cas, {}, (r) => {
        cas[0]!.url = "https://evil.example/scep";
        cas[0]!.exemptPlatforms!.push("darwin");
        cas.push(structuredClone(step));
        const listed = r.list();
        listed.pop();
        expect(r.get("corp-ndes")).toStrictEqual(ndes);
        expect(r.get("step")).toBeUndefined();
        expect(r.list()).toStrictEqual([ndes, custom]);
      });
    });

    it.each<[string, CaConfig[], { defaultName?: string }]>([
      ["a name configured twice", [ndes, { ...custom, name: "corp-ndes" }], {}],
      ["an empty name", [{ ...custom, name: "" }], {}],
      ["a name holding NUL", [{ ...custom, name: "a\u0000b" }], {}],
      ["a name holding LF", [{ ...custom, name: "a\nb" }], {}],
      ["a name holding DEL", [{ ...custom, name: "a\u007fb" }], {}],
      ["a name longer than 255 characters", [{ ...custom, name: "n".repeat(256) }], {}],
      ["an unknown type", [{ ...custom, type: "est" as CaConfig["type"] }], {}],
      ["a relative URL", [{ ...custom, url: "/scep" }], {}],
      ["a URL that is not http(s)", [{ ...custom, url: "ftp://ca.example/scep" }], {}],
      ["a URL whose password is a truncated percent-escape", [{ ...custom, url: "https://mdm:%E0%A4%A@ca.example/scep" }], {}],
      ["a URL whose user name decodes to bytes that are not UTF-8", [{ ...custom, url: "https://%FF:pw@ca.example/scep" }], {}],
      ["a challengeTtlMs of 0", [{ ...step, challengeTtlMs: 0 }], {}],
      ["a negative challengeTtlMs", [{ ...step, challengeTtlMs: -1 }], {}],
      ["a fractional challengeTtlMs", [{ ...step, challengeTtlMs: 1.5 }], {}],
      ["a defaultName that names no configured CA", [ndes, step], { defaultName: "custom" }],
    ])("refuses %s with ProxyConfigError (ERR_PROXY_CONFIG) when built", async (_what, cas, createOptions) => {
      await refuses(cas, createOptions);
    });

    const ndesSettings = ndes.ndes!;
    const stepSettings = step.smallstep!;
    it.each<[string, CaConfig, string]>([
      // RFC 7617 §2: the user-id ends at the first colon, and neither part may hold a control character.
      ["a URL whose user name decodes to one holding a colon (%3A)", { ...custom, url: "https://mdm%3Aadmin:s3cret@ca.example/scep" }, "mdm%3Aadmin"],
      ["a URL whose password decodes to CR LF", { ...custom, url: "https://mdm:s3cret%0D%0A@ca.example/scep" }, "s3cret"],
      ["a URL whose user name decodes to one holding NUL", { ...custom, url: "https://mdm%00x:s3cret@ca.example/scep" }, "mdm%00x"],
      ["an NDES adminUrl that does not parse", { ...ndes, ndes: { ...ndesSettings, adminUrl: "ndes.corp.example/certsrv/mscep_admin/" } }, ndesSettings.password],
      ["an NDES adminUrl that is not http(s)", { ...ndes, ndes: { ...ndesSettings, adminUrl: "ftp://ndes.corp.example/certsrv/mscep_admin/" } }, ndesSettings.password],
      ["an NDES adminUrl with user info", { ...ndes, ndes: { ...ndesSettings, adminUrl: "https://svc:s3cret@ndes.corp.example/certsrv/mscep_admin/" } }, "s3cret"],
      ["an NDES adminUrl whose user info does not decode", { ...ndes, ndes: { ...ndesSettings, adminUrl: "https://svc:s3c%E0%A4%A@ndes.corp.example/certsrv/mscep_admin/" } }, "s3c%E0%A4%A"],
      ["an NDES username holding a colon", { ...ndes, ndes: { ...ndesSettings, username: "svc:s3cret" } }, "s3cret"],
      ["an NDES username holding a CR", { ...ndes, ndes: { ...ndesSettings, username: "svc\rmdm" } }, "mdm"],
      ["NDES settings without a password", { ...ndes, ndes: { adminUrl: ndesSettings.adminUrl, username: "svc" } as CaConfig["ndes"] }, "svc"],
      ["a Smallstep webhookUrl that does not parse", { ...step, smallstep: { ...stepSettings, webhookUrl: "::" } }, stepSettings.password],
      ["a Smallstep webhookUrl that is not http(s)", { ...step, smallstep: { ...stepSettings, webhookUrl: "file:///etc/passwd" } }, stepSettings.password],
      ["a Smallstep webhookUrl with user info", { ...step, smallstep: { ...stepSettings, webhookUrl: "https://mdm:s3cret@example.scep.smallstep.com/webhooks/challenge" } }, "s3cret"],
      ["a Smallstep webhookUrl whose user info does not decode", { ...step, smallstep: { ...stepSettings, webhookUrl: "https://mdm:s3cr%@example.scep.smallstep.com/webhooks/challenge" } }, "s3cr%"],
      ["a Smallstep username holding a colon", { ...step, smallstep: { ...stepSettings, username: "mdm:s3cret" } }, "s3cret"],
      ["a Smallstep username holding a LF", { ...step, smallstep: { ...stepSettings, username: "mdm\nX" } }, "mdm"],
      ["a Smallstep password holding NUL", { ...step, smallstep: { ...stepSettings, password: "s3cret\u0000" } }, "s3cret"],
      ["a Smallstep password holding CR LF", { ...step, smallstep: { ...stepSettings, password: "s3cret\r\n" } }, "s3cret"],
    ])("refuses %s with ProxyConfigError (ERR_PROXY_CONFIG) when built, never naming the credentials", async (_what, ca, secret) => {
      await refuses([ca], {}, secret);
    });
  });
}
