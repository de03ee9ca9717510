/**
 * The client pipeline and its transports: `createClient(transport)`, the client call context,
 * deadlines and clocks, the in-process and stdio transports. The outbound middleware live in
 * `middleware/client/`; `client.ts` at the package root exports both as "rpc-interceptors/client".
 *
 * @packageDocumentation
 */
export { ClientCallContext, type ClientCallInit } from "./call-context.js";
export { type CallOptions, type CallResult, Client, type ClientOptions, type ClientUseOptions, createClient, type StreamingCall } from "./client.js";
export { type Clock, sleep, systemClock } from "./clock.js";
export { Deadline, encodeTimeout } from "./deadline.js";
export { InProcessTransport, type InProcessTransportOptions, replyOf } from "./transports/in-process-transport.js";
export { type ClientMiddleware, RESENDS, resending } from "./middleware.js";
export { type NodeExit, NodeProcessTransport, spawnNode, type SpawnNodeOptions } from "./transports/spawn-node.js";
export { StdioTransport, type StdioTransportOptions } from "./transports/stdio-transport.js";
export type { OutgoingCall, OutgoingStreamCall, Receive, Reply, Transport } from "./transport.js";
