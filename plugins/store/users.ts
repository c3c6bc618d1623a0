import { sql } from 'kysely'
import type { DB } from '../../src/database.js'
import type { UserStore } from '../../src/domain/ports.js'
import type { User } from '../../src/schemas/user.js'
import { isUniqueViolation } from './errors.js'

const PUBLIC_COLUMNS = ['id', 'username', 'email', 'created_at'] as const

/** Escapes LIKE wildcards so a search for `50%` finds that text. */
const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`

export function createUserStore(db: DB): UserStore {
  return {
    async create({ username, email, passwordHash, now }) {
      try {
        return await db
          .insertInto('users')
          .values({ username, email, password_hash: passwordHash, created_at: now, updated_at: now })
          .returning(PUBLIC_COLUMNS)
          .executeTakeFirstOrThrow()
      } catch (error) {
        if (!isUniqueViolation(error)) throw error
        const emailTaken = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()
        return emailTaken ? 'email' : 'username'
      }
    },

    findByEmail(email) {
      return db
        .selectFrom('users')
        .select([...PUBLIC_COLUMNS, 'password_hash'])
        .where('email', '=', email)
        .executeTakeFirst()
    },

    findById(id) {
      return db.selectFrom('users').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst()
    },

    list({ query, afterId, limit }): Promise<User[]> {
      let select = db.selectFrom('users').select(PUBLIC_COLUMNS)
      if (afterId !== undefined) select = select.where('id', '>', afterId)
      if (query) {
        const pattern = likePattern(query)
        select = select.where(sql`lower(username)`, 'like', sql<string>`${pattern} escape '\\'`)
      }
      return select.orderBy('id').limit(limit).execute()
    },

    findByIdWithHash(id) {
      return db
        .selectFrom('users')
        .select([...PUBLIC_COLUMNS, 'password_hash'])
        .where('id', '=', id)
        .executeTakeFirst()
    },

    async update(id, { username, passwordHash, now }) {
      try {
        return await db
          .updateTable('users')
          .set({
            updated_at: now,
            ...(username !== undefined ? { username } : {}),
            ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
          })
          .where('id', '=', id)
          .returning(PUBLIC_COLUMNS)
          .executeTakeFirst()
      } catch (error) {
        // Only the username is unique among the columns written here.
        if (isUniqueViolation(error)) return 'username'
        throw error
      }
    },
  }
}
