/**
 * The checks every certificate a real client got from an example server must
 * pass, refereed by OpenSSL: it chains to the example's CA, carries the CSR's
 * subject (and requested SANs), and lives no longer than SCEP_VALIDITY_DAYS.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { expect } from "vitest";
import { opensslVerifyChain, opensslX509Text } from "../../../../test-support/peers";
import type { CsrFacts } from "./wire";

/** Clock skew tolerated on the lifetime (the CA may backdate notBefore a little). */
export const VALIDITY_SKEW_MS = 10 * 60_000;

const DAY_MS = 86_400_000;

/** What an issued certificate is held to. */
export interface IssuedExpectations {
  /** The example's CA certificate (`ca.pem`). */
  caPem: string;
  /** The subject the client asked for, RFC 2253 (`CN=…,O=…`). */
  subject: string;
  /** What OpenSSL read from the CSR on the wire (subject must be equal). */
  csr?: CsrFacts;
  /** SANs that must be in the certificate, as Node prints them (`DNS:host.example`). */
  sans?: string[];
  /** SCEP_VALIDITY_DAYS the server was started with. */
  validityDays: number;
}

/** Facts about the issued certificate, for further assertions. */
export interface IssuedFacts {
  subject: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  cert: X509Certificate;
}

/** Asserts `certPem` is a proper certificate from the example's CA; returns its facts. */
export async function expectIssued(certPem: string | undefined, want: IssuedExpectations): Promise<IssuedFacts> {
  expect(certPem, "no certificate was issued").toMatch(/-----BEGIN CERTIFICATE-----/);
  const pem = certPem!;
  // `openssl verify -x509_strict -CAfile ca.pem cert.pem`
  expect(await opensslVerifyChain(pem, want.caPem)).toMatch(/: OK\s*$/);

  const subject = (await opensslX509Text(pem, ["-subject", "-nameopt", "RFC2253"])).trim().replace(/^subject=/, "");
  expect(subject).toBe(want.subject);
  if (want.csr) expect(subject).toBe(want.csr.subject);

  const cert = new X509Certificate(pem);
  const ca = new X509Certificate(want.caPem);
  expect(cert.checkIssued(ca)).toBe(true);
  expect(cert.ca).toBe(false);
  if (want.sans?.length) {
    const present = (cert.subjectAltName ?? "").split(/,\s*/);
    for (const san of want.sans) expect(present).toContain(san);
  }

  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const lifetime = notAfter.getTime() - notBefore.getTime();
  expect(lifetime).toBeLessThanOrEqual(want.validityDays * DAY_MS + VALIDITY_SKEW_MS);
  // …and it is the configured lifetime, not some other short one.
  expect(lifetime).toBeGreaterThanOrEqual(want.validityDays * DAY_MS - VALIDITY_SKEW_MS);
  return { subject, serial: cert.serialNumber, notBefore, notAfter, cert };
}
