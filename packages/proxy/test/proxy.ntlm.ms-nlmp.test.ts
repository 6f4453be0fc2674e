/**
 * The NTLM module against published vectors:
 * - RFC 1320 §A.5 "Test suite": MD4 of seven strings.
 * - RFC 2202 §2 "Test Cases for HMAC-MD5" (all seven), and node:crypto's
 *   HMAC-MD5 as a reference on random keys and data.
 * - [MS-NLMP] (Microsoft Open Specifications, NT LAN Manager Authentication
 *   Protocol) §4.2.1 common values (user "User", domain "Domain", password
 *   "Password", ServerChallenge 0123456789abcdef, ClientChallenge aa×8,
 *   Time 0), §4.2.2.1.2 NTOWFv1, §4.2.4.1.1 NTOWFv2, §4.2.4.2.1 LMv2,
 *   §4.2.4.2.2 NTLMv2 response (NTProofStr), §4.2.4.1.2 SessionBaseKey and
 *   §4.2.4.3 CHALLENGE_MESSAGE. The same values are checked by Chromium's
 *   net/ntlm tests (ntlm_test_data.h) and Samba's.
 */
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hmacMd5, md4, ntHash, utf16le } from "../src/ntlm/hashes.js";
import { decodeChallengeMessage, encodeAuthenticateMessage, encodeNegotiateMessage, NEGOTIATE_FLAGS } from "../src/ntlm/messages.js";
import { computeNtlmv2Response, fileTime, ntowfv2 } from "../src/ntlm/ntlmv2.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// MS-NLMP §4.2.4.3 CHALLENGE_MESSAGE (NTLMv2 example), flags e28a8233, TargetName "Server",
// TargetInfo { MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL }.
const MS_NLMP_CHALLENGE = unhex(`
  4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0123456789abcdef 0000000000000000
  24002400 44000000 060070170000000f
  530065007200760065007200
  02000c00 44006f006d00610069006e00 01000c00 530065007200760065007200 00000000`);
const MS_NLMP_TARGET_INFO = unhex("02000c00 44006f006d00610069006e00 01000c00 530065007200760065007200 00000000");

describe("RFC 1320 §A.5: MD4 test suite", () => {
  const suite: [string, string][] = [
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"],
  ];
  it.each(suite)("MD4(%j)", async (input, digest) => {
    expect(hex(await md4(new TextEncoder().encode(input)))).toBe(digest);
  });
  it("runs on Node's default OpenSSL 3 without the legacy provider (no process flag)", async () => {
    expect(process.execArgv.join(" ")).not.toMatch(/openssl-legacy-provider/);
    expect(hex(await md4(new Uint8Array(0)))).toBe("31d6cfe0d16ae931b73c59d7e0c089c0");
  });
});

describe("RFC 2202 §2: HMAC-MD5 test cases", () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const cases: [number, Uint8Array, Uint8Array, string][] = [
    [1, new Uint8Array(16).fill(0x0b), enc("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"],
    [2, enc("Jefe"), enc("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"],
    [3, new Uint8Array(16).fill(0xaa), new Uint8Array(50).fill(0xdd), "56be34521d144c88dbb8c733f0e8b3f6"],
    [4, Uint8Array.from({ length: 25 }, (_, i) => i + 1), new Uint8Array(50).fill(0xcd), "697eaf0aca3a3aea3a75164746ffaa79"],
    [5, new Uint8Array(16).fill(0x0c), enc("Test With Truncation"), "56461ef2342edc00f9bab995690efd4c"],
    [6, new Uint8Array(80).fill(0xaa), enc("Test Using Larger Than Block-Size Key - Hash Key First"), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"],
    [7, new Uint8Array(80).fill(0xaa), enc("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"), "6f630fad67cda0ee1fb1f562db3aa53e"],
  ];
  it.each(cases)("test case %i", async (_n, key, data, mac) => {
    expect(hex(await hmacMd5(key, data))).toBe(mac);
  });
  it("matches node:crypto's HMAC-MD5 for any key and data split in any parts", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 150 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 4 }), async (key, parts) => {
        const reference = createHmac("md5", key);
        for (const p of parts) reference.update(p);
        return hex(await hmacMd5(key, ...parts)) === reference.digest("hex");
      }),
      { numRuns: 1000, seed: 2202 },
    );
  });
  it("interleaved calls on the shared hasher do not mix their inputs", async () => {
    const [a, b] = await Promise.all([hmacMd5(enc("Jefe"), enc("what do ya want for nothing?")), md4(enc("abc"))]);
    expect([hex(a), hex(b)]).toEqual(["750c783e6ab0b503eaa86e310a5db738", "a448017aaf21d8525fc10ae87aa6729d"]);
  });
});

describe("MS-NLMP §4.2.2.1.2 and §4.2.4.1.1: NTOWFv1 and NTOWFv2", () => {
  it('NTOWFv1("Password") = a4f49c40…d852', async () => {
    expect(hex(await ntHash("Password"))).toBe("a4f49c406510bdcab6824ee7c30fd852");
  });
  it('NTOWFv2("Password", "User", "Domain") = 0c868a40…2e3f', async () => {
    expect(hex(await ntowfv2("Password", "User", "Domain"))).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
  });
  it("upper-cases the user, not the domain", async () => {
    expect(hex(await ntowfv2("Password", "user", "Domain"))).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
    expect(hex(await ntowfv2("Password", "User", "DOMAIN"))).not.toBe("0c868a403bfd7a93a3001ef22ef02e3f");
  });
});

describe("MS-NLMP §4.2.4.2: NTLMv2 and LMv2 responses", () => {
  it("reproduces LMv2, NTProofStr, the NTLMv2 response and SessionBaseKey", async () => {
    const out = await computeNtlmv2Response({
      responseKey: await ntowfv2("Password", "User", "Domain"),
      serverChallenge: unhex("0123456789abcdef"),
      clientChallenge: unhex("aaaaaaaaaaaaaaaa"),
      timestamp: 0n,
      targetInfo: MS_NLMP_TARGET_INFO,
    });
    expect(hex(out.lmChallengeResponse)).toBe("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
    expect(hex(out.ntProofStr)).toBe("68cd0ab851e51c96aabc927bebef6a1c");
    expect(hex(out.ntChallengeResponse)).toBe(
      "68cd0ab851e51c96aabc927bebef6a1c" +
        "0101000000000000" +
        "0000000000000000" +
        "aaaaaaaaaaaaaaaa" +
        "00000000" +
        "02000c0044006f006d00610069006e0001000c00530065007200760065007200" +
        "00000000" +
        "00000000",
    );
    expect(hex(out.sessionBaseKey)).toBe("8de40ccadbc14a82f15cb0ad0de95ca3");
  });
  it("sends a zero LMv2 response when the server's TargetInfo has MsvAvTimestamp (§3.1.5.1.2)", async () => {
    const out = await computeNtlmv2Response({
      responseKey: await ntowfv2("Password", "User", "Domain"),
      serverChallenge: unhex("0123456789abcdef"),
      clientChallenge: unhex("aaaaaaaaaaaaaaaa"),
      timestamp: 0n,
      targetInfo: MS_NLMP_TARGET_INFO,
      omitLmResponse: true,
    });
    expect(hex(out.lmChallengeResponse)).toBe("00".repeat(24));
    expect(hex(out.ntProofStr)).toBe("68cd0ab851e51c96aabc927bebef6a1c");
  });
  it("FILETIME counts 100 ns since 1601-01-01: the Unix epoch is 116444736000000000", () => {
    expect(fileTime(0)).toBe(116444736000000000n);
    expect(fileTime(Date.UTC(2026, 0, 1))).toBe(116444736000000000n + BigInt(Date.UTC(2026, 0, 1)) * 10_000n);
  });
});

describe("MS-NLMP §2.2.1: messages", () => {
  it("decodes the §4.2.4.3 CHALLENGE_MESSAGE", () => {
    const c = decodeChallengeMessage(MS_NLMP_CHALLENGE);
    expect(c.flags >>> 0).toBe(0xe28a8233);
    expect(hex(c.serverChallenge)).toBe("0123456789abcdef");
    expect(c.targetName).toBe("Server");
    expect(hex(c.targetInfo)).toBe(hex(MS_NLMP_TARGET_INFO));
    expect(c.nbDomainName).toBe("Domain");
    expect(c.timestamp).toBeUndefined();
  });
  it("encodes a 32-byte NEGOTIATE message (§2.2.1.1) with Unicode, NTLM and extended session security", () => {
    expect(hex(encodeNegotiateMessage())).toBe("4e544c4d53535000" + "01000000" + "078208a0" + "0000000020000000" + "0000000020000000");
    expect(NEGOTIATE_FLAGS).toBe(0xa0088207);
  });
  it("encodes an AUTHENTICATE message (§2.2.1.3) whose fields point at the right payload", () => {
    const lm = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
    const nt = unhex("68cd0ab851e51c96aabc927bebef6a1c0101");
    const msg = encodeAuthenticateMessage({ flags: 0xe2888215, lmChallengeResponse: lm, ntChallengeResponse: nt, domain: "Domain", user: "User", workstation: "COMPUTER" });
    const b = Buffer.from(msg);
    const fieldAt = (at: number): Buffer => b.subarray(b.readUInt32LE(at + 4), b.readUInt32LE(at + 4) + b.readUInt16LE(at));
    expect(b.subarray(0, 12).toString("hex")).toBe("4e544c4d5353500003000000");
    expect(hex(fieldAt(12))).toBe(hex(lm));
    expect(hex(fieldAt(20))).toBe(hex(nt));
    expect(fieldAt(28).toString("utf16le")).toBe("Domain");
    expect(fieldAt(36).toString("utf16le")).toBe("User");
    expect(fieldAt(44).toString("utf16le")).toBe("COMPUTER");
    expect(b.readUInt16LE(52)).toBe(0); // no EncryptedRandomSessionKey
    expect(b.readUInt32LE(60)).toBe(0xe2888215);
    expect(b.readUInt32LE(28 + 4)).toBe(64); // payload right after the 64-byte header
    expect(msg.length).toBe(64 + 12 + 8 + 16 + 24 + nt.length);
  });
  it("encodes OEM (Latin-1) strings when Unicode was not negotiated", () => {
    const msg = encodeAuthenticateMessage({ flags: 0x2, lmChallengeResponse: new Uint8Array(24), ntChallengeResponse: new Uint8Array(16), domain: "D", user: "U", workstation: "" });
    const b = Buffer.from(msg);
    expect(b.subarray(b.readUInt32LE(36 + 4), b.readUInt32LE(36 + 4) + b.readUInt16LE(36)).toString("latin1")).toBe("U");
  });
  it("utf16le encodes like Buffer's utf16le", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => hex(utf16le(s)) === Buffer.from(s, "utf16le").toString("hex")));
  });
});

describe("MS-NLMP §2.2.1.2: malformed CHALLENGE messages get ERR_PROXY_NTLM_MESSAGE", () => {
  const refused = (bytes: Uint8Array): string => {
    try {
      decodeChallengeMessage(bytes);
      return "accepted";
    } catch (e) {
      return (e as { code?: string }).code ?? "untyped";
    }
  };
  it.each([
    ["empty", new Uint8Array(0)],
    ["short", MS_NLMP_CHALLENGE.subarray(0, 20)],
    ["bad signature", Uint8Array.from([0x4f, ...MS_NLMP_CHALLENGE.subarray(1)])],
    ["type 3", (() => { const b = MS_NLMP_CHALLENGE.slice(); b[8] = 3; return b; })()],
    ["TargetInfo past the end", MS_NLMP_CHALLENGE.subarray(0, MS_NLMP_CHALLENGE.length - 6)],
    ["TargetInfo without MsvAvEOL", (() => { const b = MS_NLMP_CHALLENGE.slice(); b.fill(0xff, b.length - 4); return b; })()],
  ])("%s", (_name, bytes) => {
    expect(refused(bytes)).toBe("ERR_PROXY_NTLM_MESSAGE");
  });
  it("any bytes decode or throw NtlmMessageError, never anything else (fuzz, seeded from §4.2.4.3)", () => {
    const mutated = fc
      .tuple(fc.nat({ max: MS_NLMP_CHALLENGE.length }), fc.nat({ max: MS_NLMP_CHALLENGE.length - 1 }), fc.integer({ min: 0, max: 255 }))
      .map(([cut, at, v]) => {
        const b = MS_NLMP_CHALLENGE.slice(0, Math.max(cut, at + 1));
        b[at] = v;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
        const r = refused(bytes);
        return r === "accepted" || r === "ERR_PROXY_NTLM_MESSAGE";
      }),
      { numRuns: 5000, seed: 20261129 },
    );
  });
});
