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
 *   percent-decode to UTF-8, a `challengeTtlMs` that is not a positive
 *   integer, a `defaultName` that names no configured CA;
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

    const refuses = async (cas: readonly CaConfig[], createOptions: { defaultName?: string } = {}): Promise<void> => {
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
  });
}
