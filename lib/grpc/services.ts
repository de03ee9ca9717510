import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import { PROTO_DIR } from "./proto-files.js";

/**
 * proto-loader's options for both ends: field names as in the .proto, every field present with
 * its default (proto3 cannot tell "" from absent: KeyValue's empty key is a key), 64-bit integers
 * and enums as strings, the set member of a oneof named. Imports resolve against the package's
 * proto/ too (google/rpc/...).
 */
export const LOADER_OPTIONS: Readonly<Options> = Object.freeze({ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] });

/** One service of a .proto. */
export interface ServiceInfo {
  /** "keyvalue.v1.KeyValue" */
  readonly fullName: string;
  /** "keyvalue.v1"; "" for a .proto without a package. */
  readonly packageName: string;
  /** "KeyValue": what `ctx.service` and selectors use. */
  readonly name: string;
  readonly definition: ServiceDefinition;
}

/** What {@link loadServices} read. */
export interface LoadedProto {
  readonly definition: PackageDefinition;
  readonly services: readonly ServiceInfo[];
}

/** Loads .proto files at run time (no protoc) and lists their services. */
export function loadServices(files: string | readonly string[]): LoadedProto {
  const list = typeof files === "string" ? [files] : [...files];
  if (list.length === 0 || list.some((file) => typeof file !== "string" || file === "")) throw new TypeError("proto must name one or more .proto files");
  const definition = loadSync(list, { ...LOADER_OPTIONS });
  const services: ServiceInfo[] = [];
  for (const [fullName, value] of Object.entries(definition)) {
    if ("format" in value) continue; // a message or enum type
    const dot = fullName.lastIndexOf(".");
    services.push({ fullName, packageName: dot === -1 ? "" : fullName.slice(0, dot), name: fullName.slice(dot + 1), definition: value as ServiceDefinition });
  }
  return { definition, services };
}
