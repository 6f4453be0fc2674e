/**
 * No secret of --url in what the CLI prints: its userinfo (`user:password@`) and credential-like query parameters
 * (`?token=`) are masked in every message that names the URL (connection refused, usage errors, among them the
 * refusal of a URL with credentials), while the host stays so the line still says where.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TransportError } from "@scep/core";
import { describeError } from "../src/lib/exit.js";
import { runInProcess } from "./support/in-process.js";

const dir = mkdtempSync(join(tmpdir(), "scep-cli-redact-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; err: string }> {
  const { code, err } = await runInProcess(argv, dir);
  return { code, err: err.join("\n") };
}

/** A loopback port with nothing listening on it (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("--url credentials in the CLI's messages", () => {
  it("connection refused: names the host, masks userinfo and ?token=", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED", address: "127.0.0.1", port: 9 });
    const error = new TransportError("GetCACaps: fetch failed", { cause: new Error("fetch failed", { cause: refused }) });
    const { message } = describeError(error, new URL("http://user:s3cret@127.0.0.1:9/scep?token=s3cret"));
    expect(message).toBe("GetCACaps: connection refused by 127.0.0.1:9 (ECONNREFUSED): is the SCEP server running at http://user:***@127.0.0.1:9/scep?token=***?");
    expect(message).not.toContain("s3cret");
  });

  it("connection refused, end to end: a --url with ?token= is printed masked", async () => {
    const port = await closedPort();
    const r = await run("getcacaps", "--url", `http://127.0.0.1:${port}/scep?token=s3cret`);
    expect(r.code).toBe(4);
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err).not.toContain("s3cret");
  });

  it.each(["getcacaps", "getcacert", "enroll", "renew", "getcert", "getcrl"])(
    "%s: a --url with user:password@ (which fetch refuses on every request, quoting it) is a usage error naming the host, not the password or token",
    async (command) => {
      const r = await run(command, "--url", "http://user:s3cret@127.0.0.1:9/scep?token=s3cret");
      expect(r.code).toBe(64);
      expect(r.err.split("\n")[0]).toBe(
        `scep: ${command}: --url http://user:***@127.0.0.1:9/scep?token=*** has credentials (user:password@), which are not supported: give the URL without them`,
      );
      expect(r.err).not.toContain("s3cret");
    },
  );

  it("a --url with a user name alone is refused the same way (fetch refuses any userinfo)", async () => {
    const r = await run("getcacaps", "--url", "https://device-7@127.0.0.1:9/scep");
    expect(r.code).toBe(64);
    expect(r.err.split("\n")[0]).toBe("scep: getcacaps: --url https://***@127.0.0.1:9/scep has credentials (user:password@), which are not supported: give the URL without them");
  });

  it.each([
    ["127.0.0.1:8080/scep?token=s3cret", "scep: getcacaps: --url 127.0.0.1:8080/scep?token=*** has no http:// or https://; did you mean http://127.0.0.1:8080/scep?token=***?"],
    ["http://user:s3cret@[127.0.0.1/scep?token=s3cret", "scep: getcacaps: --url http://***@[127.0.0.1/scep?token=*** is not a URL"],
  ])("usage error for --url %s masks its credentials", async (url, line) => {
    const r = await run("getcacaps", "--url", url);
    expect(r.code).toBe(64);
    expect(r.err.split("\n")[0]).toBe(line);
    expect(r.err).toContain("127.0.0.1");
    expect(r.err).not.toContain("s3cret");
  });
});
