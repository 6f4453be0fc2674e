/**
 * Cutting a string a client sent to a bounded length for an event, a log line or a stored entry.
 */

/**
 * `s` when it has at most `max` UTF-16 code units, else its first `max - 1` (one fewer when the cut would split a
 * surrogate pair) followed by `…`: at most `max` code units, and always well-formed UTF-16 when `s` is.
 */
export function clip(s: string, max: number): string;
export function clip(s: string | undefined, max: number): string | undefined;
export function clip(s: string | undefined, max: number): string | undefined {
  if (s === undefined || s.length <= max) return s;
  let end = max - 1;
  const unit = s.charCodeAt(end - 1);
  if (unit >= 0xd800 && unit <= 0xdbff) end -= 1; // a high surrogate: its low half is past the cut
  return `${s.slice(0, end)}…`;
}
