import { expect } from "chai";
import { parseTimeout, readTimeout, timeoutOf } from "../../lib/core/deadline.js";
import { Metadata } from "../../lib/core/metadata.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

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

describe("readTimeout(text)", () => {
  it("reads gRPC's format in every unit, and nothing else", () => {
    expect(["1H", "2M", "3S", "250m", "1500u", "2000000n"].map(readTimeout)).to.deep.equal([3_600_000, 120_000, 3000, 250, 1.5, 2]);
    for (const bad of ["", "10", "1s", "-1S", "123456789S", "1.5S"]) expect(readTimeout(bad), bad).to.equal(undefined);
  });
});

describe("timeoutOf(metadata)", () => {
  it("reads grpc-timeout in any case; undefined without one", () => {
    expect(timeoutOf(new Metadata({ "grpc-timeout": "5S" }))).to.equal(5000);
    expect(timeoutOf(new Metadata({ "Grpc-Timeout": "7m" }))).to.equal(7);
    expect(timeoutOf(new Metadata({ authorization: "Bearer t" }))).to.equal(undefined);
  });
});
