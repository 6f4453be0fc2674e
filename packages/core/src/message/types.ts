/**
 * SCEP message types, statuses and failInfo codes (RFC 8894 §3.2.1.2–§3.2.1.4).
 *
 * @module
 */
import type { FailInfo } from "../errors.js";

/** messageType values (RFC 8894 §3.2.1.2). @group Codec */
export const MessageType = {
  CertRep: 3,
  RenewalReq: 17,
  PKCSReq: 19,
  CertPoll: 20,
  GetCert: 21,
  GetCRL: 22,
} as const;

/** A messageType value. @group Codec */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The name of a messageType value. @group Codec */
export type MessageTypeName = keyof typeof MessageType;

const NAMES = new Map<number, MessageTypeName>(Object.entries(MessageType).map(([k, v]) => [v, k as MessageTypeName]));

/** The name of a messageType number, or undefined. @group Codec */
export function messageTypeName(value: number): MessageTypeName | undefined {
  return NAMES.get(value);
}

/** pkiStatus values (RFC 8894 §3.2.1.3). @group Codec */
export const PkiStatus = { SUCCESS: "0", FAILURE: "2", PENDING: "3" } as const;

/** A pkiStatus name. @group Codec */
export type PkiStatus = keyof typeof PkiStatus;

/** pkiStatus value (`"0"`, `"2"`, `"3"`, RFC 8894 §3.2.1.3) → name; undefined for any other string. @group Codec */
export function pkiStatusFromCode(code: string): PkiStatus | undefined {
  return (Object.keys(PkiStatus) as PkiStatus[]).find((k) => PkiStatus[k] === code);
}

/** failInfo numbers (RFC 8894 §3.2.1.4). @group Codec */
export const FAIL_INFO_CODE: Readonly<Record<FailInfo, string>> = {
  badAlg: "0",
  badMessageCheck: "1",
  badRequest: "2",
  badTime: "3",
  badCertId: "4",
};

/** Whether `value` is one of RFC 8894 §3.2.1.4.5's failInfo names (a string given by a hook or a caller). @internal */
export function isFailInfo(value: unknown): value is FailInfo {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(FAIL_INFO_CODE, value);
}

/** failInfo number → name. @group Codec */
export function failInfoFromCode(code: string): FailInfo | undefined {
  return (Object.keys(FAIL_INFO_CODE) as FailInfo[]).find((k) => FAIL_INFO_CODE[k] === code);
}
