/**
 * Limits on the metadata one call may carry, checked by the RPC host before the call enters
 * the pipeline, as a gRPC server refuses metadata over its size limit before any interceptor
 * sees it: with RESOURCE_EXHAUSTED (gRPC's status for "received metadata larger than the
 * limit"). Without them a 4 MiB line could carry 500,000 metadata entries, each indexed by
 * auth's lookup and logged at debug level. (Limits on the fields of a request are the
 * service's: KeyValue's key and value sizes are INVALID_ARGUMENT, see lib/key-value.ts.)
 *
 * @example
 *   metadataOverLimits({ authorization: "Bearer t" }, DEFAULT_CALL_LIMITS); // undefined: within them
 */
export interface CallLimits {
  /** Most metadata entries (keys, whatever their values) a call may carry. Default 64. */
  readonly maxMetadataEntries: number;
  /** Longest metadata key or string value, in UTF-8 bytes. Default 8192 (room for a JWT). */
  readonly maxMetadataValueBytes: number;
}

export const DEFAULT_CALL_LIMITS: CallLimits = Object.freeze({ maxMetadataEntries: 64, maxMetadataValueBytes: 8192 });

/** Whether `s` takes more than `maxBytes` in UTF-8; a single comparison for most strings. */
export function overBytes(s: string, maxBytes: number): boolean {
  // A UTF-16 code unit takes at most 3 bytes in UTF-8: short strings need no counting.
  return s.length * 3 > maxBytes && (s.length > maxBytes || Buffer.byteLength(s, "utf8") > maxBytes);
}

/**
 * What is over the limits in a call's metadata (as it arrived: anything but a plain object
 * counts as none), for the log line; undefined when it is within them. Never quotes a value.
 */
export function metadataOverLimits(metadata: unknown, limits: CallLimits): string | undefined {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return undefined;
  let entries = 0;
  for (const key in metadata) {
    if (++entries > limits.maxMetadataEntries) return `more than ${limits.maxMetadataEntries} metadata entries`;
    if (overBytes(key, limits.maxMetadataValueBytes)) return `a metadata key over ${limits.maxMetadataValueBytes} bytes`;
    const value: unknown = (metadata as Record<string, unknown>)[key];
    if (typeof value === "string" && overBytes(value, limits.maxMetadataValueBytes)) return `the value of metadata key ${JSON.stringify(key.slice(0, 64))} over ${limits.maxMetadataValueBytes} bytes`;
  }
  return undefined;
}
