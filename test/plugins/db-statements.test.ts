import BetterSqlite3 from 'better-sqlite3'
import t, { type Test } from 'tap'
import { reusingStatements } from '../../plugins/db.js'

function counted(t: Test) {
  const sqlite = new BetterSqlite3(':memory:')
  t.teardown(() => sqlite.close())
  sqlite.exec('create table numbers (n integer)')
  sqlite.exec('insert into numbers values (1), (2), (3)')
  const prepared: string[] = []
  const prepare = sqlite.prepare.bind(sqlite)
  sqlite.prepare = (sql: string) => {
    prepared.push(sql)
    return prepare(sql)
  }
  return { sqlite, prepared }
}

t.test('the same SQL text is prepared once and the statement reused', async (t) => {
  const { sqlite, prepared } = counted(t)
  const db = reusingStatements(sqlite)
  const first = db.prepare('select n from numbers where n > ?')
  const second = db.prepare('select n from numbers where n > ?')
  t.equal(first, second, 'one statement')
  t.same(second.all([1]), [{ n: 2 }, { n: 3 }], 'and it still answers with new parameters')
  t.equal(prepared.length, 1)
})

t.test('past its size the least recently used statement is dropped', async (t) => {
  const { sqlite, prepared } = counted(t)
  const db = reusingStatements(sqlite, 2)
  db.prepare('select 1')
  db.prepare('select 2')
  db.prepare('select 1') // now the most recently used
  db.prepare('select 3') // evicts "select 2"
  db.prepare('select 1')
  db.prepare('select 2')
  t.same(prepared, ['select 1', 'select 2', 'select 3', 'select 2'])
})

t.test('a statement still iterating is not handed out again', async (t) => {
  const { sqlite } = counted(t)
  const db = reusingStatements(sqlite)
  const sql = 'select n from numbers order by n'
  const iterating = db.prepare(sql).iterate([])
  t.same(iterating.next().value, { n: 1 })
  const meanwhile = db.prepare(sql)
  t.same(meanwhile.all([]), [{ n: 1 }, { n: 2 }, { n: 3 }], 'a second statement runs beside the busy one')
  t.same([...iterating], [{ n: 2 }, { n: 3 }], 'and the first goes on where it was')
})
