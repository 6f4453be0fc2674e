/**
 * The NDES admin URL without its trailing slash (RFC 9110 §15.4: a redirect to the same origin is followed).
 *
 * IIS answers an authenticated GET of `/certsrv/mscep_admin` with 301 to `/certsrv/mscep_admin/` (a directory asked
 * without its slash): the IIS log of a challenge scraper shows 401, then the 301 to the authenticated request, then
 * 200 on `/certsrv/mscep_admin/` (certnanny/sscep#144, https://github.com/certnanny/sscep/issues/144). Our NDES
 * challenge source stopped at the 301 ("NDES admin page answered HTTP 301") for an `adminUrl` written without the
 * slash. It now follows a redirect to the same origin (scheme, host and port), a few hops at most, authenticating
 * again there; a redirect to another origin or from https to http is not followed (the credentials stay with the
 * host the operator named) and is the HTTP status error it was.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { NdesHttpStatusError } from "../src/challenge-sources/errors.js";
import { PAGE_CHALLENGE, challengePage, encodePage } from "./support/ndes-pages.js";
import { startNdesServer, type NdesServer, type NdesServerOptions } from "./support/ndes-server.js";

const PASSWORD = "Tr41ling slash!";
const servers: NdesServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function iis(o: Partial<NdesServerOptions> = {}): Promise<NdesServer> {
  const page = () => ({ status: 200, contentType: "text/html", body: encodePage(challengePage(), "utf-16le") });
  const s = await startNdesServer({ username: "svc-ndes", domain: "CORP", password: PASSWORD, auth: "ntlm", page, slashRedirect: (to) => to, ...o });
  servers.push(s);
  return s;
}

const ca = (adminUrl: string): CaConfig => ({
  name: "corp-ndes",
  type: "ndes",
  url: "http://127.0.0.1:1/certsrv/mscep/mscep.dll",
  ndes: { adminUrl, username: "CORP\\svc-ndes", password: PASSWORD },
});

const withoutSlash = (s: NdesServer): string => s.url.replace(/\/$/, "");

describe("NDES admin URL without its trailing slash: IIS's 301 is followed (sscep#144)", () => {
  it("…/mscep_admin → 301 → …/mscep_admin/ → the challenge, each request authenticated with NTLM", async () => {
    const s = await iis();
    const got = await new NdesChallengeSource().fetchChallenge(ca(withoutSlash(s)));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
    expect(s.log.filter((r) => r.outcome !== "challenge").map((r) => `${r.path} ${r.auth}:${r.outcome}`)).toEqual([
      "/certsrv/mscep_admin AUTHENTICATE:redirect",
      "/certsrv/mscep_admin/ AUTHENTICATE:ok",
    ]);
  });

  it("a relative Location (/certsrv/mscep_admin/) is followed too", async () => {
    const s = await iis({ slashRedirect: () => "/certsrv/mscep_admin/" });
    expect((await new NdesChallengeSource().fetchChallenge(ca(withoutSlash(s)))).challenge).toBe(PAGE_CHALLENGE);
  });

  it("a redirect to another origin is not followed: HTTP 301, and nothing is sent there", async () => {
    const other = await iis();
    const s = await iis({ slashRedirect: () => other.url });
    const e = await new NdesChallengeSource().fetchChallenge(ca(withoutSlash(s))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NdesHttpStatusError);
    expect([(e as NdesHttpStatusError).status, (e as Error).message]).toEqual([301, "NDES admin page answered HTTP 301"]);
    expect(other.log).toEqual([]);
  });

  it("a redirect that loops stops after a few hops with the HTTP status error", async () => {
    const s = await iis({ slashRedirect: (to) => to.replace(/\/$/, "") });
    const e = await new NdesChallengeSource().fetchChallenge(ca(withoutSlash(s))).catch((x: unknown) => x);
    expect((e as NdesHttpStatusError).status).toBe(301);
    expect(s.log.filter((r) => r.outcome === "redirect").length).toBe(4);
  });
});
