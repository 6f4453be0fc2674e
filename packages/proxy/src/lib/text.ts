// Text limits and checks shared by the identifier, the CA registry, the upstream and the challenge sources.

/** C0 controls and DEL (not C1: U+0080–U+009F are legal in a UTF8String challenge or a name). */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** A lone UTF-16 surrogate: text with one has no UTF-8, so it could only be sent as U+FFFD (another text). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest challengePassword, in characters: PKCS#9 `ub-challenge-password` (RFC 2985 §5.4.1). */
export const MAX_CHALLENGE_CHARS = 255;

/**
 * Whether a challenge webhook's 200 answer is an HTML document: it opens, after optional white space, with
 * `<!DOCTYPE html` or `<html` (case-insensitive). Only those two: a challenge is free text and may itself start with
 * `<` (unlike caps: @scep/core's `capsTextIsMarkup`), so a lone `<` proves nothing. Judged by the body only: Express's
 * `res.send(string)` and Flask answer a plain challenge as `text/html`, so the Content-Type says nothing.
 */
export function opensAsHtmlDocument(challengeText: string): boolean {
  return /^\s*<(?:!doctype\s+html|html)\b/i.test(challengeText);
}

/**
 * A character no HTTP field value may hold (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB): a control character but a tab,
 * DEL, or one past U+00FF (`fetch` and `Headers` carry a value as bytes and refuse a CR, LF or NUL, or a character past
 * U+00FF, with a TypeError).
 */
export const NOT_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
