import type { Static } from '@sinclair/typebox'
import type * as chats from './chats.js'
import type * as direct from './direct.js'
import type * as groups from './groups.js'
import type * as messages from './messages.js'
import type * as presence from './presence.js'
import type * as protocol from './protocol.js'

// Every socket frame's schema, one file per concern. Client frames (`*In`) are validated against them
// (compiled once); server frames (`*Out`) type what the server sends and are held to them in the tests.
// Each schema's `description` is what the AsyncAPI document (`/asyncapi.json`) says about the frame.
export * from './chats.js'
export * from './common.js'
export * from './direct.js'
export * from './groups.js'
export * from './messages.js'
export * from './presence.js'
export * from './protocol.js'

/** Every frame the server sends, by its `type`. */
export interface ServerFrames {
  ack: Static<typeof protocol.AckOut>
  error: Static<typeof protocol.ErrorOut>
  pong: Static<typeof protocol.PongOut>
  system: Static<typeof protocol.SystemOut>
  group_message: Static<typeof messages.GroupMessageOut>
  direct_message: Static<typeof direct.DirectMessageOut>
  message_status: Static<typeof direct.MessageStatusOut>
  read: Static<typeof chats.ReadOut>
  typing: Static<typeof chats.TypingOut>
  presence: Static<typeof presence.PresenceOut>
  member_added: Static<typeof groups.MemberAddedOut>
  member_removed: Static<typeof groups.MemberRemovedOut>
  group_updated: Static<typeof groups.GroupUpdatedOut>
  group_deleted: Static<typeof groups.GroupDeletedOut>
  message_updated: Static<typeof messages.MessageUpdatedOut>
  message_deleted: Static<typeof messages.MessageDeletedOut>
  reaction: Static<typeof messages.ReactionOut>
}
export type ServerFrameType = keyof ServerFrames
/** A frame the server sends: what the hub publishes and a socket writes. */
export type ServerFrame = ServerFrames[ServerFrameType]

/** Every frame a client sends, by its `type`. */
export interface ClientFrames {
  group_message: Static<typeof messages.GroupMessageIn>
  direct_message: Static<typeof direct.DirectMessageIn>
  read: Static<typeof chats.ReadIn>
  typing: Static<typeof chats.TypingIn>
  resume: Static<typeof protocol.ResumeIn>
  ping: Static<typeof protocol.PingIn>
}
