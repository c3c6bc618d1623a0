// `npm run test:pg`: the test suite again, with every app that `build(t)` or `testDb(t)` makes on its own
// schema of the PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
// When that PostgreSQL does not answer, the run is skipped with a message, except under CI=true,
// where that fails. Arguments are passed on to tap (`npm run test:pg -- test/routes/users.test.ts`).
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'

const url = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const shown = url.replace(/\/\/[^@/]*@/, '//')

// Test files that choose their database themselves (their own SQLite files, a server process on
// DB_FILE) and so would only repeat the SQLite run. test/plugins/postgres.test.ts covers their
// ground on PostgreSQL: migrations from an empty schema, the demo data, the configuration.
const SQLITE_ONLY = [
  'test/e2e/**',
  'test/migrations/**',
  'test/plugins/demo.test.ts',
  'test/src/config.test.ts',
  'test/src/plugin.test.ts',
]

async function reachable() {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch (error) {
    console.error(`PostgreSQL at ${shown}: ${error instanceof Error ? error.message : String(error)}`)
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

if (!(await reachable())) {
  if (process.env.CI === 'true') {
    console.error('CI=true needs PostgreSQL for the PostgreSQL run of the suite: failing.')
    process.exit(1)
  }
  console.log(`# PostgreSQL is unreachable at ${shown}: skipped the PostgreSQL run (set TEST_DATABASE_URL).`)
  process.exit(0)
}

// Schemas are dropped at each test's end; this name lets the end of the run drop those of tests that
// were killed (a timeout) before their teardown, and only those: other runs may share the database.
const runId = randomBytes(4).toString('hex')

const args = process.argv.slice(2)
const tap = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tap')
// Files named on the command line run even when excluded here. Coverage and its floors (.taprc) belong to the
// SQLite run, which runs every file; this run skips some, and measuring it again would only cost time.
const run = spawnSync(tap, ['--disable-coverage', ...SQLITE_ONLY.map((glob) => `--exclude=${glob}`), ...args], {
  stdio: 'inherit',
  env: { ...process.env, TEST_DATABASE: 'postgres', TEST_DATABASE_URL: url, TEST_RUN_ID: runId },
})

const client = new pg.Client({ connectionString: url })
await client.connect()
const { rows } = await client.query(`select nspname from pg_namespace where nspname like $1`, [`t\\_${runId}\\_%`])
for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`)
if (rows.length > 0) console.log(`# dropped ${rows.length} schema(s) that killed tests left behind`)
await client.end()
process.exit(run.status ?? 1)
