import { expect } from "chai";
import { encodeTimeout } from "../../lib/client/deadline.js";
import { parseGrpcTimeout } from "../../lib/observability/grpc-timeout.js";

describe("parseGrpcTimeout()", () => {
  it("reads every unit of gRPC's format", () => {
    expect(["1H", "2M", "3S", "742m", "5000u", "7000000n"].map(parseGrpcTimeout)).to.deep.equal([3_600_000, 120_000, 3000, 742, 5, 7]);
  });

  it("reads back what the client sends", () => {
    for (const ms of [1, 999, 123_456_789, 5e9]) expect(parseGrpcTimeout(encodeTimeout(ms))).to.be.at.least(ms);
  });

  it("is undefined for a missing or malformed value (more than 8 digits, no unit, a sign, a fraction)", () => {
    expect([undefined, "", "100", "123456789m", "-1S", "1.5S", "1s", " 1S"].map(parseGrpcTimeout)).to.deep.equal(Array(8).fill(undefined));
  });
});
