import type { Selectable } from 'kysely'
import type { DB, TokenRevocationsTable } from '../../src/database.js'
import type { Revocation, TokenRevocationStore } from '../../src/domain/tokens.js'
import { transactionInIdOrder } from './id-order.js'

const iso = (ms: number) => new Date(ms).toISOString()

function toRevocation(row: Selectable<TokenRevocationsTable>): Revocation {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    jti: row.jti,
    issuedBefore: row.issued_before === null ? null : Date.parse(row.issued_before),
    exceptJti: row.except_jti,
    expiresAt: Date.parse(row.expires_at),
  }
}

/** The `token_revocations` table: rows are only ever added, and deleted once expired. */
export function createTokenRevocationStore(db: DB): TokenRevocationStore {
  return {
    async insert(revocation, now) {
      // In id order on PostgreSQL, so a process following the table by id skips none (see id-order.ts).
      const row = await transactionInIdOrder(db, 'token_revocations', (db) =>
        db
          .insertInto('token_revocations')
          .values({
            user_id: revocation.userId,
            jti: revocation.jti,
            issued_before: revocation.issuedBefore === null ? null : iso(revocation.issuedBefore),
            except_jti: revocation.exceptJti,
            expires_at: iso(revocation.expiresAt),
            created_at: iso(now),
          })
          .onConflict((conflict) => conflict.column('jti').doNothing())
          .returning('id')
          .executeTakeFirst(),
      )
      return row === undefined ? undefined : Number(row.id)
    },

    async after(afterId) {
      const rows = await db
        .selectFrom('token_revocations')
        .selectAll()
        .where('id', '>', afterId)
        .orderBy('id')
        .execute()
      return rows.map(toRevocation)
    },

    async active(now) {
      const rows = await db
        .selectFrom('token_revocations')
        .selectAll()
        .where('expires_at', '>=', iso(now))
        .orderBy('id')
        .execute()
      return rows.map(toRevocation)
    },

    async prune(now) {
      const result = await db.deleteFrom('token_revocations').where('expires_at', '<', iso(now)).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}
