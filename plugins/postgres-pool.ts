import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely'
import type pg from 'pg'
import { ChatError, serviceUnavailable } from '../src/domain/errors.js'

/** What a client should wait, in seconds, after DATABASE_UNAVAILABLE. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5

export const databaseUnavailable = () =>
  serviceUnavailable(
    'DATABASE_UNAVAILABLE',
    'The database did not answer in time. Retry shortly (a retried send with the same client_msg_id is stored once).',
    UNAVAILABLE_RETRY_AFTER_SECONDS,
  )

/** pg's own words for a connection or query it gave up waiting on. */
const TIMEOUT_MESSAGES = [
  'timeout exceeded when trying to connect', // pg-pool: no connection within connectionTimeoutMillis
  'Connection terminated due to connection timeout', // pg: the server did not finish the handshake in time
  'Query read timeout', // pg: no answer within query_timeout
]

/** Whether pg gave up waiting on the server: its connection may be in the middle of an exchange. */
const isTimeout = (error: unknown) => error instanceof Error && TIMEOUT_MESSAGES.includes(error.message)

/** Node's errors for a server that cannot be reached or went away. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'])

/**
 * PostgreSQL's codes for "not now": a statement cancelled by `statement_timeout` (57014), the server
 * shutting down or starting (57P01-57P03), out of connections (53300), and every connection exception (08…).
 */
const isUnavailableCode = (code: string) =>
  code === '57014' || code === '53300' || /^57P0[123]$/.test(code) || code.startsWith('08')

/** Whether a pg error means the database cannot answer now (rather than that the query is wrong). */
export function isUnavailable(error: unknown): boolean {
  if (isTimeout(error)) return true
  if (!(error instanceof Error)) return false
  if (error.message.startsWith('Connection terminated')) return true
  const { code: given } = error as { code?: unknown }
  const code = typeof given === 'string' ? given : ''
  return NETWORK_CODES.has(code) || isUnavailableCode(code)
}

const asChatError = (error: unknown) =>
  !(error instanceof ChatError) && isUnavailable(error) ? databaseUnavailable() : error

/**
 * The pool as Kysely sees it, with what the timeouts need around pg's:
 * - a connection whose query timed out is destroyed when released, never handed out again: pg gives up
 *   on the answer but the connection still waits for it, so the next query on it would only wait too;
 *   its later queries (a transaction's rollback) fail at once instead of waiting out their own timeout;
 * - an error that means the database is not answering (a timeout, a lost or refused connection, a
 *   statement cancelled by `statement_timeout`) becomes 503 DATABASE_UNAVAILABLE with `Retry-After`.
 */
export function withTimeoutHandling(pool: pg.Pool): PostgresPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  return {
    async connect() {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (error) {
        throw asChatError(error)
      }
      let wrapped = clients.get(client)
      if (!wrapped) {
        wrapped = wrap(client)
        clients.set(client, wrapped)
      }
      return wrapped
    },
    end: () => pool.end(),
  }
}

function wrap(client: pg.PoolClient): PostgresPoolClient {
  let stuck = false
  function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>
  function query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never)
    if (stuck) return Promise.reject(databaseUnavailable())
    return (client.query(sqlOrCursor, parameters as unknown[]) as unknown as Promise<PostgresQueryResult<R>>).catch(
      (error: unknown) => {
        if (isTimeout(error)) stuck = true
        throw asChatError(error)
      },
    )
  }
  return {
    query,
    // Kysely passes `true` to discard a connection whose rollback failed.
    release(...args: unknown[]) {
      client.release(stuck || args[0] === true)
    },
  }
}
