// The demo page: a small chat client on the typed client (`chatserver/client`, served beside this file as
// plain ES modules). No framework and no build step; the DOM is written with textContent only, never HTML.
import { ChatApiError, ChatClient, ChatSocketError } from './client/index.js'

/** Where the chat server is: this page's folder, so it works at `/` and embedded under a prefix alike. */
const baseUrl = new URL('.', window.location.href).href.replace(/\/$/, '')
const TOKEN_KEY = `chatserver-demo-token ${baseUrl}`
const DEMO_PASSWORD = 'password'
/** `typing` `start` is repeated this often while typing; the server forgets a start after 6 s. */
const TYPING_RENEW_MS = 3000
/** A `start` not followed by anything for this long is treated as stopped, should the `stop` be lost. */
const TYPING_EXPIRY_MS = 7000

const $ = (id) => {
  const element = document.getElementById(id)
  if (!element) throw new Error(`#${id} is missing from the page`)
  return element
}
const view = {
  loginView: $('login-view'),
  loginForm: $('login-form'),
  loginError: $('login-error'),
  loading: $('loading'),
  email: $('email'),
  password: $('password'),
  chatView: $('chat-view'),
  account: $('account'),
  meName: $('me-name'),
  logout: $('logout'),
  connection: $('connection'),
  notice: $('notice'),
  groupList: $('group-list'),
  peopleList: $('people-list'),
  title: $('conversation-title'),
  emptyHint: $('empty-hint'),
  older: $('older'),
  log: $('message-log'),
  messages: $('messages'),
  typing: $('typing'),
  composer: $('composer'),
  input: $('message'),
}

/**
 * What the page knows. A conversation's key is `group:<id>` or `direct:<user id>`; each has
 * `{key, kind, id, name, unread, lastMessage, online, typers: Map<user id, timer>, item}`.
 */
const state = {
  client: new ChatClient({ baseUrl }),
  socket: undefined,
  me: undefined,
  conversations: new Map(),
  names: new Map(),
  /** The open conversation: `{key, messages: Map<id, {message, element}>, oldestId, hasMore}`. */
  open: undefined,
  everConnected: false,
  typingSentAt: 0,
}

// ---- Start, log in, log out --------------------------------------------------------------------------------

async function start() {
  view.loading.hidden = true
  view.loginForm.addEventListener('submit', (event) => {
    event.preventDefault()
    void logIn(view.email.value, view.password.value)
  })
  for (const button of document.querySelectorAll('[data-email]')) {
    button.addEventListener('click', () => {
      view.email.value = button.dataset.email
      view.password.value = DEMO_PASSWORD
      void logIn(button.dataset.email, DEMO_PASSWORD)
    })
  }
  view.logout.addEventListener('click', () => void logOut())
  view.older.addEventListener('click', () => void loadOlder())
  view.composer.addEventListener('submit', (event) => {
    event.preventDefault()
    sendFromComposer()
  })
  view.input.addEventListener('input', typed)
  view.input.addEventListener('blur', () => stopTyping())
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markOpenRead()
  })

  // A token kept from earlier in this tab (sessionStorage: one tab, gone when it closes).
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (token === null) return showLogin()
  state.client.token = token
  try {
    await enter(await state.client.me())
  } catch (error) {
    forgetSession()
    showLogin(isAuthError(error) ? '' : describe(error))
  }
}

async function logIn(email, password) {
  view.loginError.textContent = ''
  setBusy(view.loginView, true)
  try {
    const session = await state.client.login({ email, password })
    sessionStorage.setItem(TOKEN_KEY, session.token)
    await enter(session.user)
  } catch (error) {
    view.loginError.textContent =
      error instanceof ChatApiError && error.code === 'INVALID_CREDENTIALS'
        ? 'Wrong email or password.'
        : describe(error)
  } finally {
    setBusy(view.loginView, false)
  }
}

async function logOut() {
  const socket = state.socket
  state.socket = undefined
  socket?.close()
  try {
    await state.client.logout() // revokes the token on the server too
  } catch {
    // Already expired or revoked, or the server is away: forgetting it here is what matters.
  }
  forgetSession()
  showLogin()
}

function forgetSession() {
  sessionStorage.removeItem(TOKEN_KEY)
  state.client.token = undefined
  state.socket?.close()
  state.socket = undefined
  state.me = undefined
  state.open = undefined
  state.everConnected = false
  state.conversations.clear()
  view.groupList.replaceChildren()
  view.peopleList.replaceChildren()
}

function showLogin(message = '') {
  view.chatView.hidden = true
  view.account.hidden = true
  view.connection.hidden = true
  view.loginView.hidden = false
  view.loginError.textContent = message
  showNotice('')
  view.email.focus()
}

/** Logged in: the chat list, then the socket. */
async function enter(user) {
  state.me = user
  state.names.set(user.id, user.username)
  view.meName.textContent = user.username
  await refreshConversations()
  view.loginView.hidden = true
  view.chatView.hidden = false
  view.account.hidden = false
  closeConversation()
  connect()
  const first = view.groupList.querySelector('button') ?? view.peopleList.querySelector('button')
  first?.focus()
}

// ---- The socket ----------------------------------------------------------------------------------------------

function connect() {
  const socket = state.client.connect()
  state.socket = socket
  const mine = (listener) => (frame) => {
    if (state.socket === socket) listener(frame)
  }
  socket.onConnection(mine(connectionChanged))
  socket.on(
    'group_message',
    mine((message) => received(`group:${message.group_id}`, message)),
  )
  socket.on(
    'direct_message',
    mine((message) => {
      const peer = message.sender_id === state.me.id ? message.recipient_id : message.sender_id
      received(`direct:${peer}`, message)
    }),
  )
  socket.on('typing', mine(typingFrame))
  socket.on(
    'presence',
    mine(({ user_id, online }) => {
      const conversation = state.conversations.get(`direct:${user_id}`)
      if (!conversation) return
      conversation.online = online
      renderItem(conversation)
    }),
  )
  socket.on(
    'message_updated',
    mine((message) => updateMessage(message)),
  )
  socket.on(
    'message_deleted',
    mine(({ id }) => {
      const entry = state.open?.messages.get(id)
      if (entry) updateMessage({ ...entry.message, deleted: true, content: '' })
    }),
  )
  // Read markers moved on another tab, membership or names changed: the server's list is the truth.
  for (const type of ['read', 'member_added', 'member_removed', 'group_updated', 'group_deleted']) {
    socket.on(
      type,
      mine(() => void refreshConversations().catch(showError)),
    )
  }
  socket.on(
    'system',
    mine((frame) => {
      // Away too long for a replay: read the list and the open conversation again instead.
      if (frame.code === 'RESUME_LIMIT_EXCEEDED') void resync()
    }),
  )
}

function connectionChanged(event) {
  view.connection.hidden = false
  view.connection.dataset.state = event.state
  if (event.state === 'open') {
    view.connection.textContent = 'Live'
    showNotice('')
    // The socket replays the messages missed meanwhile; what it does not replay (read markers moved in
    // another tab, membership, names) comes from the list.
    if (state.everConnected) void refreshConversations().catch(showError)
    state.everConnected = true
  } else if (event.state === 'reconnecting') {
    const seconds = Math.max(1, Math.round(event.delayMs / 1000))
    view.connection.textContent = `Reconnecting in ${seconds} s…`
  } else if (event.authFailed) {
    forgetSession()
    showLogin(`Your session ended (${event.reason}). Please log in again.`)
  } else if (state.socket !== undefined) {
    view.connection.textContent = 'Offline'
    showNotice(`The connection closed (${event.reason || event.code}). Reload the page to try again.`)
  }
}

async function resync() {
  try {
    await refreshConversations()
    if (state.open) await openConversation(state.open.key, { keepFocus: true })
  } catch (error) {
    showError(error)
  }
}

/** A message from the socket: into the open conversation, or counted as unread in the list. */
function received(key, message) {
  let conversation = state.conversations.get(key)
  if (!conversation) {
    // A conversation the list does not have yet (a new group, a first message from someone).
    void refreshConversations().catch(showError)
    return
  }
  conversation.lastMessage = message
  clearTyper(conversation, message.sender_id)
  const fromOthers = message.sender_id !== state.me.id
  if (state.open?.key === key) {
    addMessage(message)
    if (fromOthers) markOpenRead()
  } else if (fromOthers) {
    conversation.unread += 1
  }
  renderItem(conversation)
}

function typingFrame(frame) {
  if (frame.user_id === state.me.id) return
  const key = frame.group_id === undefined ? `direct:${frame.user_id}` : `group:${frame.group_id}`
  const conversation = state.conversations.get(key)
  if (!conversation) return
  if (frame.state === 'stop') {
    clearTyper(conversation, frame.user_id)
  } else {
    clearTimeout(conversation.typers.get(frame.user_id))
    conversation.typers.set(
      frame.user_id,
      setTimeout(() => clearTyper(conversation, frame.user_id), TYPING_EXPIRY_MS),
    )
    void nameOf(frame.user_id).then(() => renderTyping(conversation))
  }
  renderTyping(conversation)
}

function clearTyper(conversation, userId) {
  if (!conversation.typers.has(userId)) return
  clearTimeout(conversation.typers.get(userId))
  conversation.typers.delete(userId)
  renderTyping(conversation)
}

// ---- The chat list -------------------------------------------------------------------------------------------

/** Reads the groups (`GET /v1/chats`) and the people (`GET /v1/users/with-chat-info`) into the list. */
async function refreshConversations() {
  const [{ chats }, { users }] = await Promise.all([state.client.chats(), state.client.usersWithChatInfo()])
  const seen = new Set()
  for (const chat of chats) {
    if (chat.chat !== 'group') continue
    seen.add(upsert(`group:${chat.group_id}`, 'group', chat.group_id, chat.name, chat))
  }
  for (const user of users) {
    state.names.set(user.id, user.username)
    if (user.id === state.me.id) continue // the list has you too
    const key = upsert(`direct:${user.id}`, 'direct', user.id, user.username, user)
    state.conversations.get(key).online = user.online
    seen.add(key)
  }
  for (const [key, conversation] of state.conversations) {
    if (seen.has(key)) continue
    conversation.item.remove()
    state.conversations.delete(key)
    if (state.open?.key === key) closeConversation()
  }
  for (const conversation of state.conversations.values()) renderItem(conversation)
}

function upsert(key, kind, id, name, summary) {
  let conversation = state.conversations.get(key)
  if (!conversation) {
    conversation = { key, kind, id, name, unread: 0, lastMessage: null, online: null, typers: new Map() }
    conversation.item = listItem(conversation)
    const list = kind === 'group' ? view.groupList : view.peopleList
    // Kept in a stable order (by name), so the list does not jump under the pointer or the keyboard focus.
    const after = [...list.children].find((item) => item.dataset.name.localeCompare(name) > 0)
    list.insertBefore(conversation.item, after ?? null)
    state.conversations.set(key, conversation)
  }
  conversation.name = name
  conversation.item.dataset.name = name
  // The open conversation is being read: the server's count may not have seen the marker move yet.
  conversation.unread = state.open?.key === key ? 0 : summary.unread_count
  conversation.lastMessage = summary.last_message
  return key
}

function listItem(conversation) {
  const item = document.createElement('li')
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'chat-item'
  button.dataset.key = conversation.key
  const name = element('span', 'chat-name')
  const preview = element('span', 'chat-preview')
  const badge = element('span', 'badge')
  button.append(name, preview, badge)
  button.addEventListener('click', () => void openConversation(conversation.key).catch(showError))
  item.append(button)
  return item
}

function renderItem(conversation) {
  const button = conversation.item.querySelector('button')
  const [name, preview, badge] = button.children
  name.replaceChildren(conversation.name)
  if (conversation.kind === 'direct' && conversation.online !== null) {
    const dot = element('span', conversation.online ? 'presence online' : 'presence')
    dot.setAttribute('aria-hidden', 'true')
    name.prepend(dot)
    name.append(visuallyHidden(conversation.online ? ' (online)' : ' (offline)'))
  }
  const last = conversation.lastMessage
  if (conversation.typers.size > 0) {
    preview.textContent = 'typing…'
    preview.classList.add('is-typing')
  } else {
    preview.classList.remove('is-typing')
    // In a direct conversation, a message not from you is from the one person the item names.
    preview.textContent = last ? `${previewSender(conversation, last)}${text(last)}` : ''
  }
  badge.hidden = conversation.unread === 0
  badge.replaceChildren(String(conversation.unread), visuallyHidden(' unread'))
  if (state.open?.key === conversation.key) button.setAttribute('aria-current', 'true')
  else button.removeAttribute('aria-current')
}

// ---- The open conversation -----------------------------------------------------------------------------------

async function openConversation(key, { keepFocus = false } = {}) {
  const conversation = state.conversations.get(key)
  if (!conversation) return
  const previous = state.open?.key
  if (previous !== key) stopTyping()
  const open = { key, messages: new Map(), oldestId: undefined, hasMore: false }
  state.open = open
  for (const other of state.conversations.values()) renderItem(other)
  view.title.textContent = conversation.kind === 'group' ? conversation.name : `${conversation.name} (direct)`
  view.emptyHint.hidden = true
  view.composer.hidden = false
  view.input.placeholder = `Message ${conversation.name}`
  // Read again (after a long absence): messages still being sent stay.
  const sending = previous === key ? [...view.messages.querySelectorAll('.pending')] : []
  view.messages.replaceChildren(...sending)
  renderTyping(conversation)
  view.log.setAttribute('aria-busy', 'true')

  if (conversation.kind === 'group') {
    const { member_details } = await state.client.members(conversation.id)
    for (const member of member_details) state.names.set(member.user_id, member.username)
  }
  const page = await history(conversation)
  if (state.open !== open) return // another conversation was opened meanwhile
  for (const message of page.messages) addMessage(message)
  open.hasMore = page.has_more
  open.oldestId = page.messages[0]?.id ?? open.oldestId
  view.older.hidden = !open.hasMore
  view.log.removeAttribute('aria-busy')
  scrollToEnd()
  markOpenRead()
  if (!keepFocus) view.input.focus()
}

function closeConversation() {
  state.open = undefined
  view.title.textContent = 'Pick a conversation'
  view.emptyHint.hidden = false
  view.composer.hidden = true
  view.older.hidden = true
  view.messages.replaceChildren()
  view.typing.textContent = ''
}

function history(conversation, query = {}) {
  return conversation.kind === 'group'
    ? state.client.groupHistory(conversation.id, { limit: 50, ...query })
    : state.client.directHistory(conversation.id, { limit: 50, ...query })
}

async function loadOlder() {
  const open = state.open
  if (!open?.hasMore) return
  const conversation = state.conversations.get(open.key)
  const fromBottom = view.log.scrollHeight - view.log.scrollTop
  try {
    const page = await history(conversation, { before_id: open.oldestId })
    if (state.open !== open) return
    for (const message of page.messages) addMessage(message)
    open.hasMore = page.has_more
    open.oldestId = page.messages[0]?.id ?? open.oldestId
    view.older.hidden = !open.hasMore
    view.log.scrollTop = view.log.scrollHeight - fromBottom // keep the messages in view where they were
  } catch (error) {
    showError(error)
  }
}

/** Moves the read marker to the newest message of the open conversation, when the page is seen. */
function markOpenRead() {
  const open = state.open
  if (!open || document.visibilityState !== 'visible' || !state.socket) return
  const conversation = state.conversations.get(open.key)
  const newest = Math.max(0, ...open.messages.keys())
  if (newest === 0) return
  conversation.unread = 0
  renderItem(conversation)
  const where = conversation.kind === 'group' ? { group_id: conversation.id } : { user_id: conversation.id }
  state.socket.markRead(where, newest).catch(() => undefined) // the next list refresh shows the truth
}

/** Shows a message in the open conversation, in id order; a copy of one already shown replaces it. */
function addMessage(message) {
  const open = state.open
  if (!open) return
  const stickToEnd = isNearEnd()
  const entry = open.messages.get(message.id)
  if (entry) {
    updateMessage(message)
    return
  }
  const element = messageElement(message)
  const next = [...view.messages.children].find(
    (item) => !item.classList.contains('pending') && Number(item.dataset.id) > message.id,
  )
  view.messages.insertBefore(element, next ?? pendingStart())
  open.messages.set(message.id, { message, element })
  if (stickToEnd) scrollToEnd()
}

function updateMessage(message) {
  const entry = state.open?.messages.get(message.id)
  if (!entry) return
  const element = messageElement(message)
  entry.element.replaceWith(element)
  entry.message = message
  entry.element = element
}

function messageElement(message) {
  const mine = message.sender_id === state.me.id
  const item = element('li', mine ? 'message mine' : 'message')
  item.dataset.id = String(message.id)
  const meta = element('p', 'meta')
  const sender = element('span', 'sender', mine ? 'You' : senderLabel(message))
  const time = element('time', 'time', formatTime(message.timestamp))
  time.dateTime = message.timestamp
  meta.append(sender, ' ', time)
  if (message.edited_at) meta.append(' ', element('span', 'edited', '(edited)'))
  const content = element('p', message.deleted ? 'content deleted' : 'content', text(message))
  item.append(meta, content)
  if (!state.names.has(message.sender_id)) {
    void nameOf(message.sender_id).then(() => {
      if (state.open?.messages.get(message.id)?.element === item) updateMessage(message)
    })
  }
  return item
}

function renderTyping(conversation) {
  if (conversation.item) renderItem(conversation)
  if (state.open?.key !== conversation.key) return
  const names = [...conversation.typers.keys()].map((id) => state.names.get(id) ?? 'Someone')
  view.typing.textContent =
    names.length === 0 ? '' : `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'} typing…`
}

// ---- Sending -------------------------------------------------------------------------------------------------

function typed() {
  const where = openWhere()
  if (!where || !state.socket) return
  if (view.input.value.trim() === '') {
    stopTyping()
    return
  }
  const now = Date.now()
  if (now - state.typingSentAt < TYPING_RENEW_MS) return
  state.typingSentAt = now
  state.socket.typing(where, 'start')
}

function stopTyping() {
  const where = openWhere()
  if (state.typingSentAt === 0 || !where || !state.socket) return
  state.typingSentAt = 0
  state.socket.typing(where, 'stop')
}

function sendFromComposer() {
  const content = view.input.value.trim()
  if (content === '' || !state.open || !state.socket) return
  stopTyping()
  view.input.value = ''
  send(state.open.key, content, undefined)
}

/**
 * Sends over the socket, which queues the send while it reconnects and settles it by the server's `ack`;
 * until then the message shows as sending. A failed send can be retried with its `client_msg_id`, so a
 * retry of a send that did reach the server is not stored twice.
 */
function send(key, content, clientMsgId) {
  const conversation = state.conversations.get(key)
  const pending = element('li', 'message mine pending')
  const meta = element('p', 'meta', 'Sending…')
  pending.append(meta, element('p', 'content', content))
  view.messages.append(pending)
  scrollToEnd()
  const input = clientMsgId === undefined ? { content } : { content, client_msg_id: clientMsgId }
  const sent =
    conversation.kind === 'group'
      ? state.socket.sendGroupMessage(conversation.id, input)
      : state.socket.sendDirectMessage(conversation.id, input)
  sent.then(
    () => pending.remove(), // the socket delivered the stored message as an event already
    (error) => {
      if (!pending.isConnected) {
        showNotice(`A message to ${conversation.name} was not sent: ${describe(error)}`)
        return
      }
      pending.classList.add('failed')
      meta.textContent = `Not sent: ${describe(error)} `
      const retry = element('button', 'retry', 'Retry')
      retry.type = 'button'
      retry.addEventListener('click', () => {
        pending.remove()
        if (state.open?.key === key && state.socket) send(key, content, error.clientMsgId)
      })
      meta.append(retry)
    },
  )
}

function openWhere() {
  const conversation = state.open && state.conversations.get(state.open.key)
  if (!conversation) return undefined
  return conversation.kind === 'group' ? { group_id: conversation.id } : { user_id: conversation.id }
}

// ---- Small helpers -------------------------------------------------------------------------------------------

function element(tag, className, textContent) {
  const created = document.createElement(tag)
  if (className) created.className = className
  if (textContent !== undefined) created.textContent = textContent
  return created
}

function visuallyHidden(content) {
  return element('span', 'visually-hidden', content)
}

/** Where the next message goes: before the messages still being sent, which stay at the end. */
function pendingStart() {
  return view.messages.querySelector('.pending')
}

function isNearEnd() {
  return view.log.scrollHeight - view.log.scrollTop - view.log.clientHeight < 80
}

function scrollToEnd() {
  view.log.scrollTop = view.log.scrollHeight
}

function text(message) {
  if (message.deleted) return 'This message was deleted.'
  return message.kind === 'text' ? message.content : `[${message.kind}] ${message.content}`
}

/** `You: ` or, in a group, the sender's name; a direct conversation's item already names the other person. */
function previewSender(conversation, message) {
  if (message.sender_id === state.me.id) return 'You: '
  return conversation.kind === 'group' ? `${senderLabel(message)}: ` : ''
}

function senderLabel(message) {
  return state.names.get(message.sender_id) ?? `User ${message.sender_id}`
}

/** The user's name, asked of the server once and remembered. */
async function nameOf(userId) {
  if (state.names.has(userId)) return state.names.get(userId)
  try {
    const user = await state.client.user(userId)
    state.names.set(userId, user.username)
    return user.username
  } catch {
    return undefined
  }
}

function formatTime(timestamp) {
  return new Date(timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

function isAuthError(error) {
  return error instanceof ChatApiError && error.statusCode === 401
}

/** A sentence for a failure: the server's own, or what went wrong on the way. */
function describe(error) {
  if (error instanceof ChatApiError || error instanceof ChatSocketError) {
    if (error.code === 'RATE_LIMITED') {
      const seconds = error.retryAfter ?? Math.ceil((error.retryAfterMs ?? 1000) / 1000)
      return `Too many requests: try again in ${seconds} s.`
    }
    return error.error
  }
  if (error instanceof TypeError) return 'The server cannot be reached.'
  return error instanceof Error ? error.message : String(error)
}

function showError(error) {
  if (isAuthError(error)) {
    forgetSession()
    showLogin('Your session ended. Please log in again.')
    return
  }
  showNotice(describe(error))
}

function showNotice(message) {
  view.notice.textContent = message
  view.notice.hidden = message === ''
}

function setBusy(container, busy) {
  for (const control of container.querySelectorAll('button, input')) control.disabled = busy
}

void start()
