/**
 * Seeded, deterministic generator of the DataFlow Lab e-commerce data set, with
 * deliberate, counted dirt for the silver layer to catch, and of the small CRM set
 * (two month-end customer exports and their orders, under crm/) for upserts and SCD type 2.
 *
 *   npx tsx data/generate.ts --orders 1000 --seed 42 --out data/generated/orders-1000
 *
 * Every value is a pure function of (seed, row index, purpose) computed in DuckDB
 * SQL, so the output does not depend on thread count or chunk size, and 10M+ orders
 * stream out in chunks with bounded memory instead of crawling through a per-row JS loop.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const CUSTOMER_DIRT = ['duplicate', 'null_email', 'malformed_email', 'malformed_signup_date'] as const;
export const ORDER_DIRT = [
  'duplicate',
  'null_customer_id',
  'negative_amount',
  'malformed_order_date',
  'unknown_customer',
] as const;
export const EVENT_DIRT = ['corrupt_json_line', 'unknown_event_type'] as const;

export type CustomerDirt = (typeof CUSTOMER_DIRT)[number];
export type OrderDirt = (typeof ORDER_DIRT)[number];
export type EventDirt = (typeof EVENT_DIRT)[number];

export interface GenerateOptions {
  /** Distinct orders to generate (duplicates come on top); customers ≈ orders / 10, events = 2 × orders. */
  orders: number;
  seed: number;
  /** Folder to write into; created if missing. Existing data files are overwritten. */
  out: string;
  /** Orders per chunk. Bounds memory; the output is byte-identical whatever the value. Default 1,000,000. */
  chunkSize?: number;
  /** Receives progress lines. Default: print to stdout. */
  onProgress?: (line: string) => void;
}

export interface ManifestFile {
  file: string;
  format: 'csv' | 'parquet' | 'jsonl';
  /** Data rows: JSONL lines including corrupt ones; CSV rows excluding the header. */
  rows: number;
}

/** A Brazilian spreadsheet export of some orders, as Excel writes it (see regionalExport). */
export interface RegionalFile extends ManifestFile {
  encoding: 'windows-1252';
  delimiter: ';';
  /** Rows whose date cannot exist (31/02/2025): silver must quarantine them as parse failures. */
  impossibleDates: number;
}

export interface Manifest {
  generator: 'dataflow-lab/data/generate.ts';
  version: 1;
  seed: number;
  orders: number;
  files: { customers: ManifestFile; products: ManifestFile; orders: ManifestFile; events: ManifestFile; regional: RegionalFile };
  dirt: {
    customers: Record<CustomerDirt, number>;
    orders: Record<OrderDirt, number>;
    events: Record<EventDirt, number>;
  };
  /** 1-based line numbers of corrupt lines in events.jsonl; empty when there are more than 1000. */
  corruptEventLines: number[];
  /**
   * What a correct silver layer ends up with. A duplicate counts as one quarantined row (the first copy
   * stays clean); corrupt JSON lines are rejected at read time, so they are not "quarantined" events.
   */
  expected: {
    customers: { clean: number; quarantined: number };
    orders: { clean: number; quarantined: number; cleanRevenue: number };
    events: { clean: number; quarantined: number; rejectedLines: number };
    regional: { clean: number; quarantined: number };
  };
  /** The CRM exports and orders for the table-maintenance notebook (upserts, change feed, SCD type 2), under crm/. */
  crm: CrmManifest;
}

const REGIONAL_ROWS = 12;
const STATUS_PT: Record<string, string> = { delivered: 'entregue', completed: 'concluído', shipped: 'em trânsito', cancelled: 'cancelado', returned: 'devolvido' };

/** 1234.5 → "1.234,50": Brazilian thousands dot and decimal comma. */
function brazilianNumber(value: number): string {
  const [whole, cents] = value.toFixed(2).split('.');
  return `${whole!.replace(/\B(?=(\d{3})+$)/g, '.')},${cents}`;
}

/**
 * The biggest clean orders as a Brazilian Excel export: a `sep=;` first line, `;` between fields, CRLF,
 * Windows-1252 bytes (accents in the header and values), decimal comma with thousands dot, dd/mm/yyyy dates,
 * sim/não booleans, and one impossible date. Small on purpose: it teaches describing a source, not volume.
 */
function regionalExport(rows: Record<string, unknown>[]): Buffer {
  const lines = rows.map((r, i) => {
    const [y, m, d] = String(r['order_date']).split('-');
    const date = i === 4 ? '31/02/2025' : `${d}/${m}/${y}`;
    const status = String(r['status']);
    const paid = status === 'delivered' || status === 'completed' || status === 'shipped' ? 'sim' : 'não';
    return [r['order_id'], r['customer_id'], r['quantity'], brazilianNumber(Number(r['unit_price'])), brazilianNumber(Number(r['amount'])),
      date, STATUS_PT[status] ?? status, paid].join(';');
  });
  const text = ['sep=;', 'pedido;cliente;quantidade;preço_unitário;valor_total;data_pedido;situação;pago', ...lines].join('\r\n') + '\r\n';
  // Every character here is in Latin-1, where Windows-1252 and ISO-8859-1 agree byte for byte.
  return Buffer.from(text, 'latin1');
}

const GENERATOR = 'dataflow-lab/data/generate.ts';
const MIN_ORDERS = 100;
const MAX_ORDERS = 1_000_000_000;
const DEFAULT_CHUNK = 1_000_000;
const PRODUCTS = 200;
const EVENTS_PER_ORDER = 2;
const MAX_LISTED_CORRUPT_LINES = 1000;
/** Each dirt kind hits one row per cell of this many rows: 1/128 ≈ 0.78%. */
const DIRT_CELL = 128;
/** A duplicate order reappears up to this many rows after its original, like a late re-send. */
const ORDER_DUP_GAP = 500;
const CUSTOMER_DUP_GAP = 50;

const FIRST_NAMES = [
  'Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Felix', 'Grace', 'Hugo', 'Isla', 'Jack',
  'Kara', 'Liam', 'Maya', 'Noah', 'Olivia', 'Paul', 'Quinn', 'Rosa', 'Sam', 'Tara',
  'Umar', 'Vera', 'Will', 'Yusuf', 'Zoe', 'Aisha', 'Carlos', 'Mei', 'Priya', 'Lars',
];
const LAST_NAMES = [
  'Smith', 'Jones', 'Brown', 'Taylor', 'Wilson', 'Evans', 'Thomas', 'Roberts', 'Walker', 'Wright',
  'Green', 'Hall', 'Wood', 'Clarke', 'Patel', 'Khan', 'Garcia', 'Nguyen', 'Kim', 'Novak',
  'Costa', 'Silva', 'Murphy', 'Kelly', 'Berg', 'Larsen', 'Rossi', 'Weber', 'Dubois', 'Moreau',
];
const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'];
/** Three cities per region, in REGIONS order, so a city always lies in the same region. */
const CITIES = [
  'Leeds', 'Newcastle', 'York',
  'Brighton', 'Southampton', 'Portsmouth',
  'Norwich', 'Cambridge', 'Ipswich',
  'Bristol', 'Plymouth', 'Exeter',
  'Birmingham', 'Leicester', 'Nottingham',
];
const REGIONS = ['North', 'South', 'East', 'West', 'Central'];
const CATEGORIES: { name: string; minPrice: number; maxPrice: number; nouns: string[] }[] = [
  { name: 'Electronics', minPrice: 19, maxPrice: 999.99, nouns: ['Headphones', 'Speaker', 'Monitor', 'Keyboard', 'Charger'] },
  { name: 'Books', minPrice: 4, maxPrice: 60, nouns: ['Novel', 'Cookbook', 'Atlas', 'Biography', 'Poetry Collection'] },
  { name: 'Home', minPrice: 8, maxPrice: 400, nouns: ['Lamp', 'Blanket', 'Mug Set', 'Cushion', 'Wall Clock'] },
  { name: 'Garden', minPrice: 5, maxPrice: 300, nouns: ['Hose', 'Planter', 'Shovel', 'Seed Kit', 'Bird Feeder'] },
  { name: 'Toys', minPrice: 5, maxPrice: 150, nouns: ['Puzzle', 'Robot Kit', 'Plush Bear', 'Board Game', 'Kite'] },
  { name: 'Sports', minPrice: 8, maxPrice: 500, nouns: ['Yoga Mat', 'Dumbbells', 'Football', 'Water Bottle', 'Tennis Racket'] },
  { name: 'Beauty', minPrice: 3, maxPrice: 90, nouns: ['Face Cream', 'Shampoo', 'Lip Balm', 'Perfume', 'Nail Kit'] },
  { name: 'Grocery', minPrice: 1, maxPrice: 40, nouns: ['Coffee Beans', 'Olive Oil', 'Green Tea', 'Dark Chocolate', 'Pasta'] },
];
const ADJECTIVES = ['Classic', 'Premium', 'Eco', 'Compact', 'Deluxe'];
/**
 * Customer segments by share of customers and relative order rate. Piecewise-uniform picking over them
 * gives a long tail (VIPs with ~50 orders, occasional buyers with 0–2) without the single
 * giant customer a pure power law produces at small scales.
 */
const SEGMENTS = [
  { share: 0.05, weight: 8 },
  { share: 0.2, weight: 3 },
  { share: 0.45, weight: 1 },
  { share: 0.3, weight: 0.25 },
];
/** Primes for the rank → id permutation; the first that does not divide the customer count is used. */
const PERMUTATION_PRIMES = [1_000_003, 1_000_033, 1_000_037];
const UNKNOWN_CUSTOMER_SPAN = 1_000_000;

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const sqlList = (items: readonly string[]): string => `[${items.map(sqlString).join(', ')}]`;
/** `CASE WHEN u < p1 THEN v1 ...` for a weighted choice; the last value takes the remainder. */
function weighted(u: string, choices: [value: string, weight: number][]): string {
  const total = choices.reduce((sum, [, w]) => sum + w, 0);
  let cumulative = 0;
  const whens = choices.slice(0, -1).map(([value, w]) => {
    cumulative += w;
    return `WHEN ${u} < ${cumulative / total} THEN ${value}`;
  });
  return `CASE ${whens.join(' ')} ELSE ${choices[choices.length - 1]![0]} END`;
}

interface Scale {
  orders: number;
  customers: number;
  events: number;
  orderCell: number;
  eventCell: number;
  customerCell: number;
  unknownCustomerBase: number;
}

function scaleFor(orders: number): Scale {
  const customers = Math.max(100, Math.round(orders / 10));
  // Ghost customers take at most 3 ids per cell above the real ones.
  const maxCustomerId = customers + 3 * Math.ceil(customers / DIRT_CELL);
  return {
    orders,
    customers,
    events: orders * EVENTS_PER_ORDER,
    // Cells shrink for tiny inputs so every kind of dirt still appears at least once.
    orderCell: Math.min(DIRT_CELL, orders),
    eventCell: Math.min(DIRT_CELL, orders * EVENTS_PER_ORDER),
    customerCell: Math.min(DIRT_CELL, customers),
    // Past every real and ghost id: 99,000,000+ unless the scale needs more digits than that.
    unknownCustomerBase: Math.max(99_000_000, 10 ** String(maxCustomerId).length),
  };
}

/** The seeded random functions every generated value comes from: `rnd`, `u01` (uniform in [0, 1)) and `pick` (0 … n-1). */
function randomMacros(seed: number): string[] {
  return [
    // DuckDB's variadic hash XORs the last argument's hash into the others, so hash(s,'a',i) and
    // hash(s,'b',i) differ only by a constant XOR (their low bits are perfectly correlated).
    // Hashing that again mixes the purpose into every bit.
    `CREATE MACRO rnd(purpose, i) AS hash(hash(${seed}::BIGINT, purpose, (i)::BIGINT))`,
    `CREATE MACRO u01(purpose, i) AS (rnd(purpose, i) >> 11)::DOUBLE / 9007199254740992.0`,
    `CREATE MACRO pick(purpose, i, n) AS (rnd(purpose, i) % (n)::UBIGINT)::BIGINT`,
  ];
}

/**
 * The SQL vocabulary shared by every statement. The seed is baked into the macros so each statement
 * reads `u01('purpose', i)` instead of threading the seed through.
 */
function macros(seed: number, scale: Scale): string[] {
  const { customers } = scale;
  const prime = PERMUTATION_PRIMES.find((p) => customers % p !== 0)!;
  const sizes = SEGMENTS.map((s) => Math.max(1, Math.floor(s.share * customers)));
  sizes[sizes.length - 1]! += customers - sizes.reduce((a, b) => a + b, 0);
  const mass = sizes.map((n, k) => n * SEGMENTS[k]!.weight);
  const totalMass = mass.reduce((a, b) => a + b, 0);
  // Inverse CDF of the piecewise-uniform rank distribution: u in segment k maps linearly onto its ranks.
  let cdf = 0;
  let rankStart = 0;
  const rankCases = sizes.map((n, k) => {
    const lo = cdf;
    cdf += mass[k]! / totalMass;
    const expr = `${rankStart} + floor((u - ${lo}) / ${cdf - lo} * ${n})`;
    rankStart += n;
    return k < sizes.length - 1 ? `WHEN u < ${cdf} THEN ${expr}` : `ELSE ${expr}`;
  });
  const categories = CATEGORIES.map((c) => c.name);
  const nouns = CATEGORIES.flatMap((c) => c.nouns);

  return [
    ...randomMacros(seed),

    // One row per kind in each cell of `cell` rows: the cell is rotated by a random amount, split into
    // one stretch per kind, and one random row of each stretch carries that kind. Returns the kind's
    // index, or NULL for a clean row. Exact, evenly spread counts without a global sort.
    `CREATE MACRO slot_of(purpose, c, r, stride, kinds) AS
       CASE WHEN r // stride < kinds AND r % stride = pick(purpose || ':at', c * kinds + r // stride, stride)
            THEN (r // stride)::INTEGER END`,
    `CREATE MACRO dirt_slot(purpose, i, cell, kinds) AS
       slot_of(purpose, i // cell, (i % cell + pick(purpose || ':rot', i // cell, cell)) % cell, cell // kinds, kinds)`,

    // Customers: everything is a function of the id, so orders and events can derive a customer's
    // signup and churn dates without joining the customers table.
    `CREATE MACRO first_name(id) AS ${sqlList(FIRST_NAMES)}[pick('first_name', id, ${FIRST_NAMES.length}) + 1]`,
    `CREATE MACRO last_name(id) AS ${sqlList(LAST_NAMES)}[pick('last_name', id, ${LAST_NAMES.length}) + 1]`,
    `CREATE MACRO email_local(id) AS lower(first_name(id)) || '.' || lower(last_name(id)) || id`,
    `CREATE MACRO email_domain(id) AS ${sqlList(EMAIL_DOMAINS)}[pick('email_domain', id, ${EMAIL_DOMAINS.length}) + 1]`,
    `CREATE MACRO city_index(id) AS pick('city', id, ${CITIES.length})`,
    `CREATE MACRO signup_date(id) AS DATE '2022-01-01' + pick('signup', id, DATE '2024-12-31' - DATE '2022-01-01' + 1)::INTEGER`,
    // 30% of customers churn at some point; the rest stay active to the end of the order window.
    `CREATE MACRO last_active(id) AS CASE WHEN u01('churns', id) < 0.3
       THEN DATE '2024-02-01' + pick('churn_day', id, DATE '2025-05-31' - DATE '2024-02-01' + 1)::INTEGER
       ELSE DATE '2025-06-30' END`,
    // A day inside the customer's active window, so nobody buys before signing up or after churning.
    // Takes the customer's dates rather than the id so callers compute them once per row.
    `CREATE MACRO active_day(signup, last_active, purpose, i) AS
       greatest(signup, DATE '2024-01-01')
       + pick(purpose, i, greatest(last_active, signup, DATE '2024-01-01') - greatest(signup, DATE '2024-01-01') + 1)::INTEGER`,
    // Skewed customer choice: a rank from the segment mix, then an affine permutation so heavy buyers
    // are spread over the id range instead of being ids 1, 2, 3...
    `CREATE MACRO rank_of(u) AS CASE ${rankCases.join(' ')} END`,
    `CREATE MACRO pick_customer(purpose, i) AS
       1 + (least(rank_of(u01(purpose, i)), ${customers - 1})::BIGINT * ${prime}
            + pick('customer_permutation', 0, ${customers})) % ${customers}`,
    `CREATE MACRO pick_product(purpose, i) AS
       1 + (floor(${PRODUCTS} * pow(u01(purpose, i), 1.7))::BIGINT * 37
            + pick('product_permutation', 0, ${PRODUCTS})) % ${PRODUCTS}`,
    // Malformed dates that no reading accepts (month 13, day 31 of February, prose, 30 February).
    `CREATE MACRO malformed_date(d, purpose, i) AS [
       year(d) || '-13-' || lpad(day(d)::VARCHAR, 2, '0'),
       '31/02/' || year(d),
       'not a date',
       year(d) || '-02-30'
     ][pick(purpose, i, 4) + 1]`,
    `CREATE MACRO product_category(p) AS ${sqlList(categories)}[(p - 1) % ${categories.length} + 1]`,
    `CREATE MACRO product_noun(p) AS ${sqlList(nouns)}[
       ((p - 1) % ${categories.length}) * ${CATEGORIES[0]!.nouns.length} + ((p - 1) // ${categories.length}) % ${CATEGORIES[0]!.nouns.length} + 1]`,
  ];
}

function productsSql(): string {
  const bounds = (key: 'minPrice' | 'maxPrice') =>
    `[${CATEGORIES.map((c) => c[key]).join(', ')}][(p - 1) % ${CATEGORIES.length} + 1]::DOUBLE`;
  return `
    CREATE TEMP TABLE products AS
    SELECT p::INTEGER AS product_id,
           ${sqlList(ADJECTIVES)}[(p - 1) // ${CATEGORIES.length * CATEGORIES[0]!.nouns.length} + 1] || ' ' || product_noun(p) AS name,
           product_category(p) AS category,
           -- Log-uniform within the category's range; most prices end in .99 like a shop's.
           (CASE WHEN u01('price_ending', p) < 0.75 THEN floor(x) + 0.99 ELSE round(x, 2) END)::DECIMAL(10, 2) AS unit_price
    FROM (
      SELECT p, exp(ln(${bounds('minPrice')}) + u01('price', p) * (ln(${bounds('maxPrice')} - 1) - ln(${bounds('minPrice')}))) AS x
      FROM range(1, ${PRODUCTS + 1}) t(p)
    )`;
}

function customersSql(scale: Scale): string {
  const { customers, customerCell: cell } = scale;
  const slot = `dirt_slot('customer_dirt', i, ${cell}, ${CUSTOMER_DIRT.length})`;
  return `
    WITH base_rows AS (SELECT i, ${slot} AS slot FROM range(${customers}) t(i)),
    placed AS (
      SELECT i + 1 AS customer_id, i AS pos, 0 AS sub, NULL::VARCHAR AS dirt FROM base_rows
      UNION ALL
      -- Ghosts: extra customers with bad contact data and ids above the real ones. No order or event
      -- points at them, so quarantining them never orphans an order.
      SELECT ${customers} + row_number() OVER (ORDER BY i), i, 1, ${sqlList(CUSTOMER_DIRT)}[slot + 1]
      FROM base_rows WHERE slot > 0
      UNION ALL
      SELECT i + 1, least(i + 1 + pick('customer_dup_gap', i, ${CUSTOMER_DUP_GAP}), ${customers - 1}), 2, 'duplicate'
      FROM base_rows WHERE slot = 0
    )
    SELECT customer_id, pos, sub, dirt,
           first_name(customer_id) || ' ' || last_name(customer_id) AS name,
           CASE dirt
             WHEN 'null_email' THEN NULL
             WHEN 'malformed_email' THEN [
               email_local(customer_id) || '.' || email_domain(customer_id),
               email_local(customer_id) || '@',
               '@' || email_domain(customer_id),
               email_local(customer_id) || '@@' || email_domain(customer_id)
             ][pick('malformed_email', customer_id, 4) + 1]
             ELSE email_local(customer_id) || '@' || email_domain(customer_id)
           END AS email,
           ${sqlList(CITIES)}[city_index(customer_id) + 1] AS city,
           ${sqlList(REGIONS)}[city_index(customer_id) // 3 + 1] AS region,
           CASE WHEN dirt = 'malformed_signup_date'
                THEN malformed_date(signup_date(customer_id), 'malformed_signup_date', customer_id)
                ELSE signup_date(customer_id)::VARCHAR END AS signup_date
    FROM placed`;
}

/** Orders with index in [lo, hi) plus the duplicates that land there; `pos` orders the file. */
function ordersChunkSql(scale: Scale, lo: number, hi: number): string {
  const { orders, orderCell: cell } = scale;
  const slot = (i: string) => `dirt_slot('order_dirt', ${i}, ${cell}, ${ORDER_DIRT.length})`;
  return `
    WITH placed AS (
      SELECT i AS src, i AS pos, false AS is_copy, ${slot('i')} AS slot FROM range(${lo}, ${hi}) t(i)
      UNION ALL
      -- Copies of clean rows whose original may sit in the previous chunk, re-sent a little later.
      SELECT src, pos, true, NULL FROM (
        SELECT i AS src, least(i + 1 + pick('order_dup_gap', i, ${ORDER_DUP_GAP}), ${orders - 1}) AS pos
        FROM range(${Math.max(0, lo - ORDER_DUP_GAP)}, ${hi}) t(i)
        WHERE ${slot('i')} = 0
      ) WHERE pos >= ${lo} AND pos < ${hi}
    ),
    drawn AS (
      SELECT *,
             pick_customer('order_customer', src) AS customer,
             pick_product('order_product', src) AS product_id,
             ${weighted(`u01('quantity', src)`, [['1', 55], ['2', 25], ['3', 11], ['4', 6], ['5', 3]])} AS quantity,
             ${weighted(`u01('status', src)`, [["'delivered'", 55], ["'completed'", 20], ["'shipped'", 12], ["'cancelled'", 7], ["'returned'", 6]])} AS status,
             ${weighted(`u01('channel', src)`, [["'web'", 50], ["'mobile'", 35], ["'store'", 15]])} AS channel
      FROM placed
    ),
    dated AS (
      SELECT *, active_day(signup_date(customer), last_active(customer), 'order_day', src) AS day,
             CASE WHEN is_copy THEN 'duplicate' WHEN slot > 0 THEN ${sqlList(ORDER_DIRT)}[slot + 1] END AS dirt
      FROM drawn
    )
    SELECT src + 1 AS order_id,
           CASE dirt WHEN 'null_customer_id' THEN NULL
                     WHEN 'unknown_customer' THEN ${scale.unknownCustomerBase} + pick('unknown_customer', src, ${UNKNOWN_CUSTOMER_SPAN})
                     ELSE customer END AS customer_id,
           product_id, quantity, p.unit_price,
           (CASE WHEN dirt = 'negative_amount' THEN -1 ELSE 1 END * quantity * p.unit_price)::DECIMAL(12, 2) AS amount,
           CASE WHEN dirt = 'malformed_order_date' THEN malformed_date(day, 'malformed_order_date', src)
                ELSE day::VARCHAR END AS order_date,
           status, channel, dirt, pos, is_copy
    FROM dated JOIN products p USING (product_id)`;
}

/** Events for orders [lo, hi): two per order, 60% tied to the order's customer, product and day. */
function eventsChunkSql(scale: Scale, lo: number, hi: number): string {
  return `
    WITH drawn AS (
      SELECT j, j // ${EVENTS_PER_ORDER} AS o, u01('event_from_order', j) < 0.6 AS from_order,
             dirt_slot('event_dirt', j, ${scale.eventCell}, ${EVENT_DIRT.length}) AS slot
      FROM range(${lo * EVENTS_PER_ORDER}, ${hi * EVENTS_PER_ORDER}) t(j)
    ),
    picked AS (
      SELECT *,
             CASE WHEN from_order THEN pick_customer('order_customer', o) ELSE pick_customer('event_customer', j) END AS customer_id,
             CASE WHEN from_order AND u01('event_same_product', j) < 0.8 THEN pick_product('order_product', o)
                  ELSE pick_product('event_product', j) END AS product_id,
             ${sqlList(EVENT_DIRT)}[slot + 1] AS dirt
      FROM drawn
    ),
    valued AS (
      SELECT j + 1 AS event_id, customer_id, product_id, dirt,
             CASE WHEN dirt = 'unknown_event_type'
                  THEN ['teleport', 'levitate', 'time_travel'][pick('unknown_event_type', j, 3) + 1]
                  ELSE ${weighted(`u01('event_type', j)`, [["'view'", 45], ["'click'", 25], ["'add_to_cart'", 15], ["'purchase'", 8], ["'wishlist'", 7]])}
             END AS event_type,
             -- An order's events fall on the order's day; the others on any day the customer was active.
             CASE WHEN from_order THEN active_day(signup_date(customer_id), last_active(customer_id), 'order_day', o)
                  ELSE active_day(signup_date(customer_id), last_active(customer_id), 'event_day', j) END AS day,
             (TIME '00:00:00' + to_seconds(pick('event_second', j, 86400))) AS time_of_day,
             ${weighted(`u01('device', j)`, [["'desktop'", 45], ["'mobile'", 45], ["'tablet'", 10]])} AS device,
             -- Both events of an order share its session; other events get their own.
             lower(lpad(hex(CASE WHEN from_order THEN rnd('session', o) ELSE rnd('event_session', j) END >> 24), 10, '0')) AS session
      FROM picked
    )
    SELECT event_id, dirt,
           -- A cut right after ':' would let DuckDB's JSON reader take the next line as the missing value
           -- and reject two lines, so the trailing ':' goes; 21-40 characters become 20-40.
           CASE WHEN dirt = 'corrupt_json_line' THEN rtrim(left(line, 21 + pick('corrupt_length', event_id, 20)::INTEGER), ':')
                ELSE line END AS line
    FROM (
      -- Built by hand so every byte is under control (no value contains a quote or backslash);
      -- one concat() is about twice as fast as a chain of ||.
      SELECT *, concat('{"event_id":', event_id, ',"customer_id":', customer_id, ',"product_id":', product_id,
                       ',"event_type":"', event_type, '","event_time":"', day, 'T', time_of_day, 'Z","device":"', device,
                       '","session_id":"s-', session, '"}') AS line
      FROM valued
    )`;
}

// ---- CRM: two month-end customer exports and the year's orders, for upserts (MERGE) and an SCD type 2 dimension ----

const CRM_FOLDER = 'crm';
const CRM_FIRST_ID = 5001;
const CRM_INITIAL = 60;
const CRM_NEW = 5;
/**
 * What happens to the customers picked to change between the two exports, one kind each: a new e-mail, a new
 * street in the same city, a move to another city (street, city and state), or a new e-mail and a move.
 */
const CRM_CHANGES = ['email', 'move', 'both', 'street', 'email', 'move', 'both'] as const;
const CRM_FIRST_NAMES = [
  'Ana', 'João', 'Maria', 'José', 'Francisca', 'Antônio', 'Adriana', 'Carlos', 'Juliana', 'Paulo', 'Márcia', 'Lucas',
  'Fernanda', 'Rafael', 'Patrícia', 'Bruno', 'Camila', 'Gabriel', 'Letícia', 'Mateus', 'Beatriz', 'Thiago', 'Larissa', 'Rodrigo',
];
const CRM_LAST_NAMES = [
  'Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira', 'Lima', 'Gomes',
  'Costa', 'Ribeiro', 'Martins', 'Carvalho', 'Araújo', 'Rocha', 'Almeida', 'Nascimento', 'Barbosa', 'Conceição',
];
const CRM_STREETS = [
  'Rua das Flores', 'Rua Sete de Setembro', 'Rua XV de Novembro', 'Avenida Getúlio Vargas', 'Rua Tiradentes',
  'Avenida Dom Pedro II', 'Rua da Consolação', 'Avenida Paulista', 'Avenida Brasil', 'Rua Santos Dumont',
  'Rua Marechal Deodoro', 'Avenida Rio Branco', 'Travessa do Comércio', 'Alameda Santos',
];
const CRM_CITIES: [city: string, state: string][] = [
  ['São Paulo', 'SP'], ['Rio de Janeiro', 'RJ'], ['Belo Horizonte', 'MG'], ['Curitiba', 'PR'], ['Porto Alegre', 'RS'],
  ['Salvador', 'BA'], ['Recife', 'PE'], ['Fortaleza', 'CE'], ['Brasília', 'DF'], ['Manaus', 'AM'],
  ['Belém', 'PA'], ['Goiânia', 'GO'], ['Florianópolis', 'SC'], ['Campinas', 'SP'], ['Niterói', 'RJ'],
];
const CRM_MAX_ORDERS_PER_CUSTOMER = 6;
const CRM_ORDER_BASE = 70_000;

/** The CRM data set's files (paths relative to the manifest's folder) and what merging and versioning them gives. */
export interface CrmManifest {
  files: { initial: ManifestFile; next: ManifestFile; orders: ManifestFile };
  expected: {
    /** Rows of the first export, all new to an empty table. */
    initial: number;
    /** Merging the second export after the first: */
    inserted: number;
    updated: number;
    unchanged: number;
    /** Rows after both merges (no customer is removed). */
    afterMerge: number;
    /** The keys the second export inserts and updates, ascending. */
    insertedKeys: number[];
    updatedKeys: number[];
    /** Updated customers whose e-mail changed, and whose address (street, city or state) changed; some both. */
    emailChanged: number;
    addressChanged: number;
    /** A type 2 dimension over email, street, city and state after both exports: a version per customer plus one per change. */
    dimension: { rows: number; current: number; closed: number };
    /** Orders of the updated customers placed before and after their change (none on the day itself). */
    ordersBeforeChange: number;
    ordersAfterChange: number;
  };
}

/** Both exports and the orders, built once as temp tables; every value a function of (seed, customer id, purpose). */
function crmSql(): string[] {
  const last = CRM_FIRST_ID + CRM_INITIAL + CRM_NEW - 1;
  const cities = CRM_CITIES.length;
  return [
    `CREATE OR REPLACE TEMP TABLE crm_people AS
     SELECT id, id < ${CRM_FIRST_ID + CRM_INITIAL} AS in_first,
            ${sqlList(CRM_FIRST_NAMES)}[pick('crm_first_name', id, ${CRM_FIRST_NAMES.length}) + 1] AS first,
            ${sqlList(CRM_LAST_NAMES)}[pick('crm_last_name', id, ${CRM_LAST_NAMES.length}) + 1] AS last,
            pick('crm_domain', id, ${EMAIL_DOMAINS.length}) AS domain, pick('crm_street', id, ${CRM_STREETS.length}) AS street,
            1 + pick('crm_number', id, 2999) AS number, pick('crm_city', id, ${cities}) AS city,
            -- Last touched in 2023-2024 when first exported; the new customers were created during February 2025.
            CASE WHEN id < ${CRM_FIRST_ID + CRM_INITIAL}
                 THEN TIMESTAMP '2023-01-01' + to_seconds(pick('crm_updated', id, 730 * 86400))
                 ELSE TIMESTAMP '2025-02-03' + to_seconds(pick('crm_created', id, 21 * 86400)) END AS updated_at
     FROM range(${CRM_FIRST_ID}, ${last + 1}) t(id)`,
    `CREATE OR REPLACE TEMP TABLE crm_changes AS
     SELECT id, ${sqlList(CRM_CHANGES)}[rank] AS kind,
            TIMESTAMP '2025-02-03' + to_seconds(pick('crm_changed', id, 21 * 86400)) AS changed_at
     FROM (SELECT id, row_number() OVER (ORDER BY rnd('crm_change', id), id) AS rank FROM crm_people WHERE in_first)
     WHERE rank <= ${CRM_CHANGES.length}`,
    // Each change is made to differ from the old value: another domain, another house number, another city.
    `CREATE OR REPLACE TEMP TABLE crm_versions AS
     WITH v AS (
       SELECT p.*, 1 AS export, NULL AS kind FROM crm_people p WHERE in_first
       UNION ALL
       SELECT p.id, p.in_first, p.first, p.last,
              CASE WHEN c.kind IN ('email', 'both') THEN (p.domain + 1 + pick('crm_new_domain', p.id, ${EMAIL_DOMAINS.length - 1})) % ${EMAIL_DOMAINS.length} ELSE p.domain END,
              CASE WHEN c.kind IN ('street', 'move', 'both') THEN pick('crm_new_street', p.id, ${CRM_STREETS.length}) ELSE p.street END,
              CASE WHEN c.kind IN ('street', 'move', 'both') THEN (p.number + pick('crm_new_number', p.id, 2998)) % 2999 + 1 ELSE p.number END,
              CASE WHEN c.kind IN ('move', 'both') THEN (p.city + 1 + pick('crm_move', p.id, ${cities - 1})) % ${cities} ELSE p.city END,
              coalesce(c.changed_at, p.updated_at), 2, c.kind
       FROM crm_people p LEFT JOIN crm_changes c USING (id)
     )
     SELECT export, kind, id AS customer_id, first || ' ' || last AS name,
            lower(strip_accents(first)) || '.' || lower(strip_accents(last)) || id || '@' || ${sqlList(EMAIL_DOMAINS)}[domain + 1] AS email,
            ${sqlList(CRM_STREETS)}[street + 1] || ', ' || number AS street,
            ${sqlList(CRM_CITIES.map(([c]) => c))}[city + 1] AS city, ${sqlList(CRM_CITIES.map(([, s]) => s))}[city + 1] AS state,
            strftime(updated_at, '%Y-%m-%d %H:%M:%S') AS updated_at
     FROM v`,
    // 2-6 orders per customer from January (or the day after a new customer was created) to March 2025. An updated
    // customer's first order falls before its change and its second after, and none on the day of the change, so
    // which version an order belongs to never depends on the time of day.
    `CREATE OR REPLACE TEMP TABLE crm_orders AS
     WITH c AS (
       SELECT id, CASE WHEN in_first THEN DATE '2025-01-01' ELSE updated_at::DATE + 1 END AS first_day,
              ch.changed_at::DATE AS change_day, 2 + pick('crm_orders', id, ${CRM_MAX_ORDERS_PER_CUSTOMER - 1}) AS n
       FROM crm_people LEFT JOIN crm_changes ch USING (id)
     ),
     o AS (SELECT *, unnest(range(n)) AS k FROM c),
     dated AS (
       SELECT id, k, id * ${CRM_MAX_ORDERS_PER_CUSTOMER} + k AS i, CASE
         WHEN change_day IS NULL THEN first_day + pick('crm_order_day', id * ${CRM_MAX_ORDERS_PER_CUSTOMER} + k, DATE '2025-03-31' - first_day + 1)::INTEGER
         WHEN k = 0 THEN first_day + pick('crm_order_day', id * ${CRM_MAX_ORDERS_PER_CUSTOMER} + k, change_day - first_day)::INTEGER
         WHEN k = 1 THEN change_day + 1 + pick('crm_order_day', id * ${CRM_MAX_ORDERS_PER_CUSTOMER} + k, DATE '2025-03-31' - change_day)::INTEGER
         ELSE first_day + pick('crm_order_day', id * ${CRM_MAX_ORDERS_PER_CUSTOMER} + k, DATE '2025-03-31' - first_day)::INTEGER
       END AS d, change_day
       FROM o
     )
     SELECT ${CRM_ORDER_BASE} + row_number() OVER (ORDER BY day, id, k) AS order_id, id AS customer_id, day AS order_date,
            ((2000 + pick('crm_amount', i, 198001)) / 100)::DECIMAL(10, 2) AS amount, change_day
     FROM (SELECT *, CASE WHEN k >= 2 AND d >= change_day THEN d + 1 ELSE d END AS day FROM dated)`,
  ];
}

const CRM_FILES = { initial: 'customers_2025-01-31.csv', next: 'customers_2025-02-28.csv', orders: 'orders_2025.csv' } as const;

/** Write the CRM files under `<out>/crm/` with a connection that has the seeded random macros, and count what they hold. */
async function writeCrm(conn: DuckDBConnection, out: string): Promise<CrmManifest> {
  await mkdir(path.join(out, CRM_FOLDER), { recursive: true });
  for (const sql of crmSql()) await conn.run(sql);
  const to = (name: string) => sqlString(path.join(out, CRM_FOLDER, name));
  const customer = `SELECT customer_id, name, email, street, city, state, updated_at FROM crm_versions`;
  await conn.run(`COPY (${customer} WHERE export = 1 ORDER BY customer_id) TO ${to(CRM_FILES.initial)} (FORMAT csv, HEADER true)`);
  await conn.run(`COPY (${customer} WHERE export = 2 ORDER BY customer_id) TO ${to(CRM_FILES.next)} (FORMAT csv, HEADER true)`);
  await conn.run(`COPY (SELECT order_id, customer_id, order_date, amount::VARCHAR AS amount FROM crm_orders ORDER BY order_id)
                  TO ${to(CRM_FILES.orders)} (FORMAT csv, HEADER true)`);
  // Counted from the two exports as written, not from the plan of changes.
  const [c] = (await conn.runAndReadAll(`
    WITH a AS (FROM crm_versions WHERE export = 1), b AS (FROM crm_versions WHERE export = 2),
    pairs AS (
      SELECT b.customer_id, a.customer_id IS NULL AS inserted,
             (a.name, a.email, a.street, a.city, a.state, a.updated_at) IS DISTINCT FROM (b.name, b.email, b.street, b.city, b.state, b.updated_at) AS differs,
             a.email IS DISTINCT FROM b.email AS email_changed,
             (a.street, a.city, a.state) IS DISTINCT FROM (b.street, b.city, b.state) AS address_changed
      FROM b LEFT JOIN a USING (customer_id)
    )
    SELECT (SELECT count(*) FROM a) AS initial, (SELECT count(*) FROM b) AS next, (SELECT count(*) FROM crm_orders) AS orders,
           count(*) FILTER (inserted) AS inserted, count(*) FILTER (NOT inserted AND differs) AS updated,
           count(*) FILTER (NOT inserted AND NOT differs) AS unchanged,
           coalesce(list(customer_id ORDER BY customer_id) FILTER (inserted), []) AS inserted_keys,
           coalesce(list(customer_id ORDER BY customer_id) FILTER (NOT inserted AND differs), []) AS updated_keys,
           count(*) FILTER (NOT inserted AND email_changed) AS email_changed,
           count(*) FILTER (NOT inserted AND address_changed) AS address_changed,
           count(*) FILTER (NOT inserted AND (email_changed OR address_changed)) AS tracked_changed,
           (SELECT count(*) FROM crm_orders WHERE order_date < change_day) AS before_change,
           (SELECT count(*) FROM crm_orders WHERE order_date > change_day) AS after_change,
           (SELECT count(*) FROM crm_orders WHERE order_date = change_day) AS on_change_day
    FROM pairs`)).getRowObjectsJS();
  const n = (key: string) => Number(c![key]);
  const keys = (key: string) => (c![key] as bigint[]).map(Number);
  if (n('on_change_day') !== 0) throw new Error('generate: a CRM order falls on its customer\'s change day');
  const file = (name: string, rows: number): ManifestFile => ({ file: `${CRM_FOLDER}/${name}`, format: 'csv', rows });
  return {
    files: { initial: file(CRM_FILES.initial, n('initial')), next: file(CRM_FILES.next, n('next')), orders: file(CRM_FILES.orders, n('orders')) },
    expected: {
      initial: n('initial'), inserted: n('inserted'), updated: n('updated'), unchanged: n('unchanged'), afterMerge: n('next'),
      insertedKeys: keys('inserted_keys'), updatedKeys: keys('updated_keys'),
      emailChanged: n('email_changed'), addressChanged: n('address_changed'),
      dimension: { rows: n('next') + n('tracked_changed'), current: n('next'), closed: n('tracked_changed') },
      ordersBeforeChange: n('before_change'), ordersAfterChange: n('after_change'),
    },
  };
}

/**
 * Only the CRM data set (`<out>/crm/`), exactly as `generate` writes it for the same seed: it does not depend on
 * the number of orders. Returns its part of the manifest.
 */
export async function generateCrm(options: { seed: number; out: string }): Promise<CrmManifest> {
  checkWholeNumber('seed', options.seed, 0, Number.MAX_SAFE_INTEGER);
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    for (const sql of randomMacros(options.seed)) await conn.run(sql);
    return await writeCrm(conn, options.out);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function count(conn: DuckDBConnection, sql: string): Promise<Map<string | null, { rows: number; cents: number }>> {
  const rows = (await conn.runAndReadAll(sql)).getRowObjectsJson();
  return new Map(rows.map((r) => [r['dirt'] as string | null, { rows: Number(r['rows']), cents: Number(r['cents'] ?? 0) }]));
}

async function append(from: string, to: string): Promise<void> {
  await pipeline(createReadStream(from), createWriteStream(to, { flags: 'a' }));
  await rm(from);
}

const thousands = (n: number): string => n.toLocaleString('en-US');

export async function generate(options: GenerateOptions): Promise<Manifest> {
  const { orders, seed, out } = options;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const report = options.onProgress ?? ((line: string) => console.log(line));
  checkWholeNumber('orders', orders, MIN_ORDERS, MAX_ORDERS);
  checkWholeNumber('seed', seed, 0, Number.MAX_SAFE_INTEGER);
  checkWholeNumber('chunkSize', chunkSize, 1, Number.MAX_SAFE_INTEGER);

  const scale = scaleFor(orders);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  await mkdir(out, { recursive: true });
  const file = (name: string) => path.join(out, name);
  const lit = (name: string) => sqlString(file(name));
  // An in-memory database spills to ./.tmp by default; keep any spill out of the user's working directory.
  const spill = await mkdtemp(path.join(tmpdir(), 'dataflow-generate-'));
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: spill });
  const conn = await instance.connect();
  try {
    for (const sql of macros(seed, scale)) await conn.run(sql);
    await conn.run(productsSql());
    await conn.run(`COPY (SELECT * FROM products ORDER BY product_id) TO ${lit('products.parquet')} (FORMAT parquet)`);

    await conn.run(`CREATE TEMP VIEW customer_rows AS ${customersSql(scale)}`);
    await conn.run(`COPY (SELECT customer_id, name, email, city, region, signup_date FROM customer_rows
                          ORDER BY pos, sub, customer_id) TO ${lit('customers.csv')} (FORMAT csv, HEADER true)`);
    const customerDirt = await count(conn, `SELECT dirt, count(*) AS rows FROM customer_rows GROUP BY dirt`);
    const customerRows = [...customerDirt.values()].reduce((a, b) => a + b.rows, 0);
    report(`customers ${thousands(customerRows)} rows ${elapsed()}`);

    const orderDirt = new Map<string, number>();
    const eventDirt = new Map<string, number>();
    let orderRows = 0;
    let cleanCents = 0;
    let corruptLines: number[] = [];
    for (let lo = 0; lo < orders; lo += chunkSize) {
      const hi = Math.min(orders, lo + chunkSize);
      const first = lo === 0;

      // Views, not tables: materialising millions of long strings costs more than generating them, and
      // the counting queries below only compute the few columns they read.
      await conn.run(`CREATE OR REPLACE TEMP VIEW order_chunk AS ${ordersChunkSql(scale, lo, hi)}`);
      await conn.run(`COPY (SELECT order_id, customer_id, product_id, quantity, unit_price, amount, order_date, status, channel
                            FROM order_chunk ORDER BY pos, is_copy, order_id)
                      TO ${lit('orders.part.csv')} (FORMAT csv, HEADER ${first})`);
      const orderCounts = await count(
        conn,
        `SELECT dirt, count(*) AS rows, (sum(amount) * 100)::BIGINT AS cents FROM order_chunk GROUP BY dirt`,
      );
      for (const [dirt, { rows, cents }] of orderCounts) {
        orderRows += rows;
        if (dirt === null) cleanCents += cents;
        else orderDirt.set(dirt, (orderDirt.get(dirt) ?? 0) + rows);
      }

      await conn.run(`CREATE OR REPLACE TEMP VIEW event_chunk AS ${eventsChunkSql(scale, lo, hi)}`);
      // Without QUOTE/ESCAPE and with a delimiter that never occurs, DuckDB writes each line verbatim.
      await conn.run(`COPY (SELECT line FROM event_chunk ORDER BY event_id)
                      TO ${lit('events.part.jsonl')} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER E'\\x01')`);
      for (const [dirt, { rows }] of await count(conn, `SELECT dirt, count(*) AS rows FROM event_chunk WHERE dirt IS NOT NULL GROUP BY dirt`)) {
        eventDirt.set(dirt!, (eventDirt.get(dirt!) ?? 0) + rows);
      }
      // Event ids are 1-based and the file has one line per event, so an event id is its line number.
      if (corruptLines.length <= MAX_LISTED_CORRUPT_LINES) {
        const lines = await conn.runAndReadAll(
          `SELECT event_id FROM event_chunk WHERE dirt = 'corrupt_json_line' ORDER BY event_id LIMIT ${MAX_LISTED_CORRUPT_LINES + 1}`,
        );
        corruptLines.push(...lines.getRows().map(([id]) => Number(id)));
      }

      if (first) {
        await rename(file('orders.part.csv'), file('orders.csv'));
        await rename(file('events.part.jsonl'), file('events.jsonl'));
      } else {
        await append(file('orders.part.csv'), file('orders.csv'));
        await append(file('events.part.jsonl'), file('events.jsonl'));
      }
      report(`orders ${thousands(hi)} / ${thousands(orders)} (${Math.floor((hi / orders) * 100)}%) ${elapsed()}`);
    }
    if (corruptLines.length > MAX_LISTED_CORRUPT_LINES) corruptLines = [];
    // From the first orders only, so the export is the same at every scale and chunk size.
    const biggest = await conn.runAndReadAll(`SELECT order_id, customer_id, quantity, unit_price, amount, order_date, status
      FROM (${ordersChunkSql(scale, 0, MIN_ORDERS)}) WHERE dirt IS NULL ORDER BY amount DESC, order_id LIMIT ${REGIONAL_ROWS}`);
    await writeFile(file('pedidos_regional.csv'), regionalExport(biggest.getRowObjectsJS() as Record<string, unknown>[]));
    const crm = await writeCrm(conn, out);

    const tally = <K extends string>(kinds: readonly K[], counts: Map<string | null, number>) =>
      Object.fromEntries(kinds.map((k) => [k, counts.get(k) ?? 0])) as Record<K, number>;
    const dirt = {
      customers: tally(CUSTOMER_DIRT, new Map([...customerDirt].map(([k, v]) => [k, v.rows]))),
      orders: tally(ORDER_DIRT, orderDirt),
      events: tally(EVENT_DIRT, eventDirt),
    };
    const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    const manifest: Manifest = {
      generator: GENERATOR,
      version: 1,
      seed,
      orders,
      files: {
        customers: { file: 'customers.csv', format: 'csv', rows: customerRows },
        products: { file: 'products.parquet', format: 'parquet', rows: PRODUCTS },
        orders: { file: 'orders.csv', format: 'csv', rows: orderRows },
        events: { file: 'events.jsonl', format: 'jsonl', rows: scale.events },
        regional: { file: 'pedidos_regional.csv', format: 'csv', rows: REGIONAL_ROWS, encoding: 'windows-1252', delimiter: ';', impossibleDates: 1 },
      },
      dirt,
      corruptEventLines: corruptLines,
      expected: {
        customers: { clean: customerRows - sum(dirt.customers), quarantined: sum(dirt.customers) },
        orders: { clean: orderRows - sum(dirt.orders), quarantined: sum(dirt.orders), cleanRevenue: cleanCents / 100 },
        events: {
          clean: scale.events - sum(dirt.events),
          quarantined: dirt.events.unknown_event_type,
          rejectedLines: dirt.events.corrupt_json_line,
        },
        regional: { clean: REGIONAL_ROWS - 1, quarantined: 1 },
      },
      crm,
    };
    await writeFile(file('manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    report(
      `wrote ${out}: ${thousands(customerRows)} customers, ${thousands(orderRows)} orders, ` +
        `${thousands(scale.events)} events in ${elapsed()}`,
    );
    return manifest;
  } finally {
    conn.closeSync();
    instance.closeSync();
    await rm(file('orders.part.csv'), { force: true });
    await rm(file('events.part.jsonl'), { force: true });
    await rm(spill, { recursive: true, force: true });
  }
}

function checkWholeNumber(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a whole number from ${thousands(min)} to ${thousands(max)}, got ${value}`);
  }
}

export async function readManifest(folder: string): Promise<Manifest> {
  const where = path.join(folder, 'manifest.json');
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`No data set manifest at ${where}: run \`npm run generate\` first (see data/README.md).`);
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not valid JSON (${(err as Error).message}); regenerate it with \`npm run generate\`.`);
  }
  const problem = manifestProblem(parsed);
  if (problem) throw new Error(`${where} is not a data set manifest: ${problem}. Regenerate it with \`npm run generate\`.`);
  return parsed as Manifest;
}

/** The first way `value` differs from the Manifest shape, or undefined if it matches. */
function manifestProblem(value: unknown): string | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!isObject(value)) return 'expected a JSON object';
  if (value['generator'] !== GENERATOR) return `"generator" is not "${GENERATOR}"`;
  if (value['version'] !== 1) return `"version" is ${JSON.stringify(value['version'])}, this code reads version 1`;
  for (const key of ['seed', 'orders']) if (!isCount(value[key])) return `"${key}" is not a whole number`;
  const files = value['files'];
  if (!isObject(files)) return '"files" is missing';
  for (const name of ['customers', 'products', 'orders', 'events', 'regional']) {
    const entry = files[name];
    if (!isObject(entry) || typeof entry['file'] !== 'string' || typeof entry['format'] !== 'string' || !isCount(entry['rows'])) {
      return `"files.${name}" needs file, format and rows`;
    }
  }
  const dirt = value['dirt'];
  if (!isObject(dirt)) return '"dirt" is missing';
  for (const [table, kinds] of [['customers', CUSTOMER_DIRT], ['orders', ORDER_DIRT], ['events', EVENT_DIRT]] as const) {
    const counts = dirt[table];
    for (const kind of kinds) if (!isObject(counts) || !isCount(counts[kind])) return `"dirt.${table}.${kind}" is not a count`;
  }
  const lines = value['corruptEventLines'];
  if (!Array.isArray(lines) || !lines.every(isCount)) return '"corruptEventLines" is not a list of line numbers';
  const expected = value['expected'];
  if (!isObject(expected)) return '"expected" is missing';
  for (const [table, keys] of [
    ['customers', ['clean', 'quarantined']],
    ['orders', ['clean', 'quarantined', 'cleanRevenue']],
    ['events', ['clean', 'quarantined', 'rejectedLines']],
    ['regional', ['clean', 'quarantined']],
  ] as const) {
    const counts = expected[table];
    for (const key of keys) {
      if (!isObject(counts) || typeof counts[key] !== 'number') return `"expected.${table}.${key}" is not a number`;
    }
  }
  const crm = value['crm'];
  if (!isObject(crm) || !isObject(crm['files']) || !isObject(crm['expected'])) return '"crm" needs files and expected';
  for (const name of ['initial', 'next', 'orders']) {
    const entry = crm['files'][name];
    if (!isObject(entry) || typeof entry['file'] !== 'string' || !isCount(entry['rows'])) return `"crm.files.${name}" needs file and rows`;
  }
  const crmExpected = crm['expected'];
  for (const key of ['initial', 'inserted', 'updated', 'unchanged', 'afterMerge', 'emailChanged', 'addressChanged', 'ordersBeforeChange', 'ordersAfterChange']) {
    if (!isCount(crmExpected[key])) return `"crm.expected.${key}" is not a count`;
  }
  for (const key of ['insertedKeys', 'updatedKeys']) {
    const list = crmExpected[key];
    if (!Array.isArray(list) || !list.every(isCount)) return `"crm.expected.${key}" is not a list of customer ids`;
  }
  const dimension = crmExpected['dimension'];
  for (const key of ['rows', 'current', 'closed']) {
    if (!isObject(dimension) || !isCount(dimension[key])) return `"crm.expected.dimension.${key}" is not a count`;
  }
  return undefined;
}

const USAGE = `Generate the DataFlow Lab e-commerce data set (customers, products, orders, events) with counted dirt.

Usage: npx tsx data/generate.ts [--orders N] [--seed N] [--out DIR]
   or: npm run generate -- [--orders N] [--seed N] [--out DIR]

  --orders N   distinct orders to generate, ${thousands(MIN_ORDERS)} to ${thousands(MAX_ORDERS)} (default 1000);
               customers ≈ N/10, events = 2N. Underscores and commas are allowed: 10_000_000
  --seed N     whole number; same seed and orders give byte-identical files (default 42)
  --out DIR    output folder (default data/generated/orders-<N>, git-ignored)
  -h, --help   show this help

Examples (sizes are mostly events.jsonl; times on 2 cores, faster with more):
  npx tsx data/generate.ts                                   # 1k orders: ~370 KB, under a second
  npx tsx data/generate.ts --orders 1_000_000                # ~385 MB, ~10 s
  npx tsx data/generate.ts --orders 10_000_000 --seed 7      # ~3.9 GB, ~75 s, ~1 GB of memory
`;

class UsageError extends Error {}

function parseCount(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const digits = raw.replace(/[_,]/g, '');
  const value = /^\d+$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a whole number from ${thousands(min)} to ${thousands(max)}, got "${raw}". Example: --${flag} ${fallback}`);
  }
  return value;
}

async function main(argv: string[]): Promise<void> {
  let values: { orders?: string; seed?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        orders: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const orders = parseCount('orders', values.orders, 1000, MIN_ORDERS, MAX_ORDERS);
  const seed = parseCount('seed', values.seed, 42, 0, Number.MAX_SAFE_INTEGER);
  if (values.out === '') throw new UsageError('--out needs a folder, e.g. --out data/generated/mine');
  // The default lands in the repository's git-ignored data/generated/ wherever the command runs from.
  const out = values.out ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'generated', `orders-${orders}`);
  await generate({ orders, seed, out });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`generate: ${err.message}\nRun \`npx tsx data/generate.ts --help\` for usage.`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}
