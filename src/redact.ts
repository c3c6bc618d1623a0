/**
 * Query parameters whose values are secrets: the socket's `token` (and `ticket`, `access_token`, the
 * names clients commonly put a credential under). Compared after decoding, without case or surrounding space.
 */
const SECRET_PARAMETERS = new Set(['token', 'access_token', 'ticket'])

const REDACTED = '[REDACTED]'

/** A query parameter's name as the query parser reads it: `+` is a space, then percent-decoded (raw when malformed). */
function parameterName(raw: string): string {
  const spaced = raw.replaceAll('+', ' ')
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}

const isSecret = (rawName: string) => SECRET_PARAMETERS.has(parameterName(rawName).trim().toLowerCase())

/**
 * The URL with the value of every secret query parameter replaced by `[REDACTED]`, whatever the spelling of
 * its name: the router reads the query after the first `?` or `#` (and a host may make `;` a delimiter too),
 * and decodes each name, so `%74oken=` and `tok%65n=` name the token as well as `token=` does. Each name is
 * decoded the same way here before it is compared; the rest of the URL is logged as it came.
 */
export function redactUrl(url: string): string {
  const start = url.search(/[?#;]/)
  if (start === -1) return url
  // Every `name=value` after it, split at any of those delimiters as well as `&`: more than the parser
  // splits at, so a value is never kept because a delimiter the parser ignores hid its name.
  return (
    url.slice(0, start) +
    url
      .slice(start)
      .replace(SEGMENT, (segment, lead: string, name: string) =>
        isSecret(name) ? `${lead}${name}=${REDACTED}` : segment,
      )
  )
}

/** A delimiter, then a name, `=` and a value up to the next delimiter. */
const SEGMENT = /([?#;&])([^?#;&=]*)=[^?#;&]*/g
