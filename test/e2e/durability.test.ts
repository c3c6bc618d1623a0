import { join } from 'node:path'
import t from 'tap'
import { runChaos } from '../../chaos/harness.js'
import { tempDir } from '../helpers.js'

// The small version of `npm run chaos`: the real server in its own process, REST and socket senders
// recording every acknowledgement, kill -9 at a random moment, restart on the same file, and every
// acknowledged message must be in history exactly once. The server runs from source with the
// TypeScript loader tap runs this test with (process.execArgv), so it needs no build and never reads
// a dist/ that another test is rebuilding.

const repoRoot = join(import.meta.dirname, '..', '..')
const loader = process.execArgv.filter((arg) => !arg.includes('processinfo'))

// Four server starts through the TypeScript loader take a while on a busy machine: more room than the
// suite's default 120 s.
t.setTimeout(300_000)

t.test('every acknowledged message survives kill -9 of the server, exactly once', async (t) => {
  const progress: string[] = []
  const { summary, problems } = await runChaos({
    kills: 3,
    server: {
      command: process.execPath,
      args: [...loader, join(repoRoot, 'src', 'server.ts')],
      cwd: repoRoot,
      env: { NODE_OPTIONS: undefined },
    },
    workDir: tempDir(t),
    users: 3,
    killAfterMs: { min: 200, max: 800 },
    progress: (line) => progress.push(line),
  })
  for (const line of progress) t.comment(line)
  t.comment(JSON.stringify(summary))

  t.same(problems, [], 'no problem found')
  t.equal(summary.rounds, 3, 'the server was killed three times')
  t.ok(summary.acknowledged > 0, 'messages were acknowledged')
  t.equal(summary.lost, 0, 'no acknowledged message lost')
  t.equal(summary.duplicated, 0, 'no message stored twice')
  t.equal(summary.mismatched, 0, 'every acknowledged id holds what was sent')
  t.equal(summary.retry_mismatches, 0, 'a re-send after the restart returns the original')
  t.equal(summary.unexpected, 0, 'nothing in history that was not sent')
  t.equal(summary.stored, summary.acknowledged, 'history holds exactly the acknowledged messages at the end')
})
