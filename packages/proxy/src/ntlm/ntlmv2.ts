/**
 * NTLMv2 response computation (MS-NLMP §3.3.2). Pure functions over bytes, no
 * clock or randomness of their own: the caller passes the timestamp and the
 * client challenge, so the MS-NLMP §4.2.4 test vectors can be reproduced.
 *
 * @module
 */
import { hmacMd5, ntHash, utf16le } from "./hashes.js";

/**
 * NTOWFv2 (MS-NLMP §3.3.2): `HMAC_MD5(MD4(UNICODE(password)), UNICODE(Uppercase(user) + domain))`,
 * 16 bytes. NTLMv2 uses it as both ResponseKeyNT and ResponseKeyLM.
 *
 * @param password - The account's password (never logged).
 * @param user - The user name, without domain (`alice`, not `CORP\alice`).
 * @param domain - The domain name as sent in the AUTHENTICATE message (case kept).
 * @returns The 16-byte response key.
 *
 * @example
 * ```ts
 * import { ntowfv2 } from "@scep/proxy";
 *
 * const key = await ntowfv2("Password", "User", "Domain"); // MS-NLMP §4.2.4.1.1: 0c868a403bfd7a93a3001ef22ef02e3f
 * ```
 * @group NTLM
 */
export async function ntowfv2(password: string, user: string, domain: string): Promise<Uint8Array> {
  return hmacMd5(await ntHash(password), utf16le(user.toUpperCase() + domain));
}

/**
 * Inputs of {@link computeNtlmv2Response}.
 *
 * @group NTLM
 */
export interface Ntlmv2Input {
  /** NTOWFv2 of the account (16 bytes). */
  responseKey: Uint8Array;
  /** The server's 8-byte challenge from the CHALLENGE message. */
  serverChallenge: Uint8Array;
  /** The client's 8 random bytes. */
  clientChallenge: Uint8Array;
  /** Time as a Windows FILETIME: 100 ns intervals since 1601-01-01 UTC, 64-bit. */
  timestamp: bigint;
  /** The CHALLENGE message's TargetInfo (AV pairs, ending in MsvAvEOL), copied unchanged. */
  targetInfo: Uint8Array;
  /** True when TargetInfo holds MsvAvTimestamp: the LMv2 response is then 24 zero bytes (MS-NLMP §3.1.5.1.2). */
  omitLmResponse?: boolean;
}

/**
 * Result of {@link computeNtlmv2Response}.
 *
 * @group NTLM
 */
export interface Ntlmv2Output {
  /** NTProofStr (16 bytes): `HMAC_MD5(ResponseKeyNT, ServerChallenge ‖ temp)`. */
  ntProofStr: Uint8Array;
  /** NtChallengeResponse: `NTProofStr ‖ temp`. */
  ntChallengeResponse: Uint8Array;
  /** LmChallengeResponse (24 bytes): LMv2, or zeros when {@link Ntlmv2Input.omitLmResponse}. */
  lmChallengeResponse: Uint8Array;
  /** SessionBaseKey (16 bytes): `HMAC_MD5(ResponseKeyNT, NTProofStr)`. */
  sessionBaseKey: Uint8Array;
}

/**
 * Windows FILETIME (100 ns intervals since 1601-01-01 UTC) for a time in ms
 * since the Unix epoch: the NTLMv2 timestamp when the server sends none.
 *
 * @example
 * ```ts
 * import { fileTime } from "@scep/proxy";
 *
 * fileTime(0); // 116444736000000000n
 * ```
 * @group NTLM
 */
export function fileTime(ms: number): bigint {
  // 11644473600 s between 1601-01-01 and 1970-01-01; FILETIME counts 100 ns.
  return (BigInt(Math.floor(ms)) + 11_644_473_600_000n) * 10_000n;
}

/**
 * The NTLMv2 `temp` structure (MS-NLMP §2.2.2.7 NTLMv2_CLIENT_CHALLENGE):
 * RespType 1, HiRespType 1, 6 zero bytes, TimeStamp (8, LE), ChallengeFromClient (8),
 * 4 zero bytes, AvPairs, 4 zero bytes.
 */
export function ntlmv2ClientChallenge(timestamp: bigint, clientChallenge: Uint8Array, targetInfo: Uint8Array): Uint8Array {
  const temp = new Uint8Array(28 + targetInfo.length + 4);
  const view = new DataView(temp.buffer);
  temp[0] = 1;
  temp[1] = 1;
  view.setBigUint64(8, timestamp, true);
  temp.set(clientChallenge.subarray(0, 8), 16);
  temp.set(targetInfo, 28);
  return temp;
}

/**
 * Computes the NTLMv2 and LMv2 responses and the session base key
 * (MS-NLMP §3.3.2, reproduced by the §4.2.4 test vectors).
 *
 * @param input - Response key, both challenges, timestamp, the server's TargetInfo.
 * @returns NTProofStr, the NT and LM challenge responses, SessionBaseKey.
 *
 * @example
 * ```ts
 * import { computeNtlmv2Response, ntowfv2 } from "@scep/proxy";
 *
 * // MS-NLMP §4.2.4: NTProofStr 68cd0ab851e51c96aabc927bebef6a1c
 * const out = await computeNtlmv2Response({
 *   responseKey: await ntowfv2("Password", "User", "Domain"),
 *   serverChallenge: Uint8Array.from([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]),
 *   clientChallenge: new Uint8Array(8).fill(0xaa),
 *   timestamp: 0n,
 *   targetInfo: new Uint8Array([0, 0, 0, 0]), // MsvAvEOL only
 * });
 * ```
 * @group NTLM
 */
export async function computeNtlmv2Response(input: Ntlmv2Input): Promise<Ntlmv2Output> {
  const temp = ntlmv2ClientChallenge(input.timestamp, input.clientChallenge, input.targetInfo);
  const ntProofStr = await hmacMd5(input.responseKey, input.serverChallenge, temp);
  const ntChallengeResponse = new Uint8Array(16 + temp.length);
  ntChallengeResponse.set(ntProofStr, 0);
  ntChallengeResponse.set(temp, 16);
  const lmChallengeResponse = new Uint8Array(24);
  if (!input.omitLmResponse) {
    lmChallengeResponse.set(await hmacMd5(input.responseKey, input.serverChallenge, input.clientChallenge), 0);
    lmChallengeResponse.set(input.clientChallenge.subarray(0, 8), 16);
  }
  const sessionBaseKey = await hmacMd5(input.responseKey, ntProofStr);
  return { ntProofStr, ntChallengeResponse, lmChallengeResponse, sessionBaseKey };
}
