/**
 * redactUrl / redactUrlsInText: a URL a user or a configuration gave never carries its credentials into a log line or
 * an error message (userinfo, and credential-like query parameters), while the host stays, so the line still says
 * where. And ScepClient: a CA URL with userinfo is refused at construction; a fetch error quoting the URL is masked.
 */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, redactUrl, redactUrlsInText, ScepClient, TransportError } from "../src/index.js";

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
  it.each(["http://user:s3cret@127.0.0.1:9/scep?token=s3cret", "https://s3cret@127.0.0.1:9/scep", "http://:s3cret@127.0.0.1:9/scep"])(
    "%s is refused at construction (ERR_INVALID_ARGUMENT, as the other options): fetch refused every request to it as ERR_TRANSPORT; the URL is not echoed",
    (url) => {
      let thrown: unknown;
      try {
        new ScepClient({ url });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect(thrown).toMatchObject({
        code: "ERR_INVALID_ARGUMENT",
        message: "url must not include credentials (user:password@): fetch refuses such a URL; send HTTP authentication from the fetch option",
      });
      expect(String((thrown as Error).cause ?? "")).not.toContain("s3cret");
    },
  );

  it("a token in the query is not refused (fetch sends it), and a fetch error quoting the URL reaches the caller masked, cause chain too", async () => {
    // The caller's own fetch (the `fetch` option), which names the URL in its error as fetch's TypeErrors do.
    const client = new ScepClient({ url: "http://127.0.0.1:9/scep?token=s3cret", fetch: async (input) => Promise.reject(new TypeError(`cannot reach ${String(input)}`)) });
    const error = await client.getCaCaps().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain("http://127.0.0.1:9/scep?token=***&operation=GetCACaps");
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(`${e.name}: ${e.message}`);
    expect(chain[1]).toBe("TypeError: cannot reach http://127.0.0.1:9/scep?token=***&operation=GetCACaps");
    expect(chain.join("\n")).not.toContain("s3cret");
  });
});
