// The client's types, all taken from the server's own TypeBox schemas. Type imports only: this file,
// like the rest of the client, loads nothing at run time, so the client runs in a browser without a bundler.
import type { Static, TSchema } from '@sinclair/typebox'
import type * as chats from '../../routes/chats/schemas.js'
import type * as direct from '../../routes/direct/schemas.js'
import type * as groupAdmin from '../../routes/group-admin/schemas.js'
import type * as groups from '../../routes/groups/schemas.js'
import type * as logout from '../../routes/logout/schemas.js'
import type * as me from '../../routes/me/schemas.js'
import type * as messageActions from '../../routes/message-actions/schemas.js'
import type * as messages from '../../routes/messages/schemas.js'
import type * as presence from '../../routes/presence/schemas.js'
import type * as users from '../../routes/users/schemas.js'

export type { ChatSummary } from '../schemas/chat.js'
export type { Group, GroupMember, Role } from '../schemas/group.js'
export type { Message, MessageKind } from '../schemas/message.js'
export type { User } from '../schemas/user.js'

type Body<Route extends { body: TSchema }> = Static<Route['body']>
type Reply<
  Route extends { response: object },
  Status extends keyof Route['response'],
> = Route['response'][Status] extends TSchema ? Static<Route['response'][Status]> : never
/** A query string: fields with a server-side default may be left out too. */
type Query<Route extends { querystring: TSchema }> = Partial<Static<Route['querystring']>>

export type RegisterInput = Body<typeof users.register>
export type LoginInput = Body<typeof users.login>
/** What register and login answer: the token, when it expires, and the user. */
export type Session = Reply<typeof users.login, 200>
export type UsersQuery = Query<typeof users.listUsers>
export type UserPage = Reply<typeof users.listUsers, 200>
export type UsersWithChatInfoPage = Reply<typeof chats.usersWithChatInfo, 200>
export type UpdateMeInput = Body<typeof me.updateMe>
export type Presence = Reply<typeof presence.getPresence, 200>
export type LogoutResult = Reply<typeof logout.logout, 200>

export type GroupList = Reply<typeof groups.listGroups, 200>
export type GroupMembers = Reply<typeof groups.listMembers, 200>
export type AddMemberResult = Reply<typeof groups.addMember, 200>
export type ChangeRoleResult = Reply<typeof groupAdmin.changeRole, 200>
export type RemoveMemberResult = Reply<typeof groupAdmin.removeMember, 200>
export type DeleteGroupResult = Reply<typeof groupAdmin.deleteGroup, 200>

/** The body of a send: `content`, and optionally `kind`, `media_url`, `reply_to_id`, `client_msg_id`. */
export type MessageInput = Body<typeof messages.postGroupMessage>
export type HistoryQuery = Query<typeof messages.groupHistory>
export type GroupHistory = Reply<typeof messages.groupHistory, 200>
export type DirectHistory = Reply<typeof direct.directHistory, 200>
export type ChatList = Reply<typeof chats.listChats, 200>
export type ReadInput = Body<typeof chats.markRead>
export type ReadResult = Reply<typeof chats.markRead, 200>
export type DeleteMessageResult = Reply<typeof messageActions.deleteMessage, 200>
export type ReactionResult = Reply<typeof messageActions.addReaction, 200>

/** The error body of every non-2xx response. */
export interface ErrorBody {
  error: string
  code: string
  statusCode: number
}

export type { ClientFrames, ServerFrame, ServerFrames, ServerFrameType } from '../schemas/frames/index.js'

/** A conversation: a group, or the direct conversation with another user. */
export type Conversation = { group_id: number; user_id?: undefined } | { user_id: number; group_id?: undefined }
