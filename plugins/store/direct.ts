import { sql } from 'kysely'
import type { DB } from '../../src/database.js'
import { directPair } from '../../src/domain/direct.js'
import type { DirectStore } from '../../src/domain/ports.js'
import { transactionInIdOrder } from './id-order.js'
import { historyPage, toMessage } from './messages.js'

/** Direct conversations: their messages (with `dm_pair` and a delivery status) and each side's row. */
export function createDirectStore(db: DB): DirectStore {
  return {
    insert(message) {
      // In id order on PostgreSQL too, so a resume from any id misses nothing (see id-order.ts).
      return transactionInIdOrder(db, 'messages', async (trx) => {
        const inserted = await trx
          .insertInto('messages')
          .values({
            group_id: null,
            recipient_id: message.recipientId,
            dm_pair: directPair(message.senderId, message.recipientId),
            sender_id: message.senderId,
            kind: message.kind,
            content: message.content,
            media_url: message.mediaUrl,
            reply_to_id: message.replyToId,
            client_msg_id: message.clientMsgId,
            status: message.status,
            created_at: message.now,
            edited_at: null,
            deleted_at: null,
          })
          .onConflict((oc) => oc.columns(['sender_id', 'recipient_id', 'client_msg_id']).doNothing())
          .returningAll()
          .executeTakeFirst()
        if (!inserted) {
          // Only a repeated (sender, recipient, client_msg_id) reaches here: hand back the original.
          const original = await trx
            .selectFrom('messages')
            .selectAll()
            .where('sender_id', '=', message.senderId)
            .where('recipient_id', '=', message.recipientId)
            .where('client_msg_id', '=', message.clientMsgId)
            .executeTakeFirstOrThrow()
          return { message: toMessage(original), created: false }
        }
        // Both participants' rows point at the newest message (never back: on PostgreSQL two sends
        // may commit out of id order).
        for (const [userId, peerId] of [
          [message.senderId, message.recipientId],
          [message.recipientId, message.senderId],
        ] as const) {
          await trx
            .insertInto('direct_conversations')
            .values({ user_id: userId, peer_id: peerId, last_message_id: inserted.id, created_at: message.now })
            .onConflict((oc) =>
              oc.columns(['user_id', 'peer_id']).doUpdateSet({
                last_message_id: sql<number>`case when excluded.last_message_id > direct_conversations.last_message_id
                  then excluded.last_message_id else direct_conversations.last_message_id end`,
              }),
            )
            .execute()
        }
        return { message: toMessage(inserted), created: true }
      })
    },

    history(userId, peerId, page) {
      return historyPage(db, 'dm_pair', directPair(userId, peerId), page)
    },

    async claimPending(recipientId, messageId) {
      // One conditional UPDATE claims each message once, so two deliverers never both send it.
      let update = db
        .updateTable('messages')
        .set({ status: 'DELIVERED' })
        .where('recipient_id', '=', recipientId)
        .where('status', '=', 'PENDING')
      if (messageId !== undefined) update = update.where('id', '=', messageId)
      const rows = await update.returningAll().execute()
      return rows.sort((a, b) => a.id - b.id).map(toMessage)
    },

    markRead(userId, peerId, messageId) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('direct_conversations')
          .select('last_read_id')
          .where('user_id', '=', userId)
          .where('peer_id', '=', peerId)
          .executeTakeFirst()
        const previous = Number(row?.last_read_id ?? 0)
        const lastReadId = Math.max(previous, messageId)
        const moved = lastReadId > previous
        if (!row) {
          await trx
            .insertInto('direct_conversations')
            .values({
              user_id: userId,
              peer_id: peerId,
              last_read_id: lastReadId,
              created_at: new Date().toISOString(),
            })
            .execute()
        } else if (moved) {
          await trx
            .updateTable('direct_conversations')
            .set({ last_read_id: lastReadId })
            .where('user_id', '=', userId)
            .where('peer_id', '=', peerId)
            .where('last_read_id', '<', lastReadId)
            .execute()
        }
        const read = await trx
          .updateTable('messages')
          .set({ status: 'READ' })
          .where('dm_pair', '=', directPair(userId, peerId))
          .where('sender_id', '=', peerId)
          .where('id', '<=', lastReadId)
          .where('status', 'in', ['SENT', 'PENDING', 'DELIVERED'])
          .returningAll()
          .execute()
        return { lastReadId, moved, read: read.sort((a, b) => a.id - b.id).map(toMessage) }
      })
    },
  }
}
