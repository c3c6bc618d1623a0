import { Type, type Static } from '@sinclair/typebox'
import { Id, Timestamp } from './common.js'

/** A user as it leaves the server: never a hash or any other secret. */
export const User = Type.Object(
  {
    id: Id(),
    username: Type.String(),
    email: Type.String(),
    created_at: Timestamp(),
  },
  { title: 'User' },
)
export type User = Static<typeof User>
