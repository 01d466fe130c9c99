import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { generate, readManifest, type Manifest } from '../../../data/generate.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TEXT_FILES = ['customers.csv', 'orders.csv', 'events.jsonl', 'manifest.json', 'pedidos_regional.csv'];
const ORDERS = 3000;
const quiet = () => {};

// The lab's silver rules, restated here so the test fails if the data stops matching them.
const EMAIL = `'^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'`;
const REGIONS = `['North', 'South', 'East', 'West', 'Central']`;
const STATUSES = `['completed', 'shipped', 'delivered', 'cancelled', 'returned']`;
const EVENT_TYPES = `['view', 'click', 'add_to_cart', 'purchase', 'wishlist']`;

let scratch: string;
let first: string;
let manifest: Manifest;
let db: DuckDBInstance;
let conn: DuckDBConnection;

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}
async function one(sql: string): Promise<Record<string, unknown>> {
  const [row] = await rows(sql);
  assert.ok(row, `no row from ${sql}`);
  return row;
}
const num = (v: unknown) => Number(v);

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'dataflow-generate-test-'));
  first = path.join(scratch, 'a');
  manifest = await generate({ orders: ORDERS, seed: 42, out: first, onProgress: quiet });
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  const f = (name: string) => `'${path.join(first, name)}'`;
  // all_varchar keeps malformed values as written; a typed read would turn them into NULLs or errors.
  await conn.run(`CREATE VIEW customers AS SELECT * FROM read_csv(${f('customers.csv')}, all_varchar = true)`);
  await conn.run(`CREATE VIEW orders AS SELECT * FROM read_csv(${f('orders.csv')}, all_varchar = true)`);
  await conn.run(`CREATE VIEW products AS SELECT * FROM read_parquet(${f('products.parquet')})`);
  await conn.run(`CREATE TABLE event_lines AS
    SELECT n AS line_no, lines[n] AS line
    FROM (SELECT string_split(rtrim(content, chr(10)), chr(10)) AS lines FROM read_text(${f('events.jsonl')})),
         generate_series(1, len(lines)) AS t(n)`);
  await conn.run(`CREATE VIEW customer_ids AS SELECT DISTINCT customer_id::BIGINT AS id FROM customers`);
});

after(async () => {
  conn?.closeSync();
  db?.closeSync();
  await rm(scratch, { recursive: true, force: true });
});

test('same seed and scale give byte-identical files, whatever the chunk size', async () => {
  const second = path.join(scratch, 'b');
  await generate({ orders: ORDERS, seed: 42, out: second, chunkSize: 700, onProgress: quiet });
  for (const name of TEXT_FILES) {
    const [a, b] = await Promise.all([readFile(path.join(first, name)), readFile(path.join(second, name))]);
    assert.ok(a.equals(b), `${name} differs between two runs`);
  }
});

test('a different seed gives different data', async () => {
  const other = path.join(scratch, 'c');
  const otherManifest = await generate({ orders: ORDERS, seed: 43, out: other, onProgress: quiet });
  assert.equal(otherManifest.seed, 43);
  for (const name of ['customers.csv', 'orders.csv', 'events.jsonl']) {
    const [a, b] = await Promise.all([readFile(path.join(first, name)), readFile(path.join(other, name))]);
    assert.ok(!a.equals(b), `${name} is the same for seeds 42 and 43`);
  }
  assert.notEqual(otherManifest.expected.orders.cleanRevenue, manifest.expected.orders.cleanRevenue);
});

test('manifest row counts match the files', async () => {
  const counts = await one(`SELECT
    (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders,
    (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM event_lines) AS events`);
  assert.equal(num(counts['customers']), manifest.files.customers.rows);
  assert.equal(num(counts['orders']), manifest.files.orders.rows);
  assert.equal(num(counts['products']), 200);
  assert.equal(num(counts['events']), manifest.files.events.rows);
  assert.equal(manifest.files.events.rows, ORDERS * 2);
  assert.equal(manifest.orders, ORDERS);
  assert.equal(manifest.files.orders.rows - manifest.dirt.orders.duplicate, ORDERS);
});

test('every kind of dirt is present at about 0.5-1%', () => {
  const tables = [
    [manifest.dirt.customers, manifest.files.customers.rows],
    [manifest.dirt.orders, manifest.files.orders.rows],
    [manifest.dirt.events, manifest.files.events.rows],
  ] as const;
  for (const [kinds, total] of tables) {
    for (const [kind, n] of Object.entries(kinds)) {
      assert.ok(n >= 1, `${kind} never happens`);
      assert.ok(n / total >= 0.004 && n / total <= 0.011, `${kind}: ${n} of ${total} rows`);
    }
  }
});

test('customer dirt in the file matches the manifest', async () => {
  const c = await one(`SELECT
    count(*) - count(DISTINCT customer_id) AS duplicate,
    count(*) - count(DISTINCT (customer_id, name, email, city, region, signup_date)) AS inexact_duplicates,
    count(*) FILTER (email IS NULL) AS null_email,
    count(*) FILTER (email IS NOT NULL AND NOT regexp_full_match(email, ${EMAIL})) AS malformed_email,
    count(*) FILTER (try_cast(signup_date AS DATE) IS NULL) AS malformed_signup_date,
    count(*) FILTER (customer_id IS NULL OR region IS NULL OR NOT list_contains(${REGIONS}, region)) AS other
    FROM customers`);
  assert.equal(num(c['duplicate']), manifest.dirt.customers.duplicate);
  assert.equal(num(c['inexact_duplicates']), manifest.dirt.customers.duplicate, 'duplicates must be exact copies');
  assert.equal(num(c['null_email']), manifest.dirt.customers.null_email);
  assert.equal(num(c['malformed_email']), manifest.dirt.customers.malformed_email);
  assert.equal(num(c['malformed_signup_date']), manifest.dirt.customers.malformed_signup_date);
  assert.equal(num(c['other']), 0);
});

test('customers with bad contact data are ghosts nobody references', async () => {
  const ghosts = `(SELECT customer_id::BIGINT FROM customers
                   WHERE email IS NULL OR NOT regexp_full_match(email, ${EMAIL}) OR try_cast(signup_date AS DATE) IS NULL)`;
  const c = await one(`SELECT
    (SELECT min(customer_id::BIGINT) FROM customers WHERE customer_id::BIGINT IN ${ghosts}) AS lowest_ghost,
    (SELECT max(customer_id::BIGINT) FROM customers WHERE customer_id::BIGINT NOT IN ${ghosts}) AS highest_real,
    (SELECT count(*) FROM orders WHERE customer_id::BIGINT IN ${ghosts}) AS orders,
    (SELECT count(*) FROM event_lines WHERE json_valid(line) AND (line ->> 'customer_id')::BIGINT IN ${ghosts}) AS events`);
  assert.ok(num(c['lowest_ghost']) > num(c['highest_real']), 'ghost ids must lie above every real id');
  assert.equal(num(c['orders']), 0);
  assert.equal(num(c['events']), 0);
});

test('order dirt in the file matches the manifest, one kind per row', async () => {
  const flags = `(customer_id IS NULL)::INT AS null_customer_id,
    (amount::DECIMAL(12, 2) < 0)::INT AS negative_amount,
    (try_cast(order_date AS DATE) IS NULL)::INT AS malformed_order_date,
    (customer_id IS NOT NULL AND customer_id::BIGINT NOT IN (SELECT id FROM customer_ids))::INT AS unknown_customer`;
  const o = await one(`SELECT
    count(*) - count(DISTINCT order_id) AS duplicate,
    count(*) - count(DISTINCT (order_id, customer_id, product_id, quantity, unit_price, amount, order_date, status, channel)) AS inexact,
    sum(null_customer_id) AS null_customer_id, sum(negative_amount) AS negative_amount,
    sum(malformed_order_date) AS malformed_order_date, sum(unknown_customer) AS unknown_customer,
    count(*) FILTER (null_customer_id + negative_amount + malformed_order_date + unknown_customer > 1) AS multiple,
    count(*) FILTER (order_id IN (SELECT order_id FROM orders GROUP BY order_id HAVING count(*) > 1)
                     AND null_customer_id + negative_amount + malformed_order_date + unknown_customer > 0) AS dirty_duplicates
    FROM (SELECT *, ${flags} FROM orders)`);
  assert.equal(num(o['duplicate']), manifest.dirt.orders.duplicate);
  assert.equal(num(o['inexact']), manifest.dirt.orders.duplicate, 'duplicates must be exact copies');
  for (const kind of ['null_customer_id', 'negative_amount', 'malformed_order_date', 'unknown_customer'] as const) {
    assert.equal(num(o[kind]), manifest.dirt.orders[kind], kind);
  }
  assert.equal(num(o['multiple']), 0, 'a row carries more than one kind of dirt');
  assert.equal(num(o['dirty_duplicates']), 0, 'a duplicated order is also dirty');
});

test('duplicate orders come later in the file, not next to their originals', async () => {
  const lines = (await readFile(path.join(first, 'orders.csv'), 'utf8')).trimEnd().split('\n').slice(1);
  const seen = new Map<string, number>();
  const gaps: number[] = [];
  lines.forEach((line, n) => {
    const id = line.slice(0, line.indexOf(','));
    const earlier = seen.get(id);
    if (earlier === undefined) seen.set(id, n);
    else gaps.push(n - earlier);
  });
  assert.equal(gaps.length, manifest.dirt.orders.duplicate);
  assert.ok(gaps.some((gap) => gap > 1), `every copy sits right after its original: gaps ${gaps.join(', ')}`);
});

test('event dirt and corrupt line numbers match the manifest', async () => {
  const bad = await rows(`SELECT line_no FROM event_lines WHERE NOT json_valid(line) ORDER BY line_no`);
  assert.equal(bad.length, manifest.dirt.events.corrupt_json_line);
  assert.deepEqual(bad.map((r) => num(r['line_no'])), manifest.corruptEventLines);
  const e = await one(`SELECT
    count(*) FILTER (NOT list_contains(${EVENT_TYPES}, line ->> 'event_type')) AS unknown_event_type,
    count(*) FILTER (NOT starts_with(line, '{"event_id":') OR NOT ends_with(line, '"}')) AS misshapen
    FROM event_lines WHERE json_valid(line)`);
  assert.equal(num(e['unknown_event_type']), manifest.dirt.events.unknown_event_type);
  assert.equal(num(e['misshapen']), 0, 'a valid line was quoted or altered by the CSV writer');
  for (const r of await rows(`SELECT line FROM event_lines WHERE NOT json_valid(line)`)) {
    const line = String(r['line']);
    assert.ok(line.length >= 20 && line.length <= 40 && !line.endsWith('}'), `unexpected corrupt line ${line}`);
  }
});

test("DuckDB's read_json rejects exactly the corrupt lines", async () => {
  // A line cut right after ':' would make the reader swallow the next line too; the generator avoids it.
  const r = await one(`SELECT count(*) AS lines, count(*) - count(event_id) AS rejected
    FROM read_json('${path.join(first, 'events.jsonl')}', format = 'newline_delimited', ignore_errors = true,
                   columns = {event_id: 'BIGINT', event_type: 'VARCHAR'})`);
  assert.equal(num(r['lines']), manifest.files.events.rows);
  assert.equal(num(r['rejected']), manifest.expected.events.rejectedLines);
});

test('clean rows pass every silver rule and add up to the expected counts', async () => {
  await conn.run(`CREATE OR REPLACE VIEW clean_customers AS SELECT DISTINCT * FROM customers
    WHERE customer_id IS NOT NULL AND email IS NOT NULL AND regexp_full_match(email, ${EMAIL})
      AND try_cast(signup_date AS DATE) BETWEEN DATE '2022-01-01' AND DATE '2024-12-31'
      AND list_contains(${REGIONS}, region)`);
  const customers = await one(`SELECT count(*) AS clean, count(DISTINCT customer_id) AS ids FROM clean_customers`);
  assert.equal(num(customers['clean']), manifest.expected.customers.clean);
  assert.equal(num(customers['ids']), manifest.expected.customers.clean);
  assert.equal(manifest.expected.customers.clean + manifest.expected.customers.quarantined, manifest.files.customers.rows);

  const orders = await one(`SELECT count(*) AS clean, sum(amount::DECIMAL(12, 2))::DOUBLE AS revenue FROM (
    SELECT DISTINCT * FROM orders
    WHERE customer_id IS NOT NULL AND customer_id IN (SELECT customer_id FROM clean_customers)
      AND amount::DECIMAL(12, 2) >= 0 AND try_cast(order_date AS DATE) IS NOT NULL
      AND list_contains(${STATUSES}, status))`);
  assert.equal(num(orders['clean']), manifest.expected.orders.clean);
  assert.equal(num(orders['revenue']), manifest.expected.orders.cleanRevenue);
  assert.equal(manifest.expected.orders.clean + manifest.expected.orders.quarantined, manifest.files.orders.rows);

  const events = await one(`SELECT count(*) AS clean FROM event_lines
    WHERE json_valid(line) AND list_contains(${EVENT_TYPES}, line ->> 'event_type')`);
  assert.equal(num(events['clean']), manifest.expected.events.clean);
  const { clean, quarantined, rejectedLines } = manifest.expected.events;
  assert.equal(clean + quarantined + rejectedLines, manifest.files.events.rows);
});

test('orders are internally consistent and realistic', async () => {
  const o = await one(`SELECT
    count(*) FILTER (abs(o.amount::DECIMAL(12, 2)) <> o.quantity::INT * o.unit_price::DECIMAL(10, 2)) AS wrong_amount,
    count(*) FILTER (o.unit_price::DECIMAL(10, 2) <> p.unit_price) AS wrong_price,
    count(*) FILTER (o.quantity::INT NOT BETWEEN 1 AND 5) AS wrong_quantity,
    count(*) FILTER (NOT list_contains(['web', 'mobile', 'store'], o.channel)) AS wrong_channel,
    count(*) FILTER (try_cast(o.order_date AS DATE) NOT BETWEEN DATE '2024-01-01' AND DATE '2025-06-30') AS out_of_range,
    count(*) FILTER (try_cast(o.order_date AS DATE) < c.signup) AS before_signup
    FROM orders o JOIN products p ON p.product_id = o.product_id::INT
    LEFT JOIN (SELECT DISTINCT customer_id, try_cast(signup_date AS DATE) AS signup FROM customers) c USING (customer_id)`);
  for (const [check, n] of Object.entries(o)) assert.equal(num(n), 0, check);

  // Purchase frequency must vary, or RFM and churn features have nothing to find.
  const f = await one(`SELECT min(n) AS least, max(n) AS most, quantile_cont(n, 0.5) AS median FROM (
    SELECT c.id, count(o.order_id) AS n FROM customer_ids c LEFT JOIN orders o ON o.customer_id::BIGINT = c.id
    WHERE c.id <= ${manifest.expected.customers.clean} GROUP BY c.id)`);
  assert.equal(num(f['least']), 0, 'some customers should never order');
  assert.ok(num(f['most']) >= 5 * num(f['median']), `orders per customer too even: ${JSON.stringify(f)}`);
});

test('products are a clean 200-row catalogue over 8 categories', async () => {
  const p = await one(`SELECT count(*) AS n, count(DISTINCT product_id) AS ids, count(DISTINCT name) AS names,
    count(DISTINCT category) AS categories, min(unit_price)::DOUBLE AS lo, max(unit_price)::DOUBLE AS hi,
    (SELECT string_agg(column_type, ',' ORDER BY column_name) FROM (DESCRIBE products)) AS types
    FROM products`);
  assert.deepEqual(
    { n: num(p['n']), ids: num(p['ids']), names: num(p['names']), categories: num(p['categories']) },
    { n: 200, ids: 200, names: 200, categories: 8 },
  );
  assert.ok(num(p['lo']) >= 1 && num(p['hi']) <= 999.99);
  // category, name, product_id, unit_price
  assert.equal(p['types'], 'VARCHAR,VARCHAR,INTEGER,DECIMAL(10,2)');
});

test('data/samples is what the generator makes at 1k orders, seed 42', async () => {
  const fresh = path.join(scratch, 'samples');
  await generate({ orders: 1000, seed: 42, out: fresh, onProgress: quiet });
  for (const name of TEXT_FILES) {
    const [a, b] = await Promise.all([readFile(path.join(repo, 'data/samples', name)), readFile(path.join(fresh, name))]);
    assert.ok(a.equals(b), `data/samples/${name} is stale: run npx tsx data/generate.ts --out data/samples`);
  }
});

test('readManifest returns the manifest and explains a missing or broken one', async () => {
  assert.deepEqual(await readManifest(first), manifest);
  const missing = path.join(scratch, 'nowhere');
  await assert.rejects(readManifest(missing), (err: Error) => {
    assert.match(err.message, /npm run generate/);
    assert.ok(err.message.includes(path.join(missing, 'manifest.json')));
    return true;
  });
  const broken = path.join(scratch, 'b');
  await writeFile(path.join(broken, 'manifest.json'), JSON.stringify({ ...manifest, dirt: { customers: {} } }));
  await assert.rejects(readManifest(broken), /dirt\.customers\.duplicate/);
});

test('the CLI names the bad flag and how to fix it', async () => {
  const run = promisify(execFile);
  const cli = ['--import', 'tsx', path.join(repo, 'data/generate.ts')];
  const misuse = [
    [['--orders', 'lots'], /--orders must be a whole number .* got "lots"/],
    [['--orders', '10'], /--orders must be a whole number from 100/],
    [['--sed', '1'], /Unknown option '--sed'.*\n.*--help/s],
  ] as const;
  const help = run(process.execPath, [...cli, '--help'], { cwd: repo });
  await Promise.all(
    misuse.map(([args, pattern]) =>
      assert.rejects(run(process.execPath, [...cli, ...args], { cwd: repo }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr, pattern);
        return true;
      }),
    ),
  );
  assert.match((await help).stdout, /--orders N/);
});

test('the regional export is what a Brazilian Excel writes: sep= line, ;, CRLF, Windows-1252, decimal comma, dd/mm/yyyy', async () => {
  const bytes = await readFile(path.join(first, manifest.files.regional.file));
  assert.ok(!bytes.includes(Buffer.from('ç', 'utf8')), 'not UTF-8');
  const text = bytes.toString('latin1');
  const lines = text.split('\r\n');
  assert.equal(lines[0], 'sep=;');
  assert.equal(lines[1], 'pedido;cliente;quantidade;preço_unitário;valor_total;data_pedido;situação;pago');
  assert.equal(lines.at(-1), '', 'every line ends in CRLF');
  const rows = lines.slice(2, -1).map((l) => l.split(';'));
  assert.equal(rows.length, manifest.files.regional.rows);
  assert.ok(rows.every((r) => r.length === 8 && /^\d{1,3}(\.\d{3})*,\d{2}$/.test(r[4]!)), 'amounts like 1.234,56');
  assert.ok(rows.some((r) => r[4]!.includes('.')), 'at least one amount with a thousands dot');
  assert.equal(rows.filter((r) => r[5] === '31/02/2025').length, manifest.files.regional.impossibleDates);
  assert.ok(rows.every((r) => /^\d{2}\/\d{2}\/\d{4}$/.test(r[5]!) && ['sim', 'não'].includes(r[7]!)));
});
