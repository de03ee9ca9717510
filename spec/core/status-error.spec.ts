import { expect } from "chai";
import { Status, statusCode } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

describe("new StatusError()", () => {
  it("carries a status code, a message defaulting to the code, details and a cause", () => {
    const cause = new Error("socket closed");
    const error = new StatusError(Status.UNAVAILABLE, "store down", { cause, details: { retryAfterMs: 50 } });
    expect(error).to.be.instanceOf(Error);
    expect(error.name).to.equal("StatusError");
    expect(error.code).to.equal("UNAVAILABLE");
    expect(error.message).to.equal("store down");
    expect(error.cause).to.equal(cause);
    expect(error.details).to.deep.equal({ retryAfterMs: 50 });
    expect(new StatusError(Status.NOT_FOUND).message).to.equal("NOT_FOUND");
    expect(new StatusError(Status.NOT_FOUND).details).to.equal(undefined);
  });
});

describe("StatusError.from()", () => {
  it("returns a StatusError as it is", () => {
    const error = new StatusError(Status.PERMISSION_DENIED, "no");
    expect(StatusError.from(error)).to.equal(error);
  });

  it("turns an AbortError into CANCELLED, keeping it as the cause", () => {
    const abort = AbortSignal.abort().reason as unknown;
    const error = StatusError.from(abort);
    expect(error.code).to.equal(Status.CANCELLED);
    expect(error.cause).to.equal(abort);
  });

  it("turns a TimeoutError into DEADLINE_EXCEEDED", () => {
    const timeout = new DOMException("The operation timed out.", "TimeoutError");
    expect(StatusError.from(timeout).code).to.equal(Status.DEADLINE_EXCEEDED);
  });

  it("turns any other Error into INTERNAL with the original as cause and its message", () => {
    const original = new TypeError("x is undefined");
    const error = StatusError.from(original);
    expect(error.code).to.equal(Status.INTERNAL);
    expect(error.cause).to.equal(original);
    expect(error.message).to.equal("x is undefined");
    expect(error.expose).to.equal(false);
  });

  it("turns a thrown non-Error into INTERNAL too", () => {
    for (const thrown of ["just a string", 42, undefined, null, { code: "NOT_FOUND" }]) {
      const error = StatusError.from(thrown);
      expect(error.code, String(thrown)).to.equal(Status.INTERNAL);
      expect(error.cause).to.equal(thrown);
    }
    expect(StatusError.from("just a string").message).to.equal("just a string");
  });
});

describe("StatusError#httpStatus", () => {
  it("maps each status as google.rpc.Code documents", () => {
    const expected: Record<string, number> = {
      OK: 200, CANCELLED: 499, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404,
      ALREADY_EXISTS: 409, PERMISSION_DENIED: 403, RESOURCE_EXHAUSTED: 429, FAILED_PRECONDITION: 400, ABORTED: 409,
      OUT_OF_RANGE: 400, UNIMPLEMENTED: 501, INTERNAL: 500, UNAVAILABLE: 503, DATA_LOSS: 500, UNAUTHENTICATED: 401,
    };
    for (const code of Object.values(Status)) expect(new StatusError(code).httpStatus, code).to.equal(expected[code]);
    expect(Object.keys(expected)).to.have.members(Object.keys(statusCode));
  });
});

describe("StatusError#expose", () => {
  it("is false only for server faults (INTERNAL, UNKNOWN, DATA_LOSS)", () => {
    const hidden = Object.values(Status).filter((code) => !new StatusError(code).expose);
    expect(hidden).to.have.members([Status.INTERNAL, Status.UNKNOWN, Status.DATA_LOSS]);
  });
});
