import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

/** A rate limit as `<max>/<window>` (`5/1m`, `60/10s`; units ms, s, m, h), or `off`. */
const RateLimitVariable = Type.String({ pattern: '^\\s*(off|false|\\d+\\s*/\\s*\\d+\\s*(ms|s|m|h))\\s*$' })

/** The environment variables the server reads (the original project's names kept). */
const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  SERVER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  DB_FILE: Type.String({ default: 'chatserver.db', minLength: 1 }),
  DATABASE_URL: Type.Optional(Type.String()),
  DATABASE_SCHEMA: Type.Optional(Type.String()),
  REDIS_URL: Type.Optional(Type.String()),
  REDIS_CHANNEL_PREFIX: Type.Optional(Type.String()),
  REDIS_COMMAND_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1 })),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_EXPIRY_MINUTES: Type.Integer({ minimum: 1, maximum: 527_040, default: 1440 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  DEMO_DATA: Type.Optional(Type.Boolean()),
  DEMO_PAGE: Type.Optional(Type.Boolean()),
  WS_HEARTBEAT_INTERVAL_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  WS_MAX_BUFFERED_BYTES: Type.Optional(Type.Integer({ minimum: 0 })),
  WS_MAX_FRAMES_PER_SECOND: Type.Optional(Type.Number({ minimum: 0 })),
  WS_FRAME_BURST: Type.Optional(Type.Integer({ minimum: 1 })),
  WS_MAX_SOCKETS_PER_USER: Type.Optional(Type.Integer({ minimum: 0 })),
  WS_SHUTDOWN_GRACE_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  WS_RESUME_MESSAGES_PER_FRAME: Type.Optional(Type.Integer({ minimum: 0 })),
  REVOCATION_SYNC_MS: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
  RATE_LIMIT_REGISTER: Type.Optional(RateLimitVariable),
  RATE_LIMIT_LOGIN: Type.Optional(RateLimitVariable),
  RATE_LIMIT_LOGIN_EMAIL: Type.Optional(RateLimitVariable),
  RATE_LIMIT_SEND: Type.Optional(RateLimitVariable),
  RATE_LIMIT_PASSWORD_CHECK: Type.Optional(RateLimitVariable),
  RATE_LIMIT_MEMBER_ADDS: Type.Optional(RateLimitVariable),
  MAX_GROUP_MEMBERS: Type.Optional(Type.Integer({ minimum: 1 })),
  MAX_OWNED_GROUPS: Type.Optional(Type.Integer({ minimum: 1 })),
  MAX_REACTIONS_PER_MESSAGE: Type.Optional(Type.Integer({ minimum: 1 })),
  METRICS: Type.Optional(Type.Boolean()),
  SHUTDOWN_DRAIN_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  METRICS_TOKEN: Type.Optional(Type.String()),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  DB_BUSY_WAIT_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  DATABASE_QUERY_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  READINESS_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1 })),
})
export type Env = Static<typeof EnvSchema>

export type Environment = Record<string, string | undefined>

/** `process.env` over the variables of a `.env` file in the working directory, if there is one. */
export function readEnvironment(dotenvPath = '.env'): Environment {
  const fromFile = existsSync(dotenvPath) ? parseEnv(readFileSync(dotenvPath, 'utf8')) : {}
  return { ...fromFile, ...process.env }
}

/** Parses and validates the variables; throws a message naming the bad variable. */
export function parseEnvironment(env: Environment): Env {
  return envSchema<Env>({ schema: EnvSchema, data: [env], dotenv: false })
}

const WINDOW_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Reads a `RATE_LIMIT_*` value such as `60/10s`: `false` for `off`; throws, naming the variable, on anything else. */
export function parseRateLimitVariable(name: string, value: string): { max: number; timeWindow: number } | false {
  if (/^\s*(off|false)\s*$/.test(value)) return false
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(value)
  if (!match) throw new Error(`${name} must be "<max>/<window>" such as 60/10s or 5/1m, or "off".`)
  const [, max, amount, unit] = match
  return { max: Number(max), timeWindow: Number(amount) * (WINDOW_UNIT_MS[unit ?? 'ms'] ?? 1) }
}

export const DEFAULT_PORT = 8080

/** Where and how the process listens: only the entry point needs these. */
export function serverSettings(env: Env) {
  return { port: env.PORT ?? env.SERVER_PORT ?? DEFAULT_PORT, host: env.HOST, logLevel: env.LOG_LEVEL }
}

const MIN_SECRET_LENGTH = 32

/** A secret is weak when it is short or made of few distinct characters. */
function isWeakSecret(secret: string): boolean {
  return secret.length < MIN_SECRET_LENGTH || new Set(secret).size < 10
}

export interface SecretResolution {
  secret: string
  /** What happened, for the start-up log. */
  source: 'configured' | 'created-file' | 'read-file' | 'ephemeral'
  weak: boolean
}

/**
 * The JWT secret to sign with. In production it must be configured and strong; in development a
 * missing one is created once and kept in `<database file>.jwt-secret` so tokens survive restarts.
 */
export function resolveJwtSecret(options: {
  configured: string | undefined
  production: boolean
  dbFile: string | undefined
}): SecretResolution {
  const { configured, production, dbFile } = options
  if (configured !== undefined && configured !== '') {
    const weak = isWeakSecret(configured)
    if (weak && production) {
      throw new Error(
        `JWT_SECRET is too weak for production: use at least ${MIN_SECRET_LENGTH} random characters ` +
          '(for example: openssl rand -base64 48).',
      )
    }
    return { secret: configured, source: 'configured', weak }
  }
  if (production) {
    throw new Error('JWT_SECRET is required in production (NODE_ENV=production). Refusing to start.')
  }
  if (!dbFile || dbFile === ':memory:') {
    return { secret: randomBytes(48).toString('base64url'), source: 'ephemeral', weak: false }
  }
  const secretFile = `${dbFile}.jwt-secret`
  if (existsSync(secretFile)) {
    const kept = readFileSync(secretFile, 'utf8').trim()
    if (!isWeakSecret(kept)) return { secret: kept, source: 'read-file', weak: false }
  }
  const created = randomBytes(48).toString('base64url')
  writeFileSync(secretFile, `${created}\n`, { mode: 0o600 })
  chmodSync(secretFile, 0o600)
  return { secret: created, source: 'created-file', weak: false }
}
