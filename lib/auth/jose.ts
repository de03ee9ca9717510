/**
 * jose, imported on first use. Importing it costs about 80 ms of start-up on this project's
 * 2-core reference machine, which a node that verifies no JWT (the default bin/node) must not
 * pay: the key sources and the verifier ask for it when a token first needs it.
 */
let loading: Promise<typeof import("jose")> | undefined;

export function jose(): Promise<typeof import("jose")> {
  return (loading ??= import("jose"));
}
