import fp from 'fastify-plugin'
import type { DB } from '../src/database.js'
import type { PasswordHasher } from '../src/domain/ports.js'

/** The seed's default accounts; the walkthrough logs in as Ava and listens as Mike. */
const DEMO_USERS = [
  { username: 'Ava', email: 'ava@temp.com', password: 'password' },
  { username: 'Mike', email: 'mike@temp.com', password: 'password' },
] as const
const DEMO_GROUP_NAME = 'General'
const DEMO_MARKER = 'demo_data_created_at'

/**
 * Creates Ava, Mike and the group "General" (owner Ava, member Mike) once per database. A marker row
 * records that it happened, so restarts neither duplicate nor reset them, even if they were changed since.
 * Resolves the group's id when this call created the data, undefined otherwise.
 */
async function seedDemoData(db: DB, passwords: PasswordHasher): Promise<number | undefined> {
  const marker = await db.selectFrom('app_meta').select('value').where('key', '=', DEMO_MARKER).executeTakeFirst()
  if (marker) return undefined
  const hashes = await Promise.all(DEMO_USERS.map((user) => passwords.hash(user.password)))
  const now = new Date().toISOString()
  return db.transaction().execute(async (trx) => {
    const claimed = await trx
      .insertInto('app_meta')
      .values({ key: DEMO_MARKER, value: now })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst()
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return undefined // another process got there first
    const ids: number[] = []
    for (const [index, user] of DEMO_USERS.entries()) {
      const existing = await trx.selectFrom('users').select('id').where('email', '=', user.email).executeTakeFirst()
      const row =
        existing ??
        (await trx
          .insertInto('users')
          .values({
            username: user.username,
            email: user.email,
            password_hash: hashes[index] ?? '',
            created_at: now,
            updated_at: now,
          })
          .returning('id')
          .executeTakeFirstOrThrow())
      ids.push(row.id)
    }
    const [avaId, mikeId] = ids as [number, number]
    const group = await trx
      .insertInto('groups')
      .values({ name: DEMO_GROUP_NAME, owner_id: avaId, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow()
    await trx
      .insertInto('group_members')
      .values([
        { group_id: group.id, user_id: avaId, role: 'owner', joined_at: now },
        { group_id: group.id, user_id: mikeId, role: 'member', joined_at: now },
      ])
      .execute()
    return group.id
  })
}

/** Seeds the demo data when `demoData` is on, and says so loudly. */
export default fp(
  async (fastify) => {
    if (!fastify.chatConfig.demoData) return
    const groupId = await seedDemoData(fastify.db, fastify.passwords)
    if (groupId !== undefined) {
      fastify.log.warn(
        `DEMO DATA CREATED: users ava@temp.com and mike@temp.com (password "password"), ` +
          `group ${groupId} "${DEMO_GROUP_NAME}". Turn it off with DEMO_DATA=false.`,
      )
    }
  },
  { name: 'chatserver-demo', dependencies: ['chatserver-db', 'chatserver-auth'] },
)
