import type { Kysely } from 'kysely'
import {
  parseEnvironment,
  readEnvironment,
  resolveJwtSecret,
  type Environment,
  type SecretResolution,
} from './config.js'
import type { Database } from './database.js'
import type { Hub } from './domain/ports.js'
import { DEFAULT_RESUME_LIMIT } from './domain/resume.js'

/** Options of the chat server plugin. Each one overrides the environment variable named beside it. */
export interface ChatServerOptions {
  /** SQLite database file (`DB_FILE`, default `chatserver.db`); `:memory:` for a throwaway database. */
  dbFile?: string
  /** An existing Kysely instance to use instead of opening `dbFile`. Migrations run on it; its owner closes it. */
  db?: Kysely<Database>
  /** Secret that signs tokens with HS256 (`JWT_SECRET`). */
  jwtSecret?: string
  /** Token lifetime in minutes (`JWT_EXPIRY_MINUTES`, default 1440). */
  jwtExpiryMinutes?: number
  /** Create the demo users Ava and Mike and group 1 "General" (`DEMO_DATA`; default on outside production). */
  demoData?: boolean
  /** `NODE_ENV`: production refuses a missing or weak secret and turns the demo data off by default. */
  nodeEnv?: 'development' | 'production' | 'test'
  /** Where variables are read from; default `process.env` over `.env`. Pass `{}` to rely on options alone. */
  env?: Environment
  /** Largest accepted request body in bytes (default 64 KiB); larger ones get 413. */
  bodyLimit?: number
  /** Largest accepted socket frame in bytes (default 64 KiB); larger ones close the socket with 1009. */
  maxFrameBytes?: number
  /** argon2id cost parameters (defaults: OWASP's 19 MiB, 2 passes, 1 lane). */
  passwordHashing?: Partial<PasswordHashingOptions>
  /** At most this many missed messages are replayed on a resume (default 1,000); past it the client pages history. */
  resumeLimit?: number
  /** A realtime hub to use instead of the in-process one. */
  hub?: Hub
}

export interface PasswordHashingOptions {
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** Settings after options, environment and defaults are merged and validated. */
export interface ChatServerConfig {
  nodeEnv: 'development' | 'production' | 'test'
  production: boolean
  /** Undefined when an existing Kysely instance was given. */
  dbFile: string | undefined
  jwt: { secret: string; expiryMinutes: number; secretSource: SecretResolution['source']; weakSecret: boolean }
  demoData: boolean
  bodyLimit: number
  maxFrameBytes: number
  passwordHashing: PasswordHashingOptions
  resumeLimit: number
}

export const DEFAULT_BODY_LIMIT = 64 * 1024
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024
export const OWASP_ARGON2ID: PasswordHashingOptions = { memoryCost: 19_456, timeCost: 2, parallelism: 1 }

/** Merges options over the environment and validates the result; throws on a bad or unsafe setting. */
export function resolveConfig(options: ChatServerOptions): ChatServerConfig {
  const env = parseEnvironment(options.env ?? readEnvironment())
  const nodeEnv = options.nodeEnv ?? env.NODE_ENV
  const production = nodeEnv === 'production'
  const dbFile = options.db ? undefined : (options.dbFile ?? env.DB_FILE)
  const secret = resolveJwtSecret({ configured: options.jwtSecret ?? env.JWT_SECRET, production, dbFile })
  const expiryMinutes = options.jwtExpiryMinutes ?? env.JWT_EXPIRY_MINUTES
  if (!Number.isInteger(expiryMinutes) || expiryMinutes < 1) {
    throw new Error('jwtExpiryMinutes must be a positive whole number of minutes.')
  }
  return {
    nodeEnv,
    production,
    dbFile,
    jwt: { secret: secret.secret, expiryMinutes, secretSource: secret.source, weakSecret: secret.weak },
    demoData: options.demoData ?? env.DEMO_DATA ?? !production,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    passwordHashing: { ...OWASP_ARGON2ID, ...options.passwordHashing },
    resumeLimit: options.resumeLimit ?? DEFAULT_RESUME_LIMIT,
  }
}
