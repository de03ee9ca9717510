/**
 * The client side of rpc-interceptors: `createClient(transport)` with outbound middleware
 * (credentials, deadline, retry, cache, logging) and the in-process and stdio transports.
 * Also importable as "rpc-interceptors/client".
 *
 * @packageDocumentation
 */
export { ClientCallContext, type ClientCallInit } from "./call-context.js";
export { type CallOptions, type CallResult, Client, type ClientOptions, type ClientUseOptions, createClient } from "./client.js";
export { type Clock, sleep, systemClock } from "./clock.js";
export { Deadline, encodeTimeout } from "./deadline.js";
export { InProcessTransport, type InProcessTransportOptions, replyOf } from "./in-process-transport.js";
export { type ClientMiddleware, RESENDS, resending } from "./middleware.js";
export { type NodeExit, NodeProcessTransport, spawnNode, type SpawnNodeOptions } from "./spawn-node.js";
export { StdioTransport, type StdioTransportOptions } from "./stdio-transport.js";
export type { OutgoingCall, Reply, Transport } from "./transport.js";
export { cache, type CacheOptions, type CacheState } from "../../middleware/client/cache.js";
export { credentials, type CredentialsOptions } from "../../middleware/client/credentials.js";
export { deadline, type DeadlineOptions } from "../../middleware/client/deadline.js";
export { type ClientLoggingOptions, logging } from "../../middleware/client/logging.js";
export { retry, type RetryEvent, type RetryOptions } from "../../middleware/client/retry.js";
