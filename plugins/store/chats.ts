import { sql } from 'kysely'
import type { DB } from '../../src/database.js'
import type { ChatStore } from '../../src/domain/ports.js'
import type { ChatSummary } from '../../src/schemas/chat.js'
import { toMessage } from './messages.js'

export function createChatStore(db: DB): ChatStore {
  return {
    async chatList(userId) {
      const groups = await db
        .selectFrom('group_members as gm')
        .innerJoin('groups as g', 'g.id', 'gm.group_id')
        .select(['g.id', 'g.name', 'gm.last_read_id', 'gm.joined_at'])
        .select(sql<number | null>`(select max(m.id) from messages m where m.group_id = g.id)`.as('last_id'))
        .select(
          sql<number>`(select count(*) from messages m where m.group_id = g.id and m.id > gm.last_read_id
            and m.sender_id <> ${userId} and m.deleted_at is null)`.as('unread'),
        )
        .where('gm.user_id', '=', userId)
        .execute()
      const directs = await db
        .selectFrom('direct_conversations as dc')
        .innerJoin('users as u', 'u.id', 'dc.peer_id')
        .select(['dc.peer_id', 'u.username', 'dc.last_read_id', 'dc.last_message_id', 'dc.created_at'])
        .select(
          sql<number>`(select count(*) from messages m where m.sender_id = dc.peer_id and m.recipient_id = dc.user_id
            and m.id > dc.last_read_id and m.deleted_at is null)`.as('unread'),
        )
        .where('dc.user_id', '=', userId)
        .execute()

      const lastIds = [
        ...groups.map((g) => Number(g.last_id ?? 0)),
        ...directs.map((d) => Number(d.last_message_id)),
      ].filter((id) => id > 0)
      const lastMessages = new Map(
        lastIds.length === 0
          ? []
          : (await db.selectFrom('messages').selectAll().where('id', 'in', lastIds).execute()).map((row) => [
              row.id,
              toMessage(row),
            ]),
      )

      const chats: Array<ChatSummary & { order: number }> = [
        ...groups.map((g) => {
          const last = lastMessages.get(Number(g.last_id ?? 0)) ?? null
          return {
            chat: 'group' as const,
            group_id: g.id,
            name: g.name,
            last_message: last,
            unread_count: Number(g.unread),
            last_read_id: Number(g.last_read_id),
            last_activity: last?.timestamp ?? g.joined_at,
            order: last?.id ?? 0,
          }
        }),
        ...directs.map((d) => {
          const last = lastMessages.get(Number(d.last_message_id)) ?? null
          return {
            chat: 'direct' as const,
            user_id: d.peer_id,
            name: d.username,
            last_message: last,
            unread_count: Number(d.unread),
            last_read_id: Number(d.last_read_id),
            last_activity: last?.timestamp ?? d.created_at,
            order: last?.id ?? 0,
          }
        }),
      ]
      // Most recent first; conversations without messages by when they began.
      chats.sort((a, b) => b.last_activity.localeCompare(a.last_activity) || b.order - a.order)
      return chats.map(({ order: _order, ...chat }) => chat)
    },

    async messageInGroup(messageId, groupId) {
      const row = await db
        .selectFrom('messages')
        .select('id')
        .where('id', '=', messageId)
        .where('group_id', '=', groupId)
        .executeTakeFirst()
      return row !== undefined
    },

    async markGroupRead(userId, groupId, messageId) {
      await db
        .updateTable('group_members')
        .set({ last_read_id: messageId })
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .where('last_read_id', '<', messageId)
        .execute()
      const row = await db
        .selectFrom('group_members')
        .select('last_read_id')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .executeTakeFirst()
      return Number(row?.last_read_id ?? 0)
    },

    async contactsOf(userId) {
      const rows = await db
        .selectFrom('group_members as mine')
        .innerJoin('group_members as theirs', 'theirs.group_id', 'mine.group_id')
        .select('theirs.user_id as id')
        .where('mine.user_id', '=', userId)
        .where('theirs.user_id', '<>', userId)
        .union(db.selectFrom('direct_conversations').select('peer_id as id').where('user_id', '=', userId))
        .execute()
      return rows.map((row) => row.id)
    },

    async areContacts(userId, otherId) {
      const shared = await db
        .selectFrom('group_members as mine')
        .innerJoin('group_members as theirs', 'theirs.group_id', 'mine.group_id')
        .select('mine.group_id')
        .where('mine.user_id', '=', userId)
        .where('theirs.user_id', '=', otherId)
        .union(
          db
            .selectFrom('direct_conversations')
            .select('peer_id as group_id')
            .where('user_id', '=', userId)
            .where('peer_id', '=', otherId),
        )
        .limit(1)
        .execute()
      return shared.length > 0
    },
  }
}
