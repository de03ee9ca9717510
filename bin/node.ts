import os from "node:os";
import { ConfigError, configForLog, helpText, loadConfig } from "../lib/app/config.js";
import { LineOutput, pieceBytesFor } from "../lib/hosts/stdio/line-output.js";
import { LineReader } from "../lib/hosts/stdio/line-reader.js";
import { createLogger } from "../lib/logging/logger.js";
import { StdioHost } from "../lib/hosts/stdio/stdio-host.js";
import { authOptionsOf, createNodeApplication } from "../lib/app/node-app.js";
import { NodeTelemetry } from "../lib/app/telemetry.js";
import { auth } from "../middleware/auth.js";

const END_OF_INPUT = "end of input";
/** How long a forced exit waits for the reader to take the rest of a line it holds part of. */
const TORN_LINE_WAIT_MS = 500;

/**
 * bin/node: stdin lines -> StdioHost -> stdout. Owns the process-level concerns: configuration,
 * flow control (stdin pauses while too many calls await their reply or stdout is full), and a
 * clean end on EOF or SIGTERM/SIGINT (every call in flight answered, output and logs flushed,
 * exit 0 because nothing is left open). Only a second signal forces the exit (130 after SIGINT,
 * 143 after SIGTERM), leaving whole lines on stdout; end of input followed by one signal is
 * still the clean end. A signal during the Redis connect wait at start stops the node before
 * it reads anything, with a log line. A reader that closes stdout stops the node: one log
 * line, exit 0.
 */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`bin/node: ${error.message}\nTry 'bin/node --help'.\n`);
    process.exitCode = 2;
    return;
  }
  if (loaded.help) {
    process.stdout.write(helpText());
    return;
  }
  const { config } = loaded;
  const telemetry = NodeTelemetry.of(config, process.env);
  const logs = createLogger({ level: config.logLevel, mixin: telemetry?.logMixin });
  const { logger } = logs;
  // Built before anything is opened, so that a bad setting (a short JWT secret, a bad policy
  // selector) ends the node like a bad flag does.
  let app: ReturnType<typeof createNodeApplication>;
  try {
    app = createNodeApplication({ config, logger, observability: telemetry?.describedMiddleware() });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    process.stderr.write(`bin/node: ${error.message}\nTry 'bin/node --help'.\n`);
    process.exitCode = 2;
    return;
  }
  if (config.describe === true) {
    // The same application the node would serve, described instead of run; stdin is never read.
    process.stdout.write(app.describe());
    logs.flush();
    return;
  }
  // Observability (--metrics-listen, OTEL_TRACES_EXPORTER), in both modes: nothing is loaded or served unless set.
  let observability;
  try {
    observability = await telemetry?.start(logger);
  } catch (error) {
    process.stderr.write(`bin/node: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return;
  }
  if (config.listen !== undefined) {
    // gRPC instead of stdin; loaded only in this mode, so the stdio node starts without it.
    await (await import("../lib/app/grpc-server.js")).serveGrpc({ ...config, listen: config.listen }, logs, observability);
    return;
  }

  // Signals are handled from here on, the Redis connect wait included. The first one asks for
  // the clean stop (`onFirstSignal`, which serving replaces); only a second one forces the exit.
  let signalled: NodeJS.Signals | undefined;
  let output: LineOutput | undefined;
  let onFirstSignal = (signal: NodeJS.Signals): void => logger.info({ signal }, "signal while connecting to Redis; stopping when the wait ends");
  function onSignal(signal: NodeJS.Signals): void {
    if (signalled === undefined) {
      signalled = signal;
      onFirstSignal(signal);
      return;
    }
    // Lines not begun are dropped; a line the reader holds part of is finished first if it can be.
    const whole = output?.abandon(Date.now() + TORN_LINE_WAIT_MS) ?? true;
    logger.warn({ signal, ...(whole ? {} : { lastLineCut: true }) }, "second signal; exiting now, replies not yet written are lost");
    logs.flush();
    // The shell's convention for "ended by a signal": 130 for SIGINT, 143 for SIGTERM.
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  }
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  // Only a node told to share its limits loads the Redis code and ioredis: a node without Redis starts faster.
  const redis = config.redisUrl !== undefined || config.redisClusterNodes !== undefined
    ? await (await import("../lib/app/redis-backend.js")).openRedisBackend(config, logger)
    : undefined;
  if (signalled !== undefined) {
    await redis?.close();
    logger.info({ reason: signalled, lines: 0, calls: 0 }, "stopped");
    logs.flush();
    return;
  }
  const stdin = process.stdin;
  const stdout = process.stdout;
  let stopping = false;

  const lines = new LineOutput(stdout, {
    fd: 1,
    pieceBytes: pieceBytesFor(1),
    onDrain: () => {
      host.outbox.resumeWriting(); // only the output's drain ends congestion
      resumeIfReady();
    },
  });
  output = lines;
  const host = new StdioHost({
    app: redis === undefined && observability === undefined
      ? app
      : createNodeApplication({ config, logger, limiter: redis?.limiter, limiterFor: redis?.limiterFor, store: redis?.store, observability }),
    logger,
    write: (chunk) => lines.write(chunk),
    limits: { maxMetadataEntries: config.maxMetadataEntries, maxMetadataValueBytes: config.maxMetadataValueBytes },
    retryAfterOnWire: config.wireRetryAfter === true,
    // A call over the metadata limits meets auth first: without a valid credential it is UNAUTHENTICATED.
    checkBeforeLimits: auth(authOptionsOf(config)),
  });
  const reader = new LineReader({
    maxLineBytes: config.maxLineBytes,
    onLine: host.handleLine,
    onOversize: (line, bytes) => logger.warn({ line, bytes, limit: config.maxLineBytes }, "input line over the size limit; dropped"),
  });

  // Flow control: stdin pauses while more than maxInFlight calls await their reply or stdout
  // refuses writes, and resumes from an event, never a poll: the outbox says when the calls in
  // flight are down to half, the output's drain when stdout has taken what it held.
  const lowWater = Math.floor(config.maxInFlight / 2);
  const resumeIfReady = (): void => {
    if (stopping || !stdin.isPaused() || host.outbox.congested) return; // the drain calls again
    if (host.outbox.pending > lowWater) host.outbox.whenPendingAtMost(lowWater, resumeIfReady);
    else stdin.resume();
  };
  stdin.on("data", (chunk: Buffer) => {
    reader.push(chunk);
    if (host.outbox.pending > config.maxInFlight || host.outbox.congested) {
      stdin.pause();
      resumeIfReady();
    }
  });
  let outputClosed = false;
  stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (outputClosed) return;
    outputClosed = true;
    lines.stop();
    logger.warn({ code: error.code }, "stdout closed by the reader; stopping");
    stop("stdout closed");
  });

  stdin.on("error", (error: NodeJS.ErrnoException) => {
    logger.warn({ code: error.code }, "stdin failed; stopping");
    stop("stdin failed");
  });
  // Last resort for a promise someone dropped (a middleware's second next(), say): one line per
  // rejection, and the node carries on instead of dying with every reply in its outbox.
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled promise rejection; carrying on"));

  function stop(reason: string): void {
    if (stopping) return;
    stopping = true;
    stdin.pause();
    stdin.removeAllListeners("data");
    stdin.destroy();
    // At the end of input a last line may lack its newline; stopped early, the bytes after the
    // last newline are a line cut short, not one to answer.
    if (reason === END_OF_INPUT) reader.end();
    void host.close().then(() => redis?.close()).then(() => {
      logger.info({ reason, lines: reader.lines, calls: host.stats.total }, "stopped");
      logs.flush();
      // The signal listeners stay: they do not hold the process open, and while stdout is still
      // flushing to a slow reader a second signal must still force the exit.
    });
  }
  onFirstSignal = (signal) => {
    // After end of input the stop is under way already: a signal now is the first, not the second.
    if (stopping) logger.info({ signal }, "signal while stopping; answering every call read, a second signal forces the exit");
    else stop(signal);
  };
  stdin.on("end", () => stop(END_OF_INPUT));
  // A REDIS_URL may carry a password, JWT_SECRET is one: never logged, like the tokens.
  logger.debug({ config: configForLog(config) }, "started");
}

void main();
