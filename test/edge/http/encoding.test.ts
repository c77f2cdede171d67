import { describe, expect, it } from "vitest";
import {
  clientAcceptEncoding,
  codingFor,
  entityTagFor,
  gzipEncoded,
  negotiateCoding,
} from "../../../src/edge/http/encoding.js";

describe("negotiateCoding", () => {
  it("sends identity when the request names no coding", () => {
    expect(negotiateCoding(null)).toBe("identity");
    expect(negotiateCoding("")).toBe("identity");
    expect(negotiateCoding(" , ")).toBe("identity");
    expect(negotiateCoding("identity")).toBe("identity");
    expect(negotiateCoding("br, deflate")).toBe("identity");
  });

  it("sends gzip when it is listed, in any case, with x-gzip as its alias", () => {
    expect(negotiateCoding("gzip")).toBe("gzip");
    expect(negotiateCoding("GZIP")).toBe("gzip");
    expect(negotiateCoding("x-gzip")).toBe("gzip");
    expect(negotiateCoding("gzip, deflate, br, zstd")).toBe("gzip");
    expect(negotiateCoding("br;q=1.0, gzip;q=0.8, *;q=0.1")).toBe("gzip");
    expect(negotiateCoding(" deflate ,\tgzip ; q=0.5 ")).toBe("gzip");
  });

  it("reads * as every coding not listed", () => {
    expect(negotiateCoding("*")).toBe("gzip");
    expect(negotiateCoding("br, *;q=0.2")).toBe("gzip");
    expect(negotiateCoding("*;q=0")).toBe("identity");
    expect(negotiateCoding("gzip;q=0, *")).toBe("identity");
  });

  it("refuses gzip at q=0, in every spelling of zero", () => {
    expect(negotiateCoding("gzip;q=0")).toBe("identity");
    expect(negotiateCoding("gzip;q=0.000")).toBe("identity");
    expect(negotiateCoding("gzip; Q=0.")).toBe("identity");
    expect(negotiateCoding("x-gzip;q=0, deflate")).toBe("identity");
  });

  it("prefers identity only when it is listed with a higher q", () => {
    expect(negotiateCoding("gzip;q=0.5, identity")).toBe("identity");
    expect(negotiateCoding("gzip;q=0.5, identity;q=0.5")).toBe("gzip");
    expect(negotiateCoding("gzip, identity;q=0")).toBe("gzip");
    expect(negotiateCoding("gzip;q=0.001")).toBe("gzip");
  });

  it("ignores an element whose q-value is malformed", () => {
    expect(negotiateCoding("gzip;q=2")).toBe("identity");
    expect(negotiateCoding("gzip;q=abc")).toBe("identity");
    expect(negotiateCoding("gzip;q=0.1234")).toBe("identity");
    expect(negotiateCoding("gzip;q=")).toBe("identity");
    expect(negotiateCoding("gzip;q=1.5, *;q=0.3")).toBe("gzip");
  });
});

describe("codingFor", () => {
  const url = "https://edge.test/v1/manifests/x";
  const request = (method: string, headers: Record<string, string>) =>
    new Request(url, { method, headers });

  it("encodes only a whole GET that accepts gzip", () => {
    expect(codingFor(request("GET", { "Accept-Encoding": "gzip" }))).toBe("gzip");
    expect(codingFor(request("GET", {}))).toBe("identity");
    expect(codingFor(request("HEAD", { "Accept-Encoding": "gzip" }))).toBe("identity");
    expect(codingFor(request("GET", { "Accept-Encoding": "gzip", Range: "bytes=0-9" }))).toBe(
      "identity",
    );
  });
});

describe("clientAcceptEncoding", () => {
  it("reads what the client sent, not the br, gzip Cloudflare puts in its place", () => {
    const replaced = (client: string) =>
      new Request("https://edge.test/", {
        headers: { "Accept-Encoding": "br, gzip" },
        cf: { clientAcceptEncoding: client },
      });
    expect(clientAcceptEncoding(replaced(""))).toBe("");
    expect(codingFor(replaced(""))).toBe("identity");
    expect(codingFor(replaced("gzip;q=0"))).toBe("identity");
    expect(codingFor(replaced("gzip"))).toBe("gzip");
    const direct = new Request("https://edge.test/", { headers: { "Accept-Encoding": "gzip" } });
    expect(clientAcceptEncoding(direct)).toBe("gzip");
  });
});

describe("entityTagFor", () => {
  it("keeps the strong tag for identity and makes the gzip one weak", () => {
    expect(entityTagFor('"abc"', "identity")).toBe('"abc"');
    expect(entityTagFor('"abc"', "gzip")).toBe('W/"abc"');
  });
});

describe("gzipEncoded", () => {
  it("marks the body gzip and drops the identity length, keeping status and other headers", async () => {
    const identity = new Response("{}", {
      headers: {
        "Content-Length": "2",
        "Content-Type": "application/json",
        Vary: "Accept-Encoding",
      },
    });
    const encoded = gzipEncoded(identity);
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get("Content-Encoding")).toBe("gzip");
    expect(encoded.headers.get("Content-Length")).toBeNull();
    expect(encoded.headers.get("Content-Type")).toBe("application/json");
    expect(encoded.headers.get("Vary")).toBe("Accept-Encoding");
    expect(await encoded.text()).toBe("{}");
  });
});
