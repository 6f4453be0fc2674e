/**
 * Exit codes and stderr lines for what micromdm never does, against a
 * loopback server built from @scep/core: PENDING (exit 3), PENDING then
 * SUCCESS after one CertPoll, FAILURE from every command in one style
 * (exit 2), HTTP 500 and a CA that never answers (exit 4), a refused
 * connection (exit 4), a CA that does not match --ca-fingerprint/--ca-cert
 * (exit 5), and an output file that cannot be written (exit 73). A generated key
 * is left on disk only when needed (SUCCESS, PENDING), so a failed command can
 * simply be run again. The CLI runs as a child process.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { createHash } from "node:crypto";
import { Certificate, CertificationRequest } from "@scep/core";
import { freeStablePort, opensslCreateCa, opensslVerifyChain } from "../../../test-support/peers";
import { startFakeScepServer, type FakeScepServer } from "./support/fake-scep-server";
import { listenLoopback, type Loopback } from "./support/in-process";
import { runCli } from "./support/run-cli";
import { it } from "./support/test-owned";

const root = mkdtempSync(join(tmpdir(), "scep-cli-exit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
/** Buffer and Uint8Array views compare equal only as the same type. */
const bytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const workDir = (name: string): string => mkdtempSync(join(root, `${name}-`));

describe("PENDING", () => {
  it("exits 3 when the CA still answers PENDING and --max-poll is 0, keeping the generated key and saying how to poll with it", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("pending");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev pending", "--out", "cert.pem", "--max-poll", "0", "--key-out", "dev.key"], { cwd });
    expect(r.code).toBe(3);
    const tid = server.requests[0]!.request.transactionId;
    // the challenge never goes to stderr: a placeholder stands for it
    expect(r.stderr).toBe(
      `PENDING: transaction ${tid} is still pending\n` +
        `key saved to ${join(cwd, "dev.key")}; poll again with: scep enroll --url ${server.url} --challenge <challenge> --cn 'dev pending' --out cert.pem --max-poll 0 --key dev.key\n`,
    );
    expect(r.stdout).toBe("");
    expect(server.requests.map((q) => [q.method, q.request.messageTypeName])).toEqual([["POST", "PKCSReq"]]);
    expect(existsSync(join(cwd, "cert.pem"))).toBe(false);
    expect(readFileSync(join(cwd, "dev.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // the printed command polls the same transaction
    const again = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev pending", "--out", "cert.pem", "--max-poll", "0", "--key", "dev.key"], { cwd });
    expect(again.code).toBe(3);
    expect(again.stderr).toBe(`PENDING: transaction ${tid} is still pending; run the command again with the same key to poll\n`);
    expect(server.requests[1]!.request.transactionId).toBe(tid);
  });

  it("with --max-poll shorter than --poll-interval, polls once after --max-poll and says so (no announced poll that never comes)", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("pending-short");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "cert.pem", "--max-poll", "1", "--poll-interval", "5", "--key-out", "d.key"], { cwd });
    expect(r.code).toBe(3);
    const tid = server.requests[0]!.request.transactionId;
    expect(server.requests.map((q) => q.request.messageTypeName)).toEqual(["PKCSReq", "CertPoll"]);
    // The key is saved at the first PENDING, before the wait, with the command that polls again.
    const poll = `scep enroll --url ${server.url} --challenge <challenge> --cn d --out cert.pem --max-poll 1 --poll-interval 5 --key d.key`;
    expect(r.stderr.split("\n").slice(0, 3)).toEqual([
      `PENDING: transaction ${tid}: key saved to ${join(cwd, "d.key")}; if polling stops before the certificate comes, poll again with: ${poll}`,
      `PENDING: transaction ${tid}; polling again in 1 s`,
      `PENDING: transaction ${tid} is still pending after 1 poll over 1 s`,
    ]);
  });

  it.for([
    ["post", "POST"],
    ["get", "GET"],
  ] as const)("polls with CertPoll until SUCCESS (--%s)", async ([flag, method], { owned }) => {
    const server = await owned(startFakeScepServer("pending-then-success"));
    const cwd = workDir(`poll-${flag}`);
    const r = await runCli(
      ["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev-poll", "--out", "cert.pem", "--key-out", "k.pem", "--poll-interval", "0.001", "--max-poll", "60", `--${flag}`],
      { cwd },
    );
    expect(r.code, r.stderr).toBe(0);
    const [req, poll] = server.requests;
    expect(server.requests.map((q) => [q.method, q.request.messageTypeName])).toEqual([
      [method, "PKCSReq"],
      [method, "CertPoll"],
    ]);
    expect(poll!.request.transactionId).toBe(req!.request.transactionId);
    expect(bytes(poll!.request.issuerAndSubject!.subject)).toEqual(bytes(CertificationRequest.from(req!.request.csr!.der).subjectDer));
    const again = `scep enroll --url ${server.url} --challenge <challenge> --cn dev-poll --out cert.pem --poll-interval 0.001 --max-poll 60 --${flag} --key k.pem`;
    expect(r.stderr).toBe(
      `PENDING: transaction ${req!.request.transactionId}: key saved to ${join(cwd, "k.pem")}; if polling stops before the certificate comes, poll again with: ${again}\n` +
        `PENDING: transaction ${req!.request.transactionId}; polling again in 0.001 s\n`,
    );
    const pem = readFileSync(join(cwd, "cert.pem"), "utf8");
    const cert = Certificate.from(pem);
    expect(cert.subject).toBe("CN=dev-poll");
    expect(bytes(cert.spki)).toEqual(bytes(req!.request.csr!.spki));
    await opensslVerifyChain(pem, server.ca.certPem);
    expect(r.stdout).toBe(
      [
        "subject:     CN=dev-poll",
        "issuer:      O=scep-sdk tests, CN=Fake SCEP CA",
        `serial:      ${cert.serialNumberHex}`,
        `not after:   ${cert.notAfter.toISOString()}`,
        `certificate: ${join(cwd, "cert.pem")}`,
        `key:         ${join(cwd, "k.pem")}`,
        "",
      ].join("\n"),
    );
  });
});

const NO_CHALLENGE = "note: no --challenge given: the request carries no challenge password\n";

const CHALLENGE_WHERE = "the CA's challenge (the example servers: SCEP_CHALLENGE or --challenge if set, else the file <data-dir>/challenge; a one-time challenge works once)";

describe("FAILURE without a challenge exits 2 and says why", () => {
  it("names the missing challenge before the CA's text; no key is left, so the same command runs again", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure"));
    const cwd = workDir("no-challenge");
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem"], { cwd });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`${NO_CHALLENGE}FAILURE: badRequest: no challenge password was sent (no --challenge), the likely reason (the CA said "challenge password mismatch")\n`);
      expect(existsSync(join(cwd, "c.key"))).toBe(false);
      expect(existsSync(join(cwd, "c.pem"))).toBe(false);
    }
    expect(server.requests.length).toBe(2);
    expect(server.requests[0]!.request.csr!.challengePassword).toBeUndefined();
  });

  it("with a challenge, the CA's text as it is", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure"));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "wrong", "--cn", "d", "--out", "c.pem"], { cwd: workDir("wrong-challenge") });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`FAILURE: badRequest: the CA does not permit or support this request (the CA said "challenge password mismatch"); check --challenge against ${CHALLENGE_WHERE}\n`);
  });

  it.for([
    ["badRequest", "Intune refused the challenge: SubjectNameMismatch", "; the challenge was issued for another subject or subjectAltName: request the ones it names (--cn, --dns, …)"],
    ["badRequest", "Intune challenge validation is unavailable; try again later", ""],
    ["badMessageCheck", "this transaction was validated before", ""],
  ] as const)("a CA's text about something else than a wrong challenge gets no challenge hint that contradicts it (Intune's texts): %s %s", async ([failInfo, text, hint], { owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo, failInfoText: text } }));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem"], { cwd: workDir("intune-text") });
    const meaning = failInfo === "badRequest" ? "the CA does not permit or support this request" : "the request failed the CA's integrity check (its signature, digest or encryption, or a replayed or unreadable challenge)";
    expect([r.code, r.stderr]).toEqual([2, `FAILURE: ${failInfo}: ${meaning} (the CA said "${text}")${hint}\n`]);
  });

  it("a failInfo other than badRequest is not blamed on the missing challenge", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badAlg", failInfoText: "unsupported content encryption algorithm 1.2.840.113549.3.2" } }));
    const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem"], { cwd: workDir("no-challenge-bad-alg") });
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(
      `${NO_CHALLENGE}FAILURE: badAlg: the CA does not recognize or support an algorithm of the request (the CA said "unsupported content encryption algorithm 1.2.840.113549.3.2")\n`,
    );
  });
});

describe("FAILURE: one line in one style from every command (RFC 8894 §3.2.1.4.5), exit 2", () => {
  // FAILURE: <failInfo>: <what it means> (the CA said "<text>"); <what to check>
  it("enroll, without failInfoText: the meaning and what to check", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: null } }));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "wrong", "--cn", "d", "--out", "c.pem"], { cwd: workDir("enroll-no-text") });
    expect([r.code, r.stdout, r.stderr]).toEqual([2, "", `FAILURE: badRequest: the CA does not permit or support this request; a wrong --challenge is the usual reason: check it against ${CHALLENGE_WHERE}\n`]);
  });

  it("renew, signed by its old certificate: the same line as enroll", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badTime", failInfoText: "signingTime is 2 hours off" } }));
    const cwd = workDir("renew");
    writeFileSync(join(cwd, "old.pem"), server.ca.certPem);
    writeFileSync(join(cwd, "old.key"), server.ca.keyPem);
    const r = await runCli(["renew", "--url", server.url, "--cert", "old.pem", "--key", "old.key", "--challenge", "pw", "--out", "new.pem"], { cwd });
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(`FAILURE: badTime: the CA did not accept a time (the request's signingTime, a challenge that expired, or the validity of the certificate that signed it) (the CA said "signingTime is 2 hours off")\n`);
    expect(server.requests.map((q) => q.request.messageTypeName)).toEqual(["PKCSReq"]);
  });

  it("getcert: badCertId in words", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: "no such certificate" } }));
    const r = await runCli(["getcert", "--url", server.url, "--serial", "01:02:03"], { cwd: workDir("getcert-failure") });
    expect([r.code, r.stdout]).toEqual([2, ""]);
    const ca = Certificate.from(server.ca.certPem);
    expect(r.stderr).toBe(
      `FAILURE: badCertId: the CA has no certificate of issuer ${ca.subject} with serial 01:02:03 (the CA said "no such certificate"); check --serial, and give --issuer-cert when the CA has more than one issuer\n`,
    );
  });

  it("getcrl: badCertId says the CA knows no certificate of --cert's issuer and serial, and what to check", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: "no CRL for this certificate" } }));
    const cwd = workDir("getcrl-failure");
    writeFileSync(join(cwd, "other.pem"), server.ca.certPem);
    const other = Certificate.from(server.ca.certPem);
    const r = await runCli(["getcrl", "--url", server.url, "--cert", "other.pem"], { cwd });
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(
      `FAILURE: badCertId: the CA knows no certificate of issuer ${other.issuer} with serial ${other.serialNumberHex}, so no CRL for it (the CA said "no CRL for this certificate"); is --cert other.pem a certificate this CA issued?\n`,
    );
  });

  it("getcrl: --cert of another CA with the same name (every example CA's) ends before GetCRL is sent, exit 1, one line", async ({ owned }) => {
    const server = await owned(startFakeScepServer("getcrl", { crlSigner: "own" }));
    const twin = await opensslCreateCa({ subject: "/O=scep-sdk tests/CN=Fake SCEP CA" }); // the fake CA's name, another key
    const cwd = workDir("getcrl-twin");
    writeFileSync(join(cwd, "twin.pem"), twin.certPem);
    const r = await runCli(["getcrl", "--url", server.url, "--cert", "twin.pem", "--out", "crl.der"], { cwd });
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      "",
      "scep: --cert twin.pem was not issued by this CA (its issuer is O=scep-sdk tests, CN=Fake SCEP CA, and none of the CA certificates GetCACert returned signed it), so this CA has no CRL for it; nothing was sent: ask the CA that issued it\n",
    ]);
    expect(server.requests).toEqual([]);
    expect(existsSync(join(cwd, "crl.der"))).toBe(false);
  });

  it("getcrl: another failInfo keeps its own meaning", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badMessageCheck", failInfoText: null } }));
    const cwd = workDir("getcrl-other-failure");
    writeFileSync(join(cwd, "c.pem"), server.ca.certPem);
    const r = await runCli(["getcrl", "--url", server.url, "--cert", "c.pem"], { cwd });
    expect([r.code, r.stdout, r.stderr]).toEqual([2, "", "FAILURE: badMessageCheck: the request failed the CA's integrity check (its signature, digest or encryption, or a replayed or unreadable challenge)\n"]);
  });

  // Another key's CRL names that key in its authorityKeyIdentifier: refused as one that cannot be checked (a separate
  // CRL signer would look the same), not as a signature that fails.
  const otherKey = (ca: Certificate): RegExp =>
    new RegExp(
      `its authorityKeyIdentifier [0-9a-f]{40} names a key that is not the CA's \\(subjectKeyIdentifier ${Buffer.from(ca.subjectKeyIdentifier!).toString("hex")}\\), so it cannot be checked \\(a separate CRL signer, RFC 5280 §6\\.3\\.3, or another CA of the same name: only the key of the CA that issued --cert is trusted here\\)`,
    );
  it.for([
    ["own", 0, undefined],
    ["own-pss", 0, undefined],
    ["own-pss-default", 0, undefined],
    ["own-sha224", 0, undefined],
    ["other-key", 1, otherKey],
    ["other-key-pss", 1, otherKey],
    ["other-keyid", 1, "its authorityKeyIdentifier 0102030405060708090a0b0c0d0e0f1011121314 is not the CA's subjectKeyIdentifier"],
  ] as const)("getcrl: RFC 5280 §6.3.3: the issuing CA's CRL is written (PKCS #1 v1.5, RSASSA-PSS: RFC 4055 §3.1); one of another CA with the same name is refused, exit 1, nothing written: %s", async ([crlSigner, code, expected], { owned }) => {
    const server = await owned(startFakeScepServer("getcrl", { crlSigner }));
    const cwd = workDir(`getcrl-${crlSigner}`);
    writeFileSync(join(cwd, "c.pem"), server.ca.certPem);
    const ca = Certificate.from(server.ca.certPem);
    const why = typeof expected === "function" ? expected(ca).source : expected === undefined ? undefined : escape(expected);
    const r = await runCli(["getcrl", "--url", server.url, "--cert", "c.pem", "--out", "crl.der"], { cwd });
    expect([crlSigner, r.code]).toEqual([crlSigner, code]);
    if (why === undefined) {
      expect(r.stderr).toBe("");
      expect(existsSync(join(cwd, "crl.der"))).toBe(true);
    } else {
      expect(r.stderr).toMatch(new RegExp(`^scep: the CA returned a CRL that is not ${escape(ca.subject)}'s \\(the CA that issued --cert c\\.pem\\): ${why}.*; nothing was written\n$`));
      expect(existsSync(join(cwd, "crl.der"))).toBe(false);
    }
  });
});

describe("renew: a FAILURE line never contradicts the CA's failInfoText (the texts the example servers send)", () => {
  const NO_RENEWAL_CAP = "warning: the CA does not advertise Renewal; sending RenewalReq anyway\n";
  const renewIn = async (server: FakeScepServer, name: string, pem: { certPem: string; keyPem: string }, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const cwd = workDir(name);
    writeFileSync(join(cwd, "old.pem"), pem.certPem);
    writeFileSync(join(cwd, "old.key"), pem.keyPem);
    return runCli(["renew", "--url", server.url, "--cert", "old.pem", "--key", "old.key", "--out", "new.pem", ...extra], { cwd });
  };

  it("--cert from another CA (same name, other key): named as the likely reason, checked against GetCACert by signature, not the missing challenge", async ({ owned }) => {
    const other = await opensslCreateCa({ subject: "/O=scep-sdk tests/CN=Fake SCEP CA" });
    const issuer = Certificate.from(other.certPem).issuer;
    const why = `--cert old.pem was not issued by this CA (its issuer is ${issuer}, and none of the CA certificates GetCACert returned signed it)`;
    const noChallenge = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: "no challenge password in the CSR" } }));
    const pkcsReq = await renewIn(noChallenge, "foreign-pkcsreq", other, []);
    expect([pkcsReq.code, pkcsReq.stdout, pkcsReq.stderr]).toEqual([
      2,
      "",
      `FAILURE: badRequest: the CA does not permit or support this request (the CA said "no challenge password in the CSR"); ${why}: renew it at the CA that issued it, or give --challenge to enroll here anew\n`,
    ]);
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: "the renewal is not signed by a certificate of this CA" } }));
    const renewalReq = await renewIn(server, "foreign-renewalreq", other, ["--renewal-req"]);
    expect([renewalReq.code, renewalReq.stderr]).toEqual([
      2,
      `${NO_RENEWAL_CAP}FAILURE: badRequest: the CA does not permit or support this request (the CA said "the renewal is not signed by a certificate of this CA"); ${why}: renew it at the CA that issued it, or give --challenge without --renewal-req to enroll here anew\n`,
    ]);
    // the CA's own certificate (self-signed, so issued by the CA) is not called foreign, and a text not about the challenge gets no challenge guess
    const own = await renewIn(server, "own-renewalreq", server.ca, ["--renewal-req"]);
    expect(own.stderr).toBe(`${NO_RENEWAL_CAP}FAILURE: badRequest: the CA does not permit or support this request (the CA said "the renewal is not signed by a certificate of this CA")\n`);
  });

  const revokedMeaning = "the CA did not accept a certificate this request depends on (--cert old.pem, the one being renewed, or the one issued for this transaction)";
  const revokedKey = "a revoked certificate's key may be compromised and must not be certified again";
  it.for([
    [[], `enroll anew with a new key: give --new-key and --challenge to the same command (${revokedKey})`],
    [["--new-key"], "give --challenge to enroll anew with the same command"],
    [["--renewal-req"], `send it as a first enrollment with a new key instead (drop --renewal-req, give --new-key and --challenge: ${revokedKey})`],
    [["--renewal-req", "--new-key"], "send it as a first enrollment instead (drop --renewal-req, give --challenge)"],
    [["--challenge", "wrong"], `and the CA did not accept --challenge for a first enrollment: check it against ${CHALLENGE_WHERE}; and give --new-key: ${revokedKey}`],
  ] as const)("a revoked --cert: badCertId says the CA did not accept the certificate, not that it has none, and how to enroll anew with a new key (RFC 5280 §5.3.1: the revoked certificate's key may be compromised): renew %j", async ([extra, what], { owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked" } }));
    const r = await renewIn(server, "revoked", server.ca, [...extra]);
    const sep = extra[0] === "--challenge" ? ", " : ": ";
    expect([r.code, r.stderr]).toEqual([
      2,
      `${extra[0] === "--renewal-req" ? NO_RENEWAL_CAP : ""}FAILURE: badCertId: ${revokedMeaning} (the CA said "the certificate being renewed was revoked"); --cert old.pem was revoked and cannot be renewed${sep}${what}\n`,
    ]);
  });

  const fresh = "a fresh one if the CA's challenges are one-time";
  const keep = ` (${fresh}; the key may stay: it was not revoked as compromised)`;
  it.for([
    ["keyCompromise", [], `: enroll anew with a new key: give --new-key and --challenge to the same command (${revokedKey})`],
    ["keyCompromise", ["--renewal-req"], `: send it as a first enrollment with a new key instead (drop --renewal-req, give --new-key and --challenge: ${revokedKey})`],
    ["keyCompromise", ["--challenge", "wrong"], `, and the CA did not accept --challenge for a first enrollment: check it against ${CHALLENGE_WHERE}; and give --new-key: ${revokedKey}`],
    ["superseded", [], `: give --challenge to enroll anew with the same command${keep}`],
    ["superseded", ["--renewal-req"], `: send it as a first enrollment instead (drop --renewal-req, give --challenge)${keep}`],
    ["superseded", ["--new-key"], `: give --challenge to enroll anew with the same command (${fresh})`],
    ["superseded", ["--challenge", "wrong"], `, and the CA did not accept --challenge for a first enrollment: check it against ${CHALLENGE_WHERE}`],
    ["cessationOfOperation", [], `: give --challenge to enroll anew with the same command${keep}`],
  ] as const)("a revoked --cert with the RFC 5280 §5.3.1 reason in the CA's text: --new-key only for keyCompromise; superseded or cessationOfOperation get a plain first enrollment with --challenge (a fresh one where challenges are one-time): %s, renew %j", async ([reason, extra, what], { owned }) => {
    const text = `the certificate being renewed was revoked (${reason})`;
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: text } }));
    const r = await renewIn(server, `revoked-${reason}`, server.ca, [...extra]);
    expect([r.code, r.stderr]).toEqual([2, `${extra[0] === "--renewal-req" ? NO_RENEWAL_CAP : ""}FAILURE: badCertId: ${revokedMeaning} (the CA said "${text}"); --cert old.pem was revoked (${reason}) and cannot be renewed${what}\n`]);
  });

  it("a revoked --cert with a parenthesis that is no RFC 5280 reason name: no reason, so a new key, as when the CA gives none", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked (oops)" } }));
    const odd = await renewIn(server, "revoked-odd", server.ca, []);
    expect(odd.stderr).toContain(`; --cert old.pem was revoked and cannot be renewed: enroll anew with a new key: give --new-key and --challenge to the same command (${revokedKey})\n`);
  });

  it("a key the CA refuses as compromised (badRequest, the example servers' text): renew is told --new-key, enroll a new key; no challenge guess", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" } }));
    const said = `FAILURE: badRequest: the CA does not permit or support this request (the CA said "this key was revoked as compromised: generate a new key")`;
    const renewed = await renewIn(server, "compromised", server.ca, ["--challenge", "secret"]);
    expect([renewed.code, renewed.stderr]).toEqual([2, `${said}; the CA will not certify this key again: give --new-key (with --challenge) so the new certificate gets a fresh key\n`]);
    const cwd = workDir("compromised-enroll");
    writeFileSync(join(cwd, "old.key"), server.ca.keyPem);
    const enrolled = await runCli(["enroll", "--url", server.url, "--cn", "device-1", "--key", "old.key", "--challenge", "secret", "--out", "new.pem"], { cwd });
    expect([enrolled.code, enrolled.stderr]).toEqual([2, `${said}; the CA will not certify this key again: enroll with a new key (another --key, or none: a new key is generated)\n`]);
  });

  it("an expired --cert: badTime names its validity; a text about something else gets no challenge guess", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badTime", failInfoText: "the certificate being renewed is expired or not yet valid" } }));
    const ca = Certificate.from(server.ca.certPem);
    const r = await renewIn(server, "expired", server.ca, []);
    expect([r.code, r.stderr]).toEqual([
      2,
      `FAILURE: badTime: the CA did not accept a time (the request's signingTime, a challenge that expired, or the validity of the certificate that signed it) (the CA said "the certificate being renewed is expired or not yet valid"); --cert old.pem is valid ${ca.notBefore.toISOString()} to ${ca.notAfter.toISOString()}, so it cannot be renewed now: give --challenge to enroll anew with the same command\n`,
    ]);
    const blockedServer = await owned(startFakeScepServer("failure", { failure: { failInfo: "badRequest", failInfoText: "device blocked" } }));
    const blocked = await renewIn(blockedServer, "blocked", blockedServer.ca, []);
    expect(blocked.stderr).toBe(`FAILURE: badRequest: the CA does not permit or support this request (the CA said "device blocked")\n`);
  });
});

describe("getcert --serial", () => {
  it("takes the whole line openssl x509 -serial -noout prints (serial=…): the GetCert asks for that serial", async ({ owned }) => {
    const server = await owned(startFakeScepServer("failure", { failure: { failInfo: "badCertId", failInfoText: null } }));
    const cwd = workDir("serial-line");
    const ca = Certificate.from(server.ca.certPem);
    for (const [spelling, said] of [["serial=0A1B2C", "0A1B2C"], ["SERIAL = 0a:1b:2c", "0a:1b:2c"], [" serial=000A1B2C\n", "000A1B2C (0a1b2c)"]] as const) {
      const r = await runCli(["getcert", "--url", server.url, "--serial", spelling], { cwd });
      expect([r.code, r.stderr]).toEqual([2, `FAILURE: badCertId: the CA has no certificate of issuer ${ca.subject} with serial ${said}; check --serial, and give --issuer-cert when the CA has more than one issuer\n`]);
    }
    expect(server.requests.map((q) => [q.request.messageTypeName, Buffer.from(q.request.issuerAndSerialNumber!.serialNumber).toString("hex")])).toEqual([
      ["GetCert", "0a1b2c"],
      ["GetCert", "0a1b2c"],
      ["GetCert", "0a1b2c"],
    ]);
  });
});

describe("transport failures exit 4", () => {
  it("an HTTP error status, with the server's text", async ({ owned }) => {
    const server = await owned(startFakeScepServer("http-500"));
    const cwd = workDir("500");
    const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem"], { cwd });
    expect(r.code).toBe(4);
    // A 5xx to the PKIOperation: the CA may have issued, so the generated key is kept for the re-send (RFC 8894 §3.3.3).
    expect(r.stderr).toBe(
      `${NO_CHALLENGE}scep: PKIOperation: HTTP 500 (CA database unavailable); the CA may have processed the request; key saved to ${join(cwd, "c.key")}: ` +
        `run the same command with --key to collect the certificate it may have issued (not a second one): scep enroll --url ${server.url} --cn d --out c.pem --key c.key\n`,
    );
    expect(readdirSync(cwd)).toEqual(["c.key"]);
  });

  // RFC 9110 §15.6.4, RFC 6585 §4: the request was not processed (why: the server's own text); no key to re-send with.
  // The fake 503 sends Retry-After: 30 (the 429 none): the line names the wait when the server gave one.
  it.for([
    ["http-503", "CA busy", "in 30 s"],
    ["http-429", "too many requests", "later"],
  ] as const)("a 503 or 429 to the PKIOperation: the server did not process it, so nothing is kept and the same command runs again: %s", async ([mode, text, when], { owned }) => {
    const server = await owned(startFakeScepServer(mode));
    const cwd = workDir(mode);
    const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem"], { cwd });
    expect([r.code, r.stderr]).toEqual([
      4,
      `${NO_CHALLENGE}scep: PKIOperation: HTTP ${mode.slice(5)} (${text}): the server did not process the request: run the same command again ${when}\n`,
    ]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("a typo in the URL's path: the web server's 404 page as one line, and the path named as what to check", async ({ owned }) => {
    // Express's own 404 page, as the example servers answer a path that is no SCEP endpoint
    const page = '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /scpe</pre>\n</body>\n</html>\n';
    const http = await owned(listenLoopback((_req, res) => res.writeHead(404, { "content-type": "text/html; charset=utf-8" }).end(page)));
    const url = `${http.base}/scpe`;
    const hint = "is the path in --url a SCEP endpoint? (the example servers: /scep)";
    for (const [args, operation] of [[["getcert", "--serial", "4F:1C"], "GetCACert"], [["getcacaps"], "GetCACaps"]] as const) {
      const r = await runCli([...args, "--url", url], { cwd: root });
      expect([r.code, r.stderr]).toEqual([4, `scep: ${operation}: HTTP 404 (Cannot GET /scpe): ${hint}\n`]);
    }
  });

  // what the example servers answer at /healthz, /admin/scep, a typo and when shedding load, for any ?operation=
  const notScep = (): Promise<Loopback> =>
    listenLoopback((req, res) => {
      const path = new URL(req.url!, "http://x").pathname;
      if (path === "/healthz") res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok");
      else if (path === "/admin/scep") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><title>SCEP admin</title>");
      else if (path === "/busy") res.writeHead(503, { "content-type": "text/plain", "retry-after": "1" }).end("too many requests in flight");
      else res.writeHead(404, { "content-type": "text/plain" }).end(`Cannot GET ${path}`);
    });
  const path = "is the path in --url a SCEP endpoint? (the example servers: /scep)";
  const cert = "CA certificates (application/x-x509-ca-cert or application/x-x509-ca-ra-cert)";
  // The wait is the one its Retry-After (1) names.
  const later = "the server at --url is there but cannot answer now: try again in 1 s, and check that the path in --url is a SCEP endpoint (the example servers: /scep)";
  it.for([
    ["/healthz", ["getcacaps"], `GetCACaps: the reply "ok" names no SCEP capability: ${path}`],
    ["/healthz", ["getcacert"], `GetCACert: HTTP 200 with content-type text/plain; charset=utf-8, not ${cert}: ${path}`],
    ["/healthz", ["enroll", "--challenge", "pw", "--cn", "d", "--out", "c.pem"], `GetCACert: HTTP 200 with content-type text/plain; charset=utf-8, not ${cert}: ${path}`],
    ["/admin/scep", ["getcacert"], `GetCACert: HTTP 200 with content-type text/html; charset=utf-8, not ${cert}: ${path}`],
    ["/admin/scep", ["getcacaps"], `GetCACaps: HTTP 200 with content-type text/html; charset=utf-8, not a capability list (text/plain): ${path}`],
    ["/admin/scep", ["getcert", "--serial", "01"], `GetCACert: HTTP 200 with content-type text/html; charset=utf-8, not ${cert}: ${path}`],
    // GetCACaps then GetCACert both refused: GetCACert's line alone, no "assuming no capabilities" warning before it
    ["/scpe", ["enroll", "--challenge", "pw", "--cn", "d", "--out", "c.pem"], `GetCACert: HTTP 404 (Cannot GET /scpe): ${path}`],
    ["/busy", ["enroll", "--challenge", "pw", "--cn", "d", "--out", "c.pem"], `GetCACert: HTTP 503 (too many requests in flight): ${later}`],
    ["/busy", ["getcacaps"], `GetCACaps: HTTP 503 (too many requests in flight): ${later}`],
  ] as const)("a --url that is no SCEP endpoint (a health check, an admin page, a 404, a 503): one line with the status and content type, exit 4, and what to check: %s %j", async ([at, args, line], { owned }) => {
    const http = await owned(notScep());
    const r = await runCli([...args, "--url", `${http.base}${at}`], { cwd: workDir("not-scep") });
    expect([r.code, r.stdout, r.stderr]).toEqual([4, "", `scep: ${line}\n`]);
  });

  it("a CA that never answers, after --timeout", async ({ owned }) => {
    const server = await owned(startFakeScepServer("hang"));
    // --timeout bounds each request, also the GetCACaps and GetCACert that must succeed first: in a process just
    // started on a loaded machine (its first fetch loads the HTTP client), 500 ms is not enough for them.
    const cwd = workDir("hang");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--timeout", "3000"], { cwd });
    expect(r.code).toBe(4);
    // The PKIOperation was sent: the CA may have issued, so the generated key is kept for the re-send.
    expect(r.stderr).toBe(
      `scep: PKIOperation: timed out after 3000 ms: the server at --url did not answer in time: try again, or give it longer with --timeout MS; the CA may have processed the request; key saved to ${join(cwd, "c.key")}: ` +
        `run the same command with --key to collect the certificate it may have issued (not a second one): scep enroll --url ${server.url} --challenge <challenge> --cn d --out c.pem --timeout 3000 --key c.key\n`,
    );
    expect(readdirSync(cwd)).toEqual(["c.key"]);
  });

  // A network failure is one line that says what failed and what to check, never "fetch failed" alone or a stack.
  it("a port fetch will not use (Fetch standard's bad ports, here 1) says to choose another port", async () => {
    const r = await runCli(["getcacaps", "--url", "http://127.0.0.1:1/scep"], { cwd: root });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`scep: GetCACaps: fetch will not connect to port 1 (a "bad port" of the Fetch standard): run the SCEP server on another port and use that in --url\n`);
  });

  it("a host name that does not resolve names the host to check", async () => {
    const r = await runCli(["getcacert", "--url", "http://scep-host.invalid/scep"], { cwd: root });
    expect(r.code).toBe(4);
    // .invalid never resolves (RFC 6761 §6.4); a machine without a DNS server answers EAI_AGAIN instead of ENOTFOUND
    expect(r.stderr).toMatch(/^scep: GetCACert: cannot resolve the host name scep-host\.invalid \((ENOTFOUND|EAI_AGAIN)\): check the host name in --url( and the DNS settings)?\n$/);
  });

  it("a refused connection leaves no key behind: the retry just works", async ({ owned }) => {
    const port = await freeStablePort(); // below the ephemeral range: refused now, and still free when the CA starts on it below
    const r = await runCli(["getcacaps", "--url", `http://127.0.0.1:${port}/scep`], { cwd: root });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`scep: GetCACaps: connection refused by 127.0.0.1:${port} (ECONNREFUSED): is the SCEP server running at http://127.0.0.1:${port}/scep?\n`);
    const cwd = workDir("refused");
    const args = ["enroll", "--url", `http://127.0.0.1:${port}/scep`, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--key-out", "refused.key"];
    const e = await runCli(args, { cwd });
    expect(e.code).toBe(4);
    expect(e.stderr).toBe(`scep: GetCACaps: connection refused by 127.0.0.1:${port} (ECONNREFUSED): is the SCEP server running at http://127.0.0.1:${port}/scep?\n`);
    expect(existsSync(join(cwd, "refused.key"))).toBe(false);
    // the CA comes up on that port: the very same command succeeds
    const server = await owned(startFakeScepServer("pending-then-success", { port }));
    const retry = await runCli([...args, "--poll-interval", "0.001"], { cwd });
    expect(retry.code, retry.stderr).toBe(0);
    expect(readFileSync(join(cwd, "refused.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(Certificate.from(readFileSync(join(cwd, "c.pem"), "utf8")).subject).toBe("CN=d");
  });
});

describe("an output file that cannot be written: exit 73 (sysexits EX_CANTCREAT) before anything is sent", () => {
  it.for([
    [["enroll", "--challenge", "pw", "--cn", "d", "--out", "missing/d.pem"], "scep: enroll: cannot write --out missing/d.pem: the directory missing does not exist; nothing was sent"],
    [["enroll", "--challenge", "pw", "--cn", "d", "--out", "d.pem", "--key-out", "missing/d.key"], "scep: enroll: cannot write the key file missing/d.key: the directory missing does not exist; nothing was sent"],
    [["getcacert", "--out", "missing/ca.pem"], "scep: getcacert: cannot write --out missing/ca.pem: the directory missing does not exist; nothing was sent"],
    [["getcert", "--serial", "01", "--out", "missing/c.pem"], "scep: getcert: cannot write --out missing/c.pem: the directory missing does not exist; nothing was sent"],
    [["getcrl", "--cert", "any.pem", "--out", "missing/ca.crl"], "scep: getcrl: cannot write --out missing/ca.crl: the directory missing does not exist; nothing was sent"],
    [["getcrl", "--cert", "any.pem", "--out", "."], "scep: getcrl: cannot write --out .: it is a directory, not a file; nothing was sent"],
  ] as const)("--out or the key file in a directory that does not exist, or --out a directory: one line, no request, no certificate issued for a key the CLI cannot keep: %j", async ([args, line], { owned }) => {
    const server = await owned(startFakeScepServer("pending-then-success"));
    const cwd = workDir("no-out-dir");
    const r = await runCli([...args, "--url", server.url], { cwd });
    expect([r.code, r.stderr, r.stdout]).toEqual([73, `${line}\n`, ""]);
    expect(server.requests).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe("CA pinning exits 5 before any request (RFC 8894 §2.2)", () => {
  const fp = (pem: string): string => createHash("sha256").update(Certificate.from(pem).der).digest("hex");

  it("getcacert prints the pinned certificate it matched, by fingerprint or by --ca-cert", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("pin-ok");
    const hex = fp(server.ca.certPem);
    const colons = hex.toUpperCase().match(/../g)!.join(":");
    const r = await runCli(["getcacert", "--url", server.url, "--ca-fingerprint", `sha256:${colons}`], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`O=scep-sdk tests, CN=Fake SCEP CA (CA, encrypt requests to)\n  SHA-256 ${colons}\npinned CA matches: sha256:${hex} (O=scep-sdk tests, CN=Fake SCEP CA)\n`);
    writeFileSync(join(cwd, "ca.pem"), server.ca.certPem);
    const byCert = await runCli(["getcacert", "--url", server.url, "--ca-cert", "ca.pem"], { cwd });
    expect(byCert.code, byCert.stderr).toBe(0);
    expect(byCert.stdout.split("\n")[2]).toBe(`pinned CA matches: sha256:${hex} (O=scep-sdk tests, CN=Fake SCEP CA)`);
  });

  it("a mismatch: exit 5, both fingerprints, no PKIOperation sent, no key left", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = workDir("pin-bad");
    const wrong = "ab".repeat(32);
    const actual = fp(server.ca.certPem);
    const expected = `scep: GetCACert: no CA certificate matches the pinned CA sha256:${wrong}; the CA sent sha256:${actual} (O=scep-sdk tests, CN=Fake SCEP CA, CA); nothing was sent\n`;
    const g = await runCli(["getcacert", "--url", server.url, "--ca-fingerprint", wrong], { cwd });
    expect([g.code, g.stdout, g.stderr]).toEqual([5, "", expected]);
    const e = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--ca-fingerprint", wrong], { cwd });
    expect([e.code, e.stderr]).toEqual([5, expected]);
    expect(server.requests).toEqual([]);
    expect(existsSync(join(cwd, "c.key"))).toBe(false);
  });

  it("a malformed fingerprint is a usage error (64)", async () => {
    const r = await runCli(["getcacert", "--url", "http://127.0.0.1:9/scep", "--ca-fingerprint", "sha256:1234"], { cwd: root });
    expect(r.code).toBe(64);
    expect(r.stderr.split("\n")[0]).toBe('scep: getcacert: --ca-fingerprint must be sha256:<64 hex digits> (colons allowed), got "sha256:1234"');
  });
});

it("resolves relative paths against its cwd even with a stale INIT_CWD from an outer pnpm script", async ({ owned }) => {
  const server = await owned(startFakeScepServer("pending"));
  const cwd = workDir("cwd");
  const elsewhere = workDir("elsewhere");
  const r = await runCli(["getcacert", "--url", server.url, "--out", "ca.pem"], { cwd, env: { INIT_CWD: elsewhere, npm_lifecycle_event: "test" } });
  expect(r.code, r.stderr).toBe(0);
  expect(bytes(Certificate.from(readFileSync(join(cwd, "ca.pem"), "utf8")).der)).toEqual(bytes(Certificate.from(server.ca.certPem).der));
  expect(existsSync(join(elsewhere, "ca.pem"))).toBe(false);
});

describe("getcert: a SUCCESS that holds another serial's certificate", () => {
  it("exits 1 naming the serial as the user wrote it (DEADBEEF), the CA's spelling after it since it differs (00deadbeef)", async ({ owned }) => {
    const server = await owned(startFakeScepServer("getcert-other-serial"));
    const cwd = workDir("getcert-other");
    for (const [given, said] of [
      ["DEADBEEF", "DEADBEEF (00deadbeef)"],
      ["7E:AD:BE:EF", "7E:AD:BE:EF"],
    ] as const) {
      const r = await runCli(["getcert", "--url", server.url, "--serial", given], { cwd });
      expect([r.code, r.stdout, r.stderr]).toEqual([1, "", `scep: the CA answered SUCCESS for serial ${said}, but none of the 1 certificate it sent has that serial and issuer\n`]);
    }
  });
});

/** `text` as a literal in a RegExp. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
