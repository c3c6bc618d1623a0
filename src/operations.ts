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
  /**
   * PostgreSQL, in ms (0: no limit): `connectMs` to get a connection from the pool, a new one's handshake
   * included (`DATABASE_CONNECT_TIMEOUT_MS`, default 5,000); `statementMs` for a statement on the server,
   * lock waits included (`DATABASE_STATEMENT_TIMEOUT_MS`, default 10,000); `queryMs` for the answer to a
   * query, for a server that has stopped answering (`DATABASE_QUERY_TIMEOUT_MS`, default 15,000; keep it
   * above `statementMs`, so that a live server cancels a slow statement first). Past one: 503
   * DATABASE_UNAVAILABLE with `Retry-After`.
   */
  databaseTimeouts?: Partial<DatabaseTimeouts>
  /**
   * `/health/ready` answers within this many ms (`READINESS_TIMEOUT_MS`, default 1,000): a check (the
   * database, the broker) that has not answered by then counts as down.
   */
  readinessTimeoutMs?: number
}

export interface DatabaseTimeouts {
  connectMs: number
  statementMs: number
  queryMs: number
}

export const DEFAULT_DATABASE_TIMEOUTS: Readonly<DatabaseTimeouts> = {
  connectMs: 5_000,
  statementMs: 10_000,
  queryMs: 15_000,
}

/** The resolved settings of `OperationsOptions`. */
export interface OperationsConfig {
  shutdownDrainMs: number
  metricsToken: string | undefined
  metricsPort: number | undefined
  dbBusyWaitMs: number
  databaseTimeouts: DatabaseTimeouts
  readinessTimeoutMs: number
}

export const MIN_METRICS_TOKEN_LENGTH = 32

export const DEFAULT_OPERATIONS: Readonly<
  Pick<OperationsConfig, 'shutdownDrainMs' | 'dbBusyWaitMs' | 'readinessTimeoutMs'>
> = {
  shutdownDrainMs: 1_000,
  dbBusyWaitMs: 5_000,
  readinessTimeoutMs: 1_000,
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
    databaseTimeouts: {
      connectMs: milliseconds(
        options.databaseTimeouts?.connectMs ?? env.DATABASE_CONNECT_TIMEOUT_MS ?? DEFAULT_DATABASE_TIMEOUTS.connectMs,
        'databaseTimeouts.connectMs',
        'DATABASE_CONNECT_TIMEOUT_MS',
      ),
      statementMs: milliseconds(
        options.databaseTimeouts?.statementMs ??
          env.DATABASE_STATEMENT_TIMEOUT_MS ??
          DEFAULT_DATABASE_TIMEOUTS.statementMs,
        'databaseTimeouts.statementMs',
        'DATABASE_STATEMENT_TIMEOUT_MS',
      ),
      queryMs: milliseconds(
        options.databaseTimeouts?.queryMs ?? env.DATABASE_QUERY_TIMEOUT_MS ?? DEFAULT_DATABASE_TIMEOUTS.queryMs,
        'databaseTimeouts.queryMs',
        'DATABASE_QUERY_TIMEOUT_MS',
      ),
    },
    readinessTimeoutMs: milliseconds(
      options.readinessTimeoutMs ?? env.READINESS_TIMEOUT_MS ?? DEFAULT_OPERATIONS.readinessTimeoutMs,
      'readinessTimeoutMs',
      'READINESS_TIMEOUT_MS',
      1,
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
