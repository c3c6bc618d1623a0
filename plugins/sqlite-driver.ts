import type BetterSqlite3 from 'better-sqlite3'
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely'
import { serviceUnavailable } from '../src/domain/errors.js'

/** What a client should wait, in seconds, after DATABASE_BUSY. */
const BUSY_RETRY_AFTER_SECONDS = 1
/** The pause between two tries grows from the first to the last (ms), with jitter. */
const FIRST_PAUSE_MS = 2
const LONGEST_PAUSE_MS = 100
/** Longer than any pause: a lock nobody has met for this long is over (or is another one). */
const QUIET_SPELL_MS = 250

/** The SQLite connection as this driver needs it: statements, and whether a transaction is open. */
export interface SqliteHandle extends SqliteDatabase {
  readonly inTransaction: boolean
}

/** A better-sqlite3 error saying another connection holds the lock (SQLITE_BUSY and its extended codes). */
const isBusy = (error: unknown) =>
  typeof error === 'object' && error !== null && String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY')

export const databaseBusy = () =>
  serviceUnavailable(
    'DATABASE_BUSY',
    'The database is locked by another writer; nothing was stored. Retry shortly.',
    BUSY_RETRY_AFTER_SECONDS,
  )

/**
 * Since when the database has been found locked, across every query of the connection: a query that finds
 * it locked waits (asynchronously) until the lock has been held `waitMs` in all, then gives up with 503
 * DATABASE_BUSY. Timed from the first query that found the lock, not per query: while a lock lasts, the
 * queries behind the first give up with it instead of each waiting `waitMs` more. A write that gets through
 * ends the lock; so does a quiet spell with nobody finding it locked (a later lock is timed afresh).
 */
class LockWatch {
  private lockedSince: number | undefined
  private lastSeenBusy = 0

  constructor(private readonly waitMs: number) {}

  /** The pause before the next try; throws DATABASE_BUSY once the lock has been held too long. */
  pauseAfterBusy(attempt: number): number {
    const now = Date.now()
    if (this.lockedSince === undefined || now - this.lastSeenBusy > QUIET_SPELL_MS) this.lockedSince = now
    this.lastSeenBusy = now
    const left = this.lockedSince + this.waitMs - now
    if (left <= 0) throw databaseBusy()
    const pause = Math.min(LONGEST_PAUSE_MS, FIRST_PAUSE_MS * 2 ** attempt)
    return Math.min(left, pause / 2 + Math.random() * (pause / 2))
  }

  /** The write lock was had: the next lock is timed afresh. */
  acquired(): void {
    this.lockedSince = undefined
  }
}

/** One connection, one user at a time (as Kysely's own SQLite driver): a promise chain as the queue. */
class ConnectionMutex {
  private held: Promise<void> | undefined
  private release: (() => void) | undefined

  async lock(): Promise<void> {
    while (this.held) await this.held
    this.held = new Promise((resolve) => (this.release = resolve))
  }

  unlock(): void {
    const release = this.release
    this.held = undefined
    this.release = undefined
    release?.()
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The connection Kysely runs queries on. better-sqlite3 is synchronous: with a long `busy_timeout`, a
 * query that meets another process's write lock would stop the whole event loop until the lock goes.
 * So the busy timeout is short (set by `openSqlite`), and a query that finds the database locked pauses
 * asynchronously and tries again, with backoff, until `LockWatch` gives up. While it pauses outside a
 * transaction it lets other queries use the connection (reads go on beside another process's writer).
 */
class RetryingConnection implements DatabaseConnection {
  constructor(
    private readonly sqlite: SqliteHandle,
    private readonly mutex: ConnectionMutex,
    private readonly lock: LockWatch,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return this.run<R>(compiledQuery)
      } catch (error) {
        if (!isBusy(error)) throw error
        const wait = this.lock.pauseAfterBusy(attempt)
        // Outside a transaction nothing is held: others may use the connection meanwhile.
        const yieldConnection = !this.sqlite.inTransaction
        if (yieldConnection) this.mutex.unlock()
        await pause(wait)
        if (yieldConnection) await this.mutex.lock()
      }
    }
  }

  private run<R>({ sql, parameters }: CompiledQuery): QueryResult<R> {
    const statement = this.sqlite.prepare(sql) as SqliteStatement & { readonly readonly: boolean }
    let result: QueryResult<R>
    if (statement.reader) {
      result = { rows: statement.all(parameters) as R[] }
    } else {
      const { changes, lastInsertRowid } = statement.run(parameters)
      result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
    }
    // A statement that writes got the write lock (`begin immediate` counts as read-only: see the driver).
    if (!statement.readonly) this.lock.acquired()
    return result
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) throw new Error('SQLite streams select queries only')
    const statement: SqliteStatement = this.sqlite.prepare(compiledQuery.sql)
    for (const row of statement.iterate(compiledQuery.parameters)) yield { rows: [row as R] }
  }
}

/** Kysely's SQLite driver with `begin immediate` transactions and asynchronous retries on a locked database. */
class RetryingSqliteDriver implements Driver {
  private readonly mutex = new ConnectionMutex()
  private readonly lock: LockWatch
  private readonly connection: RetryingConnection

  constructor(
    private readonly sqlite: SqliteHandle,
    busyWaitMs: number,
  ) {
    this.lock = new LockWatch(busyWaitMs)
    this.connection = new RetryingConnection(sqlite, this.mutex, this.lock)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.mutex.lock()
    return this.connection
  }

  // `immediate`: the write lock is taken at the start, where waiting for it is safe to repeat, never halfway
  // through a transaction that has read (SQLite cannot wait there: it fails the whole transaction).
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
    this.lock.acquired()
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(connection: DatabaseConnection, name: string) {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quote(name)}`))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string) {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quote(name)}`))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string) {
    await connection.executeQuery(CompiledQuery.raw(`release ${quote(name)}`))
  }

  async releaseConnection(): Promise<void> {
    this.mutex.unlock()
  }

  async destroy(): Promise<void> {
    this.sqlite.close()
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Kysely's SQLite dialect on `RetryingSqliteDriver`. */
export class RetryingSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: SqliteHandle,
    private readonly busyWaitMs: number,
  ) {
    super({ database: sqlite })
  }

  override createDriver(): Driver {
    return new RetryingSqliteDriver(this.sqlite, this.busyWaitMs)
  }
}

/** `inTransaction` of a better-sqlite3 connection, beside the statements `reusingStatements` hands out. */
export function sqliteHandle(sqlite: BetterSqlite3.Database, statements: SqliteDatabase): SqliteHandle {
  return {
    prepare: (sql) => statements.prepare(sql),
    close: () => statements.close(),
    get inTransaction() {
      return sqlite.inTransaction
    },
  }
}
