/**
 * Text a server chose (a failInfoText, an HTTP error page, a capability list), made safe to quote in a terminal line.
 *
 * @module
 */

/** Whether a code point is printable ASCII (U+0020 to U+007E). */
const isPrintableAscii = (cp: number): boolean => cp >= 0x20 && cp <= 0x7e;

/**
 * `text` as one short line of printable ASCII: runs of whitespace (newlines included) become one space, every other
 * control or non-ASCII character is escaped (`\x1b`, `\u00e9`, `\ufffd` for a byte that was not UTF-8), and the result
 * is cut to `max` characters (default 80) with a trailing `…`, between two characters of `text`, never inside an
 * escape (`\x1…` would read as another character). A server's text can then neither move the cursor, recolour or
 * retitle the terminal (ESC sequences), nor split the one-line message, nor flood it.
 */
export function printable(text: string, max = 80): string {
  let out = "";
  let fits = 0; // how much of `out` is whole characters and still leaves room for the `…`
  for (const ch of text.replace(/\s+/g, " ").trim()) {
    const cp = ch.codePointAt(0)!;
    const shown = isPrintableAscii(cp) ? ch : cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
    if (out.length + shown.length > max) return `${out.slice(0, fits)}…`;
    out += shown;
    if (out.length <= max - 1) fits = out.length;
  }
  return out;
}

/**
 * `line` with its control characters escaped (C0 but newline, DEL, C1, and the bidirectional overrides and isolates that
 * reorder what a terminal shows): the last guard on every line the CLI writes, whatever text from a server or a
 * certificate (a subject name) it holds. Our own non-ASCII (`…`, `§`) is kept.
 */
export function withoutControls(line: string): string {
  return line.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
  });
}

/**
 * A name or other text from a certificate or CRL a server sent (`CN=…, O=…`), as one line: {@link withoutControls},
 * and a newline escaped too (`\x0a`), so a subject cannot start a line of its own. Non-ASCII letters are kept.
 */
export function nameText(name: string): string {
  return withoutControls(name).replace(/\n/g, "\\x0a");
}
