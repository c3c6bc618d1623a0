import { badRequest } from './errors.js'

/** The shortest password accepted (the request schemas hold it too); 128 is the longest. */
export const MIN_PASSWORD_LENGTH = 8

let commonPasswords: Promise<ReadonlySet<string>> | undefined

/**
 * The 49,233 passwords most often found in breaches (lower-case), from the list zxcvbn-ts ships
 * (@zxcvbn-ts/language-common, MIT), shipped in the package: no network at run time. Loaded on first
 * use, so a server that never registers anyone does not pay for it at start (tens of milliseconds).
 */
function common(): Promise<ReadonlySet<string>> {
  commonPasswords ??= import('@zxcvbn-ts/language-common').then(
    ({ dictionary }) => new Set(dictionary['passwords-common']),
  )
  return commonPasswords
}

const weak = (why: string) => badRequest('WEAK_PASSWORD', `The password is too easy to guess: ${why}`)

/**
 * Refuses a new password an attacker would guess first (400 `WEAK_PASSWORD`, saying why): shorter than
 * 8 characters, one character repeated (`aaaaaaaa`, eight spaces), only whitespace, one of the common
 * passwords (ignoring case and surrounding spaces), or the account's own username, email or the email's
 * name part (`personal`). No rules on character classes: length and not being on a list matter, as NIST
 * SP 800-63B says. Checked when a password is chosen (register, change), never at login.
 */
export async function assertStrongPassword(
  password: string,
  personal: ReadonlyArray<string | null | undefined> = [],
): Promise<void> {
  const characters = [...password]
  if (characters.length < MIN_PASSWORD_LENGTH) throw weak(`it has fewer than ${MIN_PASSWORD_LENGTH} characters.`)
  if (password.trim() === '') throw weak('it is only whitespace.')
  if (new Set(characters).size === 1) throw weak('it is one character repeated.')
  const normalized = password.trim().toLowerCase()
  for (const word of personal) {
    if (!word) continue
    const lower = word.trim().toLowerCase()
    if (normalized === lower || normalized === lower.split('@')[0]) {
      throw weak('it is your username or email address.')
    }
  }
  if ((await common()).has(normalized)) {
    throw weak('it is one of the most common passwords. A few unrelated words make a strong one.')
  }
}
