// Text limits shared by the identifier, the CA registry and the challenge sources.

/** C0 controls and DEL (not C1: U+0080–U+009F are legal in a UTF8String challenge or a name). */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** A lone UTF-16 surrogate: text with one has no UTF-8, so it could only be sent as U+FFFD (another text). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest challengePassword, in characters: PKCS#9 `ub-challenge-password` (RFC 2985 §5.4.1). */
export const MAX_CHALLENGE_CHARS = 255;
