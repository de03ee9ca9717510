import { expect } from "chai";
import { budgetOf, parseTimeout, timeoutOf } from "../../lib/core/deadline.js";
import { Metadata } from "../../lib/core/metadata.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { encodeTimeout } from "../../lib/client/deadline.js";

describe("parseTimeout(text)", () => {
  it("reads gRPC's TimeoutValue and TimeoutUnit into milliseconds", () => {
    const cases: [string, number][] = [["100m", 100], ["2S", 2000], ["1H", 3_600_000], ["3M", 180_000], ["500u", 0.5], ["2000000n", 2], ["0m", 0], ["99999999S", 99_999_999_000]];
    for (const [text, ms] of cases) expect(parseTimeout(text), text).to.equal(ms);
  });

  it("answers INVALID_ARGUMENT for anything else", () => {
    for (const text of ["", "100", "m", "1.5S", "-1S", "+1S", " 1S", "1S ", "123456789m", "1s", "1h", "1Sm", "１S"]) {
      expect(() => parseTimeout(text), JSON.stringify(text)).to.throw(StatusError).with.property("code", Status.INVALID_ARGUMENT);
    }
  });
});

describe("timeoutOf(metadata)", () => {
  it("reads grpc-timeout in any case; undefined without one", () => {
    expect(timeoutOf(new Metadata({ "grpc-timeout": "5S" }))).to.equal(5000);
    expect(timeoutOf(new Metadata({ "Grpc-Timeout": "7m" }))).to.equal(7);
    expect(timeoutOf(new Metadata({ authorization: "Bearer t" }))).to.equal(undefined);
  });
});

describe("budgetOf(text)", () => {
  it("reads every unit of gRPC's format", () => {
    expect(["1H", "2M", "3S", "742m", "5000u", "7000000n"].map(budgetOf)).to.deep.equal([3_600_000, 120_000, 3000, 742, 5, 7]);
  });

  it("reads back what the client sends", () => {
    for (const ms of [1, 999, 123_456_789, 5e9]) expect(budgetOf(encodeTimeout(ms))).to.be.at.least(ms);
  });

  it("is undefined for a missing or malformed value (more than 8 digits, no unit, a sign, a fraction)", () => {
    expect([undefined, "", "100", "123456789m", "-1S", "1.5S", "1s", " 1S"].map(budgetOf)).to.deep.equal(Array(8).fill(undefined));
  });
});
