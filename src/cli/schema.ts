/**
 * `segserve schema`: infer a CSV's schema (in the spirit of Yggdrasil Decision Forests'
 * `show_dataspec`) and print it as a table, or as JSON that `train --schema` reads back unchanged.
 */
import { Command } from 'commander';
import type { ColumnSchema, DataSchema } from '../data/schema.js';
import { DEFAULT_DATA_PATH } from '../defaults.js';
import { list } from './options.js';
import { fmtInt } from './output.js';

export interface SchemaFlags {
  data: string;
  target?: string;
  naValues?: string[];
  out?: string;
  json?: boolean;
}

export function schemaCommand(): Command {
  return new Command('schema')
    .description(
      'infer a CSV file’s schema (per column: role, kind, missing, distinct, categories or min/mean/max)',
    )
    .option('--data <path>', 'the CSV file', DEFAULT_DATA_PATH)
    .option('--target <column>', 'the column to predict (role target, read as class labels)')
    .option(
      '--na-values <a,b>',
      'cells read as missing (an empty cell always is; default NA,NaN,null,?)',
      list('markers', true),
    )
    .option('--out <file>', 'write the schema as JSON (ready to edit, read back by train --schema)')
    .option('--json', 'print the schema as JSON instead of a table')
    .action(runSchema);
}

/** Categories shown in the table before "… (N more)". */
const SHOWN_CATEGORIES = 6;

/** A number in at most 6 significant digits, without trailing zeros. */
function fmtNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
}

function describeValues(c: ColumnSchema): string {
  if (c.kind === 'numeric') {
    return c.min === undefined
      ? '(all missing)'
      : `min ${fmtNumber(c.min)}, mean ${fmtNumber(c.mean ?? Number.NaN)}, max ${fmtNumber(c.max ?? Number.NaN)}`;
  }
  if (!c.categories) return '(too many to list)';
  const shown = c.categories.slice(0, SHOWN_CATEGORIES).map((v) => JSON.stringify(v));
  const more = c.categories.length - SHOWN_CATEGORIES;
  return more > 0 ? `${shown.join(', ')}, … (${more} more)` : shown.join(', ');
}

/** The schema as a readable table, one line per column, under a one-line summary. */
export function formatSchema(schema: DataSchema, path: string): string {
  const markers = schema.naValues.map((v) => (v === '' ? 'empty' : JSON.stringify(v))).join(', ');
  const summary = `${path}: ${fmtInt(schema.rows)} rows, ${schema.columns.length} columns, target ${schema.target === null ? '(none: give --target)' : JSON.stringify(schema.target)}; missing cells: ${markers}`;
  const rows = [
    ['column', 'role', 'kind', 'missing', 'distinct', 'values'],
    ...schema.columns.map((c) => [
      c.name,
      c.role,
      c.kind,
      fmtInt(c.missing),
      `${c.distinctAtLeast ? '≥' : ''}${fmtInt(c.distinct)}`,
      describeValues(c),
    ]),
  ];
  const widths = [0, 1, 2, 3, 4].map((j) => Math.max(...rows.map((r) => (r[j] as string).length)));
  const right = new Set([3, 4]);
  const lines = rows.map((r) =>
    r
      .map((cell, j) => {
        const w = widths[j];
        if (w === undefined) return cell;
        return right.has(j) ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd(),
  );
  return [summary, ...lines].join('\n');
}

/** The JSON that --json prints and --out writes (and train --schema reads). */
export function schemaJson(schema: DataSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

export async function runSchema(flags: SchemaFlags): Promise<void> {
  const { checkWritable, writeTextAtomic } = await import('../data/atomic.js');
  const { inferSchema } = await import('../data/infer.js');
  if (flags.out !== undefined) await checkWritable(flags.out);
  const schema = await inferSchema(flags.data, {
    ...(flags.target !== undefined ? { target: flags.target } : {}),
    ...(flags.naValues !== undefined ? { naValues: flags.naValues } : {}),
  });
  const json = schemaJson(schema);
  if (flags.out !== undefined) await writeTextAtomic(flags.out, json);
  if (flags.json) {
    process.stdout.write(json);
    if (flags.out !== undefined) process.stderr.write(`schema written to ${flags.out}\n`);
    return;
  }
  const where = flags.out !== undefined ? `\nschema written to ${flags.out}` : '';
  process.stdout.write(`${formatSchema(schema, flags.data)}${where}\n`);
}
