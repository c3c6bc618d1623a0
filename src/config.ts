import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

/** The environment variables the server reads (the original project's names kept). */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  SERVER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  DB_FILE: Type.String({ default: 'chatserver.db', minLength: 1 }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_EXPIRY_MINUTES: Type.Integer({ minimum: 1, maximum: 527_040, default: 1440 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  DEMO_DATA: Type.Optional(Type.Boolean()),
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

export const DEFAULT_PORT = 8080

/** Where and how the process listens: only the entry point needs these. */
export function serverSettings(env: Env) {
  return { port: env.PORT ?? env.SERVER_PORT ?? DEFAULT_PORT, host: env.HOST, logLevel: env.LOG_LEVEL }
}

export const MIN_SECRET_LENGTH = 32

/** A secret is weak when it is short or made of few distinct characters. */
export function isWeakSecret(secret: string): boolean {
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
