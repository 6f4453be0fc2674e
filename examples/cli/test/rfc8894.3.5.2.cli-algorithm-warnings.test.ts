/**
 * RFC 8894 §3.5.2 (and IANA's SCEP CA Capabilities registry): the capabilities that promise an algorithm are `AES`
 * (AES128-CBC), `DES3`, `SHA-1`, `SHA-256` and `SHA-512`. Every `--cipher` and `--digest` the CLI accepts is warned
 * about when the CA does not promise it, as `--cipher aes128|des3` and `--digest sha256|sha512` were:
 * - `--digest sha1` without `SHA-1` (SCEPStandard does not imply it), like `sha256`/`sha512`: only to a CA that
 *   advertises something;
 * - `--digest sha384`: no capability exists for it, so always, as `--cipher aes192|aes256`;
 * - `--cipher des` (single DES): no capability promises it, so to any CA that advertises something; to a CA that
 *   advertises nothing (single DES's only place: the fallback) no warning, as for every capability-backed choice.
 * The warning changes nothing else: a real @scep/core server on loopback (default algorithm policy: it accepts all of
 * them) issues, and the request it decoded carries the algorithms asked for.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CIPHER_NAMES, DIGEST_NAMES } from "../src/lib/args.js";
import { type CapabilityProfiles, type EnrollResult, startCapabilityProfiles } from "./support/capability-profiles.js";

/** Each profile's path and the capabilities its GetCACaps answers. */
const PROFILES = {
  aes: ["AES", "POSTPKIOperation", "SHA-256", "Renewal"],
  standard: ["SCEPStandard"],
  des3: ["DES3", "POSTPKIOperation", "SHA-256"],
  sha1: ["DES3", "SHA-1", "POSTPKIOperation"],
  // No RFC 8894 capability, but some CAs list it, @scep/core's default capabilities among them.
  sha384: ["AES", "SHA-256", "SHA-384", "POSTPKIOperation"],
  everything: ["AES", "DES3", "SHA-1", "SHA-256", "SHA-512", "POSTPKIOperation", "Renewal", "SCEPStandard"],
  post: ["POSTPKIOperation"],
  none: [],
} as const satisfies Record<string, readonly string[]>;
type Profile = keyof typeof PROFILES;

let profiles: CapabilityProfiles<Profile>;
beforeAll(async () => {
  profiles = await startCapabilityProfiles("Algorithm Warning CA", PROFILES);
});
afterAll(async () => {
  await profiles?.close();
});
beforeEach(() => profiles.reset());

const enroll = (profile: Profile, cn: string, ...extra: string[]): Promise<EnrollResult> => profiles.enroll(profile, cn, ...extra);

const SINGLE_DES = "warning: no capability promises single DES, the fallback for a CA that advertises none; sending des anyway";
const SHA384 = "warning: the CA does not advertise SHA-384 (RFC 8894 §3.5.2 defines only SHA-1, SHA-256 and SHA-512); sending sha384 anyway";
const NO_SHA1 = "warning: the CA does not advertise SHA-1; sending sha1 anyway";

describe("--cipher des: no capability promises single DES", () => {
  it.each(["aes", "des3", "standard", "everything"] as const)("to the %s CA: one warning, then issued with single DES", async (profile) => {
    expect(await enroll(profile, `${profile}-des`, "--cipher", "des")).toMatchObject({ err: [SINGLE_DES], cipher: "des" });
  });

  it("to a CA that advertises nothing (DES's place: the fallback): no warning, issued with single DES", async () => {
    expect(await enroll("none", "none-des", "--cipher", "des")).toMatchObject({ err: [], cipher: "des" });
  });
});

describe("--digest sha1: the SHA-1 capability", () => {
  it.each(["aes", "des3"] as const)("to the %s CA (no SHA-1): one warning, then issued with SHA-1", async (profile) => {
    expect(await enroll(profile, `${profile}-sha1`, "--digest", "sha1")).toMatchObject({ err: [NO_SHA1], digest: "sha1" });
  });

  it("to a CA that advertises SCEPStandard alone: warned (SCEPStandard implies SHA-256, not SHA-1)", async () => {
    expect(await enroll("standard", "standard-sha1", "--digest", "sha1")).toMatchObject({ err: [NO_SHA1], digest: "sha1" });
  });

  it.each(["sha1", "everything", "none"] as const)("to the %s CA: no warning", async (profile) => {
    expect(await enroll(profile, `${profile}-sha1-quiet`, "--digest", "sha1")).toMatchObject({ err: [], digest: "sha1" });
  });
});

describe("--digest sha384: no RFC 8894 capability names SHA-384", () => {
  it.each(["aes", "standard", "everything", "none"] as const)("to the %s CA (no SHA-384 listed): one warning, then issued with SHA-384", async (profile) => {
    expect(await enroll(profile, `${profile}-sha384`, "--digest", "sha384")).toMatchObject({ err: [SHA384], digest: "sha384" });
  });

  it("to a CA that lists SHA-384 (as @scep/core's default capabilities do): no warning, issued with SHA-384", async () => {
    expect(await enroll("sha384", "sha384-listed", "--digest", "sha384")).toMatchObject({ err: [], digest: "sha384" });
  });

  it("with --cipher des to the AES CA: the cipher's line, then the digest's", async () => {
    expect(await enroll("aes", "aes-des-sha384", "--cipher", "des", "--digest", "sha384")).toEqual({ err: [SINGLE_DES, SHA384], cipher: "des", digest: "sha384" });
  });
});

describe("every choice the CLI accepts is warned about when the CA promises no algorithm at all", () => {
  it.each(CIPHER_NAMES.map((c) => [c]))("--cipher %s to a CA that advertises POSTPKIOperation alone: exactly one warning", async (cipher) => {
    const r = await enroll("post", `post-${cipher}`, "--cipher", cipher);
    expect(r.cipher).toBe(cipher);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^warning: .*; sending ${cipher} anyway$`));
  });

  it.each(DIGEST_NAMES.map((d) => [d]))("--digest %s to a CA that advertises POSTPKIOperation alone: exactly one warning", async (digest) => {
    const r = await enroll("post", `post-${digest}`, "--digest", digest);
    expect(r.digest).toBe(digest);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^warning: .*; sending ${digest} anyway$`));
  });
});
