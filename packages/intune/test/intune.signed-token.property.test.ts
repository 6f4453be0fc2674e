/**
 * INTUNE.md "Bad input": any challenge string — random text, random bytes as
 * latin1, mutations of a valid token — gets a refusal verdict with a reason
 * label of the spec and its mapped failInfo; validate never throws and never
 * accepts anything but the untouched token (fast-check).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { SIGNED_TOKEN_FAIL_INFO, SignedTokenValidator, TrustAnchorPool } from "../src/index.js";
import { NOW, anchor, csrWith, goodClaims, mint, type Anchor } from "./support/tokens.js";

let ec: Anchor;
let pool: TrustAnchorPool;
let csr: CertificationRequest;
let token: string;

beforeAll(async () => {
  ec = await anchor("p256");
  pool = TrustAnchorPool.fromPem(ec.pem, { now: () => NOW });
  csr = await csrWith(undefined);
  token = mint(ec.privateKey, goodClaims({ nonce: "property-nonce" }));
});

const validator = (): SignedTokenValidator => new SignedTokenValidator({ trustAnchors: pool, audience: "https://scep.example.test/scep", now: () => NOW, rateLimit: false });

async function expectRefusal(v: SignedTokenValidator, challenge: string): Promise<void> {
  const verdict = await v.validate({ challenge, csr, request: { transactionId: "P" } });
  expect(verdict.ok).toBe(false);
  if (verdict.ok) return;
  expect(Object.keys(SIGNED_TOKEN_FAIL_INFO)).toContain(verdict.reason);
  expect(verdict.failInfo).toBe(SIGNED_TOKEN_FAIL_INFO[verdict.reason as keyof typeof SIGNED_TOKEN_FAIL_INFO]);
  expect(verdict.failInfoText.length).toBeGreaterThan(0);
  // The text never echoes the challenge (a token is a credential).
  if (challenge.length >= 16) expect(verdict.failInfoText).not.toContain(challenge.slice(0, 16));
}

describe("any challenge gets a typed refusal, never a throw", () => {
  it("arbitrary strings (full Unicode)", async () => {
    const v = validator();
    await fc.assert(fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 400 }), (s) => expectRefusal(v, s)), { numRuns: 300 });
  });

  it("three arbitrary segments joined by dots", async () => {
    const v = validator();
    const seg = fc.string({ unit: fc.constantFrom(..."ABCxyz019-_=+/. {}\"".split("")), maxLength: 60 });
    await fc.assert(fc.asyncProperty(seg, seg, seg, (a, b, c) => expectRefusal(v, `${a}.${b}.${c}`)), { numRuns: 300 });
  });

  it("base64url of arbitrary JSON-ish headers and payloads with a random signature", async () => {
    const v = validator();
    const b64 = (x: unknown): string => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.string()), fc.oneof(fc.jsonValue(), fc.string()), fc.uint8Array({ minLength: 1, maxLength: 300 }), (h, p, sig) =>
        expectRefusal(v, `${b64(h)}.${b64(p)}.${Buffer.from(sig).toString("base64url")}`),
      ),
      { numRuns: 300 },
    );
  });

  it("one changed character anywhere in a valid token is refused (the untouched token is accepted once)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.constantFrom(..."AQgw09-_.=x".split("")), async (i, ch) => {
        fc.pre(token[i] !== ch);
        const mutated = token.slice(0, i) + ch + token.slice(i + 1);
        // Two base64url strings can decode to the same bytes (the unused low bits of the last character):
        // such a mutation is the same token, so it is skipped rather than called a forgery.
        const same = mutated.split(".").length === 3 && mutated.split(".").every((s, k) => Buffer.from(s, "base64url").equals(Buffer.from(token.split(".")[k]!, "base64url")));
        fc.pre(!same);
        await expectRefusal(validator(), mutated);
      }),
      { numRuns: 300 },
    );
    expect((await validator().validate({ challenge: token, csr, request: { transactionId: "P" } })).ok).toBe(true);
  });
});
