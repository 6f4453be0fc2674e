/**
 * The device identifier: the one path segment after the proxy's base path,
 * `hostId,profileId[,caName[,challenge]]`, each field percent-encoded (PROXY.md
 * "The URL and the identifier"). Built when the MDM renders a profile, parsed
 * when the device comes back.
 *
 * @module
 */
import { IdentifierError } from "./errors.js";
import { CONTROL_CHARACTER } from "./lib/text.js";

/**
 * The fields of an identifier. Absent optional fields are absent keys (never
 * `undefined` values), so `parseIdentifier(buildIdentifier(x))` deep-equals `x`.
 *
 * @example
 * ```ts
 * import type { ProxyIdentifier } from "@scep/proxy";
 *
 * const id: ProxyIdentifier = { hostId: "host-42", profileId: "wifi-cert", caName: "corp-ca", challenge: "Zm9vYmFy" };
 * ```
 *
 * @group Identifier
 */
export interface ProxyIdentifier {
  /** The device (host) the profile was rendered for. Non-empty. */
  hostId: string;
  /** The profile (payload) the SCEP URL belongs to. Non-empty. */
  profileId: string;
  /** The CA's name in the `CaRegistry`; absent means the registry's default CA. Non-empty when present. */
  caName?: string;
  /** A proxy-issued one-time challenge (CA type `custom`); absent for NDES and Smallstep. */
  challenge?: string;
}

/** Longest identifier accepted or built, in characters of its percent-encoded form (4096). @group Identifier */
export const MAX_IDENTIFIER_LENGTH = 4096;

const ESCAPES = /^(?:[^%]|%[0-9A-Fa-f]{2})*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkField(value: string): void {
  if (LONE_SURROGATE.test(value)) throw new IdentifierError("bad_encoding");
  if (CONTROL_CHARACTER.test(value)) throw new IdentifierError("control_character");
}

/**
 * Builds the identifier path segment: each field percent-encoded
 * (`encodeURIComponent`, so `,` `/` `%` space and non-ASCII can never break
 * the split), joined with `,`. Two fields when neither caName nor challenge
 * is given; an empty caName field (`host,profile,,challenge`) when only the
 * challenge is.
 *
 * @param id - The fields; see {@link ProxyIdentifier}.
 * @returns The segment, at most {@link MAX_IDENTIFIER_LENGTH} characters, safe to append to a URL path as is.
 * @throws {@link IdentifierError} (`ERR_PROXY_IDENTIFIER`) with reason `empty_field` (empty hostId or profileId, or
 * an empty caName), `control_character`, `bad_encoding` (a lone UTF-16 surrogate) or `too_long`.
 *
 * @example
 * ```ts
 * import { buildIdentifier } from "@scep/proxy";
 *
 * buildIdentifier({ hostId: "host 1", profileId: "wifi,eap", caName: "corp-ca" }); // "host%201,wifi%2Ceap,corp-ca"
 * ```
 *
 * @group Identifier
 */
export function buildIdentifier(id: ProxyIdentifier): string {
  const { hostId, profileId, caName, challenge } = id;
  if (typeof hostId !== "string" || typeof profileId !== "string" || hostId === "" || profileId === "") throw new IdentifierError("empty_field");
  if (caName !== undefined && (typeof caName !== "string" || caName === "")) throw new IdentifierError("empty_field");
  if (challenge !== undefined && typeof challenge !== "string") throw new IdentifierError("bad_encoding");
  const fields = [hostId, profileId];
  if (caName !== undefined || challenge !== undefined) fields.push(caName ?? "");
  if (challenge !== undefined) fields.push(challenge);
  for (const f of fields) checkField(f);
  const segment = fields.map(encodeURIComponent).join(",");
  if (segment.length > MAX_IDENTIFIER_LENGTH) throw new IdentifierError("too_long");
  return segment;
}

/**
 * Reads an identifier path segment as it appears in the request URL (still
 * percent-encoded). Strict: 2 to 4 comma-separated fields, each `%XX` escape
 * well-formed and the decoded bytes UTF-8, no control character, non-empty
 * hostId and profileId. An empty caName field means the default CA (the key
 * is absent from the result).
 *
 * @param segment - The raw path segment, at most {@link MAX_IDENTIFIER_LENGTH} characters.
 * @returns The decoded fields.
 * @throws {@link IdentifierError} (`ERR_PROXY_IDENTIFIER`) with a fixed `reason`; the message never holds the input.
 *
 * @example
 * ```ts
 * import { parseIdentifier } from "@scep/proxy";
 *
 * parseIdentifier("host%201,wifi%2Ceap"); // { hostId: "host 1", profileId: "wifi,eap" }
 * ```
 *
 * @group Identifier
 */
export function parseIdentifier(segment: string): ProxyIdentifier {
  if (typeof segment !== "string" || segment.length === 0) throw new IdentifierError("empty");
  if (segment.length > MAX_IDENTIFIER_LENGTH) throw new IdentifierError("too_long");
  const raw = segment.split(",");
  if (raw.length < 2 || raw.length > 4) throw new IdentifierError("field_count");
  const fields = raw.map((f) => {
    if (!ESCAPES.test(f)) throw new IdentifierError("bad_encoding");
    let value: string;
    try {
      value = decodeURIComponent(f);
    } catch {
      throw new IdentifierError("bad_encoding");
    }
    checkField(value);
    return value;
  });
  const [hostId, profileId, caName, challenge] = fields as [string, string, string | undefined, string | undefined];
  if (hostId === "" || profileId === "") throw new IdentifierError("empty_field");
  const id: ProxyIdentifier = { hostId, profileId };
  if (caName !== undefined && caName !== "") id.caName = caName;
  if (challenge !== undefined) id.challenge = challenge;
  return id;
}

/**
 * The device's SCEP URL: `base` (the proxy's public URL, with or without a
 * trailing `/`) followed by the identifier segment.
 *
 * @param base - Absolute URL of the proxy's base path, e.g. `https://mdm.example.com/scep`.
 * @param id - The identifier fields.
 * @returns The URL as a string.
 * @throws {@link IdentifierError} as {@link buildIdentifier} does.
 *
 * @example
 * ```ts
 * import { buildProxyUrl } from "@scep/proxy";
 *
 * buildProxyUrl("https://mdm.example.com/scep", { hostId: "host-42", profileId: "wifi", caName: "ndes" });
 * // "https://mdm.example.com/scep/host-42,wifi,ndes"
 * ```
 *
 * @group Identifier
 */
export function buildProxyUrl(base: string, id: ProxyIdentifier): string {
  return `${base.replace(/\/+$/, "")}/${buildIdentifier(id)}`;
}
