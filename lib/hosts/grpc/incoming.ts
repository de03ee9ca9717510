import type { Metadata as GrpcMetadata } from "@grpc/grpc-js";
import { type CallLimits, metadataOverLimits } from "../../core/limits.js";

/** A call's request metadata, split as {@link GrpcCallContext} holds it. */
export interface IncomingMetadata {
  /** The entries for `ctx.metadata`, which keeps the text ones (it ignores values that are not strings). */
  readonly text: Readonly<Record<string, string | Buffer>>;
  /** `-bin` entries, as bytes. */
  readonly binary: ReadonlyMap<string, Buffer>;
}

const NO_BINARY: ReadonlyMap<string, Buffer> = new Map();

/**
 * Splits grpc-js metadata into text and `-bin` entries. A key sent more than once keeps its
 * first value, as `Metadata.getMap()` does. (grpc-js has already taken out `grpc-timeout`,
 * `grpc-encoding`, `content-type` and the other transport headers.)
 *
 * `text` is getMap()'s object itself, `-bin` Buffers included: core's Metadata reads string
 * values only, so they never reach `ctx.metadata` and no copy is made per call.
 */
export function incomingMetadata(metadata: GrpcMetadata): IncomingMetadata {
  const map = metadata.getMap();
  let binary: Map<string, Buffer> | undefined;
  for (const key in map) {
    const value = map[key];
    if (typeof value !== "string" && value !== undefined) (binary ??= new Map()).set(key, value);
  }
  return { text: map, binary: binary ?? NO_BINARY };
}

/**
 * What is over `limits` in the metadata (the same limits and wording as the stdio host; `-bin`
 * values count with their byte length), or undefined.
 */
export function incomingOverLimits(incoming: IncomingMetadata, limits: CallLimits): string | undefined {
  // Counts every entry, -bin ones included, and checks the size of the text values.
  const over = metadataOverLimits(incoming.text, limits);
  if (over !== undefined || incoming.binary.size === 0) return over;
  for (const [key, value] of incoming.binary) {
    if (value.length > limits.maxMetadataValueBytes) return `the value of metadata key ${JSON.stringify(key.slice(0, 64))} over ${limits.maxMetadataValueBytes} bytes`;
  }
  return undefined;
}

/**
 * The caller's address without its port: grpc-js gives "host:port" (IPv6 unbracketed,
 * "::1:53124"); the port is the part after the last colon.
 */
export function addressWithoutPort(peer: string): string {
  const colon = peer.lastIndexOf(":");
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}
