import { sql, type Transaction } from 'kysely'
import type { Database, DB } from '../../src/database.js'

type Work<T> = (trx: Transaction<Database>) => Promise<T>

interface Job {
  work: Work<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/**
 * Group commit: the writes that arrive within one turn of the event loop share one transaction, so a
 * burst of sends pays for one commit instead of one each (a SQLite commit writes every page it touched
 * to the WAL, and costs more than the insert). Each write still succeeds or fails on its own (a
 * savepoint apiece), runs in arrival order, and resolves only after the shared commit.
 */
export class GroupCommit {
  private queue: Job[] = []

  constructor(private readonly db: DB) {}

  /** Runs `work` in the next shared transaction; resolves with its result once that has committed. */
  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Flushed after the I/O callbacks of this turn (setImmediate), so requests that arrived together meet.
      if (this.queue.length === 0) setImmediate(() => void this.flush())
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  private async flush(): Promise<void> {
    const jobs = this.queue
    this.queue = []
    const outcomes: Outcome[] = []
    try {
      await this.db.transaction().execute(async (trx) => {
        if (jobs.length === 1) {
          outcomes.push({ ok: true, value: await jobs[0]!.work(trx) })
          return
        }
        for (const job of jobs) outcomes.push(await isolated(trx, job.work))
      })
    } catch (error) {
      // The commit failed (or the one write did): nothing of this batch is stored.
      for (const job of jobs) job.reject(error)
      return
    }
    jobs.forEach((job, index) => {
      const outcome = outcomes[index]!
      if (outcome.ok) job.resolve(outcome.value)
      else job.reject(outcome.error)
    })
  }
}

/** Runs one write of a batch inside a savepoint, so its failure undoes it alone. */
async function isolated(trx: Transaction<Database>, work: Work<unknown>): Promise<Outcome> {
  await sql`savepoint batched_write`.execute(trx)
  try {
    const value = await work(trx)
    await sql`release savepoint batched_write`.execute(trx)
    return { ok: true, value }
  } catch (error) {
    await sql`rollback to savepoint batched_write`.execute(trx)
    await sql`release savepoint batched_write`.execute(trx)
    return { ok: false, error }
  }
}
