import { sql, type Transaction } from 'kysely'
import { isPostgres } from '../../migrations/dialect.js'
import type { Database, DB } from '../../src/database.js'
import { GroupCommit } from './group-commit.js'

// Readers follow some tables by id: a client keeps the id of the last message it got and resumes with
// `id > since`; every process reads `token_revocations` after the last id it saw. That only works when
// no smaller id can show up after a larger one. SQLite has one writer at a time and one connection, so
// its ids commit, and its inserts resolve, in id order by themselves. On PostgreSQL neither holds:
// - two transactions draw ids from the sequence and may commit the other way round. An advisory lock
//   per table, taken before the id is drawn and held until commit, puts every process's inserts into
//   that table in a line;
// - two inserts on two pooled connections may resolve the other way round even so (one backend can
//   be descheduled between releasing the lock and answering), and the caller publishes on resolution.
//   Within a process the inserts into a table therefore also wait for each other.

/** First half of the two-number advisory lock key ("chat"); the second is the table's oid. */
const LOCK_SPACE = 0x63686174

/** Per Kysely instance and table, the end of the line of inserts waiting in this process. */
const lines = new WeakMap<DB, Map<string, Promise<unknown>>>()

function oneAtATime<T>(db: DB, table: string, work: () => Promise<T>): Promise<T> {
  let tables = lines.get(db)
  if (!tables) {
    tables = new Map()
    lines.set(db, tables)
  }
  const run = (tables.get(table) ?? Promise.resolve()).then(work)
  const settled = run.then(
    () => undefined,
    () => undefined,
  )
  tables.set(table, settled)
  void settled.then(() => {
    if (tables.get(table) === settled) tables.delete(table)
  })
  return run
}

/** Per Kysely instance on SQLite, the group commit its ordered writes share. */
const groupCommits = new WeakMap<DB, GroupCommit>()

function groupCommitOf(db: DB): GroupCommit {
  let groupCommit = groupCommits.get(db)
  if (!groupCommit) {
    groupCommit = new GroupCommit(db)
    groupCommits.set(db, groupCommit)
  }
  return groupCommit
}

/**
 * A transaction whose inserts into `table` commit, and resolve, in id order with every other one made
 * through here. On SQLite, the writes of one turn of the event loop share a transaction (group commit),
 * run one after another in arrival order, and resolve in that order after it commits.
 */
export function transactionInIdOrder<T>(
  db: DB,
  table: string,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  if (!isPostgres(db)) return groupCommitOf(db).run(work)
  return oneAtATime(db, table, () =>
    db.transaction().execute(async (trx) => {
      // The oid names the table in the schema the search path resolves, so two schemas never share a lock.
      await sql`select pg_advisory_xact_lock(${sql.lit(LOCK_SPACE)}, ${table}::regclass::oid::int)`.execute(trx)
      return work(trx)
    }),
  )
}
