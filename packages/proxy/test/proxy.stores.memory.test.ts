/**
 * The in-memory ProfileStore and CaRegistry run the published conformance
 * suites, and core's MemoryChallengeStore runs core's ChallengeStore suite
 * here too (the proxy issues and consumes with profile = CA name, which the
 * suite holds to exact comparison of any characters); the in-memory
 * CaRegistry's refusals carry exact messages.
 */
import { MemoryChallengeStore } from "@scep/core";
import { challengeStoreConformance } from "@scep/core/testing";
import { describe, expect, it } from "vitest";
import { MAX_CA_NAME_LENGTH, MemoryCaRegistry, MemoryProfileStore, ProxyConfigError, challengeTtlMs, type CaConfig } from "../src/index.js";
import { caRegistryConformance, profileStoreConformance } from "../src/testing/index.js";

profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
caRegistryConformance({ name: "memory", create: (cas, options) => new MemoryCaRegistry(cas, options) });
challengeStoreConformance({ name: "MemoryChallengeStore (proxy: profile = CA name)", create: ({ now }) => new MemoryChallengeStore({ now }) });

describe("MemoryCaRegistry", () => {
  const ndes: CaConfig = { name: "ndes", type: "ndes", url: "https://ndes.example/certsrv/mscep/mscep.dll" };
  const custom: CaConfig = { name: "corp", type: "custom", url: "http://127.0.0.1:8080/scep" };

  it("get, list and defaultName (the only CA when one is configured, else the option)", () => {
    const one = new MemoryCaRegistry([ndes]);
    expect(one.defaultName).toBe("ndes");
    expect(one.get("ndes")).toEqual(ndes);
    expect(one.get("other")).toBeUndefined();
    const two = new MemoryCaRegistry([ndes, custom]);
    expect(two.defaultName).toBeUndefined();
    expect(two.list().map((c) => c.name)).toEqual(["ndes", "corp"]);
    expect(new MemoryCaRegistry([ndes, custom], { defaultName: "corp" }).defaultName).toBe("corp");
  });

  it.each([
    ["a duplicate name", [ndes, { ...custom, name: "ndes" }], {}, "CA #2: the name is configured twice"],
    ["an empty name", [{ ...ndes, name: "" }], {}, "CA #1: name must be a non-empty string without control characters or lone surrogates"],
    ["a control character in the name", [{ ...ndes, name: "a\nb" }], {}, "CA #1: name must be a non-empty string without control characters or lone surrogates"],
    // No device URL can carry it: buildIdentifier refuses it (bad_encoding), and percent-encoded UTF-8 never decodes to it.
    ["a lone UTF-16 surrogate in the name", [ndes, { ...custom, name: "corp\ud800" }], {}, "CA #2: name must be a non-empty string without control characters or lone surrogates"],
    // The name goes into device URLs, store keys and log lines: bounded as Fleet bounds a CA name (255).
    ["a name longer than 255 characters", [ndes, { ...custom, name: "c".repeat(256) }], {}, "CA #2: name must be at most 255 characters (got 256)"],
    ["a name of 256 UTF-16 code units (128 astral characters)", [{ ...ndes, name: "\u{1F512}".repeat(128) }], {}, "CA #1: name must be at most 255 characters (got 256)"],
    ["an unknown type", [{ ...ndes, type: "est" as CaConfig["type"] }], {}, "CA #1: type must be one of ndes, smallstep, custom"],
    ["a relative URL", [{ ...ndes, url: "/scep" }], {}, "CA #1: url is not an absolute URL"],
    ["a non-http URL", [{ ...ndes, url: "ftp://ndes.example/" }], {}, "CA #1: url must be http or https"],
    ["a zero challengeTtlMs", [{ ...ndes, challengeTtlMs: 0 }], {}, "CA #1: challengeTtlMs must be an integer number of milliseconds from 1 to 31536000000 (got 0)"],
    ["a default CA not configured", [ndes], { defaultName: "x" }, "defaultName names no configured CA"],
  ])("refuses %s with ProxyConfigError (ERR_PROXY_CONFIG)", (_what, cas, options, message) => {
    let error: unknown;
    try {
      new MemoryCaRegistry(cas as CaConfig[], options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProxyConfigError);
    expect(error).toMatchObject({ code: "ERR_PROXY_CONFIG", message });
  });

  it("a name of exactly MAX_CA_NAME_LENGTH (255) characters is accepted and found", () => {
    expect(MAX_CA_NAME_LENGTH).toBe(255);
    const name = "c".repeat(255);
    expect(new MemoryCaRegistry([{ ...custom, name }]).get(name)?.name).toBe(name);
  });

  it("challenge validity: NDES 57 min, Smallstep 4 min, custom 1 h, or the CA's challengeTtlMs", () => {
    expect(challengeTtlMs(ndes)).toBe(3_420_000);
    expect(challengeTtlMs({ ...ndes, type: "smallstep" })).toBe(240_000);
    expect(challengeTtlMs(custom)).toBe(3_600_000);
    expect(challengeTtlMs({ ...ndes, challengeTtlMs: 60_000 })).toBe(60_000);
  });
});
