// How many days an example server's CA issues for: the profile's `validityDays`, never past the CSR policy's bound
// (ctx.maxValidityDays; the CA itself never issues past its own notAfter), and shorter when the device asks for less in
// its CSR: Windows' ClientCertificateInstall CSP ValidPeriod / ValidPeriodUnits, Intune's "Certificate validity
// period" (MS-WCCE §2.2.2.7.10 enrollment name-value pairs, read by CertificationRequest.requestedValidity). A longer
// request is not granted.
import { addValidity, type IssueContext } from "@scep/core";

const DAY_MS = 86_400_000;

/** Days to pass to the embedded CA's `issue` for `ctx` (positive; fractions for a request shorter than a day). */
export function grantedValidityDays(ctx: Pick<IssueContext, "csr" | "maxValidityDays">, validityDays: number, now: Date): number {
  const days = Math.min(ctx.maxValidityDays, validityDays);
  const asked = ctx.csr.requestedValidity;
  if (!asked) return days;
  return Math.min(days, (addValidity(now, asked).getTime() - now.getTime()) / DAY_MS);
}
