import os from "node:os";
import type { Middleware } from "../core/middleware.js";
import type { NodeConfig } from "./config.js";
import { createNodeApplication } from "./node-app.js";
import { KEYVALUE_PROTO } from "../grpc/proto-files.js";
import { GrpcHost } from "../hosts/grpc/grpc-host.js";
import type { LoggerHandle } from "../logging/logger.js";

/**
 * `bin/node --listen HOST:PORT`: serves proto/keyvalue.proto over gRPC with the application,
 * configuration and store of the stdio mode (the same middleware, limits and Redis), instead of
 * reading stdin. Logs the port it bound (port 0 picks a free one). On SIGTERM or SIGINT it stops
 * gracefully (GrpcHost.shutdown: health NOT_SERVING, no new calls, calls in flight finish within
 * `grpcShutdownGraceMs`, open streams end UNAVAILABLE), closes Redis, and the process exits 0
 * because nothing is left open; a second signal forces the exit (130 after SIGINT, 143 after
 * SIGTERM). bin/node imports this module only in this mode: the stdio node never loads gRPC.
 * `observability` (tracing, metrics: NodeTelemetry) go first in the chain, as in the stdio mode.
 */
export async function serveGrpc(config: NodeConfig & { readonly listen: string }, logs: LoggerHandle, observability?: readonly Middleware[]): Promise<void> {
  const { logger } = logs;
  const redis = config.redisUrl !== undefined || config.redisClusterNodes !== undefined
    ? await (await import("./redis-backend.js")).openRedisBackend(config, logger)
    : undefined;
  const host = new GrpcHost({
    app: createNodeApplication({ config, logger, limiter: redis?.limiter, store: redis?.store, observability }),
    proto: KEYVALUE_PROTO,
    limits: { maxMetadataEntries: config.maxMetadataEntries, maxMetadataValueBytes: config.maxMetadataValueBytes },
    serverOptions: { "grpc.max_receive_message_length": config.grpcMaxMessageBytes ?? 4 * 1024 * 1024, "grpc.max_send_message_length": config.grpcMaxMessageBytes ?? 4 * 1024 * 1024 },
    logger,
  });
  let port: number;
  try {
    port = await host.listen(config.listen);
  } catch (error) {
    logger.error({ err: error, listen: config.listen }, "cannot listen");
    await redis?.close();
    logs.flush();
    process.exitCode = 1;
    return;
  }
  logger.info({ listen: config.listen, port, services: host.services }, "serving gRPC");
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled promise rejection; carrying on"));

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal, open: host.openCalls }, "second signal; exiting now, calls in flight are cut");
      logs.flush();
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    }
    stopping = true;
    logger.info({ signal, open: host.openCalls }, "shutting down");
    void host.shutdown({ graceMs: config.grpcShutdownGraceMs ?? 5000 }).then(() => redis?.close()).then(() => {
      logger.info({ reason: signal }, "stopped");
      logs.flush();
      // The signal listeners stay: they hold nothing open, and a second signal must still force the exit.
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
