import type { Env } from './config.js'

/**
 * Options of the chat server that bound how long it waits on its dependencies and on its own shutdown.
 * Part of `ChatServerOptions`; each overrides the environment variable named beside it.
 */
export interface OperationsOptions {
  /**
   * On close, how long in ms HTTP connections get to be refused cleanly before the server stops listening
   * (`SHUTDOWN_DRAIN_MS`, default 1,000): meanwhile every request is answered 503 SHUTTING_DOWN with
   * `Connection: close`, and every response closes its connection, so a client on a keep-alive connection
   * gets an answer instead of a reset. Ends as soon as no connection is left. 0: no wait.
   */
  shutdownDrainMs?: number
}

/** The resolved settings of `OperationsOptions`. */
export interface OperationsConfig {
  shutdownDrainMs: number
}

export const DEFAULT_OPERATIONS: Readonly<OperationsConfig> = {
  shutdownDrainMs: 1_000,
}

/** A whole number of milliseconds, at least `minimum`; throws naming the option and its variable. */
function milliseconds(value: number, name: string, variable: string, minimum = 0): number {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`${name} (${variable}) must be a whole number of milliseconds, at least ${minimum}.`)
  }
  return value
}

/** Each setting: the option over its environment variable over the default; throws on a bad one. */
export function resolveOperations(options: OperationsOptions, env: Env): OperationsConfig {
  return {
    shutdownDrainMs: milliseconds(
      options.shutdownDrainMs ?? env.SHUTDOWN_DRAIN_MS ?? DEFAULT_OPERATIONS.shutdownDrainMs,
      'shutdownDrainMs',
      'SHUTDOWN_DRAIN_MS',
    ),
  }
}
