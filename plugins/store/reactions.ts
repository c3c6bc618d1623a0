import type { DB } from '../../src/database.js'
import type { ReactionStore } from '../../src/domain/ports.js'
import type { ReactionCount } from '../../src/schemas/message.js'
import { isUniqueViolation } from './errors.js'

/** Whether the message exists and is not deleted, read inside the caller's transaction. */
async function isLive(db: DB, messageId: number): Promise<boolean> {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('id', '=', messageId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
  return row !== undefined
}

/** Whether anyone has reacted to the message with the emoji. */
async function carries(db: DB, messageId: number, emoji: string): Promise<boolean> {
  const row = await db
    .selectFrom('reactions')
    .select('message_id')
    .where('message_id', '=', messageId)
    .where('emoji', '=', emoji)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

/** How many different emoji the message carries. */
async function distinctEmoji(db: DB, messageId: number): Promise<number> {
  const row = await db
    .selectFrom('reactions')
    .select((eb) => eb.fn.count<number | string>('emoji').distinct().as('emoji'))
    .where('message_id', '=', messageId)
    .executeTakeFirst()
  return Number(row?.emoji ?? 0)
}

export function createReactionStore(db: DB): ReactionStore {
  return {
    add(messageId, userId, emoji, now, maxEmoji = Number.POSITIVE_INFINITY) {
      return db.transaction().execute(async (trx) => {
        if (!(await isLive(trx, messageId))) return 'deleted'
        if (Number.isFinite(maxEmoji) && !(await carries(trx, messageId, emoji))) {
          if ((await distinctEmoji(trx, messageId)) >= maxEmoji) return 'full'
        }
        try {
          const result = await trx
            .insertInto('reactions')
            .values({ message_id: messageId, user_id: userId, emoji, created_at: now })
            .onConflict((oc) => oc.columns(['message_id', 'user_id', 'emoji']).doNothing())
            .executeTakeFirst()
          return Number(result.numInsertedOrUpdatedRows ?? 0) > 0 ? 'added' : 'exists'
        } catch (error) {
          if (isUniqueViolation(error)) return 'exists'
          throw error
        }
      })
    },

    remove(messageId, userId, emoji) {
      return db.transaction().execute(async (trx) => {
        if (!(await isLive(trx, messageId))) return 'deleted'
        const result = await trx
          .deleteFrom('reactions')
          .where('message_id', '=', messageId)
          .where('user_id', '=', userId)
          .where('emoji', '=', emoji)
          .executeTakeFirst()
        return Number(result.numDeletedRows) > 0 ? 'removed' : 'none'
      })
    },
  }
}

/**
 * Reaction counts per message, for the messages among `messageIds` that are not deleted (a
 * tombstone shows no reactions). Within a message: most used first, then first used first.
 */
export async function reactionCounts(db: DB, messageIds: readonly number[]): Promise<Map<number, ReactionCount[]>> {
  const counts = new Map<number, ReactionCount[]>()
  if (messageIds.length === 0) return counts
  const rows = await db
    .selectFrom('reactions')
    .innerJoin('messages', 'messages.id', 'reactions.message_id')
    .select((eb) => [
      'reactions.message_id',
      'reactions.emoji',
      eb.fn.countAll<number | string>().as('count'),
      eb.fn.min('reactions.created_at').as('first_at'),
    ])
    .where('reactions.message_id', 'in', [...messageIds])
    .where('messages.deleted_at', 'is', null)
    .groupBy(['reactions.message_id', 'reactions.emoji'])
    .orderBy('reactions.message_id')
    .orderBy('count', 'desc')
    .orderBy('first_at')
    .orderBy('reactions.emoji')
    .execute()
  for (const row of rows) {
    let forMessage = counts.get(row.message_id)
    if (!forMessage) {
      forMessage = []
      counts.set(row.message_id, forMessage)
    }
    forMessage.push({ emoji: row.emoji, count: Number(row.count) })
  }
  return counts
}
