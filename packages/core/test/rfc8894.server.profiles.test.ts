/**
 * Server profiles: several SCEP endpoints with their own CA on one server,
 * each answering with its own CA; and the configurations `createScepServer`
 * refuses (ERR_INVALID_ARGUMENT) because they would let anyone enroll by
 * accident.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  buildPkcsReq,
  createScepServer,
  isScepError,
  parseGetCaCertResponse,
  type ChallengePolicy,
  type IssueContext,
  type ScepProfile,
  type ScepServer,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, getOp, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let root: TestCa;
let corp: TestCa;
let device: Device;
let server: ScepServer;
const rootCalls: IssueContext[] = [];
const corpCalls: IssueContext[] = [];
const log = eventLog();

beforeAll(async () => {
  [root, corp] = await Promise.all([createTestCa("Root Profile CA"), createTestCa("Corp Profile CA")]);
  device = await createDevice({ cn: "profile-device", challengePassword: "both-secret" });
  server = createScepServer({
    profiles: [
      { path: "/scep", caCertificate: root.cert, signer: root.key, challenge: { type: "static", password: "both-secret" }, issue: issuingHook(root, rootCalls) },
      {
        name: "corp",
        path: "/scep/corp",
        caCertificate: corp.cert,
        signer: corp.key,
        challenge: { type: "static", password: "both-secret" },
        issue: issuingHook(corp, corpCalls),
        capabilities: ["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"],
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
});

describe("two profiles, two CAs", () => {
  it("GetCACert answers each profile's own CA, also behind path suffixes", async () => {
    for (const [path, ca] of [
      ["/scep", root],
      ["/scep/pkiclient.exe", root],
      ["/scep/corp", corp],
      ["/scep/corp/pkiclient.exe", corp],
      ["/scep/corp/cgi-bin/pkiclient.exe", corp],
    ] as const) {
      const res = await getOp(server, path, "GetCACert");
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/x-x509-ca-cert");
      expect(parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer())).map((c) => c.subject)).toEqual([ca.cert.subject]);
    }
  });

  it("GetCACaps answers each profile's own capabilities", async () => {
    expect(await (await getOp(server, "/scep", "GetCACaps")).text()).toBe("AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard");
    expect(await (await getOp(server, "/scep/corp", "GetCACaps")).text()).toBe("AES\nPOSTPKIOperation\nSHA-256\nSCEPStandard");
  });

  it("each profile issues with its own CA, signs with its own key and names itself in events", async () => {
    for (const [path, ca, calls, profile] of [
      ["/scep", root, rootCalls, "/scep"],
      ["/scep/corp", corp, corpCalls, "corp"],
    ] as const) {
      const before = calls.length;
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const rep = await readReply(await postPki(server, path, built.der), built, { decrypter: device.signer });
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.signerCertificate.der)).toBe(hex(ca.cert.der));
      expect(rep.certificates[0]!.issuer).toBe(ca.cert.subject);
      expect(calls.length).toBe(before + 1);
      expect(calls.at(-1)!.profile).toBe(profile);
      expect(log.events.at(-1)).toMatchObject({ profile, operation: "PKCSReq", outcome: "success", reason: "issued", serial: rep.certificates[0]!.serialNumberHex });
    }
  });

  it("a request encrypted to the other profile's CA is a FAILURE there", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: root.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep/corp", built.der), built);
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badMessageCheck");
    expect(hex(rep.signerCertificate.der)).toBe(hex(corp.cert.der));
    expect(log.events.at(-1)).toMatchObject({ profile: "corp", outcome: "failure", reason: "no_recipient" });
  });

  it("stats are kept per profile", () => {
    const stats = server.stats();
    expect(stats.map((s) => s.profile)).toEqual(["/scep", "corp"]);
    expect(stats[0]!.caCertificateExpiry).toEqual(root.cert.notAfter);
    expect(stats[1]!.caCertificateExpiry).toEqual(corp.cert.notAfter);
  });
});

describe("owns(pathname): cheap routing for adapters (RFC 8894 §4.1 paths)", () => {
  it("is true for a profile's path, its pkiclient.exe suffixes and with a query string; false elsewhere", () => {
    const owned = ["/scep", "/scep/", "/scep?operation=GetCACaps", "/scep/pkiclient.exe", "/scep/cgi-bin/pkiclient.exe?operation=GetCACert", "/scep/corp", "/scep/corp/PKICLIENT.EXE", "//scep", "http://scep.test/scep?operation=GetCACaps"];
    const foreign = ["/", "/favicon.ico", "/scepx", "/scep/other", "/admin/approve/abc", "/scep/corp/other", "/api/users?x=/scep", "http://scep.test/other", "not a path"];
    expect(owned.map((p) => server.owns(p))).toEqual(owned.map(() => true));
    expect(foreign.map((p) => server.owns(p))).toEqual(foreign.map(() => false));
  });

  it("answers the same question fetch routes by: an owned path never gets the unknown_path 404", async () => {
    for (const path of ["/scep/corp/pkiclient.exe", "/scep"]) {
      const res = await getOp(server, path, "GetCACaps");
      expect([server.owns(path), res.status]).toEqual([true, 200]);
    }
    const res = await getOp(server, "/scepx", "GetCACaps");
    expect([server.owns("/scepx"), res.status]).toEqual([false, 404]);
  });
});

describe("aliases: a profile answering other paths too (RFC 8894 §4.1's /cgi-bin/pkiclient.exe)", () => {
  // Cisco IOS/ASA and sscep, given a URL without a path, ask for /cgi-bin/pkiclient.exe.
  let aliased: ScepServer;
  const aliasLog = eventLog();
  beforeAll(() => {
    aliased = createScepServer({
      profiles: [
        { path: "/scep", aliases: ["/cgi-bin", "/certsrv/mscep/mscep.dll/"], caCertificate: root.cert, signer: root.key, challenge: { type: "static", password: "both-secret" }, issue: issuingHook(root) },
        { name: "corp", path: "/scep/corp", caCertificate: corp.cert, signer: corp.key, challenge: { type: "static", password: "both-secret" }, issue: issuingHook(corp) },
      ],
      onEvent: aliasLog.onEvent,
      now: () => NOW,
    });
  });

  it("routes an alias and its suffixes to the profile, which enrolls there and names itself in events", async () => {
    for (const path of ["/cgi-bin/pkiclient.exe", "/cgi-bin", "/cgi-bin/PKICLIENT.EXE", "/certsrv/mscep/mscep.dll", "/certsrv/mscep/mscep.dll/pkiclient.exe"]) {
      expect([path, aliased.owns(path)]).toEqual([path, true]);
      const res = await getOp(aliased, path, "GetCACert");
      expect(parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer())).map((c) => c.subject)).toEqual([root.cert.subject]);
    }
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: root.cert, now: NOW });
    const rep = await readReply(await postPki(aliased, "/cgi-bin/pkiclient.exe", built.der), built, { decrypter: device.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.issuer).toBe(root.cert.subject);
    expect(aliasLog.events.at(-1)).toMatchObject({ profile: "/scep", operation: "PKCSReq", outcome: "success" });
    expect(aliased.stats().map((s) => s.profile)).toEqual(["/scep", "corp"]);
  });

  it("routes nothing else below the alias, and leaves the other profiles their paths", async () => {
    for (const path of ["/cgi-bin/other", "/cgi-binx", "/", "/certsrv"]) expect([path, aliased.owns(path)]).toEqual([path, false]);
    expect((await getOp(aliased, "/cgi-bin/other", "GetCACaps")).status).toBe(404);
    const corpCert = await getOp(aliased, "/scep/corp/pkiclient.exe", "GetCACert");
    expect(parseGetCaCertResponse(new Uint8Array(await corpCert.arrayBuffer())).map((c) => c.subject)).toEqual([corp.cert.subject]);
  });
});

describe("paths in another case (IIS matches NDES's /CertSrv/mscep/mscep.dll in any case; devices keep the spelling they were given)", () => {
  let mixed: ScepServer;
  beforeAll(() => {
    mixed = createScepServer({
      profiles: [
        { path: "/scep", aliases: ["/certsrv/mscep/mscep.dll"], caCertificate: root.cert, signer: root.key, challenge: { type: "static", password: "both-secret" }, issue: issuingHook(root) },
        { name: "corp", path: "/scep/Corp", caCertificate: corp.cert, signer: corp.key, challenge: { type: "static", password: "both-secret" }, issue: issuingHook(corp) },
      ],
      now: () => NOW,
    });
  });

  it("routes a path that matches none as sent to the profile it names in any case, suffixes included, and enrolls there", async () => {
    const cases: [string, TestCa][] = [
      ["/SCEP", root],
      ["/Scep/PKICLIENT.EXE", root],
      ["/CertSrv/mscep/mscep.dll", root],
      ["/CERTSRV/MSCEP/MSCEP.DLL/pkiclient.exe", root],
      ["/scep/Corp", corp],
      ["/scep/corp", corp],
      ["/SCEP/CORP/cgi-bin", corp],
    ];
    for (const [path, ca] of cases) {
      expect([path, mixed.owns(path)]).toEqual([path, true]);
      const res = await getOp(mixed, path, "GetCACert");
      expect([path, parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer())).map((c) => c.subject)]).toEqual([path, [ca.cert.subject]]);
    }
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: root.cert, now: NOW });
    const rep = await readReply(await postPki(mixed, "/CertSrv/mscep/mscep.dll", built.der), built, { decrypter: device.signer });
    expect(rep.status).toBe("SUCCESS");
    for (const path of ["/SCEPX", "/Scep/Other", "/CERTSRV"]) expect([path, mixed.owns(path)]).toEqual([path, false]);
  });
});

describe("configurations createScepServer refuses", () => {
  function base(): ScepProfile {
    return { path: "/scep", caCertificate: root.cert, signer: root.key, challenge: { type: "static", password: "x" }, issue: issuingHook(root) };
  }

  function expectInvalid(run: () => unknown, message: RegExp): void {
    let caught: unknown;
    try {
      run();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect(isScepError(caught) && caught.code).toBe("ERR_INVALID_ARGUMENT");
    expect((caught as Error).message).toMatch(message);
  }

  it("a profile without a challenge policy", () => {
    const { challenge: _omitted, ...rest } = base();
    expectInvalid(() => createScepServer({ profiles: [rest as ScepProfile] }), /^profile \/scep: a challenge policy is required/);
  });

  it("a static challenge with an empty password", () => {
    expectInvalid(() => createScepServer({ profiles: [{ ...base(), challenge: { type: "static", password: "" } }] }), /^profile \/scep: the static challenge password is empty$/);
  });

  it("no profiles at all", () => {
    expectInvalid(() => createScepServer({ profiles: [] }), /^at least one profile is required$/);
  });

  it("two profiles on the same path", () => {
    expectInvalid(() => createScepServer({ profiles: [base(), { ...base(), name: "other", path: "/scep/" }] }), /^duplicate profile/);
  });

  it("two profiles whose paths or aliases differ only in case: paths are matched in any case, so they would share those requests", () => {
    expectInvalid(() => createScepServer({ profiles: [base(), { ...base(), name: "other", path: "/SCEP" }] }), /^profile other: path or alias \/SCEP differs from profile \/scep's \/scep only in case/);
    expectInvalid(() => createScepServer({ profiles: [{ ...base(), aliases: ["/certsrv/mscep/mscep.dll"] }, { ...base(), name: "other", path: "/other", aliases: ["/CertSrv/mscep/mscep.dll"] }] }), /differs from profile \/scep's \/certsrv\/mscep\/mscep\.dll only in case/);
    expect(createScepServer({ profiles: [{ ...base(), aliases: ["/SCEP/x", "/scep/X"] }] }).owns("/Scep/X")).toBe(true);
  });

  it("an alias another profile's path or alias takes, or the profile's own path", () => {
    expectInvalid(() => createScepServer({ profiles: [base(), { ...base(), name: "other", path: "/other", aliases: ["/scep/"] }] }), /^profile other: alias \/scep is already profile \/scep's path or alias$/);
    expectInvalid(() => createScepServer({ profiles: [{ ...base(), aliases: ["/cgi-bin"] }, { ...base(), name: "other", path: "/other", aliases: ["//cgi-bin"] }] }), /alias \/cgi-bin is already profile \/scep's/);
    expectInvalid(() => createScepServer({ profiles: [{ ...base(), aliases: ["/scep"] }] }), /alias \/scep is already its own path or alias/);
  });

  it("a path or alias that is another profile's path or alias plus a suffix clients append (RFC 8894 §4.1, INTUNE.md's /cgi-bin): it would take that profile's requests", () => {
    const cases: [string, () => unknown, RegExp][] = [
      ["path /scep/cgi-bin next to /scep", () => createScepServer({ profiles: [base(), { ...base(), name: "win", path: "/scep/cgi-bin" }] }), /^profile win: path \/scep\/cgi-bin is profile \/scep's path \/scep with a suffix clients append, so it would take \/scep's requests$/],
      ["path /scep/PKICLIENT.EXE next to /scep", () => createScepServer({ profiles: [base(), { ...base(), name: "x", path: "/scep/PKICLIENT.EXE" }] }), /^profile x: path \/scep\/PKICLIENT\.EXE is profile \/scep's path \/scep /],
      ["the shorter profile listed second", () => createScepServer({ profiles: [{ ...base(), name: "x", path: "/scep/cgi-bin/pkiclient.exe" }, base()] }), /^profile x: path \/scep\/cgi-bin\/pkiclient\.exe is profile \/scep's path \/scep /],
      ["an alias /cgi-bin next to a profile at /", () => createScepServer({ profiles: [{ ...base(), name: "root", path: "/" }, { ...base(), name: "x", path: "/x", aliases: ["/cgi-bin"] }] }), /^profile x: alias \/cgi-bin is profile root's path \/ with a suffix/],
      ["an alias's suffix taken by another profile's path", () => createScepServer({ profiles: [{ ...base(), aliases: ["/certsrv"] }, { ...base(), name: "x", path: "/certsrv/mscep/pkiclient.exe" }] }), /^profile x: path \/certsrv\/mscep\/pkiclient\.exe is profile \/scep's alias \/certsrv /],
    ];
    for (const [, make, message] of cases) expectInvalid(make, message);
    // Not a suffix clients append: both profiles keep their own paths.
    const s = createScepServer({ profiles: [base(), { ...base(), name: "corp", path: "/scep/corp" }, { ...base(), name: "cgi", path: "/scep/cgi-bin-2" }] });
    expect([s.owns("/scep/corp/pkiclient.exe"), s.owns("/scep/cgi-bin"), s.owns("/scep/cgi-bin-2")]).toEqual([true, true, true]);
  });

  it("aliases that are not an array of paths", () => {
    for (const aliases of ["/cgi-bin", [42], null]) {
      expectInvalid(() => createScepServer({ profiles: [{ ...base(), aliases: aliases as unknown as string[] }] }), /^profile \/scep: aliases must be an array of paths/);
    }
  });

  it("two profiles with the same name", () => {
    expectInvalid(() => createScepServer({ profiles: [{ ...base(), name: "a" }, { ...base(), name: "a", path: "/other" }] }), /^duplicate profile a/);
  });

  it("accepts an explicitly acknowledged open profile and reports it as such", () => {
    const open: ChallengePolicy = { type: "none", acknowledgeAnyoneCanEnroll: true };
    const s = createScepServer({ profiles: [{ ...base(), challenge: open }] });
    expect(s.stats()[0]).toMatchObject({ challengeConfigured: false, challengeType: "none" });
  });
});
