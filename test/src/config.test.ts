import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { DEFAULT_PORT, parseEnvironment, serverSettings } from '../../src/config.js'
import { resolveConfig } from '../../src/options.js'
import { tempDir, TEST_SECRET } from '../helpers.js'

const STRONG_SECRET = TEST_SECRET

t.test('production refuses to start without a JWT secret', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'prod.db')
  t.throws(() => resolveConfig({ nodeEnv: 'production', env: {}, dbFile }), /JWT_SECRET is required/)
  t.throws(
    () => resolveConfig({ env: { NODE_ENV: 'production', DB_FILE: dbFile } }),
    /JWT_SECRET is required/,
    'NODE_ENV=production from the environment too',
  )
  t.throws(
    () => resolveConfig({ env: { NODE_ENV: 'production', DB_FILE: dbFile, JWT_SECRET: '' } }),
    /JWT_SECRET is required/,
    'an empty JWT_SECRET counts as none',
  )
  t.same(readdirSync(dir), [], 'no secret file was created')
})

t.test('production refuses a weak JWT secret', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'prod.db')
  for (const [why, secret] of [
    ['short', 'short-secret-123'],
    ['31 characters', STRONG_SECRET.slice(0, 31)],
    ['40 × a', 'a'.repeat(40)],
    ['few distinct characters', 'abcabcabcabcabcabcabcabcabcabcabcabc'],
  ] as const) {
    t.throws(() => resolveConfig({ nodeEnv: 'production', env: {}, dbFile, jwtSecret: secret }), /too weak/, why)
    t.throws(
      () => resolveConfig({ env: { NODE_ENV: 'production', DB_FILE: dbFile, JWT_SECRET: secret } }),
      /too weak/,
      `${why}, from the environment`,
    )
  }
})

t.test('production accepts a strong JWT secret', async (t) => {
  const dir = tempDir(t)
  const config = resolveConfig({
    env: { NODE_ENV: 'production', DB_FILE: join(dir, 'prod.db'), JWT_SECRET: STRONG_SECRET },
  })
  t.equal(config.production, true)
  t.equal(config.nodeEnv, 'production')
  t.equal(config.jwt.secret, STRONG_SECRET)
  t.equal(config.jwt.secretSource, 'configured')
  t.equal(config.jwt.weakSecret, false)
  t.same(readdirSync(dir), [], 'no secret file was created')
})

t.test('development accepts a weak secret but marks it weak', async (t) => {
  const dir = tempDir(t)
  const config = resolveConfig({ nodeEnv: 'development', env: {}, dbFile: join(dir, 'dev.db'), jwtSecret: 'short' })
  t.equal(config.jwt.secret, 'short')
  t.equal(config.jwt.weakSecret, true)
})

t.test('development without a secret creates one file, private, and reuses it', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'dev.db')
  const secretFile = `${dbFile}.jwt-secret`

  const first = resolveConfig({ nodeEnv: 'development', env: {}, dbFile })
  t.equal(first.jwt.secretSource, 'created-file')
  t.ok(first.jwt.secret.length >= 32, 'a long secret')
  t.equal(first.jwt.weakSecret, false)
  t.ok(existsSync(secretFile), 'the secret is kept beside the database')
  t.equal(statSync(secretFile).mode & 0o777, 0o600, 'readable by the owner only')
  t.equal(readFileSync(secretFile, 'utf8').trim(), first.jwt.secret, 'the file holds the secret')

  const second = resolveConfig({ nodeEnv: 'development', env: {}, dbFile })
  t.equal(second.jwt.secretSource, 'read-file')
  t.equal(second.jwt.secret, first.jwt.secret, 'the same secret after a restart')
  t.same(readdirSync(dir), ['dev.db.jwt-secret'], 'still one file')
})

t.test('development replaces a weak kept secret file', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'dev.db')
  writeFileSync(`${dbFile}.jwt-secret`, 'weak\n')
  const config = resolveConfig({ nodeEnv: 'development', env: {}, dbFile })
  t.equal(config.jwt.secretSource, 'created-file')
  t.not(config.jwt.secret, 'weak')
  t.equal(readFileSync(`${dbFile}.jwt-secret`, 'utf8').trim(), config.jwt.secret)
})

t.test('an in-memory database gets an ephemeral secret and no file', async (t) => {
  const before = new Set(readdirSync(process.cwd()))
  const a = resolveConfig({ nodeEnv: 'development', env: {}, dbFile: ':memory:' })
  const b = resolveConfig({ nodeEnv: 'development', env: {}, dbFile: ':memory:' })
  t.equal(a.jwt.secretSource, 'ephemeral')
  t.ok(a.jwt.secret.length >= 32, 'a long secret')
  t.equal(a.jwt.weakSecret, false)
  t.not(a.jwt.secret, b.jwt.secret, 'a fresh secret each time')
  t.notOk(existsSync(':memory:.jwt-secret'), 'no :memory:.jwt-secret file')
  t.same(
    readdirSync(process.cwd()).filter((name) => !before.has(name)),
    [],
    'no new file in the working directory',
  )
})

t.test('the port comes from PORT, then SERVER_PORT, then 8080', async (t) => {
  t.equal(DEFAULT_PORT, 8080)
  t.equal(serverSettings(parseEnvironment({})).port, 8080, 'default')
  t.equal(serverSettings(parseEnvironment({ PORT: '3000' })).port, 3000, 'PORT')
  t.equal(serverSettings(parseEnvironment({ SERVER_PORT: '4000' })).port, 4000, 'SERVER_PORT')
  t.equal(serverSettings(parseEnvironment({ PORT: '3000', SERVER_PORT: '4000' })).port, 3000, 'PORT wins')
  t.match(serverSettings(parseEnvironment({})), { host: '0.0.0.0', logLevel: 'info' }, 'host and log level defaults')
})

t.test('a bad PORT is refused with a message naming PORT', async (t) => {
  for (const port of ['abc', '70000', '-1']) {
    t.throws(() => parseEnvironment({ PORT: port }), /(^|[^_])PORT/, `PORT=${port}`)
  }
  t.throws(() => parseEnvironment({ SERVER_PORT: '70000' }), /SERVER_PORT/, 'SERVER_PORT=70000')
})

t.test('demo data is on in development, off in production, and DEMO_DATA decides', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'demo.db')
  t.equal(resolveConfig({ env: { NODE_ENV: 'development' }, dbFile }).demoData, true, 'development: on')
  t.equal(resolveConfig({ env: {}, dbFile }).demoData, true, 'no NODE_ENV means development: on')
  t.equal(
    resolveConfig({ env: { NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET }, dbFile }).demoData,
    false,
    'production: off',
  )
  t.equal(
    resolveConfig({ env: { NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET, DEMO_DATA: 'true' }, dbFile }).demoData,
    true,
    'DEMO_DATA=true turns it on in production',
  )
  t.equal(
    resolveConfig({ env: { NODE_ENV: 'development', DEMO_DATA: 'false' }, dbFile }).demoData,
    false,
    'DEMO_DATA=false turns it off in development',
  )
})

t.test('options override the environment', async (t) => {
  const dir = tempDir(t)
  const envDb = join(dir, 'env.db')
  const optionDb = join(dir, 'option.db')
  const otherSecret = 'option-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA-9876543210'
  const env = {
    NODE_ENV: 'production',
    DB_FILE: envDb,
    JWT_SECRET: STRONG_SECRET,
    JWT_EXPIRY_MINUTES: '5',
    DEMO_DATA: 'true',
  }

  const fromEnv = resolveConfig({ env })
  t.match(fromEnv, {
    nodeEnv: 'production',
    dbFile: envDb,
    demoData: true,
    jwt: { secret: STRONG_SECRET, expiryMinutes: 5 },
  })

  const overridden = resolveConfig({
    env,
    nodeEnv: 'test',
    dbFile: optionDb,
    jwtSecret: otherSecret,
    jwtExpiryMinutes: 10,
    demoData: false,
  })
  t.match(overridden, {
    nodeEnv: 'test',
    production: false,
    dbFile: optionDb,
    demoData: false,
    jwt: { secret: otherSecret, expiryMinutes: 10, secretSource: 'configured' },
  })

  t.doesNotThrow(
    () => resolveConfig({ env: { NODE_ENV: 'production' }, nodeEnv: 'development', dbFile: optionDb }),
    'nodeEnv: development overrides NODE_ENV=production, so no secret is needed',
  )
  t.throws(
    () => resolveConfig({ env: { NODE_ENV: 'development' }, nodeEnv: 'production', dbFile: optionDb }),
    /JWT_SECRET is required/,
    'nodeEnv: production overrides NODE_ENV=development',
  )
  t.throws(
    () =>
      resolveConfig({ env: { JWT_SECRET: STRONG_SECRET }, nodeEnv: 'production', jwtSecret: 'weak', dbFile: optionDb }),
    /too weak/,
    'a weak jwtSecret option wins over a strong JWT_SECRET',
  )
})

t.test('a token lifetime that is not a positive whole number is refused', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'x.db')
  for (const minutes of [0, -5, 1.5]) {
    t.throws(
      () => resolveConfig({ env: {}, dbFile, jwtSecret: STRONG_SECRET, jwtExpiryMinutes: minutes }),
      /jwtExpiryMinutes/,
      `${minutes} minutes`,
    )
  }
  t.throws(
    () => resolveConfig({ env: { JWT_EXPIRY_MINUTES: '0' }, dbFile, jwtSecret: STRONG_SECRET }),
    /JWT_EXPIRY_MINUTES/,
    'JWT_EXPIRY_MINUTES=0',
  )
})

t.test('the server refuses to start in production without a secret', async (t) => {
  const dir = tempDir(t)
  const dbFile = join(dir, 'prod.db')
  await t.rejects(buildApp({ nodeEnv: 'production', env: {}, dbFile }), /JWT_SECRET is required/)
  await t.rejects(buildApp({ env: { NODE_ENV: 'production', DB_FILE: dbFile } }), /JWT_SECRET is required/)
  t.notOk(existsSync(dbFile), 'no database was created')

  const app = await buildApp({ nodeEnv: 'production', env: {}, dbFile, jwtSecret: STRONG_SECRET })
  t.teardown(() => app.close())
  await app.ready()
  const res = await app.inject({ method: 'GET', url: '/v1/users' })
  t.equal(res.statusCode, 401, 'with a strong secret it starts and serves')
})
