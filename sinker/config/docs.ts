// Renders docs/config.md from CONFIG_SCHEMA, so the reference can never drift from what is validated.
import {
  CONFIG_SCHEMA,
  RESERVED_STREAM_LOAD_HEADERS,
  ROW_DROPPING_STREAM_LOAD_HEADERS,
  type SchemaNode,
} from './schema.ts';
import { describeExpected } from './validate.ts';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** A Markdown table padded the way Biome formats one (cells to the column's width), so lint stays clean. */
function table(header: string[], body: string[][]): string[] {
  const width = (t: string) => [...t].length;
  const widths = header.map((h, i) => Math.max(width(h), 3, ...body.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

function inline(v: unknown): string {
  return `\`${JSON.stringify(v)}\``;
}

function rows(prefix: string, node: SchemaNode, out: string[][]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const isSection = child.type === 'object' && child.properties;
    const dflt =
      child.default !== undefined && !(isSection && typeof child.default === 'object')
        ? inline(child.default)
        : isSection
          ? '(section)'
          : '—';
    const notes: string[] = [child.description ?? ''];
    if (child['x-env']) notes.push(`Environment: \`${child['x-env']}\` overrides it.`);
    if (child['x-secret']) notes.push('Secret: never logged.');
    if (child.required?.length) notes.push(`Required inside it: ${child.required.map((r) => `\`${r}\``).join(', ')}.`);
    for (const ex of child.examples ?? []) notes.push(`Example: ${inline(ex)}.`);
    const type = isSection ? 'mapping' : describeExpected(child);
    out.push([`\`${path}\``, cell(type), cell(dflt), cell(notes.filter((n) => n !== '').join(' '))]);
    if (isSection) rows(path, child, out);
    else if (child.type === 'array' && child.items?.properties) {
      rows(`${path}[]`, child.items, out);
    }
  }
}

/** The whole docs/config.md text. */
export function renderConfigDocs(): string {
  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from sinker/config/schema.ts by `node scripts/gen-config-docs.ts`. Do not edit by hand: a test fails when this file is stale. -->',
    '',
    'The sinker reads one YAML file (`doris-sinker -config FILE`). Every key is optional; the defaults below apply.',
    'Unknown keys are errors (with a suggestion), and a bad file stops start-up with one line per problem:',
    '`<path.to.key>: expected X, found Y`. `config.example.yaml` is a commented example. Durations are seconds',
    'unless the key says otherwise; sizes are bytes.',
    '',
    'Relative paths in the file (`kafka.tls.*_file`, `dlq.file_path`, `log.file_path`) are taken from the working',
    "directory the sinker is started in, not from the config file's directory.",
    '',
    '## Environment overrides',
    '',
    ...table(
      ['Variable', 'Sets'],
      [
        ['`DORIS_PASSWORD`', '`doris.password`'],
        ['`DORIS_FE_HOSTS`', '`doris.fe_hosts` (comma-separated host:port list)'],
        ['`KAFKA_BROKERS`', '`kafka.brokers` (comma-separated host:port list)'],
        ['`KAFKA_SASL_PASSWORD`', '`kafka.sasl.password` (when a `kafka.sasl` section is present)'],
        ['`REDIS_URL`', '`dedupe.redis_url`'],
      ],
    ),
    '',
    'A variable set to the empty string overrides nothing, as if unset (an unset shell or compose variable',
    "passed on gives one): the file's value stays. For an empty password, leave it out of the file.",
    '',
  ];
  lines.push(`Top level: ${CONFIG_SCHEMA.description ?? ''}`, '');
  for (const [key, node] of Object.entries(CONFIG_SCHEMA.properties ?? {})) {
    lines.push(`## \`${key}\``, '');
    if (node.type === 'object') lines.push(node.description ?? '', '');
    const body: string[][] = [];
    if (node.type === 'object' && node.properties) rows(key, node, body);
    else rows('', { properties: { [key]: node } }, body);
    lines.push(...table(['Key', 'Accepts', 'Default', 'Description'], body), '');
  }
  lines.push(
    '## Headers the sinker sets itself',
    '',
    `\`doris.stream_load_properties\` may not set: ${RESERVED_STREAM_LOAD_HEADERS.map((h) => `\`${h}\``).join(', ')}.`,
    '',
    ...Object.entries(ROW_DROPPING_STREAM_LOAD_HEADERS).map(([h, why]) => `Nor \`${h}\`: ${why}.`),
    '',
  );
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}`;
}
