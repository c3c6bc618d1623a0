import type { DB } from '../../src/database.js'
import type { BacklogStore } from '../../src/domain/ports.js'
import { toMessage } from './messages.js'

export function createBacklogStore(db: DB): BacklogStore {
  return {
    async backlog(userId, since, limit) {
      // Walks the primary key upwards from the cursor; membership is read as it is now, so a group
      // the user has left contributes nothing.
      const rows = await db
        .selectFrom('messages')
        .selectAll()
        .where('id', '>', since)
        .where((eb) =>
          eb.or([
            eb('group_id', 'in', eb.selectFrom('group_members').select('group_id').where('user_id', '=', userId)),
            eb('recipient_id', '=', userId),
            eb.and([eb('sender_id', '=', userId), eb('recipient_id', 'is not', null)]),
          ]),
        )
        .orderBy('id')
        .limit(limit)
        .execute()
      return rows.map(toMessage)
    },
  }
}
