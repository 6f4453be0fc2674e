/**
 * NDES in another language than English (German, French, Japanese servers): the admin page's sentences are
 * translated, so the English wording finds nothing. The parser reads such a challenge page by its structure
 * (ndes-page.ts: the localisation ids, the password's `<B>` after the thumbprint's), in UTF-16LE as IIS sends it and
 * in UTF-8 as a gateway does. Error pages are not classified by their shape: the cache-full page's `<UL>` and the
 * no-permission page's one paragraph are also the shape of NDES's other messages, English ones included ("cannot
 * connect to the certification authority" was taken for a permission fault), so a page without a challenge and
 * without a known English sentence is ERR_PROXY_NDES_UNKNOWN_PAGE. The pages are support/ndes-pages.ts' `LOCALIZED`: NDES's markup with
 * our own translations (no localized NDES page could be sourced; see that file), so nothing here leans on the words.
 * The German page also goes through NdesChallengeSource against the NTLMv2 stand-in on loopback.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { parseNdesAdminPage } from "../src/challenge-sources/ndes-page.js";
import {
  LOCALIZED,
  PAGE_CHALLENGE,
  PAGE_THUMBPRINT,
  cacheFullPageIn,
  challengePageIn,
  encodePage,
  englishMessagePage,
  noPermissionPageIn,
  type PageEncoding,
} from "./support/ndes-pages.js";
import { startNdesServer, type NdesServer } from "./support/ndes-server.js";

const ENCODINGS: PageEncoding[] = ["utf-16le", "utf-16le-bom", "utf-8", "utf-8-bom"];
const LANGUAGES = Object.entries(LOCALIZED);

/** The parser's outcome: the challenge, or the error's code and whether it is retryable. */
function outcome(page: string, encoding: PageEncoding, contentType = "text/html"): string {
  try {
    return `challenge:${parseNdesAdminPage(encodePage(page, encoding), contentType).challenge}`;
  } catch (e) {
    const err = e as { code?: string; retryable?: boolean };
    return `${err.code ?? `untyped:${String(e)}`}${err.retryable ? " (retryable)" : ""}`;
  }
}

describe("NDES admin page in another language: the challenge read by its structure", () => {
  for (const [lang, words] of LANGUAGES) {
    it.each(ENCODINGS)(`${lang}: the challenge page (%s) gives the challenge, not the thumbprint`, (enc) => {
      expect(outcome(challengePageIn(words), enc)).toBe(`challenge:${PAGE_CHALLENGE}`);
      expect(outcome(challengePageIn(words, "0123456789ABCDEF0123456789ABCDEF"), enc)).toBe("challenge:0123456789ABCDEF0123456789ABCDEF");
    });
    it.each(ENCODINGS)(`${lang}: the cache-full and no-permission pages (%s) → ERR_PROXY_NDES_UNKNOWN_PAGE, not guessed from their shape`, (enc) => {
      expect(outcome(cacheFullPageIn(words), enc)).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
      expect(outcome(noPermissionPageIn(words), enc)).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
    });
  }

  it("the encoding the page came in is reported (UTF-16LE from IIS with a header that says UTF-8)", () => {
    const body = encodePage(challengePageIn(LOCALIZED["ja-JP"]), "utf-16le");
    expect(parseNdesAdminPage(body, "text/html; charset=utf-8")).toEqual({ challenge: PAGE_CHALLENGE, encoding: "utf-16le" });
  });
});

describe("NDES's page shape alone is no verdict on an error page", () => {
  // An English NDES message the parser does not know, in the NDES template (no <B>): one paragraph was taken for
  // the no-permission page (not retryable: "fix Enroll"), the same with a list for the cache-full page (retryable).
  const CANNOT_CONNECT = "The Network Device Enrollment Service cannot connect to the certification authority.";
  it.each([
    ["one paragraph", englishMessagePage(`<P> ${CANNOT_CONNECT} </P>`)],
    ["a paragraph with a list", englishMessagePage(`<P> ${CANNOT_CONNECT} <UL> <LI> Check that the CA is running. </LI> <LI> Restart IIS. </LI> </UL> </P>`)],
  ])("an unknown English NDES page (%s) → ERR_PROXY_NDES_UNKNOWN_PAGE, not retryable", (_name, html) => {
    for (const enc of ENCODINGS) expect(outcome(html, enc)).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
  });
});

describe("NDES admin page in another language: what is not taken for a challenge", () => {
  const de = LOCALIZED["de-DE"];
  const page = challengePageIn(de);

  it.each([
    ["no NDES localisation ids (a gateway's page with a thumbprint and a hex run in bold)", page.replace(/ID=loc\w+/g, "ID=x").replace("<LocID", "<Span").replace("</LocID>", "</Span>")],
    ["no thumbprint before the password", page.replace(`<B> ${PAGE_THUMBPRINT} </B>`, "")],
    ["two hex runs in bold after the thumbprint", page.replace("</B> <P>", `</B> <B> ABCDEF0123456789 </B> <P>`).replace(`<B> ${PAGE_CHALLENGE} </B>`, `<B> ${PAGE_CHALLENGE} </B> <B> 0011223344556677 </B>`)],
    ["a password that is not hex", challengePageIn(de, "not-a-hex-password")],
    ["a password under 8 digits", challengePageIn(de, "ABC123")],
    ["a page with the ids and neither a list nor a single paragraph", noPermissionPageIn(de).replace("</P> <P ID=locPageDesc>", "<P> Noch ein Absatz. </P> <P ID=locPageDesc>")],
    ["a page with the ids and a bold word but no thumbprint", noPermissionPageIn(de).replace("SCEP", "<B>SCEP</B>")],
  ])("%s → ERR_PROXY_NDES_UNKNOWN_PAGE", (_name, html) => {
    for (const enc of ["utf-16le", "utf-8"] as const) expect(outcome(html, enc)).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
  });

  it("no error message holds the page's text or the challenge", () => {
    for (const [, words] of LANGUAGES) {
      for (const html of [cacheFullPageIn(words), noPermissionPageIn(words), challengePageIn(words, "nothex!")]) {
        try {
          parseNdesAdminPage(encodePage(html, "utf-16le"));
          expect.unreachable();
        } catch (e) {
          expect((e as Error).message).not.toContain(words.title);
          expect((e as Error).message).not.toContain("nothex");
        }
      }
    }
  });
});

describe("NdesChallengeSource with a German NDES over NTLMv2 (loopback)", () => {
  const PASSWORD = "Kennwort für den Dienst";
  let s: NdesServer | undefined;
  afterAll(async () => {
    await s?.close();
  });
  const ca = (adminUrl: string): CaConfig => ({
    name: "corp-ndes-de",
    type: "ndes",
    url: "http://127.0.0.1:1/certsrv/mscep/mscep.dll",
    ndes: { adminUrl, username: "CORP\\svc-ndes", password: PASSWORD },
  });

  it("fetches the challenge from the UTF-16LE page; the German cache-full page is an unknown page, not retried", async () => {
    let page = challengePageIn(LOCALIZED["de-DE"]);
    s = await startNdesServer({ username: "svc-ndes", domain: "CORP", password: PASSWORD, auth: "ntlm", page: () => ({ status: 200, contentType: "text/html; charset=utf-8", body: encodePage(page, "utf-16le") }) });
    const source = new NdesChallengeSource({ now: () => new Date("2026-12-02T12:00:00Z") });
    expect(await source.fetchChallenge(ca(s.url))).toMatchObject({ challenge: PAGE_CHALLENGE, printableString: true });
    page = cacheFullPageIn(LOCALIZED["de-DE"]);
    await expect(source.fetchChallenge(ca(s.url))).rejects.toMatchObject({ code: "ERR_PROXY_NDES_UNKNOWN_PAGE", retryable: false });
  });
});
