import BetterSqlite3 from 'better-sqlite3'
import fp from 'fastify-plugin'
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  sql,
  type KyselyPlugin,
  type RootOperationNode,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely'
import pg from 'pg'
import { isPostgres } from '../migrations/dialect.js'
import { migrationProvider } from '../migrations/index.js'
import type { Database } from '../src/database.js'
import { badRequest } from '../src/domain/errors.js'
import { DEFAULT_DATABASE_TIMEOUTS, DEFAULT_OPERATIONS, type DatabaseTimeouts } from '../src/operations.js'
import { withTimeoutHandling } from './postgres-pool.js'
import { RetryingSqliteDialect, sqliteHandle } from './sqlite-driver.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Kysely database, migrated to the latest schema before any route runs. */
    db: Kysely<Database>
  }
}

/**
 * Opens a SQLite file with the settings the guarantees rely on. WAL lets readers run beside the
 * writer; `synchronous = NORMAL` in WAL mode commits each transaction to the OS before it returns,
 * so an acknowledged message survives a crash of the server process (a power loss may drop the last ones).
 * A query that meets another process's write lock waits for it asynchronously, up to `busyWaitMs`, and
 * then fails with 503 DATABASE_BUSY (see sqlite-driver.ts): never with the event loop stopped.
 */
export function openSqlite(file: string, { busyWaitMs = DEFAULT_OPERATIONS.dbBusyWaitMs } = {}): Kysely<Database> {
  const sqlite = new BetterSqlite3(file)
  // Opening may wait for a lock the usual way: nothing is being served yet.
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  // From here on a locked database answers at once, and the driver waits without blocking.
  sqlite.pragma('busy_timeout = 0')
  const handle = sqliteHandle(sqlite, reusingStatements(sqlite))
  return new Kysely<Database>({ dialect: new RetryingSqliteDialect(handle, busyWaitMs) })
}

/** How many prepared statements one SQLite connection keeps for reuse. */
const STATEMENT_CACHE_SIZE = 256

/**
 * The connection as Kysely sees it, with prepared statements reused by SQL text: Kysely's SQLite driver
 * prepares every query it runs, and preparing costs as much as running a small one. The least recently
 * used statement goes once the cache is full (queries with `in (…)` lists vary in text).
 */
export function reusingStatements(sqlite: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => sqlite.close(),
    prepare(sqlText): SqliteStatement {
      const cached = statements.get(sqlText)
      // A statement still iterating a result (a streamed query) cannot run again until it is done.
      if (cached && !cached.busy) {
        statements.delete(sqlText)
        statements.set(sqlText, cached)
        return cached
      }
      const statement = sqlite.prepare(sqlText)
      if (cached) return statement
      statements.set(sqlText, statement)
      if (statements.size > size) statements.delete(statements.keys().next().value as string)
      return statement
    },
  }
}

/** int8 as a JS number (ids are bigserial, `count(*)` is bigint); refuses one past 2^53 rather than round it. */
function parseInt8(text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value ${text} does not fit a JavaScript number`)
  return value
}

// Set on our pool only, never on pg's global parsers, so a host app's own pg use keeps its defaults.
const int8AsNumber: pg.CustomTypesConfig = {
  getTypeParser: (id, format): unknown =>
    id === pg.types.builtins.INT8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(id, format),
}

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`, with any libpq query parameters pg understands. */
  url: string
  /** The schema every connection works in (its `search_path`); default: the server's default search path. */
  schema?: string | undefined
  /** Told about errors of idle pooled connections (the pool replaces them); without it they would crash the process. */
  onIdleError?: (error: Error) => void
  /** How long to wait for a connection, a statement and a query's answer (ms; 0: no limit). Defaults as the settings'. */
  timeouts?: Partial<DatabaseTimeouts>
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`

/**
 * A Kysely instance on a pg connection pool; int8 columns come back as numbers. Nothing waits on the server
 * without a bound: getting a connection (`connectMs`), a statement on the server (`statementMs`, PostgreSQL's
 * `statement_timeout`, lock waits included) and the answer to a query (`queryMs`, for a server that does not
 * answer at all); past one, 503 DATABASE_UNAVAILABLE (see postgres-pool.ts).
 */
export function openPostgres({ url, schema, onIdleError, timeouts = {} }: PostgresOptions): Kysely<Database> {
  const { connectMs, statementMs, queryMs } = { ...DEFAULT_DATABASE_TIMEOUTS, ...timeouts }
  const pool = new pg.Pool({
    connectionString: url,
    types: int8AsNumber,
    ...(connectMs > 0 && { connectionTimeoutMillis: connectMs }),
    ...(statementMs > 0 && { statement_timeout: statementMs }),
    ...(queryMs > 0 && { query_timeout: queryMs }),
  })
  pool.on('error', (error) => onIdleError?.(error))
  const searchPath = schema === undefined ? undefined : `set search_path to ${quoteIdentifier(schema)}`
  return new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: withTimeoutHandling(pool),
      ...(searchPath && {
        onCreateConnection: async (connection) => {
          await connection.executeQuery(CompiledQuery.raw(searchPath))
        },
      }),
    }),
  })
}

/** Creates a PostgreSQL schema unless it exists (checked first, so a role without CREATE can use an existing one). */
export async function ensureSchema(db: Kysely<Database>, schema: string): Promise<void> {
  const exists = async () =>
    (await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(db)).rows.length > 0
  if (await exists()) return
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db)
  } catch (error) {
    // Another instance starting at the same moment may have created it between the check and here.
    if (!(await exists())) throw error
  }
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  // On PostgreSQL, name the schema: Kysely would otherwise take a migration table in any schema of the
  // database (another instance's, another test's) for ours.
  const migrationTableSchema = isPostgres(db) ? await currentSchema(db) : undefined
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'chatserver_migration',
    ...(migrationTableSchema !== undefined && { migrationTableSchema }),
  })
  let { error, results } = await migrator.migrateToLatest()
  // Before migrating, Kysely reads the catalog of every schema in the database; a schema or table that
  // someone else drops meanwhile makes that read fail by name. Nothing has run then: look again.
  for (let attempt = 1; attempt < 5 && isCatalogRace(error) && !results?.length; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
    ;({ error, results } = await migrator.migrateToLatest())
  }
  const failed = results?.find((result) => result.status === 'Error')
  if (error) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever a migration threw, as text
    const cause = error instanceof Error ? error.message : String(error)
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${cause}`, { cause: error })
  }
}

/**
 * PostgreSQL's "no such schema", "no such table" and "no such column", which a concurrent DROP or ALTER in
 * another schema makes a catalog read fail with (`pg_get_serial_sequence` on a column being dropped).
 */
const isCatalogRace = (error: unknown) =>
  typeof error === 'object' &&
  error !== null &&
  ['3F000', '42P01', '42703'].includes(String((error as { code?: unknown }).code))

/** The schema unqualified names resolve to; throws when no schema of the search path exists. */
async function currentSchema(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
  const schema = rows[0]?.schema
  if (!schema) throw new Error('PostgreSQL has no current schema: no schema of the search_path exists')
  return schema
}

/** Whether any string in a query's operation tree holds a NUL (walked without allocating: it runs per query). */
function containsNul(node: unknown): boolean {
  if (typeof node === 'string') return node.includes('\u0000')
  if (typeof node !== 'object' || node === null) return false
  if (Array.isArray(node)) {
    for (const item of node) if (containsNul(item)) return true
    return false
  }
  for (const key in node) if (containsNul((node as Record<string, unknown>)[key])) return true
  return false
}

/**
 * Refuses text with the NUL character before a query runs, as a 400: PostgreSQL's text cannot hold it
 * (its driver error would be a 500), and no name, message or search needs it. On both dialects alike.
 */
const refuseNulText: KyselyPlugin = {
  transformQuery({ node }): RootOperationNode {
    if (containsNul(node)) throw badRequest('VALIDATION_ERROR', 'Text may not contain the NUL character (\\u0000).')
    return node
  },
  transformResult: async ({ result }) => result,
}

/** `fastify.db`: the Kysely instance, migrated before any route runs. */
export default fp<{ db?: Kysely<Database> }>(
  async (fastify, options) => {
    const owned = !options.db
    const { dbFile, databaseUrl, databaseSchema } = fastify.chatConfig
    const db =
      options.db ??
      (databaseUrl
        ? openPostgres({
            url: databaseUrl,
            schema: databaseSchema,
            onIdleError: (error) => fastify.log.error({ err: error }, 'PostgreSQL connection lost'),
            timeouts: fastify.chatConfig.databaseTimeouts,
          })
        : openSqlite(dbFile ?? ':memory:', { busyWaitMs: fastify.chatConfig.dbBusyWaitMs }))
    try {
      if (owned && databaseUrl && databaseSchema) await ensureSchema(db, databaseSchema)
      await migrateToLatest(db)
    } catch (error) {
      if (owned) await db.destroy()
      throw error
    }
    fastify.decorate('db', db.withPlugin(refuseNulText))
    if (owned) fastify.addHook('onClose', async () => db.destroy())
  },
  { name: 'chatserver-db', dependencies: ['chatserver-config'] },
)
