/**
 * Microsoft's enrollment name-value pairs in a PKCS#10 request (MS-WCCE §2.2.2.7.10, szOID_ENROLLMENT_NAME_VALUE_PAIR
 * 1.3.6.1.4.1.311.13.2.1), and the validity a device asks for in them. Windows' ClientCertificateInstall CSP sends its
 * `ValidPeriod` / `ValidPeriodUnits` this way (Intune's "Certificate validity period"), as `ValidityPeriod` (the unit)
 * and `ValidityPeriodUnits` (the count); Intune's Android clients send the two values the other way round
 * (microsoft/Intune-Resource-Access#162). The request is advisory: the CA decides what it grants.
 *
 * ```asn
 * EnrollmentNameValuePairs ::= SEQUENCE OF EnrollmentNameValuePair
 * EnrollmentNameValuePair ::= SEQUENCE { name BMPString, value BMPString }
 * ```
 *
 * @module
 */
import * as der from "../lib/der.js";

/** One enrollment name-value pair (MS-WCCE §2.2.2.7.10), as sent. @group X.509 */
export interface EnrollmentNameValuePair {
  name: string;
  value: string;
}

/** The units MS-WCCE §2.2.2.7.10 names for `ValidityPeriod`, lower-case. @group X.509 */
export type ValidityUnit = "seconds" | "minutes" | "hours" | "days" | "weeks" | "months" | "years";

/** A validity a request asks for: `count` whole `unit`s (a positive integer). @group X.509 */
export interface RequestedValidity {
  count: number;
  unit: ValidityUnit;
}

const UNITS: readonly ValidityUnit[] = ["seconds", "minutes", "hours", "days", "weeks", "months", "years"];
/** Longest count read (a 32-bit unsigned integer, as Windows' DWORD). */
const MAX_COUNT = 0xffffffff;

/**
 * The pairs of one attribute value (the SEQUENCE OF). Internal: {@link CertificationRequest.enrollmentNameValuePairs}
 * reads it lazily and gives an empty list for a value it cannot read.
 *
 * @throws Asn1Error `ERR_ASN1` for anything but the SEQUENCE OF above (any string type is read for name and value).
 */
export function readEnrollmentNameValuePairs(value: der.Tlv): EnrollmentNameValuePair[] {
  return der.expect(value, der.Tag.SEQUENCE, "EnrollmentNameValuePairs").map((pair) => {
    const [name, v] = der.expect(pair, der.Tag.SEQUENCE, "EnrollmentNameValuePair");
    return { name: der.readString(name, "EnrollmentNameValuePair name"), value: der.readString(v, "EnrollmentNameValuePair value") };
  });
}

/**
 * The validity `pairs` ask for: `ValidityPeriod` (a unit) and `ValidityPeriodUnits` (a count), names and units in any
 * case, the two values accepted in either pair (Android's swap). Undefined when either is missing, the unit is none of
 * {@link ValidityUnit}, or the count is not a positive integer of at most 2^32 - 1.
 */
export function requestedValidityOf(pairs: readonly EnrollmentNameValuePair[]): RequestedValidity | undefined {
  const find = (name: string): string | undefined => pairs.find((p) => p.name.trim().toLowerCase() === name)?.value.trim();
  const a = find("validityperiod");
  const b = find("validityperiodunits");
  if (a === undefined || b === undefined) return undefined;
  const unitOf = (s: string): ValidityUnit | undefined => UNITS.find((u) => u === s.toLowerCase());
  const countOf = (s: string): number | undefined => (/^[0-9]{1,10}$/.test(s) && Number(s) > 0 && Number(s) <= MAX_COUNT ? Number(s) : undefined);
  const unit = unitOf(a) ?? unitOf(b);
  const count = unitOf(a) ? countOf(b) : countOf(a);
  return unit && count !== undefined ? { count, unit } : undefined;
}

/**
 * `from` plus the requested validity: calendar months and years in UTC (the 31st plus a month ends on the last day
 * of the next month), fixed lengths for the others. Clamp the result to what the CA grants (`notAfterMax`). A count
 * that reaches past the last time a `Date` holds (+275760-09-13, ECMA-262 §21.4.1.1; a DWORD of years does) gives that
 * last time, never an Invalid Date.
 *
 * @example
 * ```ts
 * import { addValidity } from "@scep/core";
 *
 * // In an issue hook: ctx.csr.requestedValidity is e.g. { count: 30, unit: "days" } from a Windows or Intune profile
 * addValidity(new Date("2026-12-04T00:00:00Z"), { count: 30, unit: "days" }); // 2027-01-03T00:00:00.000Z
 * addValidity(new Date("2026-01-31T00:00:00Z"), { count: 1, unit: "months" }); // 2026-02-28T00:00:00.000Z
 * ```
 * @group X.509
 */
export function addValidity(from: Date, v: RequestedValidity): Date {
  const end = addUnclamped(from, v);
  return Number.isNaN(end.getTime()) || end.getTime() > MAX_TIME_MS ? new Date(MAX_TIME_MS) : end;
}

/** The last time a `Date` holds, in milliseconds since the epoch (ECMA-262 §21.4.1.1). */
const MAX_TIME_MS = 8.64e15;

function addUnclamped(from: Date, v: RequestedValidity): Date {
  const ms: Partial<Record<ValidityUnit, number>> = { seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000 };
  const fixed = ms[v.unit];
  if (fixed !== undefined) return new Date(from.getTime() + v.count * fixed);
  const months = v.unit === "months" ? v.count : v.count * 12;
  const d = new Date(from.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}
