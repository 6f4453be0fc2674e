/**
 * The one line every command ends with when the CA answers FAILURE (exit 2): the failInfo, what it means, the CA's
 * own text, and what to check.
 *
 * @module
 */
import type { CertRep, FailInfo } from "@scep/core";
import { printable } from "./printable.js";

/** What each failInfo means (RFC 8894 §3.2.1.4.5), for the one-line FAILURE message. */
export const FAIL_INFO_WORDS: Record<FailInfo, string> = {
  badAlg: "the CA does not recognize or support an algorithm of the request",
  badMessageCheck: "the request failed the CA's integrity check (its signature, digest or encryption, or a replayed or unreadable challenge)",
  badRequest: "the CA does not permit or support this request",
  badTime: "the CA did not accept a time (the request's signingTime, a challenge that expired, or the validity of the certificate that signed it)",
  badCertId: "the CA has no certificate matching this issuer and serial",
};

/**
 * `FAILURE: <failInfo>: <meaning> (the CA said "<failInfoText>"); <hint>`, the CA's text {@link printable} (at most 120 characters), the parts in brackets only when there is
 * something to say. The meaning is {@link FAIL_INFO_WORDS}'s unless the command knows better (`meaning`, given the
 * failInfo); `hint` (given the failInfo and the CA's text) says what to check. A FAILURE without a failInfo is read
 * as badRequest, which is what RFC 8894 §3.2.1.4.5 has for "anything else".
 */
export function failureLine(
  rep: CertRep,
  explain: { meaning?: (failInfo: FailInfo) => string | undefined; hint?: (failInfo: FailInfo, failInfoText: string | undefined) => string | undefined } = {},
): string {
  const failInfo = rep.failInfo ?? "badRequest";
  const meaning = explain.meaning?.(failInfo) ?? FAIL_INFO_WORDS[failInfo] ?? "the CA refused the request";
  const said = rep.failInfoText ? ` (the CA said "${printable(rep.failInfoText, 120)}")` : "";
  const hint = explain.hint?.(failInfo, rep.failInfoText || undefined);
  return `FAILURE: ${failInfo}: ${meaning}${said}${hint ? `; ${hint}` : ""}`;
}
