/**
 * NDES admin pages (`/certsrv/mscep_admin/`) for tests, generated here rather
 * than captured: the sentences are the ones NDES (Windows Server 2016–2022,
 * en-US) prints, as reported from the field (Fleet's SCEP proxy matches the
 * same three sentences: fleetdm/fleet ee/server/service/scep/scep_proxy.go);
 * the surrounding markup is a reconstruction of NDES's page shape (upper-case
 * tags, `<Meta HTTP-Equiv=Content-Type … charset=UTF-8>` even when IIS sends
 * the page as UTF-16LE). Encodings are produced by `encodePage`.
 */

const HEAD =
  '<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8"><Title>Network Device Enrollment Service</Title></Head>' +
  '<Body BgColor=#FFFFFF><Font ID=locPageFont Face="Arial"><P ID=locPageTitle> Network Device Enrollment Service allows you to obtain ' +
  "certificates for routers or other network devices using the Simple Certificate Enrollment Protocol (SCEP). </P>";
const TAIL = "<P ID=locPageDesc> For more information see Using Network Device Enrollment Service. </P></Font></Body></HTML>";

/** The challenge the test pages carry (NDES prints 16 upper-case hex digits). */
export const PAGE_CHALLENGE = "8CE317021F690069";

/** The page NDES shows with a fresh challenge. */
export function challengePage(challenge: string = PAGE_CHALLENGE): string {
  return (
    HEAD +
    "<P> To complete certificate enrollment for your network device you will need the following information: " +
    "<P> The thumbprint (hash value) for the CA certificate is: <B> 1B2C3D4E 5F607182 93A4B5C6 D7E8F901 </B> " +
    `<P> The enrollment challenge password is: <B> ${challenge} </B> ` +
    "<P> This password can be used only once and will expire within 60 minutes. " +
    "<P> Each enrollment requires a new challenge password. You can refresh this web page to obtain a new challenge password. </P> " +
    TAIL
  );
}

/** The page NDES shows when its password cache (5 unused challenges by default) is full. */
export const CACHE_FULL_PAGE =
  HEAD +
  "<P> The password cache is full. <P> Network Device Enrollment Service stores unused password for later use. " +
  "By default, passwords are stored for 60 minutes.<P>Use one of the existing passwords. If you cannot use an existing password: " +
  "<UL> <LI> Wait until one or more existing passwords expire. </LI> <LI> Restart Internet Information Services (IIS). </LI> " +
  "<LI> Configure the service to cache more than 5 passwords. </LI> </UL> </P> " +
  TAIL;

/** The page NDES shows to an account without Enroll permission. */
export const NO_PERMISSION_PAGE =
  HEAD + "<P> You do not have sufficient permission to enroll with SCEP.  Please contact your system administrator. </P> " + TAIL;

/** A page that is none of NDES's (an access gateway's login form). */
export const LOGIN_PAGE = '<html><head><title>Sign in</title></head><body><form method="post"><input name="username"></form></body></html>';

/** How a page goes on the wire. */
export type PageEncoding = "utf-8" | "utf-8-bom" | "utf-16le" | "utf-16le-bom";

/** The bytes of `html` in `encoding`. */
export function encodePage(html: string, encoding: PageEncoding): Uint8Array {
  switch (encoding) {
    case "utf-8":
      return new TextEncoder().encode(html);
    case "utf-8-bom":
      return new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(html)]);
    case "utf-16le":
      return new Uint8Array(Buffer.from(html, "utf16le"));
    case "utf-16le-bom":
      return new Uint8Array([0xff, 0xfe, ...Buffer.from(html, "utf16le")]);
  }
}

/** Every real page variant, for seeding fuzzers. */
export const REAL_PAGES: readonly string[] = [challengePage(), CACHE_FULL_PAGE, NO_PERMISSION_PAGE, LOGIN_PAGE];
