import type { AnyDB } from './dialect.js'

// A `client_msg_id` names one send in one conversation: the same key reused in another conversation
// (a group after a direct message, another group) is another message, not a retry of the first. The
// one index on (sender, client_msg_id) becomes one per kind of conversation. NULLs are distinct in a
// unique index on both dialects, so a group message (recipient_id null) never collides in the direct
// index, nor a direct message (group_id null) in the group one, nor two sends without a key. Every
// existing row already satisfies the new indexes, which are looser than the old one.
export async function up(db: AnyDB): Promise<void> {
  await db.schema
    .createIndex('messages_group_client_msg_id_unique')
    .unique()
    .on('messages')
    .columns(['sender_id', 'group_id', 'client_msg_id'])
    .execute()
  await db.schema
    .createIndex('messages_direct_client_msg_id_unique')
    .unique()
    .on('messages')
    .columns(['sender_id', 'recipient_id', 'client_msg_id'])
    .execute()
  await db.schema.dropIndex('messages_sender_client_msg_id_unique').execute()
}
