import { expect } from "chai";
import { httpStatus, Status, type StatusName } from "../../lib/core/status.js";
import { statusOfHttp } from "../../lib/observability/codes.js";

describe("statusOfHttp()", () => {
  it("reads the google.rpc.Code mapping backwards where it names one status", () => {
    const unambiguous: StatusName[] = [Status.INVALID_ARGUMENT, Status.UNAUTHENTICATED, Status.PERMISSION_DENIED, Status.NOT_FOUND, Status.RESOURCE_EXHAUSTED, Status.CANCELLED, Status.UNIMPLEMENTED, Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED];
    for (const status of unambiguous) expect(statusOfHttp(httpStatus[status]), status).to.equal(status);
  });

  it("is OK below 400, ABORTED for 409, FAILED_PRECONDITION for another 4xx, INTERNAL for another 5xx", () => {
    expect([200, 204, 304, 409, 418, 500, 502].map(statusOfHttp)).to.deep.equal([Status.OK, Status.OK, Status.OK, Status.ABORTED, Status.FAILED_PRECONDITION, Status.INTERNAL, Status.INTERNAL]);
  });
});
