import { fileURLToPath } from "node:url";

/**
 * The package's `proto/` folder: keyvalue.proto (the KeyValue contract, unchanged) and the
 * google.rpc messages of the rich error model. This module runs compiled, from dist/lib/grpc/.
 */
export const PROTO_DIR: string = fileURLToPath(new URL("../../../proto/", import.meta.url));

/** proto/keyvalue.proto: `keyvalue.v1.KeyValue`, served by `bin/node --listen`. */
export const KEYVALUE_PROTO: string = `${PROTO_DIR}keyvalue.proto`;
