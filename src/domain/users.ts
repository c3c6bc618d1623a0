import type { User, UserPageQuery } from '../schemas/user.js'
import { conflict, unauthorized, userNotFound } from './errors.js'
import { assertStrongPassword } from './password-policy.js'
import type { IssuedToken, PasswordHasher, TokenIssuer, UserStore } from './ports.js'

export interface UserPorts {
  users: UserStore
  passwords: PasswordHasher
  tokens: TokenIssuer
}

export interface Session extends IssuedToken {
  user: User
}

/** Emails are compared and stored lower-cased and trimmed. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase()

/**
 * Creates an account and signs its first token. Refuses a weak password with 400 `WEAK_PASSWORD` (see
 * password-policy.ts) and a taken email or username (case-insensitive) with 409.
 */
export async function register(
  ports: UserPorts,
  input: { username: string; email: string; password: string },
): Promise<Session> {
  await assertStrongPassword(input.password, [input.username, input.email])
  const passwordHash = await ports.passwords.hash(input.password)
  const created = await ports.users.create({
    username: input.username.trim(),
    email: normalizeEmail(input.email),
    passwordHash,
    now: new Date().toISOString(),
  })
  if (created === 'email') throw conflict('EMAIL_TAKEN', 'An account with that email already exists.')
  if (created === 'username') throw conflict('USERNAME_TAKEN', 'That username is taken.')
  return { user: created, ...(await ports.tokens.issue(created)) }
}

/**
 * Checks the credentials and signs a token. An unknown email and a wrong password are refused
 * alike, in about the same time, so the answer does not tell which accounts exist.
 */
export async function login(ports: UserPorts, input: { email: string; password: string }): Promise<Session> {
  const found = await ports.users.findByEmail(normalizeEmail(input.email))
  const valid = await ports.passwords.verify(found?.password_hash, input.password)
  if (!found || !valid) throw unauthorized('INVALID_CREDENTIALS', 'Invalid email or password.')
  const { password_hash: _secret, ...user } = found
  return { user, ...(await ports.tokens.issue(user)) }
}

/**
 * A user as `viewerId` may see them: the email is the owner's alone (a user's address is how they are
 * phished and found elsewhere, and no feature needs another user's), so it is null for anyone else.
 */
export function asSeenBy(viewerId: number, user: User): User {
  return user.id === viewerId ? user : { ...user, email: null }
}

/** One user, as `viewerId` may see them (`asSeenBy`); 404 when there is no such user. */
export async function getUser(users: UserStore, userId: number, viewerId: number): Promise<User> {
  const user = await users.findById(userId)
  if (!user) throw userNotFound()
  return asSeenBy(viewerId, user)
}

/** A page of users (the reply adds its `count`): pass `next_after_id` as `after_id` for the next one. */
export interface UserPage<T = User> {
  users: T[]
  has_more: boolean
  next_after_id: number | null
}

/**
 * Lists users by id as `viewerId` may see them, a page at a time, those whose username contains `q`
 * when given (never by email, which would tell who has an address); reads one more than the page to
 * tell whether more follow.
 */
export async function listUsers(users: UserStore, viewerId: number, query: UserPageQuery): Promise<UserPage> {
  const { q, limit, after_id } = query
  const found = await users.list({
    limit: limit + 1,
    ...(q ? { query: q } : {}),
    ...(after_id !== undefined ? { afterId: after_id } : {}),
  })
  const hasMore = found.length > limit
  const page = found.slice(0, limit).map((user) => asSeenBy(viewerId, user))
  return { users: page, has_more: hasMore, next_after_id: hasMore ? (page.at(-1)?.id ?? null) : null }
}
