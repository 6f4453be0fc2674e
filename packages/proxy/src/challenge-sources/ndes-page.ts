/**
 * Reading the NDES admin page (`/certsrv/mscep_admin/`): decoding its bytes
 * and extracting the one-time challenge password, or recognising the pages
 * NDES shows instead.
 *
 * @module
 */
import {
  NdesEmptyPageError,
  NdesPasswordCacheFullError,
  NdesPermissionError,
  NdesUnknownPageError,
} from "./errors.js";
import { MAX_CHALLENGE_CHARS } from "../lib/text.js";

/**
 * The encodings {@link decodeNdesAdminPage} recognises.
 *
 * @group Challenge sources
 */
export type NdesPageEncoding = "utf-16le" | "utf-16be" | "utf-8" | (string & {});

/**
 * Result of {@link parseNdesAdminPage}.
 *
 * @group Challenge sources
 */
export interface NdesAdminPage {
  /** The enrollment challenge password, as NDES printed it (typically 16 upper-case hex digits). */
  challenge: string;
  /** The encoding the page was decoded with. */
  encoding: NdesPageEncoding;
}

// The English wording (Windows Server en-US, and Okta's page). Read first; the page's structure (below) is the
// fallback that finds the challenge on NDES in other languages (never an error page's meaning).
const CHALLENGE_RE = /The\s+enrollment\s+challenge\s+password\s+is:\s*<B>\s*([^\s<]+)/i;
const CACHE_FULL = "the password cache is full";
const NO_PERMISSION = "you do not have sufficient permission to enroll with scep";

/*
 * The structure of NDES's admin pages, whatever their language. Observed on the en-US pages Fleet keeps as test data
 * (fleetdm/fleet ee/server/service/scep/sceptest/testdata/mscep_admin_{password,cache_full,insufficient_permissions}.html):
 *
 * - every page carries the ids of Microsoft's localisation tooling, `<LocID ID=locMSCertSrv>`, `<P ID=locPageTitle>`
 *   (the service's description) and `<P ID=locPageDesc>` (the help link): ids mark text for translation and are not
 *   translated themselves;
 * - the challenge page holds two `<B>` elements: the CA certificate's thumbprint as space-separated groups of 8 hex
 *   digits (`A656FA66 AB12B433 A2DA5CF7 CC153D9A`), then the password, one run of hex digits (PasswordLength random
 *   bytes, 8 by default: 16 digits). PSNDESEnrollment (Sleepw4lker/PSNDESEnrollment, Get-NDESOTP.ps1) reads the
 *   password the same way on any server language: the first run of 2 × PasswordLength hex digits in the page.
 *
 * Only a page with those ids is read by structure, and only a password that follows a thumbprint and is the one such
 * run is taken; anything else stays an unknown page. The structure finds the password only: NDES's error pages are
 * told apart by their English sentences alone. Their shape (the cache-full page's `<UL>` of remedies, the
 * no-permission page's one paragraph) is shared by every other NDES message (an English "cannot connect to the
 * certification authority" page has it too), so a page without a password and without a known sentence is an
 * unknown page, in any language: never a retryable cache-full nor a "fix the Enroll permission" verdict by guess.
 */
const NDES_LOC_ID = /\bID\s*=\s*["']?loc(?:MSCertSrv|PageTitle|PageDesc)\b/i;
const BOLD = /<B(?:\s[^<>]{0,100})?>([^<]{0,600})<\/B\s*>/gi;
const HEX_RUN = /^[0-9A-Fa-f]{8,255}$/;
const HEX_GROUPS = /^[0-9A-Fa-f]{2,64}(?:\s+[0-9A-Fa-f]{2,64}){1,15}$/;

/** The challenge on an NDES challenge page in any language, read from its structure; undefined when it is no NDES page or unclear. */
function challengeByStructure(text: string): string | undefined {
  if (!NDES_LOC_ID.test(text)) return undefined;
  const bold = [...text.matchAll(BOLD)].map((m) => (m[1] ?? "").replace(/&nbsp;/gi, " ").trim());
  const thumbprint = bold.findIndex((b) => HEX_GROUPS.test(b));
  if (thumbprint < 0) return undefined;
  const runs = bold.slice(thumbprint + 1).filter((b) => HEX_RUN.test(b));
  return runs.length === 1 ? runs[0] : undefined;
}

/** Charset parameter of a Content-Type header, lower-cased, or undefined. */
function headerCharset(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1]?.toLowerCase();
}

/** `<meta charset=…>` or `<meta http-equiv=Content-Type content="…; charset=…">` in the first 1024 bytes of an ASCII-compatible page. */
function metaCharset(body: Uint8Array): string | undefined {
  let head = "";
  for (let i = 0; i < Math.min(body.length, 1024); i++) head += String.fromCharCode(body[i] ?? 0);
  const m = /<meta[^>]*charset\s*=\s*["']?([A-Za-z0-9._:-]+)/i.exec(head);
  return m?.[1]?.toLowerCase();
}

/**
 * IIS serves NDES pages as UTF-16LE, often without a BOM and with a
 * Content-Type (and a `<meta>`) that says UTF-8. ASCII markup in UTF-16LE has
 * a NUL at every odd offset, which UTF-8 HTML never has: `<` followed by NUL,
 * or ≥ 90% NULs at odd offsets in the first 100 bytes.
 */
function looksLikeUtf16le(body: Uint8Array): boolean {
  if (body.length < 4) return false;
  if (body[0] === 0x3c && body[1] === 0x00) return true;
  const n = Math.min(body.length, 100);
  let nul = 0;
  let checked = 0;
  for (let i = 1; i < n; i += 2) {
    checked++;
    if (body[i] === 0) nul++;
  }
  return checked > 0 && nul / checked >= 0.9;
}

function normaliseLabel(label: string): string {
  if (label === "utf-16" || label === "unicode" || label === "ucs-2" || label === "utf-16le") return "utf-16le";
  if (label === "unicodefffe" || label === "utf-16be") return "utf-16be";
  if (label === "utf8") return "utf-8";
  return label;
}

function tryDecode(label: string, bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder(label, { fatal: false, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined; // unknown label, or an encoding this Node build lacks
  }
}

/**
 * Decodes the bytes of an NDES admin page to text. Order: a byte-order mark
 * (UTF-8, UTF-16LE, UTF-16BE); UTF-16LE by the shape of its bytes (IIS);
 * the Content-Type charset; a `<meta>` charset; UTF-8. Invalid sequences
 * become U+FFFD; this function never throws.
 *
 * @param body - The page's bytes as received (Content-Encoding already removed).
 * @param contentType - The response's Content-Type header, if any.
 * @returns The text and the encoding used.
 *
 * @example
 * ```ts
 * import { decodeNdesAdminPage } from "@scep/proxy";
 *
 * const bytes = new Uint8Array([0xff, 0xfe, 0x3c, 0x00, 0x42, 0x00, 0x3e, 0x00]);
 * decodeNdesAdminPage(bytes, "text/html"); // { text: "<B>", encoding: "utf-16le" }
 * ```
 * @group Challenge sources
 */
export function decodeNdesAdminPage(body: Uint8Array, contentType?: string | null): { text: string; encoding: NdesPageEncoding } {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    return { text: new TextDecoder("utf-8").decode(body), encoding: "utf-8" };
  }
  if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) {
    return { text: new TextDecoder("utf-16le").decode(body), encoding: "utf-16le" };
  }
  if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) {
    const text = tryDecode("utf-16be", body);
    if (text !== undefined) return { text, encoding: "utf-16be" };
  }
  if (looksLikeUtf16le(body)) return { text: new TextDecoder("utf-16le").decode(body), encoding: "utf-16le" };
  for (const label of [headerCharset(contentType), metaCharset(body)]) {
    if (!label) continue;
    const name = normaliseLabel(label);
    const text = tryDecode(name, body);
    if (text !== undefined) return { text, encoding: name };
  }
  return { text: new TextDecoder("utf-8").decode(body), encoding: "utf-8" };
}

/** Lower-case text with tags removed and whitespace runs collapsed, for matching NDES's sentences. */
function plain(text: string): string {
  return text
    .replace(/<[^>]{0,200}>/g, " ")
    .replace(/&nbsp;/gi, " ")
    .replace(/\s+/g, " ")
    .toLowerCase();
}

function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c === 0x7f || c === 0xfffd) return false;
  }
  return true;
}

/**
 * Extracts the enrollment challenge password from the bytes of NDES's admin
 * page (`The enrollment challenge password is: <B> 8CE317021F690069 </B>`),
 * decoding them with {@link decodeNdesAdminPage}. An NDES that runs in another
 * language than English (German, French, Japanese…) is read by the page's
 * structure, not its words: on a page with NDES's localisation ids
 * (`ID=locPageTitle`, `ID=locPageDesc`, `ID=locMSCertSrv`), the one `<B>` run
 * of 8–255 hex digits after the CA thumbprint's `<B>` (groups of hex digits) is
 * the challenge. NDES's error pages are recognised by their English sentences
 * only: a page without a challenge in another language (or with an English
 * sentence this parser does not know) is `ERR_PROXY_NDES_UNKNOWN_PAGE`, not a
 * guess from its layout. When that reading finds
 * neither a challenge nor a known NDES page, the other plausible readings
 * (UTF-8, UTF-16LE) are tried too, so a front end whose charset header lies
 * (a gateway that re-encodes IIS's UTF-16LE page but keeps its header, or the
 * reverse) still works. Pure: no I/O, no clock; the NDES challenge source
 * calls it on every 2xx response.
 *
 * @param body - The page's bytes.
 * @param contentType - The response's Content-Type header, if any.
 * @returns The challenge and the encoding the page came in.
 * @throws {@link NdesEmptyPageError} (`ERR_PROXY_NDES_EMPTY`) for an empty or blank page.
 * @throws {@link NdesPasswordCacheFullError} (`ERR_PROXY_NDES_CACHE_FULL`, retryable) for "The password cache is full" (English text only).
 * @throws {@link NdesPermissionError} (`ERR_PROXY_NDES_PERMISSION`) for "You do not have sufficient permission to enroll with SCEP" (English text only).
 * @throws {@link NdesUnknownPageError} (`ERR_PROXY_NDES_UNKNOWN_PAGE`) for any other page, or a challenge that is not 1–255 printable characters.
 * Never anything else, for any input (property-tested).
 *
 * @example
 * ```ts
 * import { parseNdesAdminPage } from "@scep/proxy";
 *
 * const page = "<P> The enrollment challenge password is: <B> 8CE317021F690069 </B> <P>";
 * const { challenge } = parseNdesAdminPage(new TextEncoder().encode(page), "text/html; charset=utf-8");
 * // challenge === "8CE317021F690069"
 * ```
 * @group Challenge sources
 */
export function parseNdesAdminPage(body: Uint8Array, contentType?: string | null): NdesAdminPage {
  const primary = decodeNdesAdminPage(body, contentType);
  if (primary.text.replace(/[\s\u0000\ufeff]/g, "").length === 0) {
    throw new NdesEmptyPageError(`NDES admin page is empty (${body.length} bytes)`);
  }
  const readings = [primary];
  for (const encoding of ["utf-8", "utf-16le"] as const) {
    if (encoding !== primary.encoding) readings.push({ text: new TextDecoder(encoding).decode(body), encoding });
  }
  let found: Error | undefined;
  const cacheFull = (): Error =>
    new NdesPasswordCacheFullError(
      "NDES password cache is full: every cached challenge is unused and unexpired (NDES keeps 5 for 60 minutes by default); retry later or raise PasswordMax",
    );
  const noPermission = (): Error => new NdesPermissionError("NDES refused the account: it lacks permission to enroll with SCEP (Enroll on the NDES templates)");
  for (const { text, encoding } of readings) {
    const m = CHALLENGE_RE.exec(text);
    if (m) {
      const challenge = m[1] ?? "";
      if (challenge.length <= MAX_CHALLENGE_CHARS && printable(challenge)) return { challenge, encoding };
      found ??= new NdesUnknownPageError(`NDES admin page holds a challenge that is not 1-255 printable characters (${body.length} bytes, ${encoding})`);
      continue;
    }
    const words = plain(text);
    if (words.includes(CACHE_FULL)) {
      found ??= cacheFull();
      continue;
    }
    if (words.includes(NO_PERMISSION)) {
      found ??= noPermission();
      continue;
    }
    // Not in English: NDES in another language, whose challenge page is read by its structure. Its error pages are
    // not: their shape is every NDES message's (see challengeByStructure), so they stay unknown pages.
    const challenge = challengeByStructure(text);
    if (challenge !== undefined) return { challenge, encoding };
  }
  throw found ?? new NdesUnknownPageError(`NDES admin page holds no challenge and is not a known NDES page (${body.length} bytes, ${primary.encoding})`);
}
