import { sql, type Transaction } from 'kysely'
import { isPostgres } from '../../migrations/dialect.js'
import type { Database, DB } from '../../src/database.js'
import { GroupCommit } from './group-commit.js'

// Readers follow some tables by id: a client keeps the id of the last message it got and resumes with
// `id > since`; every process reads `token_revocations` after the last id it saw. That only works when
// no smaller id can show up after a larger one. SQLite has one writer at a time and one connection, so
// its ids commit in id order by themselves. On PostgreSQL two transactions draw ids from the sequence
// and may commit the other way round: an advisory lock per table, taken before the id is drawn and held
// until commit, puts every process's inserts into that table in a line.
// Within a process, the inserts into a table go through one group commit (group-commit.ts): one batch
// at a time, each write resolving in arrival order after its batch committed, so callers, who publish
// on resolution, publish in id order too.

/** First half of the two-number advisory lock key ("chat"); the second is the table's oid. */
const LOCK_SPACE = 0x63686174

/** Per Kysely instance and table, the group commit its ordered writes share. */
const groupCommits = new WeakMap<DB, Map<string, GroupCommit>>()

function groupCommitOf(db: DB, table: string): GroupCommit {
  let tables = groupCommits.get(db)
  if (!tables) {
    tables = new Map()
    groupCommits.set(db, tables)
  }
  let groupCommit = tables.get(table)
  if (!groupCommit) {
    groupCommit = isPostgres(db)
      ? new GroupCommit(db, async (trx) => {
          // The oid names the table in the schema the search path resolves, so two schemas never share a lock.
          await sql`select pg_advisory_xact_lock(${sql.lit(LOCK_SPACE)}, ${table}::regclass::oid::int)`.execute(trx)
        })
      : new GroupCommit(db)
    tables.set(table, groupCommit)
  }
  return groupCommit
}

/**
 * A transaction whose inserts into `table` commit, and resolve, in id order with every other one made
 * through here: the writes that arrive together share a transaction (group commit), run one after
 * another in arrival order, and resolve in that order after it commits.
 */
export function transactionInIdOrder<T>(
  db: DB,
  table: string,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return groupCommitOf(db, table).run(work)
}
