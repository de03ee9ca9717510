import { Metadata as GrpcMetadata } from "@grpc/grpc-js";
import type { CallKind } from "../../core/call-kind.js";
import { type CallInit, CallContext } from "../../core/context.js";

/** The four kinds of gRPC method, by whether each side streams: the core's {@link CallKind}. */
export type MethodKind = CallKind;

/** What the gRPC host knows about a call besides {@link CallInit}. */
export interface GrpcCallInit<S extends object> extends CallInit<S> {
  /** The proto package of the service, "keyvalue.v1"; "" for none. */
  readonly package: string;
  /** The HTTP/2 path, "/keyvalue.v1.KeyValue/Get". */
  readonly path: string;
  /** The caller's address with its port, as grpc-js gives it ("127.0.0.1:53124"). */
  readonly address: string;
  readonly kind: MethodKind;
  /** The request's `-bin` metadata, as bytes. */
  readonly binaryMetadata: ReadonlyMap<string, Buffer>;
  /** Sends the response headers of a streamed response now (see {@link CallContext.sendHeaders}). */
  readonly sendHeaders?: () => void;
}

/**
 * The context of a call that came over gRPC: a {@link CallContext} (so every middleware and
 * handler of the other hosts serve it unchanged, `ctx instanceof CallContext` included) plus
 * what only gRPC has.
 *
 * - `service` is the service's short name ("KeyValue") and `package` its proto package
 *   ("keyvalue.v1"): selectors ("KeyValue/Get") and routers match on the short name, in every
 *   host alike; `path` is the full gRPC path.
 * - `peer` is the caller's address without its port (the rate limiter's default key: one
 *   budget per host, whatever connection it calls on); `address` keeps the port.
 * - `metadata` holds the text metadata; `-bin` values are in `binaryMetadata` as bytes, out of
 *   `metadata` so that no log line prints them.
 * - `responseHeaders` and `trailers` are sent with the answer (headers first, trailers with
 *   the status), made only when a middleware touches them.
 *
 * @example
 *   async function requestId(ctx: CallContext, next: Next) {
 *     await next();
 *     if (ctx instanceof GrpcCallContext) ctx.trailers.set("x-request-id", ctx.metadata.get("x-request-id") ?? "none");
 *   }
 */
export class GrpcCallContext<S extends object = object> extends CallContext<S> {
  readonly package: string;
  readonly path: string;
  readonly address: string;
  readonly binaryMetadata: ReadonlyMap<string, Buffer>;
  #responseHeaders: GrpcMetadata | undefined = undefined;
  #trailers: GrpcMetadata | undefined = undefined;
  readonly #sendHeaders: (() => void) | undefined;

  constructor(init: GrpcCallInit<S>) {
    super(init);
    this.package = init.package;
    this.path = init.path;
    this.address = init.address;
    this.binaryMetadata = init.binaryMetadata;
    this.#sendHeaders = init.sendHeaders;
  }

  /**
   * Sends the response headers now, for a server-streaming or bidi call (once; those set after
   * are not sent). Unary and client-streaming calls send theirs with the answer.
   */
  override sendHeaders(): void {
    this.#sendHeaders?.();
  }

  /** Response headers (initial metadata), sent before the first response message or with the status. */
  get responseHeaders(): GrpcMetadata {
    return (this.#responseHeaders ??= new GrpcMetadata());
  }

  /** Trailers, sent with the status. */
  get trailers(): GrpcMetadata {
    return (this.#trailers ??= new GrpcMetadata());
  }

  /** The response headers if a middleware set any; for the host. */
  get responseHeadersIfAny(): GrpcMetadata | undefined {
    return this.#responseHeaders;
  }

  /** The trailers if a middleware set any; for the host. */
  get trailersIfAny(): GrpcMetadata | undefined {
    return this.#trailers;
  }
}
