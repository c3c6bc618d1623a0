import { ChatApiError } from './errors.js'
import { ChatSocket, type ChatSocketOptions, type WebSocketConstructor } from './socket.js'
import type {
  AddMemberResult,
  ChangeRoleResult,
  ChatList,
  DeleteGroupResult,
  DeleteMessageResult,
  DirectHistory,
  ErrorBody,
  Group,
  GroupHistory,
  GroupList,
  GroupMembers,
  HistoryQuery,
  LoginInput,
  LogoutResult,
  Message,
  MessageInput,
  Presence,
  ReactionResult,
  ReadInput,
  ReadResult,
  RegisterInput,
  RemoveMemberResult,
  Role,
  Session,
  UpdateMeInput,
  User,
  UserPage,
  UsersQuery,
  UsersWithChatInfoPage,
} from './types.js'

/** What the client needs of `fetch`: the global one in browsers and Node 20 fits. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; ok: boolean; headers: { get(name: string): string | null }; text(): Promise<string> }>

export interface ChatClientOptions {
  /**
   * Where the chat server is, with its prefix when it is embedded: `http://localhost:8080`,
   * `https://example.com/chat`. In a browser it defaults to the page's origin.
   */
  baseUrl?: string
  /** A token from an earlier login; `register` and `login` set it. */
  token?: string
  /** Default: the global `fetch`. */
  fetch?: FetchLike
  /** The WebSocket class for `connect` (in Node 20: `import WebSocket from 'ws'`). Default: the global one. */
  WebSocket?: WebSocketConstructor
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
type QueryValues = Record<string, string | number | undefined>

interface Location {
  origin?: string
}

/**
 * The chat server's REST API, typed from its route schemas, and the door to its socket (`connect`).
 * Every call resolves with the response body, or rejects with a `ChatApiError` for a non-2xx answer.
 */
export class ChatClient {
  /** The token sent as `Authorization: Bearer`; set by `register` and `login`, cleared by `logout`. */
  token: string | undefined
  readonly baseUrl: string
  private readonly fetch: FetchLike
  private readonly WebSocket: WebSocketConstructor | undefined

  constructor(options: ChatClientOptions = {}) {
    const origin = (globalThis as { location?: Location }).location?.origin
    const baseUrl = options.baseUrl ?? origin
    if (baseUrl === undefined) throw new TypeError('ChatClient needs a baseUrl outside a browser.')
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.token = options.token
    const fetch = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch
    if (!fetch) throw new TypeError('ChatClient needs a fetch: pass options.fetch where there is no global one.')
    // Called unbound: a browser's fetch refuses to run as a method of another object.
    this.fetch = (url, init) => fetch(url, init)
    this.WebSocket = options.WebSocket
  }

  /** Creates an account and keeps its token. */
  async register(input: RegisterInput): Promise<Session> {
    const session = await this.request<Session>('POST', '/v1/users/register', { body: input })
    this.token = session.token
    return session
  }

  /** Logs in and keeps the token. A wrong email or password rejects with 401 `INVALID_CREDENTIALS`. */
  async login(input: LoginInput): Promise<Session> {
    const session = await this.request<Session>('POST', '/v1/users/login', { body: input })
    this.token = session.token
    return session
  }

  /** Revokes the token (its sockets close with 4003) and forgets it. */
  async logout(): Promise<LogoutResult> {
    const result = await this.request<LogoutResult>('POST', '/v1/users/logout')
    this.token = undefined
    return result
  }

  /** The logged-in user. */
  me(): Promise<User> {
    return this.request('GET', '/v1/users/me')
  }

  /** Changes your username and/or password (a new password needs `current_password`). */
  updateMe(input: UpdateMeInput): Promise<User> {
    return this.request('PATCH', '/v1/users/me', { body: input })
  }

  /** Users by id, filtered by `q`, paged with `after_id`. */
  users(query: UsersQuery = {}): Promise<UserPage> {
    return this.request('GET', '/v1/users', { query })
  }

  user(userId: number): Promise<User> {
    return this.request('GET', `/v1/users/${userId}`)
  }

  /** Other users, each with your direct conversation's last message, unread count and presence. */
  usersWithChatInfo(query: UsersQuery = {}): Promise<UsersWithChatInfoPage> {
    return this.request('GET', '/v1/users/with-chat-info', { query })
  }

  /** Whether a user you share a conversation with is online. */
  presence(userId: number): Promise<Presence> {
    return this.request('GET', `/v1/users/${userId}/presence`)
  }

  /** Creates a group; you are its owner and first member. */
  createGroup(name: string): Promise<Group> {
    return this.request('POST', '/v1/groups', { body: { name } })
  }

  /** Your groups, with your role in each. */
  groups(): Promise<GroupList> {
    return this.request('GET', '/v1/groups')
  }

  /** Renames a group (owner only). */
  renameGroup(groupId: number, name: string): Promise<Group> {
    return this.request('PATCH', `/v1/groups/${groupId}`, { body: { name } })
  }

  /** Deletes a group with its messages (owner only). */
  deleteGroup(groupId: number): Promise<DeleteGroupResult> {
    return this.request('DELETE', `/v1/groups/${groupId}`)
  }

  /** A group's members (members only). */
  members(groupId: number): Promise<GroupMembers> {
    return this.request('GET', `/v1/groups/${groupId}/members`)
  }

  /** Adds a user to a group (owner or admin); `added: false` when they already were a member. */
  addMember(groupId: number, userId: number): Promise<AddMemberResult> {
    return this.request('POST', `/v1/groups/${groupId}/members`, { body: { user_id: userId } })
  }

  /** Sets a member's role (owner only); `owner` hands ownership over. */
  changeRole(groupId: number, userId: number, role: Role): Promise<ChangeRoleResult> {
    return this.request('PATCH', `/v1/groups/${groupId}/members/${userId}`, { body: { role } })
  }

  /** Removes a member, or leaves the group when `userId` is you. */
  removeMember(groupId: number, userId: number): Promise<RemoveMemberResult> {
    return this.request('DELETE', `/v1/groups/${groupId}/members/${userId}`)
  }

  /** Sends a message to a group; a retry with the same `client_msg_id` is stored once. Resolves the stored message. */
  sendGroupMessage(groupId: number, input: MessageInput | string): Promise<Message> {
    return this.request('POST', `/v1/messages/group/${groupId}`, { body: messageBody(input) })
  }

  /** Sends a direct message; a retry with the same `client_msg_id` is stored once. Resolves the stored message. */
  sendDirectMessage(recipientId: number, input: MessageInput | string): Promise<Message> {
    return this.request('POST', `/v1/messages/p2p/${recipientId}`, { body: messageBody(input) })
  }

  /** A page of a group's history: the newest first page, older ones with `before_id`, newer with `after_id`. */
  groupHistory(groupId: number, query: HistoryQuery = {}): Promise<GroupHistory> {
    return this.request('GET', `/v1/groups/${groupId}/messages`, { query })
  }

  /** A page of your direct conversation with a user, paged like `groupHistory`. */
  directHistory(userId: number, query: HistoryQuery = {}): Promise<DirectHistory> {
    return this.request('GET', `/v1/messages/history/${userId}`, { query })
  }

  /** All your conversations, most recent first, with unread counts. */
  chats(): Promise<ChatList> {
    return this.request('GET', '/v1/chats')
  }

  /** Moves your read marker in a conversation forward (never back). */
  markRead(input: ReadInput): Promise<ReadResult> {
    return this.request('POST', '/v1/chats/read', { body: input })
  }

  /** Edits your own message. */
  editMessage(messageId: number, content: string): Promise<Message> {
    return this.request('PATCH', `/v1/messages/${messageId}`, { body: { content } })
  }

  /** Deletes a message (yours, or any in a group you own or administer); it stays as a tombstone. */
  deleteMessage(messageId: number): Promise<DeleteMessageResult> {
    return this.request('DELETE', `/v1/messages/${messageId}`)
  }

  /** Adds your reaction; `action` is `unchanged` when you had it already. */
  addReaction(messageId: number, emoji: string): Promise<ReactionResult> {
    return this.request('POST', `/v1/messages/${messageId}/reactions`, { body: { emoji } })
  }

  /** Removes your reaction. */
  removeReaction(messageId: number, emoji: string): Promise<ReactionResult> {
    return this.request('DELETE', `/v1/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`)
  }

  /**
   * Opens the socket with the current token: a `ChatSocket` that reconnects and resumes by itself.
   * Needs a WebSocket class: `options.WebSocket`, the client's, or the global one.
   */
  connect(options: ChatSocketOptions = {}): ChatSocket {
    const WebSocket = options.WebSocket ?? this.WebSocket
    return new ChatSocket(
      {
        socketUrl: (since) => this.socketUrl(since),
        newestMessageId: async () => {
          const { chats } = await this.chats()
          return Math.max(0, ...chats.map((chat) => chat.last_message?.id ?? 0))
        },
        tokenRefused: async () => {
          try {
            await this.me()
            return undefined
          } catch (error) {
            return error instanceof ChatApiError && error.statusCode === 401 ? error.code : undefined
          }
        },
      },
      { ...options, ...(WebSocket ? { WebSocket } : {}) },
    )
  }

  /** The socket's URL with the current token and, to resume, `since`. */
  private socketUrl(since: number | undefined): string {
    const url = new URL(`${this.baseUrl}/ws`)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    if (this.token !== undefined) url.searchParams.set('token', this.token)
    if (since !== undefined) url.searchParams.set('since', String(since))
    return url.toString()
  }

  private async request<T>(method: Method, path: string, options: { body?: unknown; query?: QueryValues } = {}) {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    const init: Parameters<FetchLike>[1] = { method, headers }
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(options.body)
    }
    const response = await this.fetch(`${this.baseUrl}${path}${queryString(options.query)}`, init)
    const text = await response.text()
    if (response.ok) return (text === '' ? undefined : JSON.parse(text)) as T
    throw apiError(response.status, text, response.headers.get('retry-after'))
  }
}

const messageBody = (input: MessageInput | string): MessageInput =>
  typeof input === 'string' ? { content: input } : input

function queryString(query: QueryValues | undefined): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(name, String(value))
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

/** The error of a non-2xx answer: from the server's error body, or from the status when there is none. */
function apiError(status: number, text: string, retryAfterHeader: string | null): ChatApiError {
  let body: Partial<ErrorBody> = {}
  try {
    body = JSON.parse(text) as Partial<ErrorBody>
  } catch {
    // Not the server's body (a proxy's page, say): described by the status alone.
  }
  const retryAfter = retryAfterHeader === null ? undefined : Number(retryAfterHeader)
  return new ChatApiError(
    status,
    typeof body.code === 'string' ? body.code : 'HTTP_ERROR',
    typeof body.error === 'string' ? body.error : `The server answered ${status}.`,
    Number.isFinite(retryAfter) ? retryAfter : undefined,
  )
}
