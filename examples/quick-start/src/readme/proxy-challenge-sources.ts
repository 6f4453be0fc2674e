import { NdesChallengeSource, SmallstepChallengeSource, type CaConfig } from "@scep/proxy";

const ndesCa: CaConfig = {
  name: "corp-ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
  ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "CORP\\svc-ndes", password: process.env.NDES_PASSWORD ?? "" },
};
const ndes = new NdesChallengeSource({ timeoutMs: 15_000 });
try {
  const { challenge, retrievedAt } = await ndes.fetchChallenge(ndesCa);
} catch (e) {
  // e.retryable (cache full, timeout, connection, 5xx): back off and retry; else mark the profile failed
}
const smallstep = new SmallstepChallengeSource(); // POSTs Jamf's SCEPChallenge event with Basic auth
