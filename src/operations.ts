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
  /**
   * A secret (at least 32 characters) that `/metrics` then requires as `Authorization: Bearer <token>`
   * (`METRICS_TOKEN`). In production, metrics are served only with a token or on their own port.
   */
  metricsToken?: string
  /**
   * Serve the metrics on this port instead (`METRICS_PORT`), on the address the app listens on, once it
   * listens: `/metrics` is then not on the app's port. The token, if set, is required there too.
   */
  metricsPort?: number
  /**
   * SQLite: how long, in ms, queries wait in all for a write lock another process holds before they fail
   * with 503 DATABASE_BUSY and `Retry-After` (`DB_BUSY_WAIT_MS`, default 5,000). They wait without blocking:
   * the server goes on answering meanwhile. 0: fail at once.
   */
  dbBusyWaitMs?: number
}

/** The resolved settings of `OperationsOptions`. */
export interface OperationsConfig {
  shutdownDrainMs: number
  metricsToken: string | undefined
  metricsPort: number | undefined
  dbBusyWaitMs: number
}

export const MIN_METRICS_TOKEN_LENGTH = 32

export const DEFAULT_OPERATIONS: Readonly<Omit<OperationsConfig, 'metricsToken' | 'metricsPort'>> = {
  shutdownDrainMs: 1_000,
  dbBusyWaitMs: 5_000,
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
    dbBusyWaitMs: milliseconds(
      options.dbBusyWaitMs ?? env.DB_BUSY_WAIT_MS ?? DEFAULT_OPERATIONS.dbBusyWaitMs,
      'dbBusyWaitMs',
      'DB_BUSY_WAIT_MS',
    ),
    metricsToken: resolveMetricsToken(options.metricsToken ?? env.METRICS_TOKEN),
    metricsPort: resolvePort(options.metricsPort ?? env.METRICS_PORT, 'metricsPort', 'METRICS_PORT'),
  }
}

function resolveMetricsToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined
  if (token.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(
      `METRICS_TOKEN (metricsToken) must be at least ${MIN_METRICS_TOKEN_LENGTH} characters without spaces ` +
        '(for example: openssl rand -hex 24).',
    )
  }
  return token
}

function resolvePort(port: number | undefined, name: string, variable: string): number | undefined {
  if (port === undefined) return undefined
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} (${variable}) must be a port number from 0 to 65535.`)
  }
  return port
}
