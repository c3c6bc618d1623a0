import type { Static, TSchema } from '@sinclair/typebox'
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

type StaticOf<Schemas extends Record<string, TSchema>> = { [Type in keyof Schemas]: Static<Schemas[Type]> }

/** Every frame the server sends, by its `type`. */
export type ServerFrames = StaticOf<{
  ack: typeof protocol.AckOut
  error: typeof protocol.ErrorOut
  pong: typeof protocol.PongOut
  system: typeof protocol.SystemOut
  group_message: typeof messages.GroupMessageOut
  direct_message: typeof direct.DirectMessageOut
  message_status: typeof direct.MessageStatusOut
  read: typeof chats.ReadOut
  typing: typeof chats.TypingOut
  presence: typeof presence.PresenceOut
  member_added: typeof groups.MemberAddedOut
  member_removed: typeof groups.MemberRemovedOut
  group_updated: typeof groups.GroupUpdatedOut
  group_deleted: typeof groups.GroupDeletedOut
  message_updated: typeof messages.MessageUpdatedOut
  message_deleted: typeof messages.MessageDeletedOut
  reaction: typeof messages.ReactionOut
}>
export type ServerFrameType = keyof ServerFrames
/** A frame the server sends: what the hub publishes and a socket writes. */
export type ServerFrame = ServerFrames[ServerFrameType]

/** Every frame a client sends, by its `type`. */
export type ClientFrames = StaticOf<{
  group_message: typeof messages.GroupMessageIn
  direct_message: typeof direct.DirectMessageIn
  read: typeof chats.ReadIn
  typing: typeof chats.TypingIn
  resume: typeof protocol.ResumeIn
  ping: typeof protocol.PingIn
}>
