/**
 * NTLM message encoding and decoding (MS-NLMP §2.2.1): NEGOTIATE (type 1),
 * CHALLENGE (type 2, read from the server), AUTHENTICATE (type 3). Client side
 * only, NTLMv2 only: no LM/NTLMv1 responses, no signing or sealing (HTTP
 * authentication needs neither), so no key exchange.
 *
 * @module
 */
import { NtlmMessageError } from "../challenge-sources/errors.js";
import { utf16le } from "./hashes.js";

const SIGNATURE = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00]; // "NTLMSSP\0"

/** NegotiateFlags bits used here (MS-NLMP §2.2.2.5). */
export const NtlmFlags = {
  NEGOTIATE_UNICODE: 0x0000_0001,
  NEGOTIATE_OEM: 0x0000_0002,
  REQUEST_TARGET: 0x0000_0004,
  NEGOTIATE_NTLM: 0x0000_0200,
  NEGOTIATE_ALWAYS_SIGN: 0x0000_8000,
  NEGOTIATE_EXTENDED_SESSIONSECURITY: 0x0008_0000,
  NEGOTIATE_TARGET_INFO: 0x0080_0000,
  NEGOTIATE_VERSION: 0x0200_0000,
  NEGOTIATE_128: 0x2000_0000,
  NEGOTIATE_56: 0x8000_0000,
} as const;

/** Flags of the NEGOTIATE message: Unicode or OEM, NTLM with extended session security, 128/56-bit. */
export const NEGOTIATE_FLAGS =
  (NtlmFlags.NEGOTIATE_UNICODE |
    NtlmFlags.NEGOTIATE_OEM |
    NtlmFlags.REQUEST_TARGET |
    NtlmFlags.NEGOTIATE_NTLM |
    NtlmFlags.NEGOTIATE_ALWAYS_SIGN |
    NtlmFlags.NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NtlmFlags.NEGOTIATE_128 |
    NtlmFlags.NEGOTIATE_56) >>>
  0;

/** AV_PAIR ids (MS-NLMP §2.2.2.1). */
export const AvId = {
  MsvAvEOL: 0,
  MsvAvNbComputerName: 1,
  MsvAvNbDomainName: 2,
  MsvAvDnsComputerName: 3,
  MsvAvDnsDomainName: 4,
  MsvAvTimestamp: 7,
  MsvAvChannelBindings: 10,
} as const;

/**
 * The TargetInfo a client echoes in its NTLMv2 response (MS-NLMP §3.1.5.1.2), with the AV pair `id` set to `value`:
 * the server's pairs in order, a pair of that id it sent dropped, the new pair before MsvAvEOL. An empty TargetInfo
 * (a CHALLENGE without one) gives the new pair and MsvAvEOL. Used for MsvAvChannelBindings (Extended Protection for
 * Authentication).
 *
 * @param targetInfo - The CHALLENGE message's TargetInfo, ending in MsvAvEOL (as {@link decodeChallengeMessage} checked), or empty.
 * @param id - The AV pair's AvId (MS-NLMP §2.2.2.1), e.g. `AvId.MsvAvChannelBindings`.
 * @param value - The pair's value, at most 65 535 bytes.
 * @returns The AV pairs, ending in MsvAvEOL.
 * @throws {@link NtlmMessageError} (`ERR_PROXY_NTLM_MESSAGE`) for a non-empty TargetInfo without MsvAvEOL, or a pair over 65 535 bytes.
 */
export function withAvPair(targetInfo: Uint8Array, id: number, value: Uint8Array): Uint8Array {
  if (value.length > 0xffff) throw new NtlmMessageError("NTLM AV pair too large");
  // No TargetInfo at all (the server did not set NEGOTIATE_TARGET_INFO): the pair alone, then MsvAvEOL.
  if (targetInfo.length === 0) targetInfo = new Uint8Array(4);
  const kept: Uint8Array[] = [];
  const view = new DataView(targetInfo.buffer, targetInfo.byteOffset, targetInfo.byteLength);
  for (let at = 0; at + 4 <= targetInfo.length; ) {
    const pairId = view.getUint16(at, true);
    const len = view.getUint16(at + 2, true);
    if (at + 4 + len > targetInfo.length) break;
    if (pairId === AvId.MsvAvEOL) {
      const pair = new Uint8Array(4 + value.length);
      new DataView(pair.buffer).setUint16(0, id, true);
      new DataView(pair.buffer).setUint16(2, value.length, true);
      pair.set(value, 4);
      const parts = [...kept, pair, new Uint8Array(4)];
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        out.set(p, offset);
        offset += p.length;
      }
      return out;
    }
    if (pairId !== id) kept.push(targetInfo.subarray(at, at + 4 + len));
    at += 4 + len;
  }
  throw new NtlmMessageError("NTLM CHALLENGE message: TargetInfo does not end with MsvAvEOL");
}

/**
 * A decoded CHALLENGE message (MS-NLMP §2.2.1.2).
 *
 * @group NTLM
 */
export interface ChallengeMessage {
  /** NegotiateFlags the server chose. */
  flags: number;
  /** ServerChallenge, 8 bytes. */
  serverChallenge: Uint8Array;
  /** TargetName (the server's domain or computer name), decoded. */
  targetName: string;
  /** TargetInfo: the raw AV pairs (copied into the NTLMv2 response unchanged), empty when absent. */
  targetInfo: Uint8Array;
  /** MsvAvNbDomainName from TargetInfo, when present. */
  nbDomainName?: string;
  /** MsvAvTimestamp from TargetInfo (FILETIME), when present. */
  timestamp?: bigint;
}

function header(type: number, size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  bytes.set(SIGNATURE, 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, type, true);
  return { bytes, view };
}

/**
 * The NEGOTIATE message (type 1, MS-NLMP §2.2.1.1), 32 bytes, with empty
 * domain and workstation fields (the domain goes in AUTHENTICATE). Flags:
 * Unicode, OEM, request target, NTLM, always sign, extended session
 * security, 128- and 56-bit (`0xa0088207`).
 *
 * @returns The message's bytes; send them base64 in `Authorization: NTLM …`.
 *
 * @example
 * ```ts
 * import { encodeNegotiateMessage } from "@scep/proxy";
 *
 * const header = `NTLM ${Buffer.from(encodeNegotiateMessage()).toString("base64")}`;
 * // "NTLM TlRMTVNTUAABAAAAB4IIoAAAAAAgAAAAAAAAACAAAAA="
 * ```
 * @group NTLM
 */
export function encodeNegotiateMessage(): Uint8Array {
  const { bytes, view } = header(1, 32);
  view.setUint32(12, NEGOTIATE_FLAGS, true);
  // DomainNameFields and WorkstationFields: Len 0, MaxLen 0, BufferOffset 32.
  view.setUint32(20, 32, true);
  view.setUint32(28, 32, true);
  return bytes;
}

function decodeString(bytes: Uint8Array, unicode: boolean): string {
  if (unicode) return new TextDecoder("utf-16le").decode(bytes);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Reads a security buffer (Len u16, MaxLen u16, Offset u32) and checks it lies inside the message. */
function field(msg: Uint8Array, view: DataView, at: number, what: string): Uint8Array {
  const len = view.getUint16(at, true);
  const offset = view.getUint32(at + 4, true);
  if (len === 0) return new Uint8Array(0);
  if (offset + len > msg.length) throw new NtlmMessageError(`NTLM CHALLENGE message: ${what} lies outside the message`);
  return msg.subarray(offset, offset + len);
}

/**
 * Decodes a CHALLENGE message (type 2, MS-NLMP §2.2.1.2), with bounds checks
 * on every field and on the AV pairs.
 *
 * @param msg - The bytes of the base64 token of a 401's `WWW-Authenticate: NTLM …`.
 * @returns Flags, ServerChallenge, TargetName and the raw TargetInfo.
 * @throws {@link NtlmMessageError} (`ERR_PROXY_NTLM_MESSAGE`) for anything that is not a well-formed CHALLENGE message.
 *
 * @example
 * ```ts
 * import { decodeChallengeMessage } from "@scep/proxy";
 *
 * declare const wwwAuthenticate: string; // "NTLM TlRMTVNTUAACAAAA…"
 * const challenge = decodeChallengeMessage(Buffer.from(wwwAuthenticate.slice(5), "base64"));
 * console.log(challenge.targetName, challenge.serverChallenge.length); // "CORP" 8
 * ```
 * @group NTLM
 */
export function decodeChallengeMessage(msg: Uint8Array): ChallengeMessage {
  if (msg.length < 32) throw new NtlmMessageError(`NTLM CHALLENGE message too short (${msg.length} bytes)`);
  for (let i = 0; i < 8; i++) {
    if (msg[i] !== SIGNATURE[i]) throw new NtlmMessageError("NTLM message without the NTLMSSP signature");
  }
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const type = view.getUint32(8, true);
  if (type !== 2) throw new NtlmMessageError(`NTLM message of type ${type} where a CHALLENGE (type 2) was expected`);
  const flags = view.getUint32(20, true);
  const unicode = (flags & NtlmFlags.NEGOTIATE_UNICODE) !== 0;
  const serverChallenge = msg.slice(24, 32);
  const targetName = decodeString(field(msg, view, 12, "TargetName"), unicode);
  const out: ChallengeMessage = { flags, serverChallenge, targetName, targetInfo: new Uint8Array(0) };
  if (msg.length >= 48 && (flags & NtlmFlags.NEGOTIATE_TARGET_INFO) !== 0) {
    const info = field(msg, view, 40, "TargetInfo");
    out.targetInfo = info.slice();
    const iv = new DataView(info.buffer, info.byteOffset, info.byteLength);
    let at = 0;
    let ended = false;
    while (at + 4 <= info.length) {
      const id = iv.getUint16(at, true);
      const len = iv.getUint16(at + 2, true);
      if (at + 4 + len > info.length) throw new NtlmMessageError("NTLM CHALLENGE message: an AV pair overruns TargetInfo");
      const value = info.subarray(at + 4, at + 4 + len);
      if (id === AvId.MsvAvEOL) {
        ended = true;
        break;
      }
      if (id === AvId.MsvAvNbDomainName) out.nbDomainName = decodeString(value, true);
      if (id === AvId.MsvAvTimestamp && len === 8) out.timestamp = new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
      at += 4 + len;
    }
    if (!ended) throw new NtlmMessageError("NTLM CHALLENGE message: TargetInfo does not end with MsvAvEOL");
  }
  return out;
}

/**
 * Inputs of {@link encodeAuthenticateMessage}.
 *
 * @group NTLM
 */
export interface AuthenticateFields {
  /** Flags for the AUTHENTICATE message (the negotiated ones). */
  flags: number;
  /** LmChallengeResponse (24 bytes for LMv2). */
  lmChallengeResponse: Uint8Array;
  /** NtChallengeResponse (NTProofStr ‖ temp). */
  ntChallengeResponse: Uint8Array;
  /** Domain name. */
  domain: string;
  /** User name. */
  user: string;
  /** Workstation name (may be empty). */
  workstation: string;
}

/**
 * The AUTHENTICATE message (type 3, MS-NLMP §2.2.1.3) with a 64-byte header
 * (no Version, no MIC: this client never sets MsvAvFlags, so the server does
 * not expect a MIC) and an empty EncryptedRandomSessionKey (no key exchange).
 * Strings are UTF-16LE when the server negotiated Unicode, else OEM (Latin-1).
 *
 * @param f - Flags, the two responses from {@link computeNtlmv2Response}, and the names.
 * @returns The message's bytes; send them base64 in `Authorization: NTLM …` on the connection the CHALLENGE came on.
 * @throws {@link NtlmMessageError} (`ERR_PROXY_NTLM_MESSAGE`) when the message would exceed 65 535 bytes.
 *
 * @example
 * ```ts
 * import { computeNtlmv2Response, encodeAuthenticateMessage, ntowfv2, type ChallengeMessage } from "@scep/proxy";
 *
 * declare const challenge: ChallengeMessage; // from decodeChallengeMessage
 * const v2 = await computeNtlmv2Response({
 *   responseKey: await ntowfv2("password", "svc-ndes", "CORP"),
 *   serverChallenge: challenge.serverChallenge,
 *   clientChallenge: crypto.getRandomValues(new Uint8Array(8)),
 *   timestamp: challenge.timestamp ?? 0n,
 *   targetInfo: challenge.targetInfo,
 *   omitLmResponse: challenge.timestamp !== undefined,
 * });
 * const message = encodeAuthenticateMessage({
 *   flags: challenge.flags, lmChallengeResponse: v2.lmChallengeResponse, ntChallengeResponse: v2.ntChallengeResponse,
 *   domain: "CORP", user: "svc-ndes", workstation: "",
 * });
 * ```
 * @group NTLM
 */
export function encodeAuthenticateMessage(f: AuthenticateFields): Uint8Array {
  const unicode = (f.flags & NtlmFlags.NEGOTIATE_UNICODE) !== 0;
  const enc = (s: string): Uint8Array => (unicode ? utf16le(s) : Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff));
  // Payload order: domain, user, workstation, LM response, NT response (what Windows sends).
  const parts: [number, Uint8Array][] = [
    [28, enc(f.domain)],
    [36, enc(f.user)],
    [44, enc(f.workstation)],
    [12, f.lmChallengeResponse],
    [20, f.ntChallengeResponse],
  ];
  const size = 64 + parts.reduce((n, [, b]) => n + b.length, 0);
  if (size > 0xffff) throw new NtlmMessageError("NTLM AUTHENTICATE message too large");
  const { bytes, view } = header(3, size);
  let offset = 64;
  for (const [at, b] of parts) {
    view.setUint16(at, b.length, true);
    view.setUint16(at + 2, b.length, true);
    view.setUint32(at + 4, offset, true);
    bytes.set(b, offset);
    offset += b.length;
  }
  view.setUint32(56, size, true); // EncryptedRandomSessionKeyFields: Len 0, offset at the end of the payload
  view.setUint32(60, f.flags >>> 0, true);
  return bytes;
}
