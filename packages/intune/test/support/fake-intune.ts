/**
 * A loopback HTTP server (node:http on 127.0.0.1, port 0) that plays Entra
 * ID's token endpoint, Microsoft Graph's endpoint discovery and Intune's
 * ScepActions and CertificateAuthorityRequests (the revocation requests), records every request exactly as received, and answers what a
 * test scripts: any code, HTTP errors, garbage, a hang (timeout), a body that
 * never ends, a dropped connection. It never forwards anywhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const TENANT = "11111111-2222-3333-4444-555555555555";
export const CLIENT_ID = "66666666-7777-8888-9999-000000000000";
export const CLIENT_SECRET = "s3cret-client-value~with.symbols";
export const INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000";
export const SERVICE_PATH = "/RACerts/ScepRequestValidationFEService/Gateway/StatelessScepRequestValidationService";
/** Where discovery puts PkiConnectorFEService (the revocation requests); the `@odata.context` of Microsoft's Java test names StatelessPkiConnectorService. */
export const PKI_SERVICE_PATH = "/RACerts/PkiConnectorFEService/Gateway/StatelessPkiConnectorService";

/** A revocation request as Intune hands it out. */
export interface FakeRevocationRequest {
  requestContext: string;
  serialNumber: string;
  issuerName: string | null;
  caConfiguration: string | null;
}

/** One recorded request. */
export interface Recorded {
  /** Which route it hit (undefined: none, answered 404). */
  kind?: Kind | undefined;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** When the whole request had arrived, `performance.now()` milliseconds (the client runs on the same clock). */
  at: number;
}

/** What the fake answers to one request. */
export type Behaviour =
  /** `headers`: extra response headers (`retry-after`, or a `date` that replaces the one node:http would send). */
  | { json: unknown; status?: number; headers?: Record<string, string> }
  | { raw: string; status?: number; contentType?: string; headers?: Record<string, string> }
  | { hang: true }
  /** HTTP 200 and its headers at once, then one space every `trickleMs` milliseconds, never ending (until the client goes or the fake closes). */
  | { trickleMs: number }
  | { destroy: true };

type Kind = "token" | "discovery" | "validateRequest" | "successNotification" | "failureNotification" | "downloadRevocationRequests" | "uploadRevocationResults";

export interface FakeIntune {
  /** http://127.0.0.1:<port> */
  base: string;
  /** Every request, in arrival order. */
  requests: Recorded[];
  /** Requests of one kind. */
  of(kind: Kind): Recorded[];
  /** Queues answers for the next requests of `kind` (after the queue runs out, the default answer). */
  next(kind: Kind, ...answers: Behaviour[]): void;
  /** The endpoint list discovery returns (default: the SCEP validation service on this server plus two others). */
  endpoints: { providerName: string; uri: string }[];
  /** Tokens issued so far, by scope. */
  issued: { scope: string; token: string }[];
  /**
   * Revocation requests Intune holds for the CA. downloadRevocationRequests answers the first `maxRequests` of
   * them (of `issuerName` when it is not null) and keeps them; uploadRevocationResults removes those answered with
   * success or a final code (0, 4000–4007) and keeps those answered with a retryable one, as Intune sends them again.
   */
  pendingRevocations: FakeRevocationRequest[];
  /** Milliseconds every ScepActions call waits before it is answered (default 0): a far-away Intune, for benchmarks. */
  delayMs: number;
  /** Requests held open unanswered (`hang`, `trickleMs`) whose connection the client has not closed yet, by kind. */
  open(kind?: Kind): number;
  close(): Promise<void>;
}

function kindOf(method: string, path: string): Kind | undefined {
  if (method === "POST" && path === `/${TENANT}/oauth2/v2.0/token`) return "token";
  if (method === "GET" && path === `/v1.0/servicePrincipals/appId=${INTUNE_APP_ID}/endpoints`) return "discovery";
  const m = /\/ScepActions\/(validateRequest|successNotification|failureNotification)$/.exec(path);
  if (method === "POST" && m && path.startsWith(`${SERVICE_PATH}/`)) return m[1] as Kind;
  const r = /^\/CertificateAuthorityRequests\/(downloadRevocationRequests|uploadRevocationResults)$/.exec(path.slice(PKI_SERVICE_PATH.length));
  if (method === "POST" && r && path.startsWith(`${PKI_SERVICE_PATH}/`)) return r[1] as Kind;
  return undefined;
}

/** What points an `IntuneValidator` or `IntuneRevocationClient` at a fake: its app registration and URLs. */
export interface FakeIntuneConnection {
  tenant: string;
  clientId: string;
  credential: { clientSecret: string };
  loginBaseUrl: string;
  graphBaseUrl: string;
  /** Retries wait for nothing (a backoff sleep that returns at once). */
  sleep: (ms: number) => Promise<void>;
}

/** The options that point a validator or revocation client at `fake` (spread them first, then the test's own). */
export function fakeIntuneConnection(fake: FakeIntune): FakeIntuneConnection {
  return { tenant: TENANT, clientId: CLIENT_ID, credential: { clientSecret: CLIENT_SECRET }, loginBaseUrl: fake.base, graphBaseUrl: fake.base, sleep: async () => {} };
}

export async function startFakeIntune(): Promise<FakeIntune> {
  const requests: (Recorded & { kind: Kind | undefined })[] = [];
  const queues = new Map<Kind, Behaviour[]>();
  const issued: { scope: string; token: string }[] = [];
  const hanging = new Set<ServerResponse>();
  const held = new Map<ServerResponse, Kind>();
  let tokenCounter = 0;
  const fake: FakeIntune = {
    base: "",
    requests,
    of: (kind) => requests.filter((r) => r.kind === kind),
    next: (kind, ...answers) => queues.set(kind, [...(queues.get(kind) ?? []), ...answers]),
    endpoints: [],
    pendingRevocations: [],
    issued,
    delayMs: 0,
    open: (kind) => [...held.values()].filter((k) => kind === undefined || k === kind).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const defaultAnswer = (kind: Kind, body: string): Behaviour => {
    switch (kind) {
      case "token": {
        const scope = new URLSearchParams(body).get("scope") ?? "";
        const token = `token-${++tokenCounter}-${scope.includes("graph") || scope.startsWith(fake.base) ? "graph" : "intune"}`;
        issued.push({ scope, token });
        return { json: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: token } };
      }
      case "discovery":
        return { json: { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('x')/endpoints", value: fake.endpoints } };
      case "downloadRevocationRequests": {
        const p = (JSON.parse(body) as { downloadParameters: { maxRequests: number; issuerName: string | null } }).downloadParameters;
        const value = fake.pendingRevocations.filter((r) => p.issuerName === null || r.issuerName === p.issuerName).slice(0, p.maxRequests);
        return { json: { "@odata.context": `${fake.base}${PKI_SERVICE_PATH}/$metadata#Collection(microsoft.management.services.api.caRevocationRequest)`, value } };
      }
      case "uploadRevocationResults": {
        const results = (JSON.parse(body) as { results: { requestContext: string; errorCode: number }[] }).results;
        const done = new Set(results.filter((x) => x.errorCode === 0 || x.errorCode < 4100).map((x) => x.requestContext));
        fake.pendingRevocations = fake.pendingRevocations.filter((r) => !done.has(r.requestContext));
        return { json: { "@odata.context": `${fake.base}${PKI_SERVICE_PATH}/$metadata#Edm.Boolean`, value: true } };
      }
      default:
        return { json: { code: "Success", errorDescription: "" } };
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      const kind = kindOf(req.method ?? "", path);
      requests.push({ kind, method: req.method ?? "", path, headers: req.headers, body, at: performance.now() });
      if (!kind) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "no such route on the fake" }));
        return;
      }
      if (fake.delayMs > 0 && kind !== "token" && kind !== "discovery") {
        const timer = setTimeout(() => answer(kind, body), fake.delayMs);
        res.once("close", () => clearTimeout(timer));
      } else answer(kind, body);
    });
    const answer = (kind: Kind, body: string): void => {
      const queue = queues.get(kind);
      const b = queue && queue.length > 0 ? queue.shift()! : defaultAnswer(kind, body);
      if ("hang" in b || "trickleMs" in b) {
        held.set(res, kind);
        res.once("close", () => held.delete(res));
      }
      if ("hang" in b) {
        hanging.add(res);
        return;
      }
      if ("trickleMs" in b) {
        hanging.add(res);
        res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
        const timer = setInterval(() => res.write(" "), b.trickleMs);
        res.once("close", () => clearInterval(timer));
        return;
      }
      if ("destroy" in b) {
        req.socket.destroy();
        return;
      }
      if ("json" in b) {
        // A scripted token answer still records the token it hands out.
        res.writeHead(b.status ?? 200, { "content-type": "application/json; charset=utf-8", ...b.headers }).end(JSON.stringify(b.json));
        return;
      }
      res.writeHead(b.status ?? 200, { "content-type": b.contentType ?? "application/json", ...b.headers }).end(b.raw);
    };
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.endpoints = [
    { providerName: "PkiConnectorFEService", uri: `${fake.base}${PKI_SERVICE_PATH}` },
    { providerName: "ScepRequestValidationFEService", uri: `${fake.base}${SERVICE_PATH}` },
    { providerName: "StatelessDeviceFEService", uri: `${fake.base}/StatelessDeviceFEService` },
  ];
  return fake;
}
