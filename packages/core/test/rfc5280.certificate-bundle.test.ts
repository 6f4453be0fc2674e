/**
 * sortCertificateBundle: the certificate of a key in a bundle, and the certificates above it ordered by issuer as
 * RFC 5280 §6.1 builds a path (name and signature), whatever the order of the file.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Certificate, isScepError, sortCertificateBundle } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "scep-cert-bundle-"));
const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const cert = (name: string): Certificate => Certificate.from(readFileSync(join(dir, name), "utf8"));
let root: Certificate, issuing: Certificate, other: Certificate, twin: Certificate;

beforeAll(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-subj", "/CN=Sort Root", "-out", "root.pem", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE");
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "issuing.key", "-subj", "/CN=Sort Issuing", "-out", "issuing.csr");
  openssl("x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "2", "-days", "1", "-out", "issuing.pem");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-subj", "/CN=Sort Other", "-out", "other.pem", "-days", "1");
  // The root's name with another key: by name alone it would pass for the issuer of CN=Sort Issuing.
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "twin.key", "-subj", "/CN=Sort Root", "-out", "twin.pem", "-days", "2");
  [root, issuing, other, twin] = [cert("root.pem"), cert("issuing.pem"), cert("other.pem"), cert("twin.pem")];
});

const subjects = (cs: readonly Certificate[]) => cs.map((c) => c.subject);

describe("sortCertificateBundle (RFC 5280 §6.1)", () => {
  it.each([
    ["issuing first", () => [issuing, root]],
    ["root first", () => [root, issuing]],
  ])("%s: the key's certificate, then its issuer", (_, bundle) => {
    const sorted = sortCertificateBundle(bundle(), [issuing.spki]);
    expect([sorted.certificate.subject, sorted.ofKey, subjects(sorted.path), subjects(sorted.rest)]).toEqual(["CN=Sort Issuing", true, ["CN=Sort Issuing", "CN=Sort Root"], []]);
  });

  it("the root's key: the root alone, the issuing CA left over", () => {
    const sorted = sortCertificateBundle([issuing, root], [root.spki]);
    expect([sorted.certificate.subject, subjects(sorted.path), subjects(sorted.rest)]).toEqual(["CN=Sort Root", ["CN=Sort Root"], ["CN=Sort Issuing"]]);
  });

  it("no key given, or a key of none (an EC key against RSA certificates): the first, ofKey false", () => {
    expect(sortCertificateBundle([issuing, root]).ofKey).toBe(false);
    const sorted = sortCertificateBundle([issuing, other, root], [other.spki.slice(0, 10), root.spki.slice(1)]);
    expect([sorted.certificate.subject, sorted.ofKey, subjects(sorted.path), subjects(sorted.rest)]).toEqual(["CN=Sort Issuing", false, ["CN=Sort Issuing", "CN=Sort Root"], ["CN=Sort Other"]]);
  });

  it("a certificate with the issuer's name but another key is not on the path (the signature decides)", () => {
    const sorted = sortCertificateBundle([issuing, twin, root], [issuing.spki]);
    expect(subjects(sorted.path)).toEqual(["CN=Sort Issuing", "CN=Sort Root"]);
    expect(sorted.path[1]!.der).toEqual(root.der);
    expect(sorted.rest.map((c) => c.der)).toEqual([twin.der]);
  });

  it("an empty bundle → InvalidArgumentError (ERR_INVALID_ARGUMENT)", () => {
    let error: unknown;
    try {
      sortCertificateBundle([]);
    } catch (e) {
      error = e;
    }
    expect(isScepError(error) && [error.code, error.message]).toEqual(["ERR_INVALID_ARGUMENT", "a certificate bundle holds at least one certificate"]);
  });
});
