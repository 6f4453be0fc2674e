/**
 * X.680 §41.4, RFC 2985 §5.4.1: Windows' SCEP CSP puts the challenge it is given into the CSR as a PrintableString and
 * fails the enrollment on the device, after acknowledging the profile, when a character is outside that alphabet.
 * Fleet fixed its own one-time challenges (fleetdm/fleet#46990, https://github.com/fleetdm/fleet/issues/46990;
 * fleetdm/fleet#47492, https://github.com/fleetdm/fleet/issues/47492), then met the same failure with challenges
 * fetched from a dynamic source (Okta's), which hold `! @ # $ % ^ & * , ( ) _` at random, so Windows enrollments
 * failed "erratically" (fleetdm/fleet#49552, https://github.com/fleetdm/fleet/issues/49552).
 *
 * Ours: our own challenges fit (core's newChallenge, field.challenge-printable-string.test.ts), but a challenge
 * fetched from a webhook was handed on with nothing to tell the MDM it cannot go to a Windows device. Every
 * ChallengeSource of this package now says so (`printableString`), with `fitsPrintableString` for a source of the
 * MDM's own. Real webhook on loopback (any body it answers is the challenge, as Smallstep's).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPrintableString } from "@scep/core";
import { MemoryChallengeSource, SmallstepChallengeSource, fitsPrintableString, type CaConfig } from "../src/index.js";

let server: Server;
let next = "";
let url = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end(next));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/challenge`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const ca = (): CaConfig => ({ name: "okta", type: "smallstep", url: "https://scep.example.test/scep", smallstep: { webhookUrl: url, username: "mdm", password: "pw" } });

describe("X.680 §41.4: a fetched challenge says whether Windows can send it (fleet#49552, fleet#46990, fleet#47492)", () => {
  it("webhook challenges with `!`, `@`, `#`, `_`, `*` or `&` → printableString false; letters, digits and `'()+,-./:=?` and space → true", async () => {
    const source = new SmallstepChallengeSource();
    const seen: [string, boolean | undefined][] = [];
    for (const challenge of ["Fleet-SCEP-2026", "a'b(c)d+e,f-g.h/i:j=k?l m", "Fleet_SCEP_Test_2026", "x!y", "x@y", "x#y", "x*y", "x&y", "défi-42"]) {
      next = challenge;
      const fetched = await source.fetchChallenge(ca());
      expect(fetched.challenge).toBe(challenge); // handed on unchanged either way
      seen.push([challenge, fetched.printableString]);
    }
    expect(seen).toEqual([
      ["Fleet-SCEP-2026", true],
      ["a'b(c)d+e,f-g.h/i:j=k?l m", true],
      ["Fleet_SCEP_Test_2026", false],
      ["x!y", false],
      ["x@y", false],
      ["x#y", false],
      ["x*y", false],
      ["x&y", false],
      ["défi-42", false],
    ]);
  });

  it("MemoryChallengeSource: its generated challenges fit; a configured one is judged as it is", async () => {
    const generated = await new MemoryChallengeSource().fetchChallenge(ca());
    expect(generated.printableString).toBe(true);
    expect((await new MemoryChallengeSource({ challenge: "pass_word" }).fetchChallenge(ca())).printableString).toBe(false);
    expect([fitsPrintableString("8CE317021F690069"), fitsPrintableString(""), fitsPrintableString("a_b")]).toEqual([true, true, false]);
  });
});

describe("fitsPrintableString is @scep/core's isPrintableString (one alphabet, not two copies)", () => {
  it("agrees with it on every UTF-16 code unit and on whole strings", () => {
    for (let c = 0; c <= 0xffff; c++) {
      const s = String.fromCharCode(c);
      if (fitsPrintableString(s) !== isPrintableString(s)) expect([c, fitsPrintableString(s)]).toEqual([c, isPrintableString(s)]);
    }
    for (const s of ["", "8CE317021F690069", "a_b!c", "Ab 0'()+,-./:=?"]) expect(fitsPrintableString(s)).toBe(isPrintableString(s));
  });
});
