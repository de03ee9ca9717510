import { createInterface } from "node:readline";
import { CallKind } from "../core/call-kind.js";
import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { type CallResult, type Client, createClient } from "../client/client.js";
import { GrpcTransport } from "../client/transports/grpc-transport.js";
import { credentials } from "../../middleware/client/credentials.js";
import { deadline } from "../../middleware/client/deadline.js";
import { logging } from "../../middleware/client/logging.js";
import { outcomeText } from "../hosts/stdio/replies.js";
import { dumps } from "../hosts/stdio/python-json.js";

/** One `bin/call --target` call. */
export interface GrpcCallOptions {
  readonly target: string;
  readonly service: string;
  readonly method: string;
  /** The request of a unary or server-streaming call; undefined for a streamed request (read from `input`). */
  readonly request: unknown;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Log each outbound call on stderr. */
  readonly verbose?: boolean;
  /** The call's deadline; default 5000 ms, and none for a streamed response (a Watch lasts until Ctrl-C). */
  readonly timeoutMs?: number | undefined;
  /** Where a client or bidi stream's requests come from: one JSON message per line, the end is the half-close. */
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
  readonly errors?: NodeJS.WritableStream;
}

/** The deadline of a call without a streamed response, when none is given. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** Exit status of a call the user ended with Ctrl-C: the shell's 128 + SIGINT. */
export const INTERRUPTED = 130;

/**
 * `bin/call --target HOST:PORT SERVICE METHOD [JSON]`: one call of any kind to a gRPC server
 * through {@link GrpcTransport}. A streamed response prints one line per message,
 * `{"message": {...}}`, as it arrives; every call ends with the outcome line
 * (`{"status": "OK", "response": {...}}`). A client or bidi stream's requests are read from
 * `input`, one JSON message per line, and its end is the half-close.
 *
 * SIGINT (Ctrl-C) cancels the call: the server sees CANCELLED (a Watch's handler stops), the
 * outcome line says CANCELLED, the channel is closed, and the result is {@link INTERRUPTED}
 * (130, as a shell reports a process ended by SIGINT), so a script can tell a Watch the user
 * stopped from a call that ended by itself. Otherwise 0 for OK, 1 for any other status; 2 for
 * a method the .proto does not have, or a JSON request given to a streamed-request method.
 */
export async function callGrpc(options: GrpcCallOptions): Promise<number> {
  const { output = process.stdout, errors = process.stderr } = options;
  const transport = new GrpcTransport({ target: options.target });
  const kind = transport.kindOf(options.service, options.method);
  const refuse = (message: string): number => {
    errors.write(`bin/call: ${message}\n`);
    void transport.close();
    return 2;
  };
  if (kind === undefined) return refuse(`${options.service}/${options.method} is not a method of proto/keyvalue.proto`);
  const streamsRequests = kind === CallKind.CLIENT_STREAM || kind === CallKind.BIDI;
  if (streamsRequests && options.request !== undefined) return refuse(`${options.service}/${options.method} reads its requests from stdin, one JSON message per line`);

  const client: Client = createClient(transport);
  if (options.verbose === true) client.use(logging());
  const timeoutMs = options.timeoutMs ?? (kind === CallKind.SERVER_STREAM || kind === CallKind.BIDI ? undefined : DEFAULT_TIMEOUT_MS);
  if (timeoutMs !== undefined) client.use(deadline({ timeoutMs }));
  if (options.token !== undefined) client.use(credentials({ token: options.token }));
  const interrupt = new AbortController();
  const onInterrupt = (): void => interrupt.abort(new StatusError(Status.CANCELLED, "interrupted (SIGINT)"));
  process.once("SIGINT", onInterrupt);
  try {
    const { service, method } = options;
    const callOptions = { signal: interrupt.signal };
    let result: CallResult;
    if (kind === CallKind.UNARY) result = await client.call(service, method, options.request ?? {}, callOptions);
    else if (kind === CallKind.CLIENT_STREAM) result = await client.clientStream(service, method, jsonLines(options.input ?? process.stdin), callOptions);
    else {
      const call = kind === CallKind.SERVER_STREAM ? client.serverStream(service, method, options.request ?? {}, callOptions) : client.bidi(service, method, jsonLines(options.input ?? process.stdin), callOptions);
      try {
        for await (const message of call) output.write(`{"message": ${dumps(message)}}\n`);
      } catch {
        // A non-OK end: the outcome line below says it.
      }
      result = await call.result;
    }
    output.write(`{${outcomeText(result)}}\n`);
    if (result.error !== undefined && !interrupt.signal.aborted) errors.write(`bin/call: ${result.error.message}\n`);
    if (interrupt.signal.aborted) return INTERRUPTED;
    return result.status === Status.OK ? 0 : 1;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    await client.close();
  }
}

/** The JSON messages of `input`, one per non-blank line; a line that is not JSON fails the call. */
async function* jsonLines(input: NodeJS.ReadableStream): AsyncGenerator<unknown> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      try {
        yield JSON.parse(line);
      } catch {
        throw new StatusError(Status.INVALID_ARGUMENT, `a request line is not JSON: ${line}`);
      }
    }
  } finally {
    lines.close();
  }
}
