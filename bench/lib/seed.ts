import BetterSqlite3 from 'better-sqlite3'

/**
 * The bench database, filled directly with better-sqlite3 (one transaction) after the real server has
 * migrated it and registered user 1 through the API. Every user shares user 1's password hash, so the
 * argon2id parameters are the server's own and each login costs what a real one does.
 *
 * Layout (ids are fixed, so scenarios can address them):
 * - users 1..fanUsers, then the history reader, the chat-list user, and `idleUsers` users in no group;
 * - group 1 "fanout": users 1..fanUsers (user 1 owns it and sends);
 * - group 2 "send": users 1..listeners+1 (user 1 sends, the others listen);
 * - groups 3..historyGroups+2: owned by the reader, `historyMessages` messages spread round-robin over them;
 *   the chat-list user is a member of the first `chatListGroups`.
 */
export interface SeedPlan {
  fanUsers: number
  listeners: number
  historyGroups: number
  historyMessages: number
  chatListGroups: number
  idleUsers: number
}

export interface SeedLayout {
  fanGroupId: number
  sendGroupId: number
  firstHistoryGroup: number
  lastHistoryGroup: number
  readerId: number
  listerId: number
  firstIdleUser: number
  lastIdleUser: number
  /** Largest message id after the fill (history cursors are drawn below it). */
  maxMessageId: number
  passwordHash: string
}

export const PASSWORD = 'bench-password-Zq8!'
export const emailOf = (userId: number) => `bench${userId}@bench.test`
export const usernameOf = (userId: number) => `bench${userId}`

export function seedDatabase(dbFile: string, plan: SeedPlan): SeedLayout {
  const db = new BetterSqlite3(dbFile)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = OFF') // a bulk load we can redo: durability does not matter here
    db.pragma('foreign_keys = ON')
    const first = db.prepare<[], { password_hash: string }>('select password_hash from users where id = 1').get()
    if (!first) throw new Error('user 1 (registered through the API) is missing')
    const hash = first.password_hash

    const readerId = plan.fanUsers + 1
    const listerId = plan.fanUsers + 2
    const lastIdleUser = listerId + plan.idleUsers
    const firstHistoryGroup = 3
    const lastHistoryGroup = firstHistoryGroup + plan.historyGroups - 1
    const epoch = Date.parse('2026-01-01T00:00:00.000Z')
    const iso = (offsetMs: number) => new Date(epoch + offsetMs).toISOString()

    const user = db.prepare(
      'insert into users (id, username, email, password_hash, created_at, updated_at) values (?, ?, ?, ?, ?, ?)',
    )
    const group = db.prepare('insert into groups (id, name, owner_id, created_at, updated_at) values (?, ?, ?, ?, ?)')
    const member = db.prepare('insert into group_members (group_id, user_id, role, joined_at) values (?, ?, ?, ?)')
    const message = db.prepare(
      `insert into messages (group_id, sender_id, kind, content, created_at) values (?, ?, 'text', ?, ?)`,
    )

    db.transaction(() => {
      const now = iso(0)
      for (let id = 2; id <= lastIdleUser; id++) user.run(id, usernameOf(id), emailOf(id), hash, now, now)

      group.run(1, 'fanout', 1, now, now)
      for (let id = 1; id <= plan.fanUsers; id++) member.run(1, id, id === 1 ? 'owner' : 'member', now)
      group.run(2, 'send', 1, now, now)
      for (let id = 1; id <= plan.listeners + 1; id++) member.run(2, id, id === 1 ? 'owner' : 'member', now)

      for (let g = firstHistoryGroup; g <= lastHistoryGroup; g++) {
        group.run(g, `history ${g}`, readerId, now, now)
        member.run(g, readerId, 'owner', now)
        if (g < firstHistoryGroup + plan.chatListGroups) member.run(g, listerId, 'member', now)
      }
      for (let i = 0; i < plan.historyMessages; i++) {
        const g = firstHistoryGroup + (i % plan.historyGroups)
        message.run(g, readerId, `History message ${i}: about as long as a typical line of chat.`, iso(i * 100))
      }
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
    const max = db.prepare<[], { id: number | null }>('select max(id) as id from messages').get()
    return {
      fanGroupId: 1,
      sendGroupId: 2,
      firstHistoryGroup,
      lastHistoryGroup,
      readerId,
      listerId,
      firstIdleUser: listerId + 1,
      lastIdleUser,
      maxMessageId: max?.id ?? 0,
      passwordHash: hash,
    }
  } finally {
    db.close()
  }
}

/**
 * A fresh database with the server's schema (copied from the migrated bench database) plus user 1 and
 * group 1, for the bare-insert floor: same table, indexes, checks and foreign keys as the real one.
 */
export function copySchema(fromFile: string, toFile: string): void {
  const source = new BetterSqlite3(fromFile, { readonly: true })
  const statements = source
    .prepare<[], { sql: string }>(
      `select sql from sqlite_master where sql is not null and name not like 'sqlite_%'
       order by case type when 'table' then 0 else 1 end, rowid`,
    )
    .all()
  source.close()
  const target = new BetterSqlite3(toFile)
  target.pragma('journal_mode = WAL')
  for (const { sql } of statements) target.exec(sql)
  const now = new Date().toISOString()
  target
    .prepare('insert into users (id, username, email, password_hash, created_at, updated_at) values (1, ?, ?, ?, ?, ?)')
    .run('floor', 'floor@bench.test', 'x', now, now)
  target
    .prepare(`insert into groups (id, name, owner_id, created_at, updated_at) values (1, 'floor', 1, ?, ?)`)
    .run(now, now)
  target.close()
}
