import type { User } from '../schemas/user.js'
import { badRequest, conflict, forbidden, userNotFound } from './errors.js'
import { assertStrongPassword } from './password-policy.js'
import type { PasswordHasher, UserStore } from './ports.js'

export interface ProfileChanges {
  username?: string
  password?: string
  current_password?: string
}

/**
 * Changes the caller's username and/or password, nothing else, in one write. A new password needs
 * the current one (missing: 400; wrong: 403 WRONG_PASSWORD, not 401, so clients do not take it for
 * an expired token) and must not be weak (400 WEAK_PASSWORD, see password-policy.ts). A `current_password` is checked whenever it is given. A taken username is 409.
 * A stored password change then runs `onPasswordChanged` (the caller's other tokens are revoked).
 */
export async function updateProfile(
  ports: {
    users: UserStore
    passwords: PasswordHasher
    /** Runs after a password change is stored: revokes the caller's other tokens. */
    onPasswordChanged?: () => Promise<void>
  },
  userId: number,
  changes: ProfileChanges,
): Promise<User> {
  const username = changes.username?.trim()
  if (username === undefined && changes.password === undefined) {
    throw badRequest('VALIDATION_ERROR', 'Nothing to change: give `username`, `password` or both.')
  }
  if (changes.password !== undefined && changes.current_password === undefined) {
    throw badRequest('VALIDATION_ERROR', '`current_password` is required to change the password.')
  }
  if (changes.current_password !== undefined) {
    const me = await ports.users.findByIdWithHash(userId)
    if (!me) throw userNotFound()
    // Before the current password is checked: a weak choice is refused without costing a hash check.
    if (changes.password !== undefined) {
      await assertStrongPassword(changes.password, [username ?? me.username, me.username, me.email])
    }
    if (!(await ports.passwords.verify(me.password_hash, changes.current_password))) {
      throw forbidden('WRONG_PASSWORD', 'The current password is wrong.')
    }
  }
  const passwordHash = changes.password === undefined ? undefined : await ports.passwords.hash(changes.password)
  const updated = await ports.users.update(userId, {
    ...(username !== undefined ? { username } : {}),
    ...(passwordHash !== undefined ? { passwordHash } : {}),
    now: new Date().toISOString(),
  })
  if (updated === 'username') throw conflict('USERNAME_TAKEN', 'That username is taken.')
  if (!updated) throw userNotFound()
  if (passwordHash !== undefined) await ports.onPasswordChanged?.()
  return updated
}
