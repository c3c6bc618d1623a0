import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../common.js'
import { Group, Role } from '../group.js'

// Changes to a group and its membership, to its members.

/** Server → the group's members (the new one included): a user joined. */
export const MemberAddedOut = Type.Object(
  { type: Type.Literal('member_added'), group_id: Id(), user_id: Id('Who joined.') },
  { description: 'A user was added to one of your groups (you, when it is you who joined): to every member.' },
)
export type MemberAddedOut = Static<typeof MemberAddedOut>

export const MemberRemovedOut = Type.Object(
  { type: Type.Literal('member_removed'), group_id: Id(), user_id: Id('Who was removed, or left.') },
  { description: 'A member was removed from one of your groups, or left it: to the members and to the removed user.' },
)
export type MemberRemovedOut = Static<typeof MemberRemovedOut>

export const GroupDeletedOut = Type.Object(
  { type: Type.Literal('group_deleted'), group_id: Id() },
  { description: 'One of your groups was deleted with its messages: to everyone who was a member.' },
)
export type GroupDeletedOut = Static<typeof GroupDeletedOut>

export const GroupUpdatedOut = Type.Composite(
  [
    Type.Object({
      type: Type.Literal('group_updated'),
      roles: Type.Optional(
        Type.Array(Type.Object({ user_id: Id(), role: Role }), {
          description: 'After a role change: the members whose role changed, with their new role.',
        }),
      ),
    }),
    Type.Omit(Group, ['role']),
  ],
  { description: 'One of your groups was renamed, or a member’s role changed (`roles`): the group as it is now.' },
)
export type GroupUpdatedOut = Static<typeof GroupUpdatedOut>
