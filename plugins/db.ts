import BetterSqlite3 from 'better-sqlite3'
import fp from 'fastify-plugin'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import { migrationProvider } from '../migrations/index.js'
import type { Database } from '../src/database.js'
import './types.js'

/**
 * Opens a SQLite file with the settings the guarantees rely on. WAL lets readers run beside the
 * writer; `synchronous = NORMAL` in WAL mode commits each transaction to the OS before it returns,
 * so an acknowledged message survives a crash of the server process (a power loss may drop the last ones).
 */
export function openSqlite(file: string): Kysely<Database> {
  const sqlite = new BetterSqlite3(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'chatserver_migration' })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((result) => result.status === 'Error')
  if (error) {
    const cause = error instanceof Error ? error.message : String(error)
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${cause}`, { cause: error })
  }
}

/** `fastify.db`: the Kysely instance, migrated before any route runs. */
export default fp<{ db?: Kysely<Database> }>(
  async (fastify, options) => {
    const owned = !options.db
    const dbFile = fastify.chatConfig.dbFile
    const db = options.db ?? openSqlite(dbFile ?? ':memory:')
    try {
      await migrateToLatest(db)
    } catch (error) {
      if (owned) await db.destroy()
      throw error
    }
    fastify.decorate('db', db)
    if (owned) fastify.addHook('onClose', async () => db.destroy())
  },
  { name: 'chatserver-db', dependencies: ['chatserver-config'] },
)
