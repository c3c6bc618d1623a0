import type { Kysely } from 'kysely'
import {
  parseEnvironment,
  parseRateLimitVariable,
  readEnvironment,
  resolveJwtSecret,
  type Environment,
  type SecretResolution,
} from './config.js'
import type { Database } from './database.js'
import type { Hub } from './domain/ports.js'
import { DEFAULT_RESUME_LIMIT } from './domain/resume.js'
import { resolveOperations, type OperationsConfig, type OperationsOptions } from './operations.js'

/**
 * Set by `buildApp`, which gives the chat server an app of its own: only there is `/` free for the demo
 * page by default. Not exported from the package: a host says `demoPage: true` instead.
 */
export const STANDALONE: unique symbol = Symbol('chatserver.standalone')

/** Options of the chat server plugin. Each one overrides the environment variable named beside it. */
export interface ChatServerOptions extends OperationsOptions {
  /** SQLite database file (`DB_FILE`, default `chatserver.db`); `:memory:` for a throwaway database. */
  dbFile?: string
  /** An existing Kysely instance to use instead of opening `dbFile`. Migrations run on it; its owner closes it. */
  db?: Kysely<Database>
  /**
   * `postgres://…` URL (`DATABASE_URL`): store in PostgreSQL through a pool instead of SQLite. Wins over `dbFile`
   * and `DB_FILE`; a `dbFile` option wins over the `DATABASE_URL` variable.
   */
  databaseUrl?: string
  /** PostgreSQL schema to keep the tables in, created if missing (`DATABASE_SCHEMA`; default: the search path's). */
  databaseSchema?: string
  /** Secret that signs tokens with HS256 (`JWT_SECRET`). */
  jwtSecret?: string
  /** Token lifetime in minutes (`JWT_EXPIRY_MINUTES`, default 1440). */
  jwtExpiryMinutes?: number
  /** Create the demo users Ava and Mike and group 1 "General" (`DEMO_DATA`; default on outside production). */
  demoData?: boolean
  /**
   * Serve the demo page at `/` (under the prefix, when embedded): a small browser client on the typed client
   * (`DEMO_PAGE`). Default: on in a server of its own (`buildApp`, `npm start`) outside production; off in
   * production and when registered in a host app, whose `/` is its own.
   */
  demoPage?: boolean
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
  /**
   * How often, in ms, this process reads the token revocations (logouts, password changes) that other
   * processes on the same database stored (`REVOCATION_SYNC_MS`, default 1,000). Its own apply at once.
   */
  revocationSyncMs?: number
  /** A realtime hub to use instead of the in-process one. */
  hub?: Hub
  /**
   * `redis://…` or `rediss://…` URL (`REDIS_URL`): fan out through Redis pub/sub, so that every instance sharing
   * that Redis (and the database) delivers to its own sockets. Ignored when `hub` is given.
   */
  redisUrl?: string
  /** Tuning of the Redis hub (see `RedisSettings`); defaults fit production, tests shorten the intervals. */
  redis?: Partial<Omit<RedisSettings, 'url'>>
  /**
   * The server pings each socket this often, in ms (`WS_HEARTBEAT_INTERVAL_MS`, default 30,000); a socket that
   * has not answered by the next ping is cut off. 0: no heartbeat.
   */
  heartbeatIntervalMs?: number
  /**
   * A socket with more than this many bytes waiting to be written to it is closed with 4008 "slow consumer"
   * (`WS_MAX_BUFFERED_BYTES`, default 1 MiB). 0: no bound.
   */
  maxBufferedBytes?: number
  /**
   * Client frames a socket may send per second, sustained (`WS_MAX_FRAMES_PER_SECOND`, default 20). A frame over
   * the limit gets an `error` RATE_LIMITED and is not handled; more than twice `frameBurst` over it closes the
   * socket with 1008. 0: no limit.
   */
  maxFramesPerSecond?: number
  /** Client frames a socket may send at once before the sustained rate applies (`WS_FRAME_BURST`, default 200). */
  frameBurst?: number
  /**
   * Open sockets per user (`WS_MAX_SOCKETS_PER_USER`, default 20); one more is refused before the upgrade with
   * 429 TOO_MANY_SOCKETS. 0: no limit.
   */
  maxSocketsPerUser?: number
  /**
   * On close, how long in ms the sockets get to have the frames they sent answered, and then again to complete
   * the closing handshake (code 1001) before they are cut off (`WS_SHUTDOWN_GRACE_MS`, default 3,000).
   */
  shutdownGraceMs?: number
  /**
   * HTTP rate limits, each `{max, timeWindow}` (window in ms; a partial one keeps the other field) or `false`
   * for none; `false` turns them all off. Defaults: `register` 10 a minute per IP (`RATE_LIMIT_REGISTER`),
   * `login` 10 a minute per IP (`RATE_LIMIT_LOGIN`), `loginEmail` 10 per 5 minutes per email address
   * (`RATE_LIMIT_LOGIN_EMAIL`), `send` 60 per 10 s per user over REST and socket, group and direct together
   * (`RATE_LIMIT_SEND`), `passwordCheck` 10 per 5 minutes per user for requests that give `current_password`
   * (`RATE_LIMIT_PASSWORD_CHECK`), `memberAdds` 30 a minute per user for being added to groups by others
   * (`RATE_LIMIT_MEMBER_ADDS`). Over a limit: 429 `RATE_LIMITED` with `Retry-After` (on the socket an `error`
   * frame `RATE_LIMITED` with `retry_after_ms`).
   */
  rateLimits?: false | { [Name in RateLimitName]?: Partial<RateLimit> | false }
  /** Most members a group may hold (`MAX_GROUP_MEMBERS`, default 10,000); adding past it is 409 `GROUP_FULL`. */
  maxGroupMembers?: number
  /** Most groups one user may own (`MAX_OWNED_GROUPS`, default 1,000); creating past it is 409 `TOO_MANY_GROUPS`. */
  maxOwnedGroups?: number
  /**
   * Most distinct emoji on one message (`MAX_REACTIONS_PER_MESSAGE`, default 50); a new emoji past it is 409
   * `TOO_MANY_REACTIONS` (reacting with an emoji already there still works).
   */
  maxReactionsPerMessage?: number
  /**
   * A resume is charged against the socket's frame rate limit one frame per this many messages it replays
   * (`WS_RESUME_MESSAGES_PER_FRAME`, default 10), besides the frame itself. 0: only the frame counts.
   */
  resumeMessagesPerFrame?: number
  /**
   * Serve Prometheus metrics at `/metrics` (under the prefix, when embedded) from a registry of the chat
   * server's own (`METRICS`, default on). `false`: no route and nothing measured.
   */
  metrics?: boolean
  /** Set by `buildApp` only (see `STANDALONE`). */
  [STANDALONE]?: boolean
}

/** The HTTP routes with a rate limit of their own. */
export type RateLimitName = 'register' | 'login' | 'loginEmail' | 'send' | 'passwordCheck' | 'memberAdds'

/** At most `max` requests per key in each `timeWindow` milliseconds. */
export interface RateLimit {
  max: number
  timeWindow: number
}

export interface PasswordHashingOptions {
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** Settings after options, environment and defaults are merged and validated. */
export interface ChatServerConfig extends OperationsConfig {
  nodeEnv: 'development' | 'production' | 'test'
  production: boolean
  /** Undefined when an existing Kysely instance was given or the database is PostgreSQL. */
  dbFile: string | undefined
  /** The PostgreSQL URL when the server stores there; undefined on SQLite or with an existing Kysely instance. */
  databaseUrl: string | undefined
  /** The PostgreSQL schema the tables live in; undefined for the connection's default search path. */
  databaseSchema: string | undefined
  jwt: { secret: string; expiryMinutes: number; secretSource: SecretResolution['source']; weakSecret: boolean }
  demoData: boolean
  /** Whether the demo page is served at `/`. */
  demoPage: boolean
  bodyLimit: number
  maxFrameBytes: number
  passwordHashing: PasswordHashingOptions
  resumeLimit: number
  sockets: SocketLimits
  revocationSyncMs: number
  rateLimits: Record<RateLimitName, RateLimit | false>
  maxGroupMembers: number
  maxOwnedGroups: number
  maxReactionsPerMessage: number
  /** The Redis hub's settings; undefined for the in-process hub. */
  redis: RedisSettings | undefined
  /** Whether Prometheus metrics are measured and served at `/metrics`. */
  metrics: boolean
}

/** The Redis hub's settings. */
export interface RedisSettings {
  url: string
  /** Prefix of the pub/sub channel (`<prefix>:hub`); instances fan out to each other only on the same one. */
  channelPrefix: string
  /** How often, in ms, an instance re-announces the users online on it (default 5,000). */
  announceIntervalMs: number
  /** A remote instance not heard from for this long, in ms, counts as gone with its users (default 15,000). */
  presenceExpiryMs: number
  /**
   * How long, in ms, any Redis command may go unanswered before it fails (`REDIS_COMMAND_TIMEOUT_MS`, default
   * 1,000): a rate-limit count then lets the request through, a publish is reported as failed, readiness
   * says the broker is down. Without it a Redis that stops answering (but keeps its connections) hangs them.
   */
  commandTimeoutMs: number
}

export const DEFAULT_REDIS_SETTINGS: Readonly<Omit<RedisSettings, 'url'>> = {
  channelPrefix: 'chatserver',
  announceIntervalMs: 5_000,
  presenceExpiryMs: 15_000,
  commandTimeoutMs: 1_000,
}

const DEFAULT_BODY_LIMIT = 64 * 1024
const DEFAULT_MAX_FRAME_BYTES = 64 * 1024
export const OWASP_ARGON2ID: PasswordHashingOptions = { memoryCost: 19_456, timeCost: 2, parallelism: 1 }
const DEFAULT_REVOCATION_SYNC_MS = 1000

function resolveRevocationSyncMs(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error('revocationSyncMs must be a whole number of milliseconds, at least 1.')
  }
  return value
}
export const DEFAULT_MAX_GROUP_MEMBERS = 10_000
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitName, RateLimit>> = {
  register: { max: 10, timeWindow: 60_000 },
  login: { max: 10, timeWindow: 60_000 },
  loginEmail: { max: 10, timeWindow: 5 * 60_000 },
  send: { max: 60, timeWindow: 10_000 },
  passwordCheck: { max: 10, timeWindow: 5 * 60_000 },
  memberAdds: { max: 30, timeWindow: 60_000 },
}
export const DEFAULT_MAX_OWNED_GROUPS = 1_000
export const DEFAULT_MAX_REACTIONS_PER_MESSAGE = 50
const RATE_LIMIT_VARIABLES = {
  register: 'RATE_LIMIT_REGISTER',
  login: 'RATE_LIMIT_LOGIN',
  loginEmail: 'RATE_LIMIT_LOGIN_EMAIL',
  send: 'RATE_LIMIT_SEND',
  passwordCheck: 'RATE_LIMIT_PASSWORD_CHECK',
  memberAdds: 'RATE_LIMIT_MEMBER_ADDS',
} as const satisfies Record<RateLimitName, string>

/** Each rate limit: the option over its environment variable over the default; throws on a bad one. */
function resolveRateLimits(
  option: ChatServerOptions['rateLimits'],
  env: ReturnType<typeof parseEnvironment>,
): Record<RateLimitName, RateLimit | false> {
  const resolved = { ...DEFAULT_RATE_LIMITS } as Record<RateLimitName, RateLimit | false>
  for (const name of Object.keys(DEFAULT_RATE_LIMITS) as RateLimitName[]) {
    const variable = RATE_LIMIT_VARIABLES[name]
    const raw = env[variable]
    const fromEnv = raw === undefined ? DEFAULT_RATE_LIMITS[name] : parseRateLimitVariable(variable, raw)
    const given = option === false ? false : option?.[name]
    let limit: RateLimit | false = fromEnv
    if (given === false) limit = false
    else if (given) limit = { ...(fromEnv || DEFAULT_RATE_LIMITS[name]), ...given }
    if (limit && !(isWhole(limit.max) && isWhole(limit.timeWindow))) {
      throw new Error(`rateLimits.${name} needs a whole max and timeWindow (ms) of at least 1, or false for none.`)
    }
    resolved[name] = limit
  }
  return resolved
}

/** Merges options over the environment and validates the result; throws on a bad or unsafe setting. */
export function resolveConfig(options: ChatServerOptions): ChatServerConfig {
  const env = parseEnvironment(options.env ?? readEnvironment())
  const nodeEnv = options.nodeEnv ?? env.NODE_ENV
  const production = nodeEnv === 'production'
  const { dbFile, databaseUrl, databaseSchema } = resolveDatabase(options, env)
  const secret = resolveJwtSecret({ configured: options.jwtSecret ?? env.JWT_SECRET, production, dbFile })
  const expiryMinutes = options.jwtExpiryMinutes ?? env.JWT_EXPIRY_MINUTES
  if (!Number.isInteger(expiryMinutes) || expiryMinutes < 1) {
    throw new Error('jwtExpiryMinutes must be a positive whole number of minutes.')
  }
  return {
    nodeEnv,
    production,
    dbFile,
    databaseUrl,
    databaseSchema,
    jwt: { secret: secret.secret, expiryMinutes, secretSource: secret.source, weakSecret: secret.weak },
    demoData: options.demoData ?? env.DEMO_DATA ?? !production,
    demoPage: options.demoPage ?? env.DEMO_PAGE ?? (options[STANDALONE] === true && !production),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    passwordHashing: { ...OWASP_ARGON2ID, ...options.passwordHashing },
    resumeLimit: options.resumeLimit ?? DEFAULT_RESUME_LIMIT,
    sockets: resolveSocketLimits(options, env),
    revocationSyncMs: resolveRevocationSyncMs(
      options.revocationSyncMs ?? env.REVOCATION_SYNC_MS ?? DEFAULT_REVOCATION_SYNC_MS,
    ),
    rateLimits: resolveRateLimits(options.rateLimits, env),
    maxGroupMembers: resolveMaxGroupMembers(options.maxGroupMembers ?? env.MAX_GROUP_MEMBERS),
    maxOwnedGroups: resolveCap(
      'maxOwnedGroups',
      options.maxOwnedGroups ?? env.MAX_OWNED_GROUPS,
      DEFAULT_MAX_OWNED_GROUPS,
    ),
    maxReactionsPerMessage: resolveCap(
      'maxReactionsPerMessage',
      options.maxReactionsPerMessage ?? env.MAX_REACTIONS_PER_MESSAGE,
      DEFAULT_MAX_REACTIONS_PER_MESSAGE,
    ),
    redis: resolveRedis(options, env),
    metrics: options.metrics ?? env.METRICS ?? true,
    ...resolveOperations(options, env),
  }
}

/** The Redis hub's settings from `redisUrl` (else `REDIS_URL`) and `redis`; undefined without a URL. */
function resolveRedis(options: ChatServerOptions, env: ReturnType<typeof parseEnvironment>): RedisSettings | undefined {
  const url = options.redisUrl || env.REDIS_URL || undefined
  if (url === undefined) return undefined
  if (!/^rediss?:\/\//.test(url)) throw new Error('REDIS_URL (redisUrl) must be a redis:// or rediss:// URL.')
  const channelPrefix = options.redis?.channelPrefix ?? env.REDIS_CHANNEL_PREFIX ?? DEFAULT_REDIS_SETTINGS.channelPrefix
  const commandTimeoutMs =
    options.redis?.commandTimeoutMs ?? env.REDIS_COMMAND_TIMEOUT_MS ?? DEFAULT_REDIS_SETTINGS.commandTimeoutMs
  const settings = { ...DEFAULT_REDIS_SETTINGS, ...options.redis, channelPrefix, commandTimeoutMs }
  if (!/^[\w.:-]{1,100}$/.test(settings.channelPrefix)) {
    throw new Error('REDIS_CHANNEL_PREFIX (redis.channelPrefix) must be 1 to 100 letters, digits, _, ., : or -.')
  }
  if (!isWhole(settings.announceIntervalMs) || !isWhole(settings.presenceExpiryMs)) {
    throw new Error('redis.announceIntervalMs and redis.presenceExpiryMs must be whole numbers of ms, at least 1.')
  }
  if (!isWhole(settings.commandTimeoutMs)) {
    throw new Error('REDIS_COMMAND_TIMEOUT_MS (redis.commandTimeoutMs) must be a whole number of ms, at least 1.')
  }
  if (settings.presenceExpiryMs <= settings.announceIntervalMs) {
    throw new Error('redis.presenceExpiryMs must be longer than redis.announceIntervalMs.')
  }
  return { url, ...settings }
}

const isWhole = (value: number) => Number.isSafeInteger(value) && value >= 1

function resolveMaxGroupMembers(value = DEFAULT_MAX_GROUP_MEMBERS): number {
  if (!isWhole(value)) throw new Error('maxGroupMembers must be a whole number of at least 1.')
  return value
}

/** A cap from its option, else its variable, else its default: a whole number of at least 1. */
function resolveCap(name: string, value: number | undefined, fallback: number): number {
  const cap = value ?? fallback
  if (!isWhole(cap)) throw new Error(`${name} must be a whole number of at least 1.`)
  return cap
}

/** Limits on each realtime socket (see the matching options); 0 turns a limit off. */
export interface SocketLimits {
  heartbeatIntervalMs: number
  maxBufferedBytes: number
  maxFramesPerSecond: number
  frameBurst: number
  maxSocketsPerUser: number
  shutdownGraceMs: number
  resumeMessagesPerFrame: number
}

export const DEFAULT_SOCKET_LIMITS: Readonly<SocketLimits> = {
  heartbeatIntervalMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  maxFramesPerSecond: 20,
  frameBurst: 200,
  maxSocketsPerUser: 20,
  shutdownGraceMs: 3_000,
  resumeMessagesPerFrame: 10,
}

/** Each socket limit: the option over its environment variable over the default; throws on a bad one. */
function resolveSocketLimits(options: ChatServerOptions, env: ReturnType<typeof parseEnvironment>): SocketLimits {
  const limits: SocketLimits = {
    heartbeatIntervalMs:
      options.heartbeatIntervalMs ?? env.WS_HEARTBEAT_INTERVAL_MS ?? DEFAULT_SOCKET_LIMITS.heartbeatIntervalMs,
    maxBufferedBytes: options.maxBufferedBytes ?? env.WS_MAX_BUFFERED_BYTES ?? DEFAULT_SOCKET_LIMITS.maxBufferedBytes,
    maxFramesPerSecond:
      options.maxFramesPerSecond ?? env.WS_MAX_FRAMES_PER_SECOND ?? DEFAULT_SOCKET_LIMITS.maxFramesPerSecond,
    frameBurst: options.frameBurst ?? env.WS_FRAME_BURST ?? DEFAULT_SOCKET_LIMITS.frameBurst,
    maxSocketsPerUser:
      options.maxSocketsPerUser ?? env.WS_MAX_SOCKETS_PER_USER ?? DEFAULT_SOCKET_LIMITS.maxSocketsPerUser,
    shutdownGraceMs: options.shutdownGraceMs ?? env.WS_SHUTDOWN_GRACE_MS ?? DEFAULT_SOCKET_LIMITS.shutdownGraceMs,
    resumeMessagesPerFrame:
      options.resumeMessagesPerFrame ??
      env.WS_RESUME_MESSAGES_PER_FRAME ??
      DEFAULT_SOCKET_LIMITS.resumeMessagesPerFrame,
  }
  for (const [name, value] of Object.entries(limits)) {
    const whole = name !== 'maxFramesPerSecond'
    if (!Number.isFinite(value) || value < (name === 'frameBurst' ? 1 : 0) || (whole && !Number.isSafeInteger(value))) {
      throw new Error(`${name} must be a ${whole ? 'whole ' : ''}number of at least ${name === 'frameBurst' ? 1 : 0}.`)
    }
  }
  return limits
}

/**
 * Which database: an existing Kysely instance, else PostgreSQL (`databaseUrl`, else `DATABASE_URL` unless a
 * `dbFile` option is given), else the SQLite file. Empty strings count as unset. Throws on a bad URL or schema.
 */
function resolveDatabase(options: ChatServerOptions, env: ReturnType<typeof parseEnvironment>) {
  const url = options.databaseUrl || (options.dbFile === undefined ? env.DATABASE_URL : undefined) || undefined
  const schema = options.databaseSchema || env.DATABASE_SCHEMA || undefined
  if (options.db) return { dbFile: undefined, databaseUrl: undefined, databaseSchema: undefined }
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('DATABASE_URL (databaseUrl) must be a postgres:// or postgresql:// URL.')
  }
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(
      'DATABASE_SCHEMA (databaseSchema) must be a lower-case PostgreSQL name: a-z, 0-9 and _, at most 63, not starting with a digit.',
    )
  }
  if (schema !== undefined && url === undefined && !(options.dbFile !== undefined && env.DATABASE_URL)) {
    throw new Error('DATABASE_SCHEMA (databaseSchema) is set but DATABASE_URL is not: a schema needs PostgreSQL.')
  }
  if (url !== undefined) return { dbFile: undefined, databaseUrl: url, databaseSchema: schema }
  return { dbFile: options.dbFile ?? env.DB_FILE, databaseUrl: undefined, databaseSchema: undefined }
}
