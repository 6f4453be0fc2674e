/**
 * redactUrl / redactUrlsInText: a URL a user or a configuration gave never carries its credentials into a log line or
 * an error message (userinfo, and credential-like query parameters), while the host stays, so the line still says
 * where. And ScepClient's TransportError for a CA URL with credentials (fetch refuses it, quoting the URL whole).
 */
import { describe, expect, it } from "vitest";
import { redactUrl, redactUrlsInText, ScepClient, TransportError } from "../src/index.js";

describe("redactUrl", () => {
  it.each([
    ["https://user:s3cret@ca.example/scep", "https://user:***@ca.example/scep"],
    ["https://s3cret@ca.example/scep", "https://***@ca.example/scep"],
    ["https://ca.example/scep?token=s3cret", "https://ca.example/scep?token=***"],
    ["https://ca.example/x?pass=s3cret&password=s3cret&user=s3cret&auth=s3cret&secret=s3cret&key=s3cret", "https://ca.example/x?pass=***&password=***&user=***&auth=***&secret=***&key=***"],
    ["https://ca.example/x?sig=s3cret&X-Amz-Signature=s3cret&code=s3cret&challenge=s3cret&access_token=s3cret", "https://ca.example/x?sig=***&X-Amz-Signature=***&code=***&challenge=***&access_token=***"],
    // SCEP's own parameters are kept: a GetCACert message is a CA identifier, not a secret
    ["http://127.0.0.1:8080/scep?operation=GetCACert&message=ca-1", "http://127.0.0.1:8080/scep?operation=GetCACert&message=ca-1"],
    ["not a url s3cret", "(unparsable URL)"],
  ])("%s → %s", (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrl(url)).not.toContain("s3cret");
  });

  it("takes a URL object and leaves it as it was", () => {
    const u = new URL("https://user:s3cret@ca.example/scep?token=s3cret");
    expect(redactUrl(u)).toBe("https://user:***@ca.example/scep?token=***");
    expect(u.href).toBe("https://user:s3cret@ca.example/scep?token=s3cret");
  });
});

describe("redactUrlsInText", () => {
  it("masks every URL in a message, keeps the rest (and a URL without credentials as written)", () => {
    expect(redactUrlsInText("Request cannot be constructed from a URL that includes credentials: http://user:s3cret@ca.example/scep?token=s3cret")).toBe(
      "Request cannot be constructed from a URL that includes credentials: http://user:***@ca.example/scep?token=***",
    );
    expect(redactUrlsInText("see http://localhost:8080 and https://a.example/x?token=s3cret.")).toBe("see http://localhost:8080 and https://a.example/x?token=***.");
    expect(redactUrlsInText("http://user:s3cret@[bad/x?token=s3cret&a=1")).toBe("http://***@[bad/x?token=***&a=1");
  });
});

describe("ScepClient with credentials in its URL", () => {
  it("its TransportError names the host, not the password or the token", async () => {
    const client = new ScepClient({ url: "http://user:s3cret@127.0.0.1:9/scep?token=s3cret" });
    const error = await client.getCaCaps().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    const message = (error as Error).message;
    expect(message).toContain("127.0.0.1:9");
    expect(message).not.toContain("s3cret");
    expect(message).toBe("GetCACaps: Request cannot be constructed from a URL that includes credentials: http://user:***@127.0.0.1:9/scep?token=***&operation=GetCACaps");
    // Nor does its cause chain, which a logger may print: fetch's TypeError quotes the URL whole.
    const chain: string[] = [];
    for (let e: unknown = (error as Error).cause; e instanceof Error; e = e.cause) chain.push(`${e.name}: ${e.message}`);
    expect(chain[0]).toBe("TypeError: Request cannot be constructed from a URL that includes credentials: http://user:***@127.0.0.1:9/scep?token=***&operation=GetCACaps");
    expect(chain.join("\n")).not.toContain("s3cret");
  });
});
