/**
 * INTUNE.md "Mode B: signed-token challenge": every gate, in order, with its
 * reason label and SCEP failInfo, on tokens signed in-test (RS256, ES256 raw
 * and DER) and CSRs generated in-test. Time comes from an injected clock.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { CertificationRequest } from "@scep/core";
import {
  MAX_CHALLENGE_BYTES,
  MemoryRateLimiter,
  MemoryReplayCache,
  SIGNED_TOKEN_FAIL_INFO,
  SignedTokenValidator,
  TrustAnchorPool,
  looksLikeSignedToken,
  type ValidatorVerdict,
  type SignedTokenValidatorOptions,
} from "../src/index.js";
import { parseCompactJws, verifyCompactJws } from "../src/token/jws.js";
import { parseCertificate } from "../src/lib/node-crypto.js";
import { DEVICE, NOW, NOW_S, anchor, csrWith, goodClaims, mint, type Anchor } from "./support/tokens.js";
import { createHmac } from "node:crypto";

let rsa: Anchor;
let ec: Anchor;
let otherEc: Anchor;
let rsa1024: Anchor;
let pool: TrustAnchorPool;
let csr: CertificationRequest;

beforeAll(async () => {
  [rsa, ec, otherEc, rsa1024] = await Promise.all([anchor("rsa2048"), anchor("p256"), anchor("p256", "CN=unrelated"), anchor("rsa1024")]);
  pool = TrustAnchorPool.fromPem(rsa.pem + ec.pem, { now: () => NOW });
  csr = await csrWith(undefined);
});

/** A validator at a clock the test can move. */
function setup(options: SignedTokenValidatorOptions = {}): { v: SignedTokenValidator; clock: { t: number } } {
  const clock = { t: NOW.getTime() };
  const v = new SignedTokenValidator({ trustAnchors: pool, audience: "https://scep.example.test/scep", now: () => new Date(clock.t), ...options });
  return { v, clock };
}
const check = (v: SignedTokenValidator, challenge: string | undefined, request = csr): Promise<ValidatorVerdict> => v.validate({ challenge, csr: request, request: { transactionId: "T1" } });
const refused = (reason: keyof typeof SIGNED_TOKEN_FAIL_INFO, failInfoText?: string) => ({
  ok: false,
  reason,
  failInfo: SIGNED_TOKEN_FAIL_INFO[reason],
  failInfoText: failInfoText ?? expect.any(String),
});

describe("SCEP mapping: signature, expired, not_yet_valid, wrong_audience, replay → badMessageCheck; the rest badRequest", () => {
  it("maps every reason label", () => {
    expect(SIGNED_TOKEN_FAIL_INFO).toEqual({
      signature_invalid: "badMessageCheck",
      malformed: "badRequest",
      unknown_version: "badRequest",
      not_yet_valid: "badMessageCheck",
      expired: "badMessageCheck",
      wrong_audience: "badMessageCheck",
      claim_mismatch: "badRequest",
      replay: "badMessageCheck",
      rate_limited: "badRequest",
      compliance_failed: "badRequest",
    });
  });
});

describe("gate 1: no trust anchors configured → signature_invalid", () => {
  it("refuses a good token, and refuses garbage with signature_invalid too (gate 1 comes before parsing)", async () => {
    const v = new SignedTokenValidator({ now: () => NOW });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("signature_invalid", "no trust anchors are configured for signed-token challenges"));
    expect(await check(v, "not a token")).toEqual(refused("signature_invalid"));
  });
});

describe("before any parsing: a challenge over 16 KiB, or none → malformed", () => {
  it("16 KiB + 1 byte is refused by size although its first 16 KiB is a valid token", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims());
    const long = token + "A".repeat(MAX_CHALLENGE_BYTES + 1 - token.length);
    expect(Buffer.byteLength(long)).toBe(16_385);
    expect(await check(v, long)).toEqual(refused("malformed", "the challenge is longer than 16384 bytes"));
  });

  it("counts UTF-8 bytes, not characters: 5,462 three-byte characters (16,386 bytes) are refused by size", async () => {
    const { v } = setup();
    expect(await check(v, "€".repeat(5_462))).toEqual(refused("malformed", "the challenge is longer than 16384 bytes"));
  });

  it("exactly 16 KiB passes the size check and fails later, at parsing", async () => {
    const { v } = setup();
    expect(await check(v, "A".repeat(MAX_CHALLENGE_BYTES))).toEqual(refused("malformed", "a compact JWS has 3 segments, this has 1"));
  });

  it("no challengePassword attribute, or an empty one → malformed", async () => {
    const { v } = setup();
    expect(await check(v, undefined)).toEqual(refused("malformed", "the CSR has no challengePassword"));
    expect(await check(v, "")).toEqual(refused("malformed", "the CSR has no challengePassword"));
  });
});

describe("gate 2: parse (3 non-empty segments, base64url, header JSON) → malformed", () => {
  const h = Buffer.from('{"alg":"ES256"}').toString("base64url");
  const p = Buffer.from("{}").toString("base64url");
  const cases: [string, string, string][] = [
    ["two segments", `${h}.${p}`, "a compact JWS has 3 segments, this has 2"],
    ["four segments", `${h}.${p}.AAAA.AAAA`, "a compact JWS has 3 segments, this has 4"],
    ["an empty payload segment", `${h}..AAAA`, "a JWS segment is empty"],
    ["an empty signature segment", `${h}.${p}.`, "a JWS segment is empty"],
    ["standard base64 '+' and '/'", `${h}.${p}.ab+/`, "a JWS segment is not base64url"],
    ["a space", `${h}.${p}.ab cd`, "a JWS segment is not base64url"],
    ["three padding characters", `${h}.${p}.AA===`, "a JWS segment is not base64url"],
    ["padding of the wrong length", `${h}.${p}.AAA==`, "a JWS segment is not base64url"],
    ["a 1-mod-4 segment length", `${h}.${p}.AAAAA`, "a JWS segment is not base64url"],
    ["a header that is not JSON", `${Buffer.from("{alg:").toString("base64url")}.${p}.AAAA`, "the JWS header is not JSON"],
    ["a header that is not UTF-8", `${Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url")}.${p}.AAAA`, "the JWS header is not JSON"],
    ["a header that is a JSON array", `${Buffer.from('["ES256"]').toString("base64url")}.${p}.AAAA`, "the JWS header is not a JSON object"],
    ["a header that is JSON null", `${Buffer.from("null").toString("base64url")}.${p}.AAAA`, "the JWS header is not a JSON object"],
    ["a crit header", `${Buffer.from('{"alg":"ES256","crit":["b64"],"b64":false}').toString("base64url")}.${p}.AAAA`, "the JWS header has a crit parameter"],
  ];
  for (const [name, token, text] of cases) {
    it(`${name} → malformed: ${text}`, async () => {
      const { v } = setup();
      expect(await check(v, token)).toEqual(refused("malformed", text));
    });
  }
});

describe("gate 3: signature over the raw on-wire bytes: RS256 (RSA ≥ 2048), ES256 (P-256, raw or DER)", () => {
  it("RS256 with an RSA-2048 anchor is accepted", async () => {
    const { v } = setup();
    expect(await check(v, mint(rsa.privateKey, goodClaims()))).toMatchObject({ ok: true });
  });

  it("ES256 with the signature as raw 64-byte r||s is accepted", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims(), { encoding: "raw" });
    expect(Buffer.from(token.split(".")[2]!, "base64url")).toHaveLength(64);
    expect(await check(v, token)).toMatchObject({ ok: true });
  });

  it("ES256 with the signature DER-encoded is accepted", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims(), { encoding: "der" });
    expect(Buffer.from(token.split(".")[2]!, "base64url")[0]).toBe(0x30);
    expect(await check(v, token)).toMatchObject({ ok: true });
  });

  it("every key of the pool is tried: a token of the second EC anchor verifies", async () => {
    const both = TrustAnchorPool.fromPem(otherEc.pem + rsa.pem + ec.pem, { now: () => NOW });
    const { v } = setup({ trustAnchors: both });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toMatchObject({ ok: true });
  });

  it("a token of a key outside the pool → signature_invalid", async () => {
    const { v } = setup();
    expect(await check(v, mint(otherEc.privateKey, goodClaims()))).toEqual(refused("signature_invalid", "the ES256 signature does not verify with any trust anchor"));
  });

  it("the signing input is the on-wire text: padded segments verify when the signature covers the padding, not when it does not", async () => {
    const { v } = setup();
    const claims = goodClaims();
    const pad = (s: string): string => s + "=".repeat((4 - (s.length % 4)) % 4);
    const h = pad(Buffer.from(JSON.stringify({ alg: "ES256", t: "a" })).toString("base64url")); // 23 bytes: one "="
    const p = pad(Buffer.from(JSON.stringify(claims)).toString("base64url"));
    expect(h.endsWith("=")).toBe(true);
    const { sign } = await import("node:crypto");
    const sig = sign("sha256", Buffer.from(`${h}.${p}`), { key: ec.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
    expect(await check(v, `${h}.${p}.${sig}`)).toMatchObject({ ok: true });
    // The same signature on the unpadded (re-encoded) segments does not verify.
    const { v: v2 } = setup();
    expect(await check(v2, `${h.replace(/=+$/, "")}.${p.replace(/=+$/, "")}.${sig}`)).toEqual(refused("signature_invalid"));
  });

  it("an RS256 token of an RSA-1024 key does not verify even when the key is offered to the verifier", () => {
    const token = mint(rsa1024.privateKey, goodClaims());
    const jws = parseCompactJws(token);
    if ("error" in jws) throw new Error(jws.error);
    const key1024 = parseCertificate(new Uint8Array(Buffer.from(rsa1024.pem.replace(/-----[^-]+-----|\s/g, ""), "base64"))).key;
    expect(verifyCompactJws(jws, { rsa: [key1024], ec: [] })).toBe(true); // the raw check would pass…
    // …which is why the pool refuses the anchor (see intune.trust-anchors.test.ts) and the verifier only sees keys ≥ 2048.
    expect(() => TrustAnchorPool.fromPem(rsa1024.pem, { now: () => NOW })).toThrow(/1024-bit RSA key; RS256 needs 2048 bits or more/);
  });

  it("RS256 is tried with RSA keys only, ES256 with EC keys only (an alg/key-type mix does not verify)", async () => {
    const { v } = setup();
    // header says RS256, signed with the EC key: no RSA key verifies it
    expect(await check(v, mint(ec.privateKey, goodClaims(), { alg: "RS256" }))).toEqual(refused("signature_invalid", "the RS256 signature does not verify with any trust anchor"));
    expect(await check(v, mint(rsa.privateKey, goodClaims(), { alg: "ES256" }))).toEqual(refused("signature_invalid", "the ES256 signature does not verify with any trust anchor"));
  });

  const unsigned = (header: Record<string, unknown>, sig = "AAAA"): string =>
    `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(goodClaims())).toString("base64url")}.${sig}`;
  for (const [name, header] of [
    ["alg none", { alg: "none" }],
    ["alg PS256", { alg: "PS256" }],
    ["alg ES384", { alg: "ES384" }],
    ["alg EdDSA", { alg: "EdDSA" }],
    ["lower-case es256", { alg: "es256" }],
    ["a missing alg", { typ: "JWT" }],
    ["a numeric alg", { alg: 256 }],
  ] as const) {
    it(`${name} → signature_invalid`, async () => {
      const { v } = setup();
      expect(await check(v, unsigned(header))).toEqual(refused("signature_invalid"));
    });
  }

  it("HS256 keyed with the anchor's public key PEM (the alg-confusion attack) → signature_invalid", async () => {
    const { v } = setup();
    const h = Buffer.from(JSON.stringify({ alg: "HS256" })).toString("base64url");
    const p = Buffer.from(JSON.stringify(goodClaims())).toString("base64url");
    const mac = createHmac("sha256", rsa.pem).update(`${h}.${p}`).digest("base64url");
    expect(await check(v, `${h}.${p}.${mac}`)).toEqual(refused("signature_invalid", 'signature algorithm "HS256" is not accepted (RS256, ES256)'));
  });

  it("a flipped signature bit → signature_invalid", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims());
    const sig = Buffer.from(token.split(".")[2]!, "base64url");
    sig[10]! ^= 0x01;
    expect(await check(v, `${token.split(".").slice(0, 2).join(".")}.${sig.toString("base64url")}`)).toEqual(refused("signature_invalid"));
  });
});

describe("gate 3 (claims): exact JSON types → malformed; strict mode requires iss, sub, aud, iat, exp, nonce", () => {
  for (const [name, payload, text] of [
    ["a payload that is not JSON", "{nope", "the token payload is not JSON"],
    ["a payload that is a JSON array", "[]", "the token payload is not a JSON object"],
    ["a payload that is a JSON string", '"x"', "the token payload is not a JSON object"],
    ["iat as a string", JSON.stringify(goodClaims({ iat: String(NOW_S) })), "claim iat must be an integer number of seconds"],
    ["exp as a float", JSON.stringify(goodClaims({ exp: NOW_S + 0.5 })), "claim exp must be an integer number of seconds"],
    ["aud as an array", JSON.stringify(goodClaims({ aud: ["https://scep.example.test/scep"] })), "claim aud must be a string"],
    ["iss as null", JSON.stringify(goodClaims({ iss: null })), "claim iss must be a string"],
    ["nonce as a number", JSON.stringify(goodClaims({ nonce: 7 })), "claim nonce must be a string"],
    ["device_name as an object", JSON.stringify(goodClaims({ device_name: {} })), "claim device_name must be a string"],
    ["san_dns as a string", JSON.stringify(goodClaims({ san_dns: DEVICE.cn })), "claim san_dns must be an array of strings"],
    ["san_upn holding a number", JSON.stringify(goodClaims({ san_upn: [1] })), "claim san_upn must be an array of strings"],
    ["version as a number", JSON.stringify(goodClaims({ version: 1 })), "claim version must be a string"],
  ] as const) {
    it(`${name} → malformed`, async () => {
      const { v } = setup();
      expect(await check(v, mint(ec.privateKey, undefined, { rawPayload: payload }))).toEqual(refused("malformed", text));
    });
  }

  it("claim keys are case-exact: ISS instead of iss is a missing iss", async () => {
    const { v } = setup();
    const { iss, ...rest } = goodClaims();
    expect(await check(v, mint(ec.privateKey, { ...rest, ISS: iss }))).toEqual(refused("malformed", "claim iss is required (strict mode)"));
  });

  it("strict mode (the default) refuses a signed {} — certctl accepts it", async () => {
    const { v } = setup({ audience: undefined, rateLimit: false });
    expect(await check(v, mint(ec.privateKey, {}))).toEqual(refused("malformed", "claim iss is required (strict mode)"));
  });

  for (const claim of ["iss", "sub", "aud", "iat", "exp", "nonce"]) {
    it(`strict mode: a token without ${claim} → malformed`, async () => {
      const { v } = setup();
      const claims = goodClaims();
      delete claims[claim];
      expect(await check(v, mint(ec.privateKey, claims))).toEqual(refused("malformed", `claim ${claim} is required (strict mode)`));
    });
  }

  for (const claim of ["iss", "sub", "aud", "nonce"]) {
    it(`strict mode: ${claim} as "" is no ${claim} → malformed (an empty nonce is never stored, so the token would be replayable until exp)`, async () => {
      const { v } = setup({ audience: undefined });
      const token = mint(ec.privateKey, goodClaims({ [claim]: "" }));
      const expected = refused("malformed", `claim ${claim} is required (strict mode) and must not be empty`);
      expect(await check(v, token)).toEqual(expected);
      expect(await check(v, token)).toEqual(expected); // not accepted the second time either
    });
  }

  it("strict: false accepts a signed {} (no audience configured), as certctl does", async () => {
    const { v } = setup({ strict: false, audience: undefined });
    expect(await check(v, mint(ec.privateKey, {}))).toEqual({ ok: true, data: { claims: {} }, release: expect.any(Function) }); // no nonce: the rate-limit hit
  });
});

describe("gate 4: version → unknown_version, naming the value", () => {
  it('"v2" → unknown_version', async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ version: "v2" })))).toEqual(refused("unknown_version", 'token version "v2" is not supported (v1)'));
  });
  it('"V1" (case differs) → unknown_version', async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ version: "V1" })))).toEqual(refused("unknown_version", 'token version "V1" is not supported (v1)'));
  });
  it('"", absent and "v1" are accepted', async () => {
    const { v } = setup();
    const { version: _, ...absent } = goodClaims();
    for (const claims of [goodClaims({ version: "" }), absent, goodClaims({ version: "v1" })]) expect(await check(v, mint(ec.privateKey, claims))).toMatchObject({ ok: true });
  });
});

describe("gate 5: time (skew 60 s; exp exclusive; maxValidity 60 min)", () => {
  it("iat = now + skew is accepted; iat = now + skew + 1 s → not_yet_valid", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S + 60 })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S + 61 })))).toEqual(refused("not_yet_valid", "the token is not valid yet (iat is in the future)"));
  });

  it("nbf (RFC 7519 §4.1.5, seconds) is honoured when present: nbf = now + skew is accepted; now + skew + 1 s → not_yet_valid; not an integer → malformed", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ nbf: NOW_S + 60 })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ nbf: NOW_S + 3_000 })))).toEqual(refused("not_yet_valid", "the token is not valid yet (nbf is in the future)"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ nbf: NOW_S + 61 })))).toEqual(refused("not_yet_valid", "the token is not valid yet (nbf is in the future)"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ nbf: String(NOW_S) })))).toEqual(refused("malformed", "claim nbf must be an integer number of seconds"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ nbf: NOW_S - 0.5 })))).toEqual(refused("malformed", "claim nbf must be an integer number of seconds"));
  });

  it("exp = now − skew → expired (exclusive); exp = now − skew + 1 s is accepted", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 600, exp: NOW_S - 60 })))).toEqual(refused("expired", "the token has expired"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 600, exp: NOW_S - 59 })))).toMatchObject({ ok: true });
  });

  it("now − iat = 60 min is accepted; 60 min + 1 s → expired, whatever exp says", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 3_600, exp: NOW_S + 86_400 })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 3_601, exp: NOW_S + 86_400 })))).toEqual(refused("expired", "the token was issued more than 3600 s ago"));
  });

  it("maxValidityMs: false lifts the cap; a custom skew applies", async () => {
    const { v } = setup({ maxValidityMs: false, clockSkewMs: 0 });
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 86_400, exp: NOW_S + 1 })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S + 1 })))).toEqual(refused("not_yet_valid"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ iat: NOW_S - 100, exp: NOW_S })))).toEqual(refused("expired"));
  });

  it("a token whose exp is years (or absurdly far) ahead is accepted once and then a replay, never a store error (503 for ever)", async () => {
    for (const options of [{ maxValidityMs: false as const }, { maxValidityMs: 31_536_000_000 }]) {
      const { v } = setup(options);
      for (const exp of [NOW_S + 2 * 365 * 86_400, 1e15]) {
        const token = mint(ec.privateKey, goodClaims({ iat: NOW_S, exp, nonce: `far-${exp}-${String(options.maxValidityMs)}` }));
        expect(await check(v, token)).toMatchObject({ ok: true });
        expect(await check(v, token)).toEqual(refused("replay"));
      }
    }
  });

  it("the injected clock decides: the same token is accepted, then expired after the clock moves past exp + skew", async () => {
    const { v, clock } = setup({ replayCache: new MemoryReplayCache({ now: () => NOW }) });
    const claims = goodClaims({ iat: NOW_S, exp: NOW_S + 300 });
    expect(await check(v, mint(ec.privateKey, { ...claims, nonce: "a" }))).toMatchObject({ ok: true });
    clock.t += 360_000;
    expect(await check(v, mint(ec.privateKey, { ...claims, nonce: "b" }))).toEqual(refused("expired"));
  });
});

describe("gate 6: audience → wrong_audience", () => {
  it("another audience → wrong_audience; a trailing slash is another audience", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ aud: "https://other.example.test/scep" })))).toEqual(refused("wrong_audience", "the token is for another audience"));
    expect(await check(v, mint(ec.privateKey, goodClaims({ aud: "https://scep.example.test/scep/" })))).toEqual(refused("wrong_audience"));
  });
  it("no audience configured: any aud is accepted", async () => {
    const { v } = setup({ audience: undefined });
    expect(await check(v, mint(ec.privateKey, goodClaims({ aud: "anything" })))).toMatchObject({ ok: true });
  });
});

describe("gate 7: CSR binding → claim_mismatch (a mismatch does not consume the nonce)", () => {
  it("device_name must equal the subject CN exactly (case-sensitive)", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ device_name: DEVICE.cn.toUpperCase() })))).toEqual(refused("claim_mismatch", "device_name does not equal the CSR subject CN"));
  });

  it("SAN sets compare trimmed, lower-cased, de-duplicated and order-free", async () => {
    const { v } = setup();
    const claims = goodClaims({
      san_dns: [" DEVICE-0001.example.test ", "device-0001.corp.example.test", "Device-0001.Corp.Example.Test"],
      san_rfc822: ["ALICE@example.test"],
      san_upn: ["  Alice@Corp.Example.Test"],
    });
    expect(await check(v, mint(ec.privateKey, claims))).toMatchObject({ ok: true });
  });

  for (const [name, claims, text] of [
    ["a dNSName missing from the CSR", { san_dns: [...DEVICE.san.dns, "extra.example.test"] }, "san_dns does not equal the CSR's SANs of that kind"],
    ["an extra dNSName in the CSR", { san_dns: [DEVICE.san.dns[0]] }, "san_dns does not equal the CSR's SANs of that kind"],
    ["another rfc822Name", { san_rfc822: ["mallory@example.test"] }, "san_rfc822 does not equal the CSR's SANs of that kind"],
    ["another UPN", { san_upn: ["mallory@corp.example.test"] }, "san_upn does not equal the CSR's SANs of that kind"],
    ["a UPN given as rfc822 (otherName UPN is its own kind)", { san_upn: [], san_rfc822: ["alice@corp.example.test"] }, "san_rfc822 does not equal the CSR's SANs of that kind"],
  ] as const) {
    it(`${name} → claim_mismatch`, async () => {
      const { v } = setup();
      expect(await check(v, mint(ec.privateKey, goodClaims(claims)))).toEqual(refused("claim_mismatch", text));
    });
  }

  it("a san_upn claim against a CSR whose UPN is only in an rfc822Name → claim_mismatch (the UPN otherName 1.3.6.1.4.1.311.20.2.3 is read, not guessed)", async () => {
    const { v } = setup();
    const noUpn = await csrWith(undefined, `CN=${DEVICE.cn}`, { dns: DEVICE.san.dns, email: [...DEVICE.san.email, ...DEVICE.san.upn] });
    expect(noUpn.subjectAltNames.upn).toEqual([]);
    expect(await check(v, mint(ec.privateKey, goodClaims({ san_rfc822: [] })), noUpn)).toEqual(refused("claim_mismatch", "san_upn does not equal the CSR's SANs of that kind"));
  });

  it("the CSR's UPN otherName is what matches san_upn", async () => {
    expect(csr.subjectAltNames.upn).toEqual(["alice@corp.example.test"]);
  });

  it("empty claim lists and an empty device_name are not checked", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ san_dns: [], san_rfc822: [], san_upn: [], device_name: "" })))).toMatchObject({ ok: true });
  });

  it("a token for another device is claim_mismatch and its nonce is not consumed: the right CSR then succeeds", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims({ nonce: "kept-after-mismatch" }));
    const other = await csrWith(undefined, "CN=device-0002.corp.example.test");
    expect(await check(v, token, other)).toEqual(refused("claim_mismatch"));
    expect(await check(v, token)).toMatchObject({ ok: true });
    expect(await check(v, token)).toEqual(refused("replay"));
  });
});

describe("gate 8: replay → replay", () => {
  it("the same token twice → replay, badMessageCheck", async () => {
    const { v } = setup();
    const token = mint(ec.privateKey, goodClaims());
    expect(await check(v, token)).toMatchObject({ ok: true });
    expect(await check(v, token)).toEqual(refused("replay", "the token was used before"));
  });

  it("another token with the same nonce → replay (the nonce is the key)", async () => {
    const { v } = setup();
    expect(await check(v, mint(ec.privateKey, goodClaims({ nonce: "shared" })))).toMatchObject({ ok: true });
    expect(await check(v, mint(rsa.privateKey, goodClaims({ nonce: "shared" })))).toEqual(refused("replay"));
    expect(await check(v, mint(rsa.privateKey, goodClaims({ nonce: "SHARED" })))).toMatchObject({ ok: true });
  });

  it("a nonce is remembered for the token's whole acceptable life even when replayTtlMs is shorter (iat in the future within the skew)", async () => {
    const { v, clock } = setup({ replayTtlMs: 1_000, rateLimit: false });
    const token = mint(ec.privateKey, goodClaims({ iat: NOW_S + 50, exp: NOW_S + 3_650 }));
    expect(await check(v, token)).toMatchObject({ ok: true });
    clock.t += 3_640_000; // 1 s TTL long gone; now − iat = 3590 s, exp not reached: still acceptable
    expect(await check(v, token)).toEqual(refused("replay"));
  });

  it("an empty nonce is never stored (strict: false): the token is accepted again", async () => {
    const { v } = setup({ strict: false, rateLimit: false });
    const token = mint(ec.privateKey, goodClaims({ nonce: "" }));
    expect(await check(v, token)).toMatchObject({ ok: true });
    expect(await check(v, token)).toMatchObject({ ok: true });
  });
});

describe("gate 9: rate limit (default 3 per 24 h per (sub, iss)) → rate_limited", () => {
  it("the fourth accepted enrollment of one device in 24 h → rate_limited; after the window it is accepted", async () => {
    const { v, clock } = setup({ maxValidityMs: 3_600_000 });
    const fresh = () => mint(ec.privateKey, goodClaims({ iat: Math.floor(clock.t / 1000), exp: Math.floor(clock.t / 1000) + 600 }));
    const first = clock.t;
    for (let i = 0; i < 3; i++) {
      expect(await check(v, fresh())).toMatchObject({ ok: true });
      clock.t += 3_600_000;
    }
    expect(await check(v, fresh())).toEqual(refused("rate_limited", "more than 3 enrollments of this device in 86400 s"));
    clock.t = first + 86_400_000; // the first one is exactly at the boundary: still counts
    expect(await check(v, fresh())).toEqual(refused("rate_limited"));
    clock.t = first + 86_400_001;
    expect(await check(v, fresh())).toMatchObject({ ok: true });
  });

  it("rejected attempts are not recorded: refusals by earlier gates and by the limiter itself leave the count alone", async () => {
    const limiter = new MemoryRateLimiter({ now: () => NOW });
    const { v } = setup({ rateLimiter: limiter, rateLimit: { max: 2, windowMs: 86_400_000 } });
    expect(await check(v, mint(ec.privateKey, goodClaims({ aud: "elsewhere" })))).toEqual(refused("wrong_audience"));
    const replayed = mint(ec.privateKey, goodClaims());
    expect(await check(v, replayed)).toMatchObject({ ok: true });
    expect(await check(v, replayed)).toEqual(refused("replay"));
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("rate_limited"));
    expect(await limiter.hit(JSON.stringify(["device-guid-0001", "connector-installation-1"]), { max: 5, windowMs: 86_400_000 })).toMatchObject({ allowed: true, count: 3 });
  });

  it("the (sub, iss) key is unambiguous: sub 'a|b' + iss 'c' and sub 'a' + iss 'b|c' are two devices", async () => {
    const { v } = setup({ rateLimit: { max: 1, windowMs: 86_400_000 } });
    expect(await check(v, mint(ec.privateKey, goodClaims({ sub: "a|b", iss: "c" })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ sub: "a", iss: "b|c" })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ sub: "a|b", iss: "c" })))).toEqual(refused("rate_limited"));
  });

  it("another device (sub) or another connector (iss) has its own count", async () => {
    const { v } = setup({ rateLimit: { max: 1, windowMs: 86_400_000 } });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ sub: "device-guid-0002" })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims({ iss: "connector-installation-2" })))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("rate_limited"));
  });
});

describe("gate 10: compliance hook → compliance_failed", () => {
  it("false → compliance_failed; the hook sees the claims and the CSR", async () => {
    const seen: unknown[] = [];
    const { v } = setup({ compliance: (claims, input) => (seen.push([claims.sub, input.csr.commonName]), false) });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("compliance_failed", "the device is not compliant"));
    expect(seen).toEqual([["device-guid-0001", DEVICE.cn]]);
  });

  it("a throw (or a rejected promise) → compliance_failed, not a crash", async () => {
    const { v } = setup({ compliance: () => { throw new Error("MDM down"); } });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("compliance_failed"));
    const { v: v2 } = setup({ compliance: async () => Promise.reject(new Error("MDM down")) });
    expect(await check(v2, mint(ec.privateKey, goodClaims()))).toEqual(refused("compliance_failed"));
  });

  it("a truthy non-boolean is not compliance: only true passes", async () => {
    const { v } = setup({ compliance: () => "yes" as unknown as boolean });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("compliance_failed"));
  });

  it("an enrollment refused by the hook does not count against the rate limit", async () => {
    let compliant = false;
    const { v } = setup({ rateLimit: { max: 1, windowMs: 86_400_000 }, compliance: () => compliant });
    for (let i = 0; i < 3; i++) expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("compliance_failed"));
    compliant = true;
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toMatchObject({ ok: true });
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toEqual(refused("rate_limited"));
  });
});

describe("gate order: the first failing gate names the reason", () => {
  it.each([
    ["a bad signature on an expired, wrong-audience token", () => { const t = mint(otherEc.privateKey, goodClaims({ exp: NOW_S - 600, iat: NOW_S - 900, aud: "x" })); return t; }, "signature_invalid"],
    ["an unknown version on an expired token", () => mint(ec.privateKey, goodClaims({ version: "v9", exp: NOW_S - 600, iat: NOW_S - 900 })), "unknown_version"],
    ["an expired token for another audience", () => mint(ec.privateKey, goodClaims({ exp: NOW_S - 600, iat: NOW_S - 900, aud: "x" })), "expired"],
    ["a wrong audience for another device", () => mint(ec.privateKey, goodClaims({ aud: "x", device_name: "other" })), "wrong_audience"],
    ["malformed claims on a good signature with an unknown version", () => mint(ec.privateKey, goodClaims({ version: "v9", iat: "soon" })), "malformed"],
  ] as const)("%s → %s", async (_name, token, reason) => {
    const { v } = setup();
    expect(await check(v, token())).toMatchObject({ ok: false, reason });
  });
});

describe("stores fail closed", () => {
  it("a replay cache that throws → validate rejects with ERR_STORE_UNAVAILABLE (the server answers 503), nothing accepted", async () => {
    const { v } = setup({ replayCache: { checkAndInsert: () => Promise.reject(new Error("ECONNREFUSED")) } });
    await expect(check(v, mint(ec.privateKey, goodClaims()))).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", message: "the replay cache is unavailable" });
  });
  it("a rate limiter that throws → ERR_STORE_UNAVAILABLE", async () => {
    const { v } = setup({ rateLimiter: { hit: () => Promise.reject(new Error("timeout")), release: async () => {} } });
    await expect(check(v, mint(ec.privateKey, goodClaims()))).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the rate limiter is unavailable" });
  });
  it("after the store recovers, the validator works again without a restart", async () => {
    let down = true;
    const inner = new MemoryReplayCache({ now: () => NOW });
    const { v } = setup({ replayCache: { checkAndInsert: (k, ttl) => (down ? Promise.reject(new Error("down")) : inner.checkAndInsert(k, ttl)) } });
    await expect(check(v, mint(ec.privateKey, goodClaims()))).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    down = false;
    expect(await check(v, mint(ec.privateKey, goodClaims()))).toMatchObject({ ok: true });
  });
});

describe("configuration errors are ERR_INTUNE_CONFIG, not silently off", () => {
  it.each([
    ["replayTtlMs 0", { replayTtlMs: 0 }],
    ["maxValidityMs 0", { maxValidityMs: 0 }],
    ["a negative skew", { clockSkewMs: -1 }],
    ["rate limit max 0", { rateLimit: { max: 0, windowMs: 1000 } }],
    ["rate limit window 0", { rateLimit: { max: 3, windowMs: 0 } }],
  ] as const)("%s", (_name, options) => {
    expect(() => new SignedTokenValidator(options as SignedTokenValidatorOptions)).toThrow(expect.objectContaining({ code: "ERR_INTUNE_CONFIG", name: "IntuneConfigError" }));
  });
});

describe("shape pre-check: more than 200 bytes and exactly two dots", () => {
  it("routes tokens, not passwords", () => {
    expect(looksLikeSignedToken(mint(ec.privateKey, goodClaims()))).toBe(true);
    expect(looksLikeSignedToken("a".repeat(199) + "..")).toBe(true); // 201 bytes
    expect(looksLikeSignedToken("a".repeat(198) + "..")).toBe(false); // 200 bytes
    expect(looksLikeSignedToken("a".repeat(300) + "...")).toBe(false);
    expect(looksLikeSignedToken("a".repeat(300) + ".")).toBe(false);
    expect(looksLikeSignedToken("correct horse battery staple")).toBe(false);
    expect(looksLikeSignedToken(undefined)).toBe(false);
    expect(looksLikeSignedToken("é".repeat(100) + "..")).toBe(true); // 202 UTF-8 bytes, 102 characters
  });
});
