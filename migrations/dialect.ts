import { PostgresAdapter, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely'

// Dialect differences live here, written once, so every migration runs on SQLite and PostgreSQL.
// Migrations are forward-only: a change to the schema is a new migration, never an edit of an old one.

// Migrations are frozen in time: they never see the app's live table types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDB = Kysely<any>

export function isPostgres(db: AnyDB): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

/** Adds an auto-incrementing integer primary key `id` whose values only ever grow. */
export function withIdColumn<T extends string>(db: AnyDB, table: CreateTableBuilder<T, never>) {
  return isPostgres(db)
    ? table.addColumn('id', 'bigserial', (col) => col.primaryKey())
    : // AUTOINCREMENT: SQLite never reuses an id, even after the newest row is deleted.
      table.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
}

/** An integer column that references another table's id (bigint on PostgreSQL to match bigserial). */
export function idType(db: AnyDB) {
  return isPostgres(db) ? ('bigint' as const) : ('integer' as const)
}

export const notNull = (col: ColumnDefinitionBuilder) => col.notNull()
