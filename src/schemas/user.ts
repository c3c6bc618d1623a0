import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Id, Nullable, Timestamp } from './common.js'
import { Message } from './message.js'

/** A user as it leaves the server: never a hash or any other secret, and the email only to its owner. */
export const User = Type.Object(
  {
    id: Id(),
    username: Type.String(),
    email: Nullable(
      Type.String({
        description: 'The user’s email address, shown to that user only: null when the user is someone else.',
      }),
    ),
    created_at: Timestamp(),
  },
  {
    title: 'User',
    description:
      'A user. `email` is shown only to its owner (register, login, `GET /v1/users/me`, and a user reading ' +
      'themselves); to everyone else it is null.',
  },
)
export type User = Static<typeof User>

/** A user with the caller's direct conversation with them, and their presence where the caller may see it. */
export const UserWithChatInfo = Type.Composite([
  User,
  Type.Object({
    online: Nullable(Type.Boolean({ description: 'Null for users you share no conversation with.' })),
    last_message: Nullable(Message),
    unread_count: Type.Integer({ minimum: 0 }),
    last_activity: Nullable(Timestamp()),
  }),
])
export type UserWithChatInfo = Static<typeof UserWithChatInfo>

/** The query of a page of users: by id, after `after_id`, optionally those whose username contains `q`. */
export const UserPageQuery = Type.Object({
  q: Type.Optional(
    Type.String({ maxLength: 100, description: 'A part of the username, any case (emails are not searched).' }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  after_id: Type.Optional(Id()),
})
export type UserPageQuery = Static<typeof UserPageQuery>

/** A page of users as `item`: pass `next_after_id` as `after_id` for the next one. */
export const UserPage = <T extends TSchema>(item: T) =>
  Type.Object({
    users: Type.Array(item),
    count: Type.Integer(),
    has_more: Type.Boolean(),
    next_after_id: Nullable(Id()),
  })
