/**
 * gRPC for rpc-interceptors, importable as "rpc-interceptors/grpc" (apart from the main entry so
 * that only code that asks for it loads @grpc/grpc-js): the server host, its call context, the
 * client transport, and the rich error model's codec.
 *
 * @packageDocumentation
 */
export { DEFAULT_SERVER_OPTIONS, GrpcHost, type GrpcHostLogger, type GrpcHostOptions, type ShutdownOptions } from "./grpc-host.js";
export { GrpcCallContext, type GrpcCallInit, type MethodKind } from "./grpc-call-context.js";
export { GrpcTransport, type GrpcTransportOptions, retryHintOf } from "../../client/transports/grpc-transport.js";
export { decodeStatusDetails, type DecodedStatus, encodeStatusDetails, type ErrorInfo, type FieldViolation, PUSHBACK_KEY, type RichDetails, STATUS_DETAILS_KEY } from "../../grpc/rich-status.js";
export { KEYVALUE_PROTO, PROTO_DIR } from "../../grpc/proto-files.js";
