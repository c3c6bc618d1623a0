import { sql } from 'kysely'
import { idType, notNull, withIdColumn, type AnyDB } from './dialect.js'

// Token revocation: logout (one token, by `jti`) and a password change (every token of the user
// issued before `issued_before`, except `except_jti`). Rows are immutable and only ever added, so
// every process can follow the table by id; a row may be deleted once `expires_at` has passed,
// because every token it could refuse has expired by then.
export async function up(db: AnyDB): Promise<void> {
  await withIdColumn(db, db.schema.createTable('token_revocations'))
    .addColumn('user_id', idType(db), (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('jti', 'text')
    .addColumn('issued_before', 'text')
    .addColumn('except_jti', 'text')
    .addColumn('expires_at', 'text', notNull)
    .addColumn('created_at', 'text', notNull)
    .addCheckConstraint('token_revocations_one_kind', sql`(jti is null) <> (issued_before is null)`)
    .execute()
  // One row per revoked token (NULLs are distinct, so password-change rows never collide).
  await db.schema.createIndex('token_revocations_jti_unique').unique().on('token_revocations').column('jti').execute()
  await db.schema.createIndex('token_revocations_expires_at').on('token_revocations').column('expires_at').execute()
}
