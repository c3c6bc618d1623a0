import { randomBytes } from 'node:crypto'
import BetterSqlite3 from 'better-sqlite3'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { SenderApi } from '../clients/sender.js'
import { connectAll, Scope, startSocketClients, tokensFor, type BenchContext } from '../lib/context.js'
import { round } from '../lib/histogram.js'
import { startClient, stopProcess } from '../lib/procs.js'
import { startChatServer, type Listener } from '../lib/server.js'
import { best, median, ratio, runOnce, warmUp, type RunFigures, type Target } from './fanout.js'

/**
 * Scale-out fan-out: instances sharing one PostgreSQL schema and one Redis, as behind a load balancer.
 * The fan-out group's members (the same 1,000 sockets as the fan-out scenario) are first all connected to
 * instance A, then split half and half over A and B; the sender always posts to A, so every delivery on
 * B crossed Redis. Reports two-instance deliveries/s against one instance on the same PostgreSQL and Redis,
 * and against the SQLite single instance of the fan-out scenario when it ran in the same run. Skipped
 * (with the reason) when PostgreSQL or Redis does not answer.
 */

async function unreachable(databaseUrl: string, redisUrl: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
  } catch (error) {
    return `PostgreSQL at ${databaseUrl.replace(/\/\/[^@/]*@/, '//')}: ${(error as Error).message}`
  } finally {
    await client.end().catch(() => undefined)
  }
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000 })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    return `Redis at ${redisUrl}: ${(error as Error).message}`
  } finally {
    redis.disconnect()
  }
  return undefined
}

/** Copies the fan-out group's users and memberships from the SQLite bench database into the schema. */
async function seedPostgres(client: pg.Client, dbFile: string, members: number): Promise<void> {
  const sqlite = new BetterSqlite3(dbFile, { readonly: true })
  try {
    type UserRow = { id: number; username: string; email: string; password_hash: string; created_at: string }
    const users = sqlite
      .prepare<[number], UserRow>('select id, username, email, password_hash, created_at from users where id <= ?')
      .all(members)
    await client.query(
      `insert into users (id, username, email, password_hash, created_at, updated_at)
       select id, username, email, password_hash, created_at, created_at
       from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
         as u(id, username, email, password_hash, created_at)`,
      [
        users.map((u) => u.id),
        users.map((u) => u.username),
        users.map((u) => u.email),
        users.map((u) => u.password_hash),
        users.map((u) => u.created_at),
      ],
    )
    await client.query(`select setval(pg_get_serial_sequence('users', 'id'), (select max(id) from users))`)
    const now = new Date().toISOString()
    await client.query(
      `insert into groups (id, name, owner_id, created_at, updated_at) values (1, 'fanout', 1, $1, $1)`,
      [now],
    )
    await client.query(`select setval(pg_get_serial_sequence('groups', 'id'), 1)`)
    await client.query(
      `insert into group_members (group_id, user_id, role, joined_at)
       select 1, id, case when id = 1 then 'owner' else 'member' end, $2 from unnest($1::bigint[]) as id`,
      [users.map((u) => u.id), now],
    )
  } finally {
    sqlite.close()
  }
}

export async function scaleout(ctx: BenchContext): Promise<void> {
  const { config } = ctx
  const { databaseUrl, redisUrl } = config.scaleout
  const reason = await unreachable(databaseUrl, redisUrl)
  if (reason) {
    ctx.emit({ scenario: 'scaleout', skipped: reason })
    return
  }
  const scope = new Scope()
  const schema = `bench_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  scope.add(async () => {
    await admin.query(`drop schema if exists "${schema}" cascade`)
    await admin.end()
  })
  const members = config.fanout.members
  const rounds = Math.max(1, config.fanout.rounds)
  const count = Math.ceil(config.fanout.messages / rounds)
  const oneRuns: RunFigures[] = []
  const twoRuns: RunFigures[] = []
  let connectTwo: number
  let warnings: number
  try {
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      REDIS_CHANNEL_PREFIX: `bench-${schema}`,
    }
    const a: Listener = await startChatServer({ workDir: ctx.workDir, env, name: 'instance-a' })
    scope.add(() => a.stop())
    await admin.query(`set search_path to "${schema}"`)
    await seedPostgres(admin, ctx.dbFile, members)
    const b: Listener = await startChatServer({ workDir: ctx.workDir, env, name: 'instance-b' })
    scope.add(() => b.stop())

    const clients = startSocketClients(scope, config.clientProcesses)
    const sender = startClient<SenderApi>('sender-scaleout', 'clients/sender.js')
    scope.add(() => stopProcess(sender.child, 5000))
    const tokens = tokensFor(ctx, 1, members, members)
    // The sender always posts to A; the CPU of both instances is measured in both layouts.
    const target = (name: string, sockets: number, connectMs: number): Target => ({
      name,
      url: a.url,
      pids: [a.pid, b.pid],
      clients,
      sender,
      sockets,
      connect_ms: connectMs,
    })

    // One instance: every socket on A.
    const all = await connectAll(clients, a.wsUrl, tokens)
    if (all.failed > 0) throw new Error(`${all.failed} sockets failed on instance A: ${all.firstError}`)
    const one = target('one-instance', all.opened, round(all.ms, 0))
    await warmUp(ctx, one)
    for (let r = 0; r < rounds; r++) oneRuns.push(await runOnce(ctx, one, { count }))
    await Promise.all(clients.map((client) => client.call('close', undefined)))

    // Two instances: the first half of the members on A, the second half on B.
    const half = Math.floor(tokens.length / 2)
    const started = performance.now()
    const [onA, onB] = await Promise.all([
      connectAll(clients, a.wsUrl, tokens.slice(0, half)),
      connectAll(clients, b.wsUrl, tokens.slice(half)),
    ])
    connectTwo = round(performance.now() - started, 0)
    if (onA.failed + onB.failed > 0) throw new Error(`sockets failed: ${onA.firstError ?? onB.firstError}`)
    const two = target('two-instances', onA.opened + onB.opened, connectTwo)
    await warmUp(ctx, two)
    for (let r = 0; r < rounds; r++) twoRuns.push(await runOnce(ctx, two, { count }))
    warnings = a.warnings() + b.warnings()
  } finally {
    await scope.close()
  }

  const o = best(oneRuns)
  const t = best(twoRuns)
  const sqlite = ctx.emitted.find((line) => line.scenario === 'fanout' && typeof line.deliveries_per_s === 'number')
  const problems = [...oneRuns, ...twoRuns].reduce((sum, run) => sum + run.lost + run.duplicates + run.non_2xx, 0)
  ctx.emit({
    scenario: 'scaleout',
    instances: 2,
    members,
    sockets_per_instance: [Math.floor(members / 2), members - Math.floor(members / 2)],
    concurrency: config.concurrency,
    rounds: twoRuns.length,
    ...t,
    lost: twoRuns.reduce((sum, run) => sum + run.lost, 0),
    rounds_deliveries_per_s: twoRuns.map((run) => run.deliveries_per_s),
    median_cpu_us_per_delivery: median(twoRuns.map((run) => run.cpu_us_per_delivery)),
    connect_ms: connectTwo,
    server_log_warnings: warnings,
    one_instance: {
      ...o,
      rounds_deliveries_per_s: oneRuns.map((run) => run.deliveries_per_s),
      median_cpu_us_per_delivery: median(oneRuns.map((run) => run.cpu_us_per_delivery)),
    },
    // Both on PostgreSQL + Redis: what a second instance changes on the same 2 cores.
    ratio_to_one_instance: ratio(t.deliveries_per_s, o.deliveries_per_s),
    // Against the default deployment (SQLite, in-process hub), when the fan-out scenario ran before.
    ...(sqlite
      ? {
          sqlite_one_instance_deliveries_per_s: sqlite.deliveries_per_s,
          ratio_to_sqlite_one_instance: ratio(t.deliveries_per_s, Number(sqlite.deliveries_per_s)),
        }
      : {}),
    target: 'report: two-instance deliveries/s against one instance in the same run, lost = 0',
    meets_target: problems === 0,
  })
}
