/**
 * A CA's challenge-source settings (`ndes.adminUrl`, `smallstep.webhookUrl`, with the account beside them) were
 * checked only by the sources, on each fetch: a URL that does not parse, a scheme other than http/https, or user info
 * in it (the sources refuse any, decodable or not: the account is `username`/`password`) was registered, and every
 * challenge fetch for the CA then failed with `ERR_PROXY_CHALLENGE_SOURCE_CONFIG`, at profile render time, long after
 * start. MemoryCaRegistry now refuses them when the CA is configured, as it does the CA's own URL: `ProxyConfigError`
 * (`ERR_PROXY_CONFIG`), one line naming the setting, never user info or a password. The sources keep their per-fetch
 * check for CAs from a registry of one's own. The registry keeps copies of the settings, so changing the objects
 * passed in afterwards cannot slip an unchecked URL past it.
 */
import { describe, expect, it } from "vitest";
import { MemoryCaRegistry, NdesChallengeSource, ProxyConfigError, SmallstepChallengeSource, type CaConfig } from "../src/index.js";

const NDES: CaConfig = {
  name: "corp-ndes",
  type: "ndes",
  url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
  ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "CORP\\svc-mdm", password: "s3cret", domain: "CORP" },
};
const STEP: CaConfig = {
  name: "step",
  type: "smallstep",
  url: "https://agents.example.scep.smallstep.com/p/agents/mdm",
  smallstep: { webhookUrl: "https://example.scep.smallstep.com/webhooks/challenge", username: "mdm", password: "s3cret" },
};
const withAdminUrl = (adminUrl: string): CaConfig => ({ ...NDES, ndes: { ...NDES.ndes!, adminUrl } });
const withWebhookUrl = (webhookUrl: string): CaConfig => ({ ...STEP, smallstep: { ...STEP.smallstep!, webhookUrl } });

function refusal(cas: CaConfig[]): ProxyConfigError {
  try {
    new MemoryCaRegistry(cas);
  } catch (e) {
    expect(e).toBeInstanceOf(ProxyConfigError);
    return e as ProxyConfigError;
  }
  throw new Error("the registry accepted it");
}

/** [what, the CA, the message, what the message must not hold]. */
const ROWS: [string, CaConfig, string, string][] = [
  ["an adminUrl that does not parse", withAdminUrl("ndes.corp.example/certsrv/mscep_admin/"), "CA #2: ndes.adminUrl is not an absolute URL", "s3cret"],
  ["an empty adminUrl", withAdminUrl(""), "CA #2: ndes.adminUrl is not an absolute URL", "s3cret"],
  ["an adminUrl that is not http(s)", withAdminUrl("ftp://ndes.corp.example/certsrv/mscep_admin/"), "CA #2: ndes.adminUrl must be http or https", "s3cret"],
  [
    "an adminUrl with user info",
    withAdminUrl("https://svc:hunter2@ndes.corp.example/certsrv/mscep_admin/"),
    "CA #2: ndes.adminUrl must not hold user info (user:password@); give the account as ndes.username and ndes.password",
    "hunter2",
  ],
  [
    "an adminUrl whose user info does not decode",
    withAdminUrl("https://svc:hunt%E0%A4%A@ndes.corp.example/certsrv/mscep_admin/"),
    "CA #2: ndes.adminUrl must not hold user info (user:password@); give the account as ndes.username and ndes.password",
    "hunt",
  ],
  ["an adminUrl that is not a string", withAdminUrl(42 as unknown as string), "CA #2: ndes must be an object with adminUrl, username and password strings and an optional domain string", "s3cret"],
  ["a webhookUrl that does not parse", withWebhookUrl("::"), "CA #2: smallstep.webhookUrl is not an absolute URL", "s3cret"],
  ["a webhookUrl that is not http(s)", withWebhookUrl("wss://example.scep.smallstep.com/webhooks/challenge"), "CA #2: smallstep.webhookUrl must be http or https", "s3cret"],
  [
    "a webhookUrl with user info",
    withWebhookUrl("https://mdm:hunter2@example.scep.smallstep.com/webhooks/challenge"),
    "CA #2: smallstep.webhookUrl must not hold user info (user:password@); give the account as smallstep.username and smallstep.password",
    "hunter2",
  ],
  [
    "a webhookUrl whose user info does not decode",
    withWebhookUrl("https://mdm:hunter%@example.scep.smallstep.com/webhooks/challenge"),
    "CA #2: smallstep.webhookUrl must not hold user info (user:password@); give the account as smallstep.username and smallstep.password",
    "hunter",
  ],
  ["smallstep settings without a password", { ...STEP, smallstep: { webhookUrl: STEP.smallstep!.webhookUrl, username: "mdm" } as CaConfig["smallstep"] }, "CA #2: smallstep must be an object with webhookUrl, username and password strings", "mdm"],
  ["smallstep settings that are a string", { ...STEP, smallstep: "https://example.scep.smallstep.com/webhooks/challenge" as unknown as CaConfig["smallstep"] }, "CA #2: smallstep must be an object with webhookUrl, username and password strings", "s3cret"],
];

describe("MemoryCaRegistry checks challenge-source settings when the CA is configured", () => {
  it.each(ROWS)("%s → ProxyConfigError (ERR_PROXY_CONFIG), one line naming the setting", (_what, ca, message, secret) => {
    const e = refusal([{ name: "custom", type: "custom", url: "https://ca.example/scep" }, ca]);
    expect(e).toMatchObject({ code: "ERR_PROXY_CONFIG", message });
    expect(e.message).not.toContain(secret);
    expect(e.message).not.toContain("\n");
  });

  it("absolute http and https URLs with a port, a path and a query are accepted, every field as given", () => {
    const ndes = withAdminUrl("http://ndes.corp.example:8080/certsrv/mscep_admin/?x=1");
    const step = withWebhookUrl("https://example.scep.smallstep.com:8443/webhooks/challenge");
    const registry = new MemoryCaRegistry([ndes, step]);
    expect(registry.list()).toStrictEqual([ndes, step]);
  });

  it("changing the settings objects afterwards changes nothing the registry serves", () => {
    const ndes = structuredClone(NDES);
    const step = structuredClone(STEP);
    const registry = new MemoryCaRegistry([ndes, step]);
    ndes.ndes!.adminUrl = "ftp://evil.example/";
    step.smallstep!.webhookUrl = "https://u:p@evil.example/";
    expect(registry.get("corp-ndes")).toStrictEqual(NDES);
    expect(registry.get("step")).toStrictEqual(STEP);
  });
});

describe("the sources keep their per-fetch check, for a CA from a registry of one's own", () => {
  it.each(ROWS.filter(([, ca]) => ca.type === "ndes" && typeof ca.ndes?.adminUrl === "string"))("NdesChallengeSource, %s → ERR_PROXY_CHALLENGE_SOURCE_CONFIG", async (_what, ca, _message, secret) => {
    const e = await new NdesChallengeSource({ timeoutMs: 5_000 }).fetchChallenge(ca).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(e).toMatchObject({ code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG" });
    expect(e!.message).not.toContain(secret);
  });

  it.each(ROWS.filter(([, ca]) => ca.type === "smallstep"))("SmallstepChallengeSource, %s → ERR_PROXY_CHALLENGE_SOURCE_CONFIG, nothing sent", async (_what, ca, _message, secret) => {
    let sent = 0;
    const source = new SmallstepChallengeSource({
      fetch: async () => {
        sent++;
        return new Response("challenge");
      },
    });
    const e = await source.fetchChallenge(ca).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(e).toMatchObject({ code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG" });
    expect(e!.message).not.toContain(secret);
    expect(sent).toBe(0);
  });
});
