import type { DB, MessageRow } from '../../src/database.js'
import type { HistoryPage, MessageStore } from '../../src/domain/ports.js'
import type { Message } from '../../src/schemas/message.js'
import { transactionInIdOrder } from './id-order.js'
import { reactionCounts } from './reactions.js'

/** A stored row as clients see it: a deleted message keeps its place but not its content. */
export function toMessage(row: MessageRow): Message {
  const deleted = row.deleted_at !== null
  return {
    id: row.id,
    ...(row.group_id !== null ? { group_id: row.group_id } : {}),
    ...(row.recipient_id !== null ? { recipient_id: row.recipient_id } : {}),
    sender_id: row.sender_id,
    kind: row.kind,
    content: deleted ? '' : row.content,
    media_url: deleted ? null : row.media_url,
    reply_to_id: row.reply_to_id,
    client_msg_id: row.client_msg_id,
    timestamp: row.created_at,
    edited_at: row.edited_at,
    deleted,
    ...(row.status !== null ? { status: row.status } : {}),
  }
}

/**
 * One page of a conversation (messages whose `column` equals `value`), in ascending id order:
 * the newest `limit + 1` below `beforeId`, or the oldest `limit + 1` above `afterId`.
 */
export async function historyPage(
  db: DB,
  column: 'group_id' | 'dm_pair',
  value: number | string,
  { limit, beforeId, afterId }: HistoryPage,
): Promise<Message[]> {
  let select = db.selectFrom('messages').selectAll().where(column, '=', value)
  if (beforeId !== undefined) select = select.where('id', '<', beforeId)
  if (afterId !== undefined) select = select.where('id', '>', afterId)
  const forwards = afterId !== undefined
  const rows = await select
    .orderBy('id', forwards ? 'asc' : 'desc')
    .limit(limit + 1)
    .execute()
  if (!forwards) rows.reverse()
  return rows.map(toMessage)
}

export function createMessageStore(db: DB): MessageStore {
  return {
    async insert(message) {
      // In id order on PostgreSQL, so a resume from any id misses nothing (see id-order.ts).
      const inserted = await transactionInIdOrder(db, 'messages', (db) =>
        db
          .insertInto('messages')
          .values({
            group_id: message.groupId,
            recipient_id: null,
            sender_id: message.senderId,
            kind: message.kind,
            content: message.content,
            media_url: message.mediaUrl,
            reply_to_id: message.replyToId,
            client_msg_id: message.clientMsgId,
            status: null,
            created_at: message.now,
            edited_at: null,
            deleted_at: null,
          })
          .onConflict((oc) => oc.columns(['sender_id', 'group_id', 'client_msg_id']).doNothing())
          .returningAll()
          .executeTakeFirst(),
      )
      if (inserted) return { message: toMessage(inserted), created: true }
      // Only a repeated (sender, group, client_msg_id) reaches here: hand back the original.
      const original = await db
        .selectFrom('messages')
        .selectAll()
        .where('sender_id', '=', message.senderId)
        .where('group_id', '=', message.groupId)
        .where('client_msg_id', '=', message.clientMsgId)
        .executeTakeFirstOrThrow()
      return { message: toMessage(original), created: false }
    },

    async find(messageId) {
      const row = await db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst()
      return row && toMessage(row)
    },

    groupHistory(groupId, page) {
      return historyPage(db, 'group_id', groupId, page)
    },

    async updateContent(messageId, content, now) {
      const row = await db
        .updateTable('messages')
        .set({ content, edited_at: now })
        .where('id', '=', messageId)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst()
      return row && toMessage(row)
    },

    async softDelete(messageId, now) {
      const result = await db
        .updateTable('messages')
        .set({ deleted_at: now })
        .where('id', '=', messageId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) > 0
    },

    reactionCounts(messageIds) {
      return reactionCounts(db, messageIds)
    },
  }
}
