// Run by client-deadline.spec: makes calls under real deadlines, reports, and returns without
// process.exit(); the spec checks that the process ends by itself. BREAK_CLEAR_TIMEOUT=1
// stands in for a deadline that forgets to clear its timer, to show the check would notice.
import { setTimeout as wait } from "node:timers/promises";
import type { CallContext } from "../../lib/core/context.js";
import { type Clock, systemClock } from "../../lib/client/clock.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import type { Next } from "../../lib/core/middleware.js";
import { deadline } from "../../middleware/client/deadline.js";
import { retry } from "../../middleware/client/retry.js";
import { Status } from "../../lib/core/status.js";
import { keyValueServer } from "./servers.js";

const clock: Clock = process.env["BREAK_CLEAR_TIMEOUT"] === "1" ? { ...systemClock, clearTimeout: () => {} } : systemClock;

let failures = 1;
const { app } = keyValueServer(async function slowOrFlaky(ctx: CallContext, next: Next) {
  const request = ctx.request as { key?: string };
  // A slow handler that stops when the caller gives up, as handlers should.
  if (request.key === "slow") await wait(60_000, undefined, ctx.signal === undefined ? {} : { signal: ctx.signal });
  if (request.key === "flaky" && failures-- > 0) ctx.throw(Status.UNAVAILABLE);
  await next();
});
const client = createClient(new InProcessTransport(app), { clock })
  .use(deadline({ timeoutMs: 60_000, clock }))
  .use(retry({ baseDelayMs: 20, clock }));

const statuses = [
  (await client.call("KeyValue", "Put", { key: "fast", value: "v" })).status,
  (await client.call("KeyValue", "Get", { key: "slow" }, { timeoutMs: 30 })).status,
  (await client.call("KeyValue", "Get", { key: "flaky" })).status,
];
await client.close();
const activeTimers = process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
process.stdout.write(JSON.stringify({ statuses, activeTimers }) + "\n");
