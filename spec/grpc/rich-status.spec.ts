import { expect } from "chai";
import { decodeStatusDetails, encodeStatusDetails } from "../../lib/grpc/rich-status.js";
import { statusNameOf } from "../../lib/grpc/status-codes.js";

describe("encodeStatusDetails() / decodeStatusDetails()", () => {
  it("round-trips google.rpc.Status with RetryInfo (ms rounded up) and BadRequest", () => {
    const bytes = encodeStatusDetails(8, "rate limit exceeded", { retryDelayMs: 1234.2, fieldViolations: [{ field: "value", description: "too long" }] });
    expect(decodeStatusDetails(bytes)).to.deep.equal({ code: 8, message: "rate limit exceeded", retryDelayMs: 1235, fieldViolations: [{ field: "value", description: "too long" }], errorInfo: undefined });
  });

  it("round-trips google.rpc.ErrorInfo (reason, domain, metadata)", () => {
    const errorInfo = { reason: "INSUFFICIENT_SCOPE", domain: "rpc-interceptors.authorize", metadata: { scope: "kv:write" } };
    expect(decodeStatusDetails(encodeStatusDetails(7, "permission denied", { errorInfo }))?.errorInfo).to.deep.equal(errorInfo);
  });

  it("reads a Status without details, and refuses bytes that are not one", () => {
    expect(decodeStatusDetails(encodeStatusDetails(5, "no", {}))).to.deep.equal({ code: 5, message: "no", retryDelayMs: undefined, fieldViolations: undefined, errorInfo: undefined });
    expect(decodeStatusDetails(Buffer.from([0xff, 0xff, 0xff]))).to.equal(undefined);
  });
});

describe("statusNameOf(code)", () => {
  it("names gRPC's codes, and reads anything else as UNKNOWN", () => {
    expect([0, 5, 8, 16].map(statusNameOf)).to.deep.equal(["OK", "NOT_FOUND", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED"]);
    expect([17, -1, 1.5].map(statusNameOf)).to.deep.equal(["UNKNOWN", "UNKNOWN", "UNKNOWN"]);
  });
});


