import { Type, type Static } from '@sinclair/typebox'
import { Id, Timestamp } from './common.js'

export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], {
  description: 'A member’s role in a group.',
})
export type Role = Static<typeof Role>

/** A group as its members see it. `group_id` repeats `id` for clients of the original API. */
export const Group = Type.Object(
  {
    id: Id(),
    group_id: Id(),
    name: Type.String(),
    owner_id: Id(),
    created_at: Timestamp(),
    member_count: Type.Integer({ minimum: 0 }),
    role: Type.Optional(Role),
  },
  { title: 'Group' },
)
export type Group = Static<typeof Group>

export const GroupMember = Type.Object(
  {
    user_id: Id(),
    username: Type.String(),
    role: Role,
    joined_at: Timestamp(),
  },
  { title: 'GroupMember' },
)
export type GroupMember = Static<typeof GroupMember>
