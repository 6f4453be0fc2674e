/**
 * RFC 8894 §3.5.2 (and IANA's SCEP CA Capabilities registry): `AES` says the CA supports AES128-CBC, and
 * `SCEPStandard` implies AES (and SHA-256, POSTPKIOperation). No capability promises AES-192 or AES-256, so
 * `--cipher aes192|aes256` is sent with one `warning:` line on stderr, whatever the CA advertises (jscep#61/#64:
 * CAs that decrypt only AES-128). `--cipher aes128` and `--digest sha256` to a CA that advertises AES/SHA-256 or
 * SCEPStandard are not warned about; `--cipher des3` without DES3 still is. The warning changes nothing else: a real
 * @scep/core server on loopback (default algorithm policy: it decrypts every AES) issues, and the request it decoded
 * carries the cipher asked for.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ContentCipher } from "@scep/core";
import { type CapabilityProfiles, type EnrollResult, startCapabilityProfiles } from "./support/capability-profiles.js";

/** Each profile's path and the capabilities its GetCACaps answers. */
const PROFILES = {
  aes: ["AES", "POSTPKIOperation", "SHA-256", "Renewal"],
  standard: ["SCEPStandard"],
  des3: ["DES3", "POSTPKIOperation", "SHA-256"],
  none: [],
} as const satisfies Record<string, readonly string[]>;
type Profile = keyof typeof PROFILES;

let profiles: CapabilityProfiles<Profile>;
beforeAll(async () => {
  profiles = await startCapabilityProfiles("Cipher Warning CA", PROFILES);
});
afterAll(async () => {
  await profiles?.close();
});
beforeEach(() => profiles.reset());

/** `scep enroll` against `profile`: its stderr lines and the cipher the server decoded (the digest: `enrolled`). */
let enrolled: EnrollResult | undefined;
async function enroll(profile: Profile, cn: string, ...extra: string[]): Promise<{ err: string[]; cipher: ContentCipher | undefined }> {
  enrolled = await profiles.enroll(profile, cn, ...extra);
  return { err: enrolled.err, cipher: enrolled.cipher };
}

const longer = (advertised: string, cipher: string): string => `warning: the CA advertises ${advertised}, which RFC 8894 §3.5.2 defines as AES-128; sending ${cipher} anyway`;

describe("RFC 8894 §3.5.2: AES is AES-128; no capability promises AES-192 or AES-256", () => {
  it.each(["aes256", "aes192"])("--cipher %s to a CA that advertises AES: one warning, then issued as before", async (cipher) => {
    expect(await enroll("aes", `aes-${cipher}`, "--cipher", cipher)).toEqual({ err: [longer("AES", cipher)], cipher });
  });

  it.each(["aes256", "aes192"])("--cipher %s to a CA that advertises SCEPStandard alone: the warning names it", async (cipher) => {
    expect(await enroll("standard", `standard-${cipher}`, "--cipher", cipher)).toEqual({ err: [longer("AES (implied by SCEPStandard)", cipher)], cipher });
  });

  it.each([
    ["DES3 but no AES", "des3"],
    ["no capabilities at all", "none"],
  ] as const)("--cipher aes256 to a CA that advertises %s: it does not advertise AES", async (_, profile) => {
    expect(await enroll(profile, `${profile}-aes256`, "--cipher", "aes256")).toEqual({ err: ["warning: the CA does not advertise AES; sending aes256 anyway"], cipher: "aes256" });
  });

  it.each(["aes", "standard"] as const)("--cipher aes128 to the %s CA: no warning", async (profile) => {
    expect(await enroll(profile, `${profile}-aes128`, "--cipher", "aes128")).toEqual({ err: [], cipher: "aes128" });
  });

  it.each(["aes", "standard"] as const)("no --cipher to the %s CA: aes128 (the client's default), no warning", async (profile) => {
    expect(await enroll(profile, `${profile}-default`)).toEqual({ err: [], cipher: "aes128" });
  });

  it("--digest sha256 to a CA that advertises SCEPStandard alone: no warning (it implies SHA-256)", async () => {
    expect(await enroll("standard", "standard-sha256", "--digest", "sha256")).toEqual({ err: [], cipher: "aes128" });
    expect(enrolled?.digest).toBe("sha256");
  });

  it("--cipher des3 to a CA that advertises AES but not DES3: the existing warning stays", async () => {
    expect(await enroll("aes", "aes-des3", "--cipher", "des3")).toEqual({ err: ["warning: the CA does not advertise DES3; sending des3 anyway"], cipher: "des3" });
  });
});
