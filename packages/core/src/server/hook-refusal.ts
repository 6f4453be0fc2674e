/**
 * A hook's refusal as a CertRep and an event can carry it. The issue hook's FAILURE, a custom challenge validator's
 * `{ ok: false }`, a challenge webhook's `allow: false` and a confirm hook's veto all name a reason label, a failInfo
 * and a text for the client; each is JavaScript (or JSON) the server does not control. A failInfo outside RFC 8894
 * §3.2.1.4.5's five, or a text that is not a string, made the CertRep unbuildable (HTTP 500, and for a recorded
 * REJECTED transaction a 500 on every CertPoll after). Each value is taken when it is what the field holds, else the
 * caller's default.
 *
 * @module
 */
import type { FailInfo } from "../errors.js";
import { isFailInfo } from "../message/types.js";

/** What a refusal becomes on the wire (failInfo, failInfoText: RFC 8894 §3.2.1.4.5, §3.2.1.4.6) and in events (`reason`). */
export interface Refusal {
  reason: string;
  failInfo: FailInfo;
  failInfoText: string;
}

/** A stable event label: ASCII letters, digits and `_`, 1 to 64 characters (no space, punctuation or free text). */
const LABEL = /^[A-Za-z0-9_]{1,64}$/;

/**
 * `value` when it is a stable event label (`[A-Za-z0-9_]{1,64}`: ASCII letters, digits and `_`, as `key_compromised`
 * or Intune's `ChallengeExpired`), else `fallback`.
 */
export function refusalReason(value: unknown, fallback: string): string {
  return typeof value === "string" && LABEL.test(value) ? value : fallback;
}

/** `value` when it is one of RFC 8894 §3.2.1.4.5's failInfo names, else `badRequest`. */
export function refusalFailInfo(value: unknown): FailInfo {
  return isFailInfo(value) ? value : "badRequest";
}

/** `value` when it is a non-empty string, else `fallback` (a number or an object is not sent as "42" or "[object Object]"). */
export function refusalText(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

/**
 * A hook's refusal with each field checked: `reason` a stable label, `failInfo` one of the five names (else
 * badRequest), `failInfoText` a non-empty string; what is not becomes the default given.
 */
export function hookRefusal(
  given: { reason?: unknown; failInfo?: unknown; failInfoText?: unknown },
  defaults: { reason: string; failInfoText: string },
): Refusal {
  return {
    reason: refusalReason(given.reason, defaults.reason),
    failInfo: refusalFailInfo(given.failInfo),
    failInfoText: refusalText(given.failInfoText, defaults.failInfoText),
  };
}
